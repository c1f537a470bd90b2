"""`shopbridge demo`: set up the ledger on the embedded default and show what it holds."""

from __future__ import annotations

import typer

from shopbridge.cli.context import app_context
from shopbridge.cli.output import console, emit_object
from shopbridge.store import queries


def demo(ctx: typer.Context) -> None:
    """Initialise the ledger (SQLite in the data directory) and show its state."""
    context = app_context(ctx)
    database = context.database(check_schema=False)
    database.upgrade()
    with database.read() as session:
        counts = queries.counts(session)
    console.print(f"ledger: {database.engine.url.render_as_string(hide_password=True)}")
    emit_object(counts, "Ledger", as_json=False)
