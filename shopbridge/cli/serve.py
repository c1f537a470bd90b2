"""`shopbridge serve`: the embedded scheduler (and /metrics, and the dashboard with its JSON
API on --http-port), until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Iterator
from typing import Any

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
    http_port: int | None = typer.Option(
        None,
        "--http-port",
        min=1,
        max=65535,
        metavar="PORT",
        help="Serve the dashboard and its JSON API on this port, beside the scheduler.",
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address for /metrics and --http-port."),
    grace: float = typer.Option(10.0, "--grace", min=0, help="Seconds running jobs get to finish."),
    log_json: bool = typer.Option(False, "--log-json", help="One JSON line per log event."),
) -> None:
    """Run due jobs on their schedules in this process; stop cleanly on SIGINT/SIGTERM."""
    context = app_context(ctx)
    settings = context.settings
    setup_logging(log_json or settings.log_json)
    runtime = JobRuntime.from_settings(settings, context.database())
    asyncio.run(_serve(runtime, metrics_port, host, grace, http_port))


def web_app(runtime: JobRuntime, on_accepted: Callable[[int], None] | None = None) -> Any:
    """The dashboard for `serve`: the same app as `shopbridge web`, on this process's job
    runtime, with the webhook receivers under /hooks/ (open to all: no session, no CSRF;
    they verify signatures instead). `on_accepted` hears of every queued delivery."""
    from shopbridge.security import Vault
    from shopbridge.web.app import create_app
    from shopbridge.web.hooks import PREFIX, router
    from shopbridge.web.services import Dashboard
    from shopbridge.web.woo_hooks import Receiver

    dashboard = Dashboard(runtime.settings, runtime.database, runtime)
    hooks = router(runtime.database, Vault.from_settings(runtime.settings),
                   on_accepted=on_accepted)
    woo = Receiver(runtime.service.connections)  # /hooks/woocommerce/{shop}
    return create_app(runtime.settings, runtime.database, dashboard_service=dashboard,
                      routers=[hooks, woo.router()], open_to_all=[PREFIX])


async def _serve(
    runtime: JobRuntime, port: int | None, host: str, grace: float, http_port: int | None = None
) -> None:
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
    web_server, web_task = None, None
    if http_port is not None:
        web_config = uvicorn.Config(web_app(runtime, scheduler.nudge), host=host, port=http_port,
                                    log_config=None, lifespan="off", proxy_headers=True)
        web_server = _MetricsServer(web_config)
        web_task = asyncio.create_task(web_server.serve())
        log.info("dashboard on http://%s:%d/", host, http_port)
    await scheduler.run(stop)
    if server_task is not None:
        server.should_exit = True
        await server_task
    if web_server is not None and web_task is not None:
        web_server.should_exit = True
        await web_task
