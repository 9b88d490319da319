"""outbox events carry their writing transaction on PostgreSQL, and each subscription a cursor over those: the
fan-out takes events in commit order, not id order

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 20:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

# The writing transaction's id (xid8, never wraps) as a plain integer; SQLite has one writer at a time and no use
# for it, so the column stays empty there.
TXID = "(pg_current_xact_id()::text::bigint)"


def upgrade():
    op.add_column('outbox_events', sa.Column('txid', sa.BigInteger(), nullable=True))
    op.add_column('subscriptions', sa.Column('fanned_txid', sa.BigInteger(), nullable=False, server_default='0'))
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f"ALTER TABLE outbox_events ALTER COLUMN txid SET DEFAULT {TXID}")
        # The events written before: looked at once more by the first fan-out (its unique key keeps that free of
        # duplicates), from a little below each cursor, as the fan-out used to.
        op.execute("UPDATE outbox_events SET txid = 0")
        op.execute("UPDATE subscriptions SET start_event_id = GREATEST(start_event_id, fanned_event_id - 1000)")
        op.create_index('ix_outbox_events_txid', 'outbox_events', ['txid'])


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index('ix_outbox_events_txid', table_name='outbox_events')
    # A plain DROP COLUMN (SQLite 3.35+): a batch copy of subscriptions would trip the deliveries' foreign key.
    op.execute("ALTER TABLE subscriptions DROP COLUMN fanned_txid")
    op.execute("ALTER TABLE outbox_events DROP COLUMN txid")
