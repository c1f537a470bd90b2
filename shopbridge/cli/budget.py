"""`shopbridge budget`: API calls per key and per shop today, the forecast, what is left."""

from __future__ import annotations

import json
from typing import Any

import typer

from shopbridge.cli.context import app_context
from shopbridge.cli.output import console, emit
from shopbridge.domain.timeutil import utcnow
from shopbridge.jobs import reports


def budget(
    ctx: typer.Context,
    shop: str | None = typer.Option(None, "--shop", metavar="NAME", help="Only this shop."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Calls used today, forecast for the day and remaining budget, per API key and per shop."""
    context = app_context(ctx)
    report = reports.budget_rows(context.database(), context.settings, utcnow())
    if shop is not None:
        context.connections().shops.get(shop)  # an unknown name is one clear line
        report["shops"] = [row for row in report["shops"] if row["shop"] == shop]
        keys = {row["api_key"] for row in report["shops"]}
        report["keys"] = [row for row in report["keys"] if row["api_key"] in keys]
    if as_json:
        print(json.dumps(report, default=str))
        return
    emit([_labelled(row, KEY_LABELS) for row in report["keys"]], "API keys", False)
    emit([_labelled(row, SHOP_LABELS) for row in report["shops"]], "Shops", False)
    console.print(EXPLAINED, highlight=False)


KEY_LABELS = {
    "budget": "daily budget",
    "used_24h": "used, last 24 h",
    "forecast": "forecast, 24 h",
    "remaining": "remaining",
}
SHOP_LABELS = {"used_today": "used today (UTC)", "forecast": "forecast today"}
EXPLAINED = (
    "API keys: every call booked for the key in the last 24 hours (syncs, OAuth, shop checks);\n"
    "the daily budget is the channel's limit less the share kept for manual work.\n"
    "Shops: calls made by the shop's sync runs since 00:00 UTC."
)


def _labelled(row: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    return {labels.get(key, key): value for key, value in row.items()}
