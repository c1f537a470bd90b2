"""`shopbridge serve`: the embedded scheduler (and /metrics), until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator

import typer
import uvicorn

from shopbridge.cli.context import app_context
from shopbridge.jobs.embedded import EmbeddedScheduler
from shopbridge.jobs.tasks import JobRuntime
from shopbridge.observability import metrics_app, setup_logging

log = logging.getLogger("shopbridge.serve")


class _MetricsServer(uvicorn.Server):
    """uvicorn without its own signal handling: the scheduler's stop event governs shutdown."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def serve(
    ctx: typer.Context,
    metrics_port: int | None = typer.Option(
        None, "--metrics-port", min=1, max=65535, help="Serve Prometheus /metrics on this port."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address for /metrics."),
    grace: float = typer.Option(10.0, "--grace", min=0, help="Seconds running jobs get to finish."),
    log_json: bool = typer.Option(False, "--log-json", help="One JSON line per log event."),
) -> None:
    """Run due jobs on their schedules in this process; stop cleanly on SIGINT/SIGTERM."""
    context = app_context(ctx)
    settings = context.settings
    setup_logging(log_json or settings.log_json)
    runtime = JobRuntime.from_settings(settings, context.database())
    asyncio.run(_serve(runtime, metrics_port, host, grace))


async def _serve(runtime: JobRuntime, port: int | None, host: str, grace: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    scheduler = EmbeddedScheduler(runtime, grace_seconds=grace)
    server_task = None
    if port is not None:
        config = uvicorn.Config(metrics_app(runtime.database), host=host, port=port,
                                log_config=None, lifespan="off")
        server = _MetricsServer(config)
        server_task = asyncio.create_task(server.serve())
        log.info("metrics on http://%s:%d/metrics", host, port)
    await scheduler.run(stop)
    if server_task is not None:
        server.should_exit = True
        await server_task
