"""rectification clocks and the rater's side: feedback reason, contact audit, fixed deadlines, follow-ups

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 14:00:00

"""
import os
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from alembic import op
import sqlalchemy as sa

SHANGHAI = ZoneInfo("Asia/Shanghai")


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('rectification_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('verify_due', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('verified_on_time', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('unreachable', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('on_time', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('accept_wait_days', sa.SmallInteger(), nullable=True))
        batch_op.add_column(sa.Column('appealed_at', sa.DateTime(timezone=True), nullable=True))
    # Not in the batch: on SQLite a NOT NULL column would make it copy the table, which the item events' foreign
    # key forbids; ADD COLUMN with a default needs no copy.
    op.add_column('rectification_items', sa.Column('named', sa.Boolean(), server_default=sa.false(), nullable=False))
    _fill_clocks()
    op.create_table('published_years',
        sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('year', name=op.f('pk_published_years')))
    _publish_package_years()
    with op.batch_alter_table('rectification_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('category_label', sa.String(length=50), nullable=True))
    _fill_category_labels()
    _walkthrough_list_codes()
    op.create_table('rating_follow_ups',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('rating_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('comment', sa.Text(), nullable=False),
        sa.Column('tags', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['rating_id'], ['ratings.id'], name=op.f('fk_rating_follow_ups_rating_id_ratings'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_rating_follow_ups')),
        sa.UniqueConstraint('rating_id', name=op.f('uq_rating_follow_ups_rating_id')))
    # A named 差评: the rater was not anonymous and left a phone.
    op.execute("UPDATE rectification_items SET named = true WHERE source = 'rating' AND EXISTS (SELECT 1 FROM "
               "ratings r WHERE CAST(r.id AS VARCHAR(36)) = rectification_items.source_id AND r.anonymous = false "
               "AND r.phone_enc IS NOT NULL)")


# ---- existing items: the clocks as far as their rows and events tell them ---------------------------------
def _local_date(value) -> date:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(SHANGHAI).date()


def _as_date(value) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _fill_clocks():
    """verify_due from source_on (RECTIFY_VERIFY_DAYS working days, the calendar table as it stands); submitted_at
    from the last submit event; on_time from the submission (or, lacking one, the closing) against due_date."""
    conn = op.get_bind()
    exceptions = {_as_date(d): bool(w) for d, w in conn.execute(sa.text(
        "SELECT day, is_workday FROM work_calendar_days"))}
    n = int(os.environ.get("RECTIFY_VERIFY_DAYS", "1"))

    def add_working_days(start: date) -> date:
        day, counted = start, 0
        while counted < n:
            day += timedelta(days=1)
            if exceptions.get(day, day.weekday() < 5):
                counted += 1
        return day

    rows = conn.execute(sa.text(
        "SELECT i.id, i.source_on, i.status, i.due_date, i.closed_at, "
        "(SELECT max(e.at) FROM item_events e WHERE e.item_id = i.id AND e.action = 'submit') AS submitted_at "
        "FROM rectification_items i")).all()
    updates = []
    for item_id, source_on, status, due_date, closed_at, submitted_at in rows:
        source_on, due_date = _as_date(source_on), _as_date(due_date)
        if isinstance(submitted_at, str):  # SQLite hands an aggregate back as its stored text (naive UTC)
            submitted_at = datetime.fromisoformat(submitted_at)
        if status in ("awaiting_acceptance", "closed") and submitted_at is not None:
            on_time = _local_date(submitted_at) <= due_date
        elif status == "closed" and closed_at is not None:
            on_time = _local_date(closed_at) <= due_date
        else:
            on_time = None  # open: judged when submitted, or late once past due_date
        updates.append({"id": item_id, "verify_due": add_working_days(source_on) if source_on else None,
                        "submitted_at": submitted_at, "on_time": on_time})
    if updates:
        items = sa.table("rectification_items", sa.column("id", sa.BigInteger), sa.column("verify_due", sa.Date),
                         sa.column("submitted_at", sa.DateTime(timezone=True)), sa.column("on_time", sa.Boolean))
        conn.execute(items.update().where(items.c.id == sa.bindparam("b_id")).values(
            verify_due=sa.bindparam("b_verify_due"), submitted_at=sa.bindparam("b_submitted_at"),
            on_time=sa.bindparam("b_on_time")),
            [{f"b_{k}": v for k, v in u.items()} for u in updates])


def _publish_package_years():
    """The years the package import brought in stay published; a year with only days an admin set does not (one
    day of it says nothing about the rest): it is published again with `flask calendar publish YEAR`."""
    conn = op.get_bind()
    years = sorted({_as_date(d).year for (d,) in conn.execute(sa.text(
        "SELECT day FROM work_calendar_days WHERE source = 'chinesecalendar'"))})
    if years:
        table = sa.table('published_years', sa.column('year', sa.Integer), sa.column('source', sa.String),
                         sa.column('published_at', sa.DateTime(timezone=True)))
        stamp = datetime.now(timezone.utc)
        if conn.dialect.name == "sqlite":
            stamp = stamp.replace(tzinfo=None)
        op.bulk_insert(table, [{"year": y, "source": "chinesecalendar", "published_at": stamp} for y in years])


# The finding categories' labels as service/vocab.py has them at this revision.
FINDING_CATEGORIES = {"materials": "材料", "process": "流程", "time_limit": "时限", "attitude": "态度",
                      "efficiency": "效率", "disclosure": "信息公开", "facilities": "环境设施", "online": "线上平台",
                      "accessibility": "适老/无障碍", "other": "其他"}


def _fill_category_labels():
    op.execute("UPDATE rectification_items SET category_label = (SELECT label FROM tags WHERE tags.code = "
               "rectification_items.category) WHERE source = 'rating'")
    items = sa.table('rectification_items', sa.column('source', sa.String), sa.column('category', sa.String),
                     sa.column('category_label', sa.String))
    for code, label in FINDING_CATEGORIES.items():
        op.execute(items.update().where(items.c.source == 'walkthrough', items.c.category == code)
                   .values(category_label=label))


def _walkthrough_list_codes():
    """`WT-<uuid>` → `WT-<hall without dashes>-<submission day>-<NN>`, numbered per hall and day in submission
    order (the walkthrough id stays on the list as walkthrough_id)."""
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT l.id, l.hall_code, w.submitted_at, l.created_at FROM rectification_lists l "
        "JOIN walkthroughs w ON w.id = l.walkthrough_id WHERE l.source = 'walkthrough' "
        "ORDER BY w.submitted_at, l.id")).all()
    seq, updates = {}, []
    for list_id, hall, submitted_at, created_at in rows:
        prefix = f"WT-{hall.replace('-', '')}-{_local_date(submitted_at or created_at):%Y%m%d}-"
        seq[prefix] = seq.get(prefix, 0) + 1
        updates.append({"b_id": list_id, "b_code": f"{prefix}{seq[prefix]:02d}"})
    if updates:
        lists = sa.table('rectification_lists', sa.column('id', sa.BigInteger), sa.column('code', sa.String))
        conn.execute(lists.update().where(lists.c.id == sa.bindparam('b_id')).values(code=sa.bindparam('b_code')),
                     updates)


def downgrade():
    with op.batch_alter_table('rectification_items', schema=None) as batch_op:
        batch_op.drop_column('category_label')
    op.execute("UPDATE rectification_lists SET code = 'WT-' || walkthrough_id WHERE source = 'walkthrough'")
    op.drop_table('published_years')
    op.drop_table('rating_follow_ups')
    op.drop_column('rectification_items', 'named')
    with op.batch_alter_table('rectification_items', schema=None) as batch_op:
        for column in ('appealed_at', 'accept_wait_days', 'on_time', 'submitted_at', 'unreachable',
                       'verified_on_time', 'verify_due'):
            batch_op.drop_column(column)
