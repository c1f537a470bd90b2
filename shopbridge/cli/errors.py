"""`shopbridge errors`: records that failed to import, retried now or dismissed."""

from __future__ import annotations

import asyncio

import typer

from shopbridge.cli.context import app_context
from shopbridge.cli.output import emit, emit_object
from shopbridge.errors import ShopbridgeError
from shopbridge.sync.errors import ErrorQueue

app = typer.Typer(help="Records that failed to import: list, retry, dismiss.", no_args_is_help=True)

JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")
ERROR_ID = typer.Argument(..., help="The error's id (see `shopbridge errors list`).")


def _queue(ctx: typer.Context) -> ErrorQueue:
    return ErrorQueue(app_context(ctx).connections())


@app.command("list")
def list_errors(
    ctx: typer.Context,
    shop: str | None = typer.Option(None, "--shop", help="Only this shop's errors."),
    include_closed: bool = typer.Option(False, "--all", help="Dismissed and dead ones too."),
    limit: int = typer.Option(
        50, "--limit", min=1, max=10_000, metavar="N", help="How many errors, oldest first."
    ),
    as_json: bool = JSON,
) -> None:
    """Failed records waiting for a retry (open), oldest first."""
    rows = _queue(ctx).list(shop, include_closed, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    if not as_json:
        # The table shows the first line of each error; --json has everything.
        columns = ("id", "shop", "entity", "external_id", "status", "attempts", "next_attempt")
        rows = [
            {**{key: row[key] for key in columns}, "last_error": row["error"].splitlines()[0]}
            for row in rows
        ]
    emit(rows, "Errors", as_json)
    if more:
        # On standard error: --json output stays one document.
        typer.echo(f"the first {limit} errors shown: --limit N for more", err=True)


@app.command("retry")
def retry(ctx: typer.Context, error_id: int = ERROR_ID, as_json: bool = JSON) -> None:
    """Fetch the record again now and write it in a new run (trigger "retry")."""
    result = asyncio.run(_queue(ctx).retry(error_id))
    emit_object(result.as_dict(), f"Retry of error {error_id}", as_json)
    if not result.succeeded:
        raise ShopbridgeError(f"error {error_id} still fails: {result.reason}")


@app.command("dismiss")
def dismiss(ctx: typer.Context, error_id: int = ERROR_ID, as_json: bool = JSON) -> None:
    """Stop retrying a record (it stays visible with `errors list --all`)."""
    emit_object(_queue(ctx).dismiss(error_id), f"Error {error_id} dismissed", as_json)
