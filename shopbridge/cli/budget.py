"""`shopbridge budget`: API calls per key and per shop today, the forecast, what is left."""

from __future__ import annotations

import json

import typer

from shopbridge.cli.context import app_context
from shopbridge.cli.output import emit
from shopbridge.domain.timeutil import utcnow
from shopbridge.jobs import reports


def budget(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print JSON.")
) -> None:
    """Calls used today, forecast for the day and remaining budget, per API key and per shop."""
    context = app_context(ctx)
    report = reports.budget_rows(context.database(), context.settings, utcnow())
    if as_json:
        print(json.dumps(report, default=str))
        return
    emit(report["keys"], "API keys", False)
    emit(report["shops"], "Shops", False)
