"""readers: a subscription can be paused until a time (the preference centre), and a
list can be public (hosted sign-up page, web archive)

Revision ID: 0010
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("paused_until", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("lists") as batch:
        batch.add_column(sa.Column("public", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("lists") as batch:
        batch.drop_column("public")
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("paused_until")
