"""digest_items: what each digest carried (digests window by arrival, not by date);
lists.max_age for stale alerts and lists.quiet for quiet hours; articles indexed by arrival

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
    op.create_table(
        "digest_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("send_id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["list_id"], ["lists.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["send_id"], ["sends.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("digest_items", schema=None) as batch_op:
        batch_op.create_index("ix_digest_items_list_article", ["list_id", "article_id"])
        batch_op.create_index(batch_op.f("ix_digest_items_send_id"), ["send_id"])
    with op.batch_alter_table("lists", schema=None) as batch_op:
        batch_op.add_column(sa.Column("max_age", sa.Integer(), nullable=False,
                                      server_default=str(6 * 3600)))
        batch_op.add_column(sa.Column("quiet", sa.String(length=11), nullable=True))
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_articles_created_at"), ["created_at"])

    # What the digests sent so far carried, from the ids each send kept.
    connection = op.get_bind()
    sends = sa.table("sends", sa.column("id", sa.Integer), sa.column("list_id", sa.Integer),
                     sa.column("kind", sa.String), sa.column("article_ids", sa.JSON))
    items = sa.table("digest_items", sa.column("send_id", sa.Integer),
                     sa.column("list_id", sa.Integer), sa.column("article_id", sa.Integer))
    articles = sa.table("articles", sa.column("id", sa.Integer))
    known = {row.id for row in connection.execute(sa.select(articles.c.id))}
    rows = [{"send_id": send.id, "list_id": send.list_id, "article_id": article_id}
            for send in connection.execute(sa.select(sends).where(sends.c.kind == "digest"))
            for article_id in (send.article_ids or []) if article_id in known]
    if rows:
        connection.execute(items.insert(), rows)


def downgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_articles_created_at"))
    with op.batch_alter_table("lists", schema=None) as batch_op:
        batch_op.drop_column("quiet")
        batch_op.drop_column("max_age")
    with op.batch_alter_table("digest_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_digest_items_send_id"))
        batch_op.drop_index("ix_digest_items_list_article")
    op.drop_table("digest_items")
