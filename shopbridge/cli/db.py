"""`shopbridge db`: create and check the ledger's schema."""

from __future__ import annotations

import typer

from shopbridge.cli.context import app_context
from shopbridge.cli.output import console, emit_object

app = typer.Typer(help="Create and check the ledger's schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Apply every pending migration."""
    database = app_context(ctx).database(check_schema=False)
    database.upgrade()
    console.print(f"database at revision {database.current_revision()}")


@app.command("status")
def status(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """Show the database, its schema revision and whether it is up to date."""
    context = app_context(ctx)
    database = context.database(check_schema=False)
    current, head = database.current_revision(), database.head_revision()
    emit_object(
        {
            "database": database.engine.url.render_as_string(hide_password=True),
            "dialect": database.dialect,
            "revision": current,
            "latest": head,
            "up_to_date": current == head,
        },
        "Database",
        as_json,
    )
