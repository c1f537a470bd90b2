"""`shopbridge runs`: the sync history, one run's records, and re-fetching what a run covered."""

from __future__ import annotations

import asyncio

import typer

from shopbridge.cli.context import app_context
from shopbridge.cli.output import emit, emit_object
from shopbridge.errors import ShopbridgeError
from shopbridge.jobs import manual
from shopbridge.jobs.tasks import JobRuntime
from shopbridge.store import runs as history

app = typer.Typer(help="Sync history: what ran, what it did, and replays.", no_args_is_help=True)
JSON = typer.Option(False, "--json", help="Print JSON.")
LIST_COLUMNS = ("id", "started_at", "shop", "stream", "trigger", "window_start", "window_end",
                "created", "updated", "unchanged", "skipped", "failed", "api_calls", "seconds",
                "status")


@app.command("list")
def list_runs(
    ctx: typer.Context,
    shop: str | None = typer.Option(None, "--shop", help="Only this shop."),
    failed: bool = typer.Option(False, "--failed", help="Only failed or partial runs."),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000),
    as_json: bool = JSON,
) -> None:
    """Runs, newest first: time, shop, stream, trigger, window, counts, calls, duration, outcome."""
    rows = history.list_runs(app_context(ctx).database(), shop, failed, limit)
    if not as_json:
        rows = [{key: row[key] for key in LIST_COLUMNS} for row in rows]
    emit(rows, "Runs", as_json)


@app.command("show")
def show(ctx: typer.Context, run_id: int = typer.Argument(...), as_json: bool = JSON) -> None:
    """One run and each record's outcome and error."""
    run = history.get_run(app_context(ctx).database(), run_id)
    if run is None:
        raise ShopbridgeError(f"no run {run_id}: see `shopbridge runs list`")
    if as_json:
        emit_object(run, f"Run {run_id}", True)
        return
    records = run.pop("records")
    emit_object(run, f"Run {run_id}", False)
    emit(records, "Records", False)


@app.command("resync")
def resync(ctx: typer.Context, run_id: int = typer.Argument(...), as_json: bool = JSON) -> None:
    """Re-fetch exactly what run ID covered (its window), as a new run."""
    context = app_context(ctx)
    runtime = JobRuntime.from_settings(context.settings, context.database())
    summary = asyncio.run(manual.resync(runtime, run_id))
    emit_object(summary.as_dict(), f"Run {summary.run_id}", as_json)
    if summary.status == "failed":
        raise ShopbridgeError(f"run {summary.run_id} failed: {summary.error}")
