"""store: on PostgreSQL the deliveries ledger is partitioned by ranges of send id (sends
are numbered in time order, so a range is a stretch of time), so `db prune` drops a
whole old partition instead of deleting its rows; its id becomes a bigint (a million
readers and two sends a day are 730 M rows a year). SQLite is unchanged.

The rows are copied into the new table: on a large ledger run `distributor db prune`
before this upgrade, and expect it to take about as long as copying the table.

Revision ID: 0012
Revises: 0011
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

STEP = 1000  # sends per partition; the same number as distributor/store/partitions.py
AHEAD = 2    # partitions made beyond the newest send


def _set_aside(suffix: str) -> None:
    """Rename the ledger and its constraints out of the way of the table that replaces it."""
    op.execute("ALTER SEQUENCE deliveries_id_seq OWNED BY NONE")
    op.execute(f"ALTER TABLE deliveries RENAME TO deliveries_{suffix}")
    for old in ("pkey", "send_id_subscriber_id_key", "send_id_fkey"):
        op.execute(f"ALTER TABLE deliveries_{suffix} RENAME CONSTRAINT deliveries_{old} "
                   f"TO deliveries_{suffix}_{old}")


def _create_ledger(id_type: str, primary_key: str, partitioned: bool) -> None:
    # The unique (send_id, subscriber_id) is the ledger's "at most once per send": it holds
    # across partitions because the partition key (send_id) is part of it.
    op.execute(f"""
        CREATE TABLE deliveries (
            id {id_type} NOT NULL DEFAULT nextval('deliveries_id_seq'),
            send_id integer NOT NULL,
            subscriber_id integer NOT NULL,
            state varchar(10) NOT NULL,
            attempts integer NOT NULL,
            error text,
            at timestamp with time zone NOT NULL,
            CONSTRAINT deliveries_pkey PRIMARY KEY ({primary_key}),
            CONSTRAINT deliveries_send_id_subscriber_id_key UNIQUE (send_id, subscriber_id),
            CONSTRAINT deliveries_send_id_fkey FOREIGN KEY (send_id) REFERENCES sends (id)
                ON DELETE CASCADE
        ){" PARTITION BY RANGE (send_id)" if partitioned else ""}""")


def _move_rows(source: str) -> None:
    op.execute("INSERT INTO deliveries (id, send_id, subscriber_id, state, attempts, error, at) "
               f"SELECT id, send_id, subscriber_id, state, attempts, error, at FROM {source}")
    op.execute(f"DROP TABLE {source}")  # a partitioned one takes its partitions with it
    op.execute("ALTER SEQUENCE deliveries_id_seq OWNED BY deliveries.id")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _set_aside("unpartitioned")
    op.execute("ALTER SEQUENCE deliveries_id_seq AS bigint")
    _create_ledger("bigint", "id, send_id", partitioned=True)
    op.execute("CREATE TABLE deliveries_default PARTITION OF deliveries DEFAULT")
    top = op.get_bind().exec_driver_sql("SELECT coalesce(max(id), 0) FROM sends").scalar()
    for low in range(0, (top // STEP + 1 + AHEAD) * STEP, STEP):
        op.execute(f"CREATE TABLE deliveries_s{low} PARTITION OF deliveries "
                   f"FOR VALUES FROM ({low}) TO ({low + STEP})")
    _move_rows("deliveries_unpartitioned")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _set_aside("partitioned")
    _create_ledger("integer", "id", partitioned=False)
    op.execute("ALTER SEQUENCE deliveries_id_seq AS integer")
    _move_rows("deliveries_partitioned")
