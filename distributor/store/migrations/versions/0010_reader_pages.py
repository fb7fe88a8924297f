"""readers: a subscription can be paused until a time (the preference centre), a
list can be public (hosted sign-up page, web archive) and track clicks (tracking:
off | aggregate | per-subscriber, UTM parameters, opens), with the events in
reader_events; and a list has a language (locale) for its emails and pages

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("paused_until", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("lists") as batch:
        batch.add_column(sa.Column("public", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("tracking", sa.String(length=20), nullable=False,
                                   server_default="off"))
        batch.add_column(sa.Column("utm", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("track_opens", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("locale", sa.String(length=16), nullable=False,
                                   server_default="en"))
    op.create_table(
        "reader_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("channel", sa.String(length=100), nullable=False),
        sa.Column("list_id", sa.Integer(), sa.ForeignKey("lists.id", ondelete="CASCADE"),
                  nullable=True),
        sa.Column("send_id", sa.Integer(), sa.ForeignKey("sends.id", ondelete="CASCADE"),
                  nullable=True),
        sa.Column("article_id", sa.Integer(),
                  sa.ForeignKey("articles.id", ondelete="CASCADE"), nullable=True),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
    )
    op.create_index("ix_reader_events_at", "reader_events", ["at"])
    op.create_index("ix_reader_events_list_at", "reader_events", ["list_id", "at"])
    op.create_index("ix_reader_events_subscriber_id", "reader_events", ["subscriber_id"])


def downgrade() -> None:
    op.drop_table("reader_events")
    with op.batch_alter_table("lists") as batch:
        batch.drop_column("locale")
        batch.drop_column("track_opens")
        batch.drop_column("utm")
        batch.drop_column("tracking")
        batch.drop_column("public")
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("paused_until")
