"""daily per-unit rollup (per hall and window, staff or item) for statistics

Revision ID: 0011
Revises: 0010 (to become 0009 when the branch adding 0009 is merged)
Create Date: 2026-12-01 14:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
# Another branch adds 0009; once it is merged this must read '0009'. '0008' only until then.
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('daily_unit_stats',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('dimension', sa.String(length=8), nullable=False),
    sa.Column('hall_code', sa.String(length=32), nullable=False),
    sa.Column('unit', sa.String(length=64), nullable=True),
    sa.Column('ratings', sa.Integer(), nullable=False),
    sa.Column('bad', sa.Integer(), nullable=False),
    sa.Column('good', sa.Integer(), nullable=False),
    sa.Column('cases_due', sa.Integer(), nullable=False),
    sa.Column('cases_active', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['hall_code'], ['halls.code'], name=op.f('fk_daily_unit_stats_hall_code_halls')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_daily_unit_stats'))
    )
    with op.batch_alter_table('daily_unit_stats', schema=None) as batch_op:
        batch_op.create_index('ix_daily_unit_stats_dimension_day', ['dimension', 'day'], unique=False)
    # The new table is empty: forget the watermarks so the next refresh rolls every day into both tables (until
    # then every figure is read live, and stays exact).
    op.execute("DELETE FROM rollup_state")


def downgrade():
    with op.batch_alter_table('daily_unit_stats', schema=None) as batch_op:
        batch_op.drop_index('ix_daily_unit_stats_dimension_day')
    op.drop_table('daily_unit_stats')
