"""sends.run_key: one digest per list and scheduled time

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sends") as batch:
        batch.add_column(sa.Column("run_key", sa.String(length=64), nullable=True))
        batch.create_unique_constraint("uq_sends_list_id_run_key", ["list_id", "run_key"])


def downgrade() -> None:
    with op.batch_alter_table("sends") as batch:
        batch.drop_constraint("uq_sends_list_id_run_key", type_="unique")
        batch.drop_column("run_key")
