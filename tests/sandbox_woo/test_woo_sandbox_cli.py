"""`shopbridge sandbox woocommerce --json`: the first line says where and with which keys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def test_cli_serves_and_prints_credentials() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "shopbridge",
            "sandbox",
            "woocommerce",
            "--port",
            "0",
            "--seed",
            "5",
            "--products",
            "5",
            "--orders",
            "20",
            "--timezone",
            "America/New_York",
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert set(info) >= {"base_url", "consumer_key", "consumer_secret"}
        assert info["consumer_key"].startswith("ck_") and info["consumer_secret"].startswith("cs_")
        for _ in range(100):
            try:
                index = requests.get(info["base_url"] + "/wp-json/", timeout=2).json()
                break
            except requests.ConnectionError:
                import time

                time.sleep(0.1)
        assert index["timezone_string"] == "America/New_York"
        assert "wc/v3" in index["namespaces"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_cli_refuses_a_bad_timezone() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "shopbridge",
            "sandbox",
            "woocommerce",
            "--port",
            "0",
            "--timezone",
            "Mars/Olympus",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode != 0 and "time zone" in done.stderr
