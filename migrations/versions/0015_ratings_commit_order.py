"""ratings carry their writing transaction on PostgreSQL: the collecting of 差评 takes them in commit order, not id
order

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 01:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

# The writing transaction's id (xid8, never wraps) as a plain integer; SQLite has one writer at a time and no use
# for it, so the column stays empty there.
TXID = "(pg_current_xact_id()::text::bigint)"


def upgrade():
    op.add_column('ratings', sa.Column('txid', sa.BigInteger(), nullable=True))
    if op.get_bind().dialect.name == 'postgresql':
        # The default applies to the ratings written from now on; the rows before keep an empty txid.
        op.execute(f"ALTER TABLE ratings ALTER COLUMN txid SET DEFAULT {TXID}")
        # Those written before that no run has collected yet (the ones a run had not reached, or had passed over
        # while their transaction was still open) go into the first run's window; the rest need no rewrite.
        op.execute("UPDATE ratings SET txid = 0 WHERE score <= 2 AND effective AND NOT is_default AND NOT EXISTS ("
                   "SELECT 1 FROM rectification_items i WHERE i.source = 'rating' AND i.source_id = ratings.id::text)")
        op.create_index('ix_ratings_txid', 'ratings', ['txid'])


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index('ix_ratings_txid', table_name='ratings')
    op.execute("ALTER TABLE ratings DROP COLUMN txid")
