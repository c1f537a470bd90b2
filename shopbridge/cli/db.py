"""`shopbridge db`: create and check the ledger's schema."""

from __future__ import annotations

import typer

from shopbridge.cli.context import app_context
from shopbridge.cli.output import console, emit_object
from shopbridge.errors import SchemaError

app = typer.Typer(help="Create and check the ledger's schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Apply every pending migration (an older schema is upgraded only by this command)."""
    database = app_context(ctx).database(check_schema=False)
    before, head = database.current_revision(), database.head_revision()
    database.upgrade()
    after = database.current_revision()
    if before == after:
        console.print(f"database already up to date at revision {after}")
    elif before is None:
        console.print(f"created the schema at revision {after}")
    else:
        console.print(f"upgraded the database schema from revision {before} to {after}")
    if after != head:  # pragma: no cover - alembic raises first
        raise SchemaError(f"the database is at revision {after}, not {head}")


@app.command("status")
def status(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
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
