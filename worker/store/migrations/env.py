"""Alembic's entry point: migrations run on the connection worker.store.migrate hands over."""

from __future__ import annotations

from alembic import context

from worker.store.models import Base

connection = context.config.attributes["connection"]
# Batch mode: SQLite can only alter a table by copying it.
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
