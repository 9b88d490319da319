"""monthly rollup of ratings and cases, a rollup of rectification items, the hall rows in the daily unit rollup;
indexes for the items' passed 核实 deadlines and for cases by completion

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 16:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
COUNTS = ('ratings', 'bad', 'good', 'cases_due', 'cases_active')
ITEM_COUNTS = ('items', 'closed', 'on_time', 'on_time_base', 'verified_on_time', 'verify_base', 'called_back', 'named',
               'named_called_back', 'accept_wait_days', 'accepted', 'satisfied', 'answers')


def _counts(names):
    return [sa.Column(name, sa.Integer(), nullable=False) for name in names]


def upgrade():
    op.create_table('monthly_unit_stats',
        sa.Column('id', ID, autoincrement=True, nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('dimension', sa.String(length=8), nullable=False),
        sa.Column('hall_code', sa.String(length=32), nullable=False),
        sa.Column('unit', sa.String(length=64), nullable=True),
        *_counts(COUNTS),
        sa.ForeignKeyConstraint(['hall_code'], ['halls.code'], name=op.f('fk_monthly_unit_stats_hall_code_halls')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_monthly_unit_stats')))
    op.create_index('ix_monthly_unit_stats_dimension_month', 'monthly_unit_stats', ['dimension', 'month'])
    op.create_table('item_stats',
        sa.Column('id', ID, autoincrement=True, nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('day', sa.Date(), nullable=True),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.Column('dimension', sa.String(length=8), nullable=False),
        sa.Column('hall_code', sa.String(length=32), nullable=False),
        sa.Column('unit', sa.String(length=64), nullable=True),
        *_counts(ITEM_COUNTS),
        sa.ForeignKeyConstraint(['hall_code'], ['halls.code'], name=op.f('fk_item_stats_hall_code_halls')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_item_stats')))
    op.create_index('ix_item_stats_source_dimension_month_day', 'item_stats', ['source', 'dimension', 'month', 'day'])
    op.create_index('ix_rectification_items_status_verify_due', 'rectification_items', ['status', 'verify_due'])
    op.create_index('ix_cases_completed_at', 'cases', ['completed_at'])
    with op.batch_alter_table('rollup_state', schema=None) as batch_op:
        batch_op.add_column(sa.Column('at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('seq', sa.BigInteger(), nullable=True))
    # The per-hall rows move into the daily unit rollup (dimension 'hall'). Rollups hold only derived counts:
    # instead of copying them, every rollup is emptied and its watermark forgotten, so the next refresh rolls every
    # day (and month, and item) again; until then every figure is read live, and stays exact.
    op.drop_table('daily_hall_stats')
    op.execute("DELETE FROM daily_unit_stats")
    op.execute("DELETE FROM rollup_state")


def downgrade():
    op.create_table('daily_hall_stats',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('hall_code', sa.String(length=32), nullable=False),
        *_counts(COUNTS),
        sa.ForeignKeyConstraint(['hall_code'], ['halls.code'], name=op.f('fk_daily_hall_stats_hall_code_halls')),
        sa.PrimaryKeyConstraint('day', 'hall_code', name=op.f('pk_daily_hall_stats')))
    op.execute("DELETE FROM daily_unit_stats")
    op.execute("DELETE FROM rollup_state")
    with op.batch_alter_table('rollup_state', schema=None) as batch_op:
        batch_op.drop_column('seq')
        batch_op.drop_column('at')
    op.drop_index('ix_cases_completed_at', table_name='cases')
    op.drop_index('ix_rectification_items_status_verify_due', table_name='rectification_items')
    op.drop_index('ix_item_stats_source_dimension_month_day', table_name='item_stats')
    op.drop_table('item_stats')
    op.drop_index('ix_monthly_unit_stats_dimension_month', table_name='monthly_unit_stats')
    op.drop_table('monthly_unit_stats')
