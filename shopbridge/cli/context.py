"""What every command needs: settings and the ledger, opened lazily and once.

Imports stay inside the methods: the root command builds an AppContext for every invocation, and
`--help` or `--version` must not pay for settings, SQLAlchemy or the sync layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from shopbridge.config import Settings
    from shopbridge.store.db import Database
    from shopbridge.sync.connection import ShopConnections
    from shopbridge.sync.service import SyncService


@dataclass
class AppContext:
    debug: bool = False
    _settings: Settings | None = None
    _databases: dict[bool, Database] = field(default_factory=dict)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from shopbridge.config import load_settings

            self._settings = load_settings()
        return self._settings

    def database(self, check_schema: bool = True) -> Database:
        if check_schema not in self._databases:
            from shopbridge.runtime import open_database

            self._databases[check_schema] = open_database(self.settings, check_schema)
        return self._databases[check_schema]

    def connections(self) -> ShopConnections:
        from shopbridge.sync.connection import ShopConnections

        return ShopConnections.from_settings(self.settings, self.database())

    def sync_service(self) -> SyncService:
        from shopbridge.sync.service import SyncService

        return SyncService(self.connections())


def app_context(ctx: typer.Context) -> AppContext:
    root = ctx.find_root()
    if not isinstance(root.obj, AppContext):
        root.obj = AppContext()
    return root.obj
