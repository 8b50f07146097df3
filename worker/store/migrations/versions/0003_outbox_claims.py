"""Who claimed an outgoing mail for sending, and when: a restart settles only the claims of a
worker that is gone, never those of one that is still sending. Recipients in lower case."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    with op.batch_alter_table("outbox") as outbox:
        outbox.add_column(sa.Column("claimed_by", sa.String(255)))
        outbox.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True)))
    # Recipients are kept in lower case from now on (the daily reply count compares them so).
    op.execute("UPDATE outbox SET recipient = lower(recipient)")


def downgrade() -> None:
    with op.batch_alter_table("outbox") as outbox:
        outbox.drop_column("claimed_at")
        outbox.drop_column("claimed_by")
