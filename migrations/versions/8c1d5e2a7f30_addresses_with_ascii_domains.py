"""store internationalised domains of addresses in their ASCII (IDNA) form

Revision ID: 8c1d5e2a7f30
Revises: 531bee7c1502
Create Date: 2026-12-01 10:00:00.000000

Addresses such as anna@företag.se were stored with the domain in Unicode, which
SMTP cannot carry without SMTPUTF8. The same address in ASCII form is
anna@xn--fretag-wxa.se. Where that form is already stored as another subscriber,
the row is left as it is (nothing is merged or lost) and reported.
"""

import idna
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "8c1d5e2a7f30"
down_revision = "531bee7c1502"
branch_labels = None
depends_on = None


def _ascii_domain(address):
    """Return the address with its domain in ASCII, or unchanged if it cannot be."""
    local, at, domain = address.rpartition("@")
    if not at or domain.isascii():
        return address
    try:
        return f"{local}@{idna.encode(domain, uts46=True).decode('ascii').lower()}"
    except idna.IDNAError:
        return address


def upgrade():
    conn = op.get_bind()
    subscriber = sa.table("subscriber", sa.column("id"), sa.column("email"))
    rows = conn.execute(sa.select(subscriber.c.id, subscriber.c.email)).all()
    taken = {email for _id, email in rows}
    for row_id, email in rows:
        converted = _ascii_domain(email)
        if converted == email:
            continue
        if converted in taken:
            print(f"subscriber {row_id}: {converted} is stored already; kept {email}")
            continue
        conn.execute(
            subscriber.update().where(subscriber.c.id == row_id).values(email=converted)
        )
        taken.add(converted)
    message = sa.table("outbound_message", sa.column("id"), sa.column("to_address"))
    for row_id, address in conn.execute(
        sa.select(message.c.id, message.c.to_address)
    ).all():
        converted = _ascii_domain(address)
        if converted != address:
            conn.execute(
                message.update()
                .where(message.c.id == row_id)
                .values(to_address=converted)
            )


def downgrade():
    # The ASCII form is the same address; the previous release reads it as well.
    pass
