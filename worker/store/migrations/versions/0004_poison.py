"""Attempts at deciding a message, so one that makes the worker die is set aside, not read
again forever: a row per message in hand, counted up before it is decided, gone once it is."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table(
        "attempts",
        sa.Column("source", sa.String(512), primary_key=True),
        sa.Column("validity", sa.Integer, primary_key=True),
        sa.Column("source_key", sa.String(255), primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("attempts")
