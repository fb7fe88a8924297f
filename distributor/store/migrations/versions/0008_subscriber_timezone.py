"""audience: a time zone per subscriber (IANA name) and digest lists that send at
their hour in each subscriber's own zone (each batch of such a send holds one zone)

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers") as batch:
        batch.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))
    with op.batch_alter_table("lists") as batch:
        batch.add_column(sa.Column("local_time", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    with op.batch_alter_table("batches") as batch:
        batch.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("batches") as batch:
        batch.drop_column("timezone")
    with op.batch_alter_table("lists") as batch:
        batch.drop_column("local_time")
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_column("timezone")
