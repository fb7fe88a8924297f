"""email: a sender identity per list (From and Reply-To); subscriber addresses with
their domain in ASCII (IDNA) form, as distributor now stores them

Revision ID: 0007
Revises: 0006
"""

import idna
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _ascii_domain(email: str) -> str | None:
    local, at, domain = email.rpartition("@")
    if not at or domain.isascii():
        return None
    try:
        return f"{local}@{idna.encode(domain, uts46=True).decode('ascii')}".lower()
    except idna.IDNAError:
        return None


def upgrade() -> None:
    with op.batch_alter_table("lists") as batch:
        batch.add_column(sa.Column("from_address", sa.String(length=400), nullable=True))
        batch.add_column(sa.Column("reply_to", sa.String(length=400), nullable=True))
    # Older versions stored `leser@bücher.de` as given; that address could never be sent
    # (smtplib refused it), so no link or bounce names the old form. One already stored
    # in the new form as well stays as it is: the two rows are left for the operator.
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id, email FROM subscribers")).all()
    taken = {email for _, email in rows}
    for subscriber_id, email in rows:
        new = _ascii_domain(email)
        if new and new not in taken:
            connection.execute(sa.text("UPDATE subscribers SET email = :email WHERE id = :id"),
                               {"email": new, "id": subscriber_id})
            taken.add(new)


def downgrade() -> None:
    with op.batch_alter_table("lists") as batch:
        batch.drop_column("reply_to")
        batch.drop_column("from_address")
