"""store: a partial index on the ledger's deferred rows (those a 4xx left to retry), so
/metrics and each batch find them without reading a running send's whole ledger (at a
million readers a scrape read every row of the send: 114 ms).

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

DEFERRED = sa.text("state = 'deferred'")


def upgrade() -> None:
    op.create_index("ix_deliveries_deferred", "deliveries", ["send_id", "subscriber_id"],
                    postgresql_where=DEFERRED, sqlite_where=DEFERRED)


def downgrade() -> None:
    op.drop_index("ix_deliveries_deferred", table_name="deliveries")
