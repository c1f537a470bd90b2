"""The WooCommerce commands as a user runs them, against the sandbox on a real socket:
shop add (secret from stdin, never echoed), shop connect, sync listings/orders, remote orders,
order status; a plain-HTTP remote site and wrong keys are one line each."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

from shopbridge.sandbox.woocommerce import WooSandboxConfig, serve_in_thread

ROOT = Path(__file__).resolve().parents[3]


def test_the_commands_end_to_end(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPBRIDGE_")}
    env.update(
        SHOPBRIDGE_HOME=str(tmp_path),
        SHOPBRIDGE_SECRET_KEY=Fernet.generate_key().decode(),
        PYTHONPATH=str(ROOT),
    )

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "shopbridge", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

    with serve_in_thread(WooSandboxConfig(seed=4, products=8, orders=25)) as site:
        bad = run(
            "shop",
            "add",
            "woocommerce",
            "--name",
            "x",
            "--url",
            "http://shop.example.com",
            "--consumer-key",
            site.consumer_key,
            "--consumer-secret-stdin",
            stdin=site.consumer_secret + "\n",
        )
        assert bad.returncode == 1 and "plain HTTP site" in bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1
        added = run(
            "shop",
            "add",
            "woocommerce",
            "--name",
            "woo",
            "--url",
            site.base_url,
            "--consumer-key",
            site.consumer_key,
            "--consumer-secret-stdin",
            stdin=site.consumer_secret + "\n",
        )
        assert added.returncode == 0, added.stderr
        connected = run("shop", "connect", "woo")
        assert connected.returncode == 0, connected.stderr
        assert "EUR" in connected.stdout and "Europe/Berlin" in connected.stdout
        listings = run("sync", "listings", "woo", "--json")
        assert listings.returncode == 0, listings.stderr
        orders = run("sync", "orders", "woo", "--json")
        assert orders.returncode == 0, orders.stderr
        remote = run("remote", "orders", "woo", "--limit", "3", "--json")
        assert remote.returncode == 0, remote.stderr
        rows = json.loads(remote.stdout)
        assert len(rows) == 3
        done = run("order", "status", "woo", rows[0]["id"], "completed", "--json")
        assert done.returncode == 0, done.stderr
        assert site.sandbox.orders[int(rows[0]["id"])].status == "completed"
        everything = "".join(
            p.stdout + p.stderr for p in (added, connected, listings, orders, remote, done)
        )
        assert site.consumer_secret not in everything
        wrong = run(
            "shop",
            "add",
            "woocommerce",
            "--name",
            "wrong",
            "--url",
            site.base_url,
            "--consumer-key",
            "ck_nobody",
            "--consumer-secret",
            "cs_nothing",
        )
        assert wrong.returncode == 0
        refused = run("shop", "connect", "wrong")
        assert refused.returncode == 1 and "refused the consumer key" in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
