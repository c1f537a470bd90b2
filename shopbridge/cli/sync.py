"""`shopbridge sync`: pull listings and orders now, with a progress bar."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from shopbridge.cli.context import app_context
from shopbridge.cli.output import console, emit_object
from shopbridge.cli.schedule import trigger_now
from shopbridge.domain.records import OrderFilter
from shopbridge.errors import ShopbridgeError
from shopbridge.sync.pull import Progress as ProgressCallback
from shopbridge.sync.runs import RunSummary

app = typer.Typer(help="Pull listings and orders from a shop now.", no_args_is_help=True)

STATES = ("active", "inactive", "sold_out", "draft", "expired")
JSON = typer.Option(False, "--json", help="Print the run summary as JSON.")
NOW = typer.Option(
    False,
    "--now",
    help="Go through the job system: queued for the workers or the running `serve`, so a "
    "manual run never races a scheduled one (else it runs here under the job's lease).",
)


def run_with_progress(
    label: str, as_json: bool, work: Callable[[ProgressCallback], Coroutine[Any, Any, RunSummary]]
) -> RunSummary:
    """Run a sync, drawing a Rich progress bar of records done / total (unless --json)."""
    if as_json:
        return asyncio.run(work(lambda _done, _total: None))
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=max(total or 0, done) or None)

        return asyncio.run(work(update))


def report(summary: RunSummary, as_json: bool) -> None:
    emit_object(summary.as_dict(), f"Run {summary.run_id}", as_json)
    if summary.status == "failed":
        raise ShopbridgeError(f"run {summary.run_id} failed: {summary.error}")


def _date(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date (YYYY-MM-DD)", param_hint=option
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@app.command("listings")
def listings(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The shop's name."),
    state: str = typer.Option("all", "--state", help="active|inactive|sold_out|draft|expired|all"),
    now: bool = NOW,
    as_json: bool = JSON,
) -> None:
    """Import the shop's listings with variants, prices and stock (one call per 100)."""
    if state != "all" and state not in STATES:
        raise typer.BadParameter(f"unknown state {state!r}", param_hint="--state")
    if now:
        if state != "all":
            raise typer.BadParameter("--now runs the scheduled job: all states", param_hint="--now")
        trigger_now(ctx, name, "listings", as_json)
        return
    states = STATES if state == "all" else (state,)
    service = app_context(ctx).sync_service()
    summary = run_with_progress(
        f"listings of {name}", as_json, lambda p: service.listings(name, states, progress=p)
    )
    report(summary, as_json)


@app.command("orders")
def orders(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The shop's name."),
    start: str | None = typer.Option(
        None,
        "--from",
        metavar="DATE",
        help="Import history created from DATE: YYYY-MM-DD or ISO 8601 (UTC unless an offset "
        "is given).",
    ),
    end: str | None = typer.Option(
        None, "--to", metavar="DATE", help="... up to DATE (exclusive), same formats."
    ),
    status: OrderFilter | None = typer.Option(
        None,
        "--status",
        help="Take only paid or shipped orders this run (default: the shop's `shop settings "
        "--import-orders`). Orders already in the ledger are always updated.",
    ),
    now: bool = NOW,
    as_json: bool = JSON,
) -> None:
    """Pull orders changed since the last run, or import history with --from/--to."""
    window_start, window_end = _date(start, "--from"), _date(end, "--to")
    if now:
        if window_start is not None:
            raise typer.BadParameter("a historic import is not a scheduled job", param_hint="--now")
        if status is not None:
            raise typer.BadParameter(
                "the scheduled job uses the shop's filter: see `shopbridge shop settings`",
                param_hint="--status",
            )
        trigger_now(ctx, name, "orders", as_json)
        return
    if window_end is not None and window_start is None:
        raise typer.BadParameter("--to needs --from", param_hint="--to")
    # A window in the future, backwards or before Etsy's earliest date is refused by the
    # service, in one line, before a run is opened or a call made.
    service = app_context(ctx).sync_service()
    summary = run_with_progress(
        f"orders of {name}",
        as_json,
        lambda p: service.orders(
            name, window_start, window_end, progress=p, import_filter=status
        ),
    )
    report(summary, as_json)


@app.command("reconcile")
def reconcile(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The shop's name."),
    days: int = typer.Option(30, "--days", min=1, max=365, help="How far back to look."),
    now: bool = NOW,
    as_json: bool = JSON,
) -> None:
    """Re-read open orders: Etsy changes some without bumping their update time."""
    if now:
        trigger_now(ctx, name, "reconcile", as_json)
        return
    service = app_context(ctx).sync_service()
    summary = run_with_progress(
        f"open orders of {name}", as_json, lambda p: service.reconcile(name, days, progress=p)
    )
    report(summary, as_json)
