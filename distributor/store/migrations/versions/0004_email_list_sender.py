"""lists: a sender identity per list (From and Reply-To)

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("lists") as batch:
        batch.add_column(sa.Column("from_address", sa.String(length=400), nullable=True))
        batch.add_column(sa.Column("reply_to", sa.String(length=400), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("lists") as batch:
        batch.drop_column("reply_to")
        batch.drop_column("from_address")
