"""`shopbridge sandbox etsy --json`: the first stdout line is the credentials object."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx

KEYS = {"base_url", "keystring", "shared_secret", "shop_id", "user_id", "redirect_uris"}


def test_cli_prints_credentials_then_serves():
    command = [
        sys.executable,
        "-m",
        "shopbridge",
        "sandbox",
        "etsy",
        "--port",
        "0",
        "--json",
        "--receipts",
        "20",
        "--listings",
        "5",
        "--redirect-uri",
        "http://127.0.0.1:9/cb",
        "--auto-approve",
        "--qps",
        "3",
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert set(info) >= KEYS and info["redirect_uris"] == ["http://127.0.0.1:9/cb"]
        key = f"{info['keystring']}:{info['shared_secret']}"
        for _ in range(50):  # the socket is bound before the line is printed; wait for serving
            try:
                r = httpx.get(
                    f"{info['base_url']}/v3/application/shops/{info['shop_id']}",
                    headers={"x-api-key": key},
                    timeout=2,
                )
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert r.status_code == 200 and r.json()["user_id"] == info["user_id"]
        assert r.headers["x-limit-per-second"] == "3"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
