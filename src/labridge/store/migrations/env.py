"""Alembic environment of the store.

labridge runs it through :func:`labridge.store.engine.migrate`, which hands over an open connection
in ``config.attributes["connection"]``; no ``alembic.ini`` is needed. A developer may still run the
``alembic`` command with an ini file that sets ``script_location`` and ``sqlalchemy.url``. This file
never configures logging: that belongs to the application embedding labridge.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, engine_from_config, pool

from labridge.store.tables import metadata

config = context.config


def _run(connection: Connection) -> None:
    # Batch mode lets later revisions alter columns on SQLite, which has no ALTER COLUMN.
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if isinstance(connection, Connection):
        _run(connection)
        return
    section = config.get_section(config.config_ini_section, {})
    engine = engine_from_config(section, prefix="sqlalchemy.", poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


def run_offline() -> None:
    """``alembic upgrade --sql``: print the DDL for a DBA instead of running it."""
    url = config.get_main_option("sqlalchemy.url")
    context.configure(url=url, target_metadata=metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
