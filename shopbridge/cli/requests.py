"""`shopbridge requests --shop NAME`: the API calls made for a shop, newest first."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import typer

from shopbridge.cli.context import app_context
from shopbridge.cli.output import console, emit
from shopbridge.security import Vault
from shopbridge.store import requestlog
from shopbridge.store.shops import ShopRepository


def requests(
    ctx: typer.Context,
    shop: str = typer.Option(..., "--shop", metavar="NAME", help="The shop's name."),
    limit: int = typer.Option(
        50, "--limit", min=1, max=10_000, metavar="N", help="How many calls, newest first."
    ),
    prune: bool = typer.Option(
        False, "--prune", help="First delete calls older than the configured retention."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show the request log of a shop (method, path, query, status, time, rate headers).

    "left/s" and "left today" are Etsy's rate headers: the calls left of the limit per second
    and of the day's, as the channel counted them after that call.
    """
    context = app_context(ctx)
    database = context.database()
    if prune:
        days = context.settings.request_log_days
        removed = requestlog.prune(database, timedelta(days=days))
        if not as_json:
            console.print(f"pruned {removed} calls older than {days} days")
    record = ShopRepository(database, Vault.from_settings(context.settings)).get(shop)
    rows = requestlog.recent(database, record.id, limit)
    if as_json:
        emit(rows, f"Requests of {shop}", True)
        return
    emit([table_row(row) for row in rows], f"Requests of {shop}", False)


def _left(rate: dict[str, str], remaining: tuple[str, ...], limit: str) -> str | None:
    left = next((rate[key] for key in remaining if key in rate), None)
    if left is None:
        return None
    return f"{left}/{rate[limit]}" if limit in rate else left


def table_row(row: dict[str, Any]) -> dict[str, Any]:
    """A logged call for people: the rate headers as what was left of the limits."""
    rate = row.get("rate") or {}
    return {
        "at": row["created_at"],
        "call": f"{row['method']} {row['path']}",
        "query": row["query"],
        "outcome": row["outcome"],
        "ms": row["duration_ms"],
        "retries": row["retries"],
        "left/s": _left(
            rate, ("x-remaining-this-second", "x-remaining-this-secon"), "x-limit-per-second"
        ),
        "left today": _left(rate, ("x-remaining-today",), "x-limit-per-day"),
        "retry after": rate.get("retry-after"),
        "error": row["error"],
    }
