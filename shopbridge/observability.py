"""Structured logs (one JSON line per event with --log-json) and Prometheus metrics text.

Metrics are read from the store when scraped, so they count the work of every process sharing
the ledger (schedulers and workers alike), not just the one serving /metrics.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime
from typing import Any

from sqlalchemy import func, inspect, select, text
from sqlalchemy.orm import Session

from shopbridge.domain.timeutil import as_utc
from shopbridge.security import RedactingFilter, redact
from shopbridge.store import runs
from shopbridge.store.db import Database
from shopbridge.store.models import Cursor, JobSchedule, RequestLog, Shop


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event = {
            "time": datetime.fromtimestamp(record.created).astimezone().isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        # The redacting filter leaves a traceback as text in exc_text (and no exc_info): it used
        # to be dropped here, so --log-json logs had no traceback at all.
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(self.formatException(record.exc_info))
        if record.exc_text:
            event["exception"] = record.exc_text
        if record.stack_info:
            event["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(event, default=str)


def setup_logging(as_json: bool, level: int = logging.INFO) -> None:
    """Log to stderr: JSON lines or plain text, secrets redacted either way."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(
        JsonFormatter() if as_json else logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's and procrastinate's loggers go through the same handler.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "procrastinate"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _line(name: str, value: float, labels: dict[str, str] | None = None) -> str:
    if labels:
        inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        return f"{name}{{{inner}}} {value}"
    return f"{name} {value}"


def metrics_text(database: Database, now: datetime) -> str:
    """The Prometheus text exposition of the ledger's sync activity."""
    totals = runs.run_totals(database)
    out = [
        "# HELP shopbridge_runs_total Sync runs by stream and outcome.",
        "# TYPE shopbridge_runs_total counter",
    ]
    for stream, status, count in totals["runs"]:
        out.append(_line("shopbridge_runs_total", count, {"stream": stream, "status": status}))
    out += ["# HELP shopbridge_records_total Records written by outcome.",
            "# TYPE shopbridge_records_total counter"]
    for outcome, count in totals["records"].items():
        out.append(_line("shopbridge_records_total", count, {"outcome": outcome}))
    out += ["# HELP shopbridge_api_calls_total API calls made by sync runs.",
            "# TYPE shopbridge_api_calls_total counter",
            _line("shopbridge_api_calls_total", totals["api_calls"])]
    out += ["# HELP shopbridge_errors Records in the retry queue by status.",
            "# TYPE shopbridge_errors gauge"]
    for status in ("open", "dead"):
        out.append(_line("shopbridge_errors", totals["errors"].get(status, 0), {"status": status}))
    with database.read() as session:
        throttled = session.execute(
            select(func.count()).select_from(RequestLog).where(RequestLog.status == 429)
        ).scalar_one()
        due = session.execute(
            select(func.count()).select_from(JobSchedule).where(JobSchedule.next_run_at <= now)
        ).scalar_one()
        oldest = session.execute(
            select(func.min(Cursor.value))
            .join(Shop, Shop.id == Cursor.shop_id)
            .where(Cursor.stream == "orders", Shop.status == "connected")
        ).scalar_one()
        queued = _procrastinate_todo(session)
    out += ["# HELP shopbridge_rate_limited_total Responses with status 429 (request log).",
            "# TYPE shopbridge_rate_limited_total counter",
            _line("shopbridge_rate_limited_total", int(throttled))]
    out += ["# HELP shopbridge_queue_depth Jobs due but not started, or queued for workers.",
            "# TYPE shopbridge_queue_depth gauge",
            _line("shopbridge_queue_depth", int(due), {"queue": "schedule"})]
    if queued is not None:
        out.append(_line("shopbridge_queue_depth", queued, {"queue": "workers"}))
    age = (now - as_utc(oldest)).total_seconds() if oldest is not None else 0.0
    out += ["# HELP shopbridge_oldest_unsynced_order_age_seconds Time since the stalest shop's "
            "orders cursor: no order newer than that age is missing from every shop.",
            "# TYPE shopbridge_oldest_unsynced_order_age_seconds gauge",
            _line("shopbridge_oldest_unsynced_order_age_seconds", round(max(age, 0.0), 3))]
    out += _webhook_lines(database)
    return "\n".join(out) + "\n"


def _webhook_lines(database: Database) -> list[str]:
    """Webhook deliveries per shop: accepted, duplicates, refused by reason, the last one."""
    from shopbridge.store import webhooks

    counters = webhooks.all_stats(database)
    with database.read() as session:
        names = dict(session.execute(select(Shop.id, Shop.name)).all())
    names[webhooks.NO_SHOP] = "(none)"
    out = ["# HELP shopbridge_webhook_deliveries_total Webhook deliveries received, by shop and "
           "outcome (accepted, duplicate) or the reason they were refused.",
           "# TYPE shopbridge_webhook_deliveries_total counter"]
    last: list[str] = []
    for shop_id in sorted(counters):
        shop = str(names.get(shop_id, shop_id))
        received = [at for reason, (_, at) in counters[shop_id].items()
                    if reason in (webhooks.ACCEPTED, webhooks.DUPLICATE)]
        for reason, (count, _) in sorted(counters[shop_id].items()):
            outcome = reason if reason in (webhooks.ACCEPTED, webhooks.DUPLICATE) else "refused"
            labels = {"shop": shop, "outcome": outcome}
            if outcome == "refused":
                labels["reason"] = reason
            out.append(_line("shopbridge_webhook_deliveries_total", count, labels))
        if received:
            last.append(_line("shopbridge_webhook_last_received_timestamp_seconds",
                              max(received).timestamp(), {"shop": shop}))
    out += ["# HELP shopbridge_webhook_last_received_timestamp_seconds When the shop's last "
            "webhook delivery was accepted (Unix time).",
            "# TYPE shopbridge_webhook_last_received_timestamp_seconds gauge", *last]
    return out


def _procrastinate_todo(session: Session) -> int | None:
    bind = session.get_bind()
    if bind.dialect.name != "postgresql" or not inspect(bind).has_table("procrastinate_jobs"):
        return None
    return int(
        session.execute(
            text("SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo'")
        ).scalar_one()
    )


def metrics_app(database: Database) -> Any:
    """A tiny ASGI app serving GET /metrics (the dashboard comes later)."""
    from fastapi import FastAPI
    from fastapi.responses import PlainTextResponse

    from shopbridge.domain.timeutil import utcnow

    app = FastAPI(title="shopbridge metrics", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/metrics", response_class=PlainTextResponse)
    async def metrics() -> str:
        import asyncio

        return await asyncio.to_thread(metrics_text, database, utcnow())

    return app
