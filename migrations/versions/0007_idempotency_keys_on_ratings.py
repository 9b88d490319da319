"""idempotency keys on their ratings, scoped to the client; the idempotency_keys table goes

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 10:00:00.000000

The keys of idempotency_keys are not carried over: they were not scoped to a client, and the client (rating token,
or address + X-Client-Id) of a stored key cannot be recovered from it, so no new-style scope can be given to them.
They lived IDEMPOTENCY_TTL_HOURS (48 h by default); a retry of a rating first sent before the upgrade is taken as a
new request (a rating of a case is still refused as already_rated by the case's own unique constraint).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('idempotency_scope', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('idempotency_key', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('request_hash', sa.String(length=64), nullable=True))
        batch_op.create_index('uq_ratings_idempotency', ['idempotency_scope', 'idempotency_key'], unique=True,
                              sqlite_where=sa.text('idempotency_key IS NOT NULL'),
                              postgresql_where=sa.text('idempotency_key IS NOT NULL'))

    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_idempotency_keys_created_at'))
    op.drop_table('idempotency_keys')


def downgrade():
    # The keys kept on ratings are not copied back: the old table stored whole responses, which a rating row
    # does not hold. Retries within the TTL of a rating made before the downgrade are new requests again.
    op.create_table('idempotency_keys',
    sa.Column('scope', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('status_code', sa.SmallInteger(), nullable=False),
    sa.Column('response_body', sa.Text(), nullable=False),
    sa.Column('resource_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('scope', 'key', name=op.f('pk_idempotency_keys'))
    )
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_idempotency_keys_created_at'), ['created_at'], unique=False)

    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.drop_index('uq_ratings_idempotency', sqlite_where=sa.text('idempotency_key IS NOT NULL'),
                            postgresql_where=sa.text('idempotency_key IS NOT NULL'))
        batch_op.drop_column('request_hash')
        batch_op.drop_column('idempotency_key')
        batch_op.drop_column('idempotency_scope')
