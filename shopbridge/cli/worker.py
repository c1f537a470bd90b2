"""`shopbridge worker`: a procrastinate worker on PostgreSQL (distributed mode)."""

from __future__ import annotations

import asyncio

import typer

from shopbridge.cli.context import app_context
from shopbridge.jobs import worker as jobs_worker
from shopbridge.observability import setup_logging


def worker(
    ctx: typer.Context,
    concurrency: int = typer.Option(4, "--concurrency", min=1, max=64, help="Jobs at once."),
    dispatch: bool = typer.Option(
        True, "--dispatch/--no-dispatch", help="Also defer due scheduled jobs (periodic)."
    ),
    log_json: bool = typer.Option(False, "--log-json", help="One JSON line per log event."),
) -> None:
    """Run scheduled and queued jobs from the shared PostgreSQL queue until SIGINT/SIGTERM."""
    context = app_context(ctx)
    settings = context.settings
    jobs_worker.require_postgres(settings)
    setup_logging(log_json or settings.log_json)
    asyncio.run(jobs_worker.run_worker(settings, context.database(), concurrency, dispatch))
