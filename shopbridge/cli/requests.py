"""`shopbridge requests --shop NAME`: the API calls made for a shop, newest first."""

from __future__ import annotations

from datetime import timedelta

import typer

from shopbridge.cli.context import app_context
from shopbridge.cli.output import console, emit
from shopbridge.security import Vault
from shopbridge.store import requestlog
from shopbridge.store.shops import ShopRepository


def requests(
    ctx: typer.Context,
    shop: str = typer.Option(..., "--shop", help="The shop's name."),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000, help="How many calls."),
    prune: bool = typer.Option(
        False, "--prune", help="First delete calls older than the configured retention."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show the request log of a shop (method, path, query, status, time, rate headers)."""
    context = app_context(ctx)
    database = context.database()
    if prune:
        days = context.settings.request_log_days
        removed = requestlog.prune(database, timedelta(days=days))
        if not as_json:
            console.print(f"pruned {removed} calls older than {days} days")
    record = ShopRepository(database, Vault.from_settings(context.settings)).get(shop)
    rows = requestlog.recent(database, record.id, limit)
    emit(rows, f"Requests of {shop}", as_json)
