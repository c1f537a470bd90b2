"""`shopbridge schedule`: show each job's last run, outcome and next run; set intervals; run now."""

from __future__ import annotations

import asyncio
from typing import Any

import typer

from shopbridge.cli.context import app_context
from shopbridge.cli.output import console, emit, emit_object, short_time
from shopbridge.domain.timeutil import utcnow
from shopbridge.jobs import manual, reports
from shopbridge.jobs.schedule import human, parse_interval
from shopbridge.jobs.tasks import JobRuntime
from shopbridge.store import schedules

app = typer.Typer(help="When each shop's jobs run.", no_args_is_help=True)
JSON = typer.Option(False, "--json", help="Print JSON.")


@app.command("show")
def show(
    ctx: typer.Context,
    shop: str | None = typer.Option(None, "--shop", metavar="NAME", help="Only this shop."),
    as_json: bool = JSON,
) -> None:
    """Each job: interval, last run, its outcome, and the next run (a time, UTC)."""
    context = app_context(ctx)
    rows = reports.schedule_rows(context.database(), context.settings, utcnow())
    if shop is not None:
        context.connections().shops.get(shop)  # an unknown name is one clear line
        rows = [row for row in rows if row["shop"] == shop]
    if as_json:
        emit(rows, "Schedule", True)
        return
    emit([table_row(row) for row in rows], "Schedule", False)
    if any(row["due"] for row in rows):
        console.print(
            "due: it starts at the next tick of the running scheduler (`shopbridge serve` or a "
            "worker); with none running, `shopbridge schedule run-now SHOP STREAM`.",
            highlight=False,
        )


def table_row(row: dict[str, Any]) -> dict[str, Any]:
    """A job for people: the interval (and the planner's, when it stretched it), the next run
    as a time."""
    every = row["interval"]
    if row["effective"] not in (row["interval"], "off"):
        every = f"{row['effective']} (set {row['interval']})"
    next_run = short_time(row["next_run"])
    if row["due"]:
        next_run = f"{next_run} (due)"
    return {
        "shop": row["shop"],
        "stream": row["stream"],
        "every": every,
        "last run": row["last_run"],
        "outcome": row["outcome"],
        "next run": next_run,
        "fails": row["failures_in_row"] or None,
    }


@app.command("set")
def set_interval(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The shop's name."),
    stream: str = typer.Argument(..., help="orders, listings, reconcile or stock."),
    interval: str = typer.Argument(..., help="e.g. 5m, 2h, or 0 / off to switch it off."),
) -> None:
    """Set how often one shop's stream runs (orders 1-60m, listings 1-24h, reconcile 15m-24h,
    stock 1m-24h: the shop's orders, then its stock push)."""
    seconds = parse_interval(stream, interval)
    context = app_context(ctx)
    database = context.database()
    shop = context.connections().shops.get(name)
    schedules.set_interval(database, shop.id, stream, seconds)
    # The new beat starts now rather than after the old, possibly long, interval.
    schedules.request_now(database, shop.id, stream, utcnow())
    console.print(
        f"{stream} of {name}: every {human(seconds)}" if seconds else f"{stream} of {name}: off"
    )


@app.command("run-now")
def run_now(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The shop's name."),
    stream: str = typer.Argument(..., help="orders | listings | reconcile | stock"),
    as_json: bool = JSON,
) -> None:
    """Run a job now: queued for the workers or the running scheduler, else run here."""
    trigger_now(ctx, name, stream, as_json)


def trigger_now(ctx: typer.Context, name: str, stream: str, as_json: bool) -> None:
    """Run a job through the job system (shared by `schedule run-now` and `sync ... --now`)."""
    context = app_context(ctx)
    runtime = JobRuntime.from_settings(context.settings, context.database())
    result = asyncio.run(manual.run_now(runtime, name, stream))
    if result.summary is not None:
        emit_object(result.summary.as_dict(), f"Run {result.summary.run_id}", as_json)
        return
    messages = {
        "queued": "queued for the workers",
        "already-queued": "a run is already queued for the workers: it covers this request",
        "handed-to-scheduler": "handed to the running scheduler: it starts within a tick",
    }
    if as_json:
        emit_object({"shop": name, "stream": stream, "how": result.how}, "Run", True)
    else:
        console.print(f"{stream} of {name}: {messages[result.how]}")
