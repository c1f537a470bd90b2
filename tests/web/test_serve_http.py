"""`shopbridge serve --http-port P`: the dashboard beside the scheduler, in one process that
stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from shopbridge.store.db import Database


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_serve_serves_the_dashboard_beside_the_scheduler(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'shopbridge.db'}")
    database.upgrade()
    database.dispose()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPBRIDGE_")}
    env.update(SHOPBRIDGE_HOME=str(tmp_path), SHOPBRIDGE_SECRET_KEY=Fernet.generate_key().decode(),
               SHOPBRIDGE_SCHEDULER_TICK_SECONDS="0.5")
    proc = subprocess.Popen(
        [sys.executable, "-m", "shopbridge", "serve", "--http-port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        first = None
        while time.monotonic() < deadline and first is None:
            try:
                first = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
            except httpx.TransportError:
                time.sleep(0.2)
        assert first is not None, "no dashboard within 30 s"
        assert first.status_code == 303 and first.headers["location"] == "/setup"
        assert "frame-ancestors 'none'" in first.headers["content-security-policy"]
        api = httpx.get(f"http://127.0.0.1:{port}/api/v1/shops", timeout=5)
        assert api.status_code == 401
        htmx = httpx.get(f"http://127.0.0.1:{port}/static/htmx.min.js", timeout=5)
        assert htmx.status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
