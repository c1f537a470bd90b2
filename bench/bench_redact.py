"""Redaction benchmark: the cost of one `redact()` call as a long-running process sees secrets.

A worker with many shops registers new secrets all day: every token refresh brings a new access
and refresh token. This registers `--secrets` of them over time, the way token rotation does
(shops of one app share a keystring; each refresh registers two new tokens), and at every
`--step` measures the time per `redact()` call on three texts a worker really redacts: a request
log query with a token in force, a log line with none, and a 2 KB error body. It also checks that
the secrets in force (the last tokens of every shop still running) are masked.

    python -m bench.bench_redact                     # 50,000 secrets, a checkpoint every 5,000
    python -m bench.bench_redact --secrets 2000 --step 500 --json out.json
"""

from __future__ import annotations

import argparse
import json
import platform
import secrets as random_secrets
import time
from typing import Any

import psutil

from shopbridge import security
from shopbridge.security import redact, register_secret

SHOPS = 200  # shops of this worker, each refreshing its tokens in turn
TARGET_RATIO = 2.0  # the last checkpoint may cost at most this much more than the first


def _token(user_id: int) -> str:
    return f"{user_id}.{random_secrets.token_urlsafe(40)}"


def _texts(access: str, refresh: str) -> list[str]:
    body = " ".join(f"word{i} listing {i * 7919} state=active" for i in range(60))
    return [
        f"grant_type=refresh_token&client_id=abcdefghijklmnopqrstuvwx&refresh_token={refresh}",
        "orders of shop042 failed before it ran: Etsy answered 503 (retry-after 2)",
        f'{{"error": "invalid_token", "seen": "{access}", "body": "{body}"}}'[:2048],
    ]


def _per_call(texts: list[str], seconds: float) -> float:
    """Microseconds per redact() call, measured for about `seconds`."""
    calls = 0
    started = time.perf_counter()
    deadline = started + seconds
    while True:
        for text in texts:
            redact(text)
        calls += len(texts)
        now = time.perf_counter()
        if now >= deadline:
            return (now - started) / calls * 1e6


def run(total: int = 50_000, step: int = 5_000, seconds: float = 0.3) -> dict[str, Any]:
    register_secret("abcdefghijklmnopqrstuvwx", "sharedsec1")  # the app's key, in force always
    in_force: dict[int, tuple[str, str]] = {}
    checkpoints: list[dict[str, float]] = []
    registered = 0
    process = psutil.Process()
    baseline_rss = process.memory_info().rss
    while True:
        if registered % step == 0:
            user = registered // 2 % SHOPS + 1000
            access, refresh = in_force.get(user) or (_token(user), _token(user))
            register_secret(access, refresh)
            texts = _texts(access, refresh)
            leaked = [t for t in texts if access in redact(t) or refresh in redact(t)]
            checkpoints.append({
                "registered": registered,
                "us_per_call": round(_per_call(texts, seconds), 2),
                "rss_growth_mib": round((process.memory_info().rss - baseline_rss) / 2**20, 1),
                "leaked": len(leaked),
            })
            print(f"{registered:>7} secrets registered: {checkpoints[-1]['us_per_call']:8.2f} us "
                  f"per call, RSS +{checkpoints[-1]['rss_growth_mib']:.1f} MiB", flush=True)
        if registered >= total:
            break
        user = registered // 2 % SHOPS + 1000
        access, refresh = _token(user), _token(user)  # a refresh: two new secrets
        register_secret(access, refresh)
        in_force[user] = (access, refresh)
        registered += 2
    # Every shop's tokens in force at the end are still masked.
    unmasked = sum(
        1 for access, refresh in in_force.values()
        if access in redact(f"Authorization {access}") or refresh in redact(f"rt {refresh}")
    )
    first, last = checkpoints[0]["us_per_call"], checkpoints[-1]["us_per_call"]
    return {
        "workload": {"secrets": total, "step": step, "shops": SHOPS, "texts": 3},
        "checkpoints": checkpoints,
        "first_us_per_call": first,
        "last_us_per_call": last,
        "ratio": round(last / first, 3),
        "target_ratio": TARGET_RATIO,
        "in_force_unmasked": unmasked,
        "leaked": sum(int(c["leaked"]) for c in checkpoints),
        "implementation": security.__name__,
        "python": platform.python_version(),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--secrets", type=int, default=50_000)
    parser.add_argument("--step", type=int, default=5_000)
    parser.add_argument("--seconds", type=float, default=0.3, help="measuring time per step")
    parser.add_argument("--json", default=None, help="write the result here")
    args = parser.parse_args(argv)
    result = run(args.secrets, args.step, args.seconds)
    print(f"per call: {result['first_us_per_call']} us at first, {result['last_us_per_call']} "
          f"us after {args.secrets:,} secrets (x{result['ratio']}); "
          f"secrets in force unmasked: {result['in_force_unmasked']}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=2)
    return result


if __name__ == "__main__":
    main()
