"""Fault injection rules, reproducible from a seed.

A rule matches requests by operation id (e.g. "getShopReceipts") and/or a path substring
(e.g. "/receipts") and method. It fires on the matching requests it selects:
  - `nth`: the listed 1-based positions among matching requests ("fail the 3rd"), or
  - `after` + `times`: a burst (requests after+1 .. after+times), and/or
  - `probability`: each matching request with this chance, drawn from a seeded RNG.
With none of these the rule fires on every match (bounded by `times` if set).

Kinds: latency (ms, fixed or uniform/exponential), error (status 500/503...), timeout (hang
`hang_seconds`, then 504), drop (connection closed mid-response), truncate (200 with cut JSON),
rate_limit (429 storm with retry-after), expire_token (the caller's access token expires now).
With `apply`, a terminal fault strikes AFTER the request took effect: the write is done on the
sandbox's side and the caller gets the error, the hang or the dropped connection instead of the
answer (a response lost on the way back: what makes a retried POST post twice).
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

KINDS = ("latency", "error", "timeout", "drop", "truncate", "rate_limit", "expire_token")
TERMINAL = frozenset({"error", "timeout", "drop", "truncate", "rate_limit"})


@dataclass
class FaultRule:
    kind: str
    operation: str | None = None
    path_contains: str | None = None
    method: str | None = None
    nth: list[int] | None = None
    after: int = 0
    times: int | None = None
    probability: float | None = None
    status: int = 500
    latency_ms: float = 0.0
    distribution: str = "fixed"  # fixed | uniform (0..2x) | exponential (mean latency_ms)
    hang_seconds: float = 30.0
    retry_after: int = 1
    apply: bool = False
    matched: int = field(default=0, repr=False)
    fired: int = field(default=0, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {KINDS}")
        if self.probability is not None and not 0.0 <= self.probability <= 1.0:
            raise ValueError("probability must be within 0..1")
        if self.distribution not in ("fixed", "uniform", "exponential"):
            raise ValueError("distribution must be fixed, uniform or exponential")

    def matches(self, operation: str | None, path: str, method: str) -> bool:
        if self.operation is not None and self.operation != operation:
            return False
        if self.path_contains is not None and self.path_contains not in path:
            return False
        return self.method is None or self.method.upper() == method.upper()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class FaultInjector:
    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._rng = random.Random(seed)
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()

    def set_rules(self, rules: list[FaultRule]) -> None:
        """Replace all rules and reseed, so the same script replays identically."""
        with self._lock:
            self._rules = list(rules)
            self._rng = random.Random(self._seed)

    def add_rule(self, rule: FaultRule) -> None:
        with self._lock:
            self._rules.append(rule)

    def clear(self) -> None:
        self.set_rules([])

    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def decide(self, operation: str | None, path: str, method: str) -> list[FaultRule]:
        """The rules firing for this request: latencies, expire_token, at most one terminal."""
        fired: list[FaultRule] = []
        with self._lock:
            terminal_taken = False
            for rule in self._rules:
                if not rule.matches(operation, path, method):
                    continue
                rule.matched += 1
                if rule.kind in TERMINAL and terminal_taken:
                    continue
                if self._fires(rule):
                    rule.fired += 1
                    fired.append(rule)
                    terminal_taken = terminal_taken or rule.kind in TERMINAL
        return fired

    def _fires(self, rule: FaultRule) -> bool:
        n = rule.matched
        if n <= rule.after:
            return False
        if rule.times is not None and rule.fired >= rule.times:
            return False
        if rule.nth is not None and n not in rule.nth:
            return False
        return rule.probability is None or self._rng.random() < rule.probability

    def latency_seconds(self, rule: FaultRule) -> float:
        base = rule.latency_ms / 1000.0
        with self._lock:
            if rule.distribution == "uniform":
                return self._rng.uniform(0.0, 2 * base)
            if rule.distribution == "exponential":
                return self._rng.expovariate(1 / base) if base > 0 else 0.0
        return base
