"""`shopbridge runs`: the sync history, one run's records, and re-fetching what a run covered."""

from __future__ import annotations

import asyncio
from typing import Any

import typer

from shopbridge.cli.context import app_context
from shopbridge.cli.output import console, emit, emit_object
from shopbridge.errors import ShopbridgeError
from shopbridge.store import runs as history

app = typer.Typer(help="Sync history: what ran, what it did, and replays.", no_args_is_help=True)
JSON = typer.Option(False, "--json", help="Print JSON.")
RUN_ID = typer.Argument(..., metavar="RUN_ID", help="The run's id (see `shopbridge runs list`).")
COUNTS = ("created", "updated", "unchanged", "skipped", "failed")


def _when(iso: str | None) -> str:
    """2026-12-03T13:44:06+00:00 -> 12-03 13:44 (UTC): enough to tell runs apart in a list."""
    return f"{iso[5:10]} {iso[11:16]}" if iso else ""


def _records(row: dict[str, Any]) -> str:
    """The non-zero counts in words: '36 created, 1 unchanged'."""
    counts = [f"{row[name]} {name}" for name in COUNTS if row.get(name)]
    return ", ".join(counts) or "nothing"


def _took(seconds: float | None) -> str:
    if seconds is None:
        return "running"
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def list_row(row: dict[str, Any]) -> dict[str, Any]:
    """A run as the table shows it: narrow enough for 80 columns (the window and every count
    are in --json and `runs show`)."""
    return {
        "id": row["id"],
        "started": _when(row["started_at"]),
        "shop": row["shop"],
        "stream": row["stream"],
        "trigger": row["trigger"],
        "records": _records(row),
        "calls": row["api_calls"],
        "took": _took(row["seconds"]),
        "status": row["status"],
    }


@app.command("list")
def list_runs(
    ctx: typer.Context,
    shop: str | None = typer.Option(None, "--shop", metavar="NAME", help="Only this shop."),
    failed: bool = typer.Option(False, "--failed", help="Only failed or partial runs."),
    limit: int = typer.Option(
        50, "--limit", min=1, max=10_000, metavar="N", help="How many runs, newest first."
    ),
    as_json: bool = JSON,
) -> None:
    """Runs, newest first: when (UTC), shop, stream, trigger, records, API calls, time, outcome.

    \b
    Examples:
      shopbridge runs list --shop my-shop --failed
      shopbridge runs show 42
    """
    rows = history.list_runs(app_context(ctx).database(), shop, failed, limit)
    if as_json:
        emit(rows, "Runs", True)
        return
    emit([list_row(row) for row in rows], "Runs (times UTC)", False)


@app.command("show")
def show(
    ctx: typer.Context,
    run_id: int = RUN_ID,
    limit: int = typer.Option(
        50,
        "--limit",
        min=1,
        metavar="N",
        help="Records to list (the run's counts cover them all; --json lists every one).",
    ),
    as_json: bool = JSON,
) -> None:
    """One run: window, counts, calls, and its records' outcomes and errors."""
    run = history.get_run(app_context(ctx).database(), run_id, None if as_json else limit)
    if run is None:
        raise ShopbridgeError(f"no run {run_id}: see `shopbridge runs list`")
    if as_json:
        emit_object(run, f"Run {run_id}", True)
        return
    records, total = run.pop("records"), run.pop("records_total")
    emit_object(run, f"Run {run_id}", False)
    emit(records, "Records", False)
    if total > len(records):
        console.print(
            f"{len(records)} of {total} records shown: --limit {total} or --json for all",
            highlight=False,
        )


@app.command("resync")
def resync(ctx: typer.Context, run_id: int = RUN_ID, as_json: bool = JSON) -> None:
    """Re-fetch exactly what run ID covered (its window), as a new run."""
    from shopbridge.jobs import manual
    from shopbridge.jobs.tasks import JobRuntime

    context = app_context(ctx)
    runtime = JobRuntime.from_settings(context.settings, context.database())
    summary = asyncio.run(manual.resync(runtime, run_id))
    emit_object(summary.as_dict(), f"Run {summary.run_id}", as_json)
    if summary.status == "failed":
        raise ShopbridgeError(f"run {summary.run_id} failed: {summary.error}")
