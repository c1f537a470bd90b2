"""Opening the ledger for an entry point: settings, data directory, database, schema check."""

from __future__ import annotations

from shopbridge.config import Settings
from shopbridge.store.db import Database


def open_database(settings: Settings, check_schema: bool = True) -> Database:
    """The configured database; by default refuses an outdated or newer schema."""
    if settings.is_sqlite and settings.database_url is None:
        settings.ensure_home()
    database = Database(settings.effective_database_url)
    if check_schema:
        database.check_schema()
    return database
