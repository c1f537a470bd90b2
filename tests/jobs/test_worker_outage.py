"""A lost database does not end a worker: it says so, pauses and starts again."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import Any

import pytest
from procrastinate import exceptions as pexc

from shopbridge.jobs import worker


class FlakyApp:
    """procrastinate's App as the worker loop sees it: the first run loses the database."""

    def __init__(self) -> None:
        self.runs = 0

    @asynccontextmanager
    async def open_async(self) -> Any:
        yield self

    async def run_worker_async(self, **_options: Any) -> None:
        self.runs += 1
        if self.runs == 1:
            raise pexc.ConnectorException("terminating connection due to administrator command")


async def test_worker_reconnects_after_losing_the_database(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    app = FlakyApp()
    pauses: list[float] = []

    async def no_wait(seconds: float) -> None:
        pauses.append(seconds)

    monkeypatch.setattr(worker, "build_app", lambda *a, **k: app)
    monkeypatch.setattr(worker, "apply_schema", lambda *a, **k: False)
    monkeypatch.setattr(worker.JobRuntime, "from_settings", staticmethod(lambda *a, **k: None))
    monkeypatch.setattr(worker.asyncio, "sleep", no_wait)
    settings = type("S", (), {"worker_heartbeat_seconds": 1, "worker_stalled_seconds": 3})()
    with caplog.at_level(logging.WARNING, logger="shopbridge.worker"):
        await worker.run_worker(settings, database=None, concurrency=1)  # type: ignore[arg-type]
    assert app.runs == 2
    assert pauses == [worker.RECONNECT_PAUSES[0]]
    assert "lost the database" in caplog.text and "administrator command" in caplog.text
