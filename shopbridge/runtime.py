"""Opening the ledger for an entry point: settings, data directory, database, schema check."""

from __future__ import annotations

from shopbridge.config import Settings
from shopbridge.store.db import Database


def open_database(settings: Settings, check_schema: bool = True) -> Database:
    """The configured database; by default refuses an outdated or newer schema.

    On SQLite (the embedded default) an empty database gets its schema here, silently, so a new
    data directory just works. An older schema is never migrated behind the user's back (that is
    `shopbridge db upgrade`), and PostgreSQL, shared by workers, is migrated only explicitly.
    """
    if settings.is_sqlite and settings.database_url is None:
        settings.ensure_home()
    database = Database(settings.effective_database_url)
    if check_schema:
        if database.dialect == "sqlite":
            database.create_schema_if_empty()
        database.check_schema()
    return database
