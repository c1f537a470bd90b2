"""SandboxConfig: everything that shapes one sandboxed Etsy application and its shops."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


@dataclass
class SandboxConfig:
    """Settings of one sandbox. `listings` and `receipts` are PER SHOP.

    All shops belong to ONE application key (an agency connecting many shops). Shop i is priced
    in `currencies[i % len(currencies)]`, so `shops=4` covers USD, EUR, GBP and JPY.
    `start_time` pins the virtual clock's start (Unix seconds); with it, the same seed yields
    byte-identical data. Without it, the clock starts at the real time.
    """

    seed: int = 7
    listings: int = 300
    receipts: int = 5000
    shops: int = 1
    qps_limit: int = 10
    daily_limit: int = 10_000
    access_token_ttl: int = 3600
    refresh_token_ttl: int = 90 * 86400
    auto_approve: bool = False
    redirect_uris: list[str] = field(
        default_factory=lambda: ["http://localhost:8765/oauth/etsy/callback"]
    )
    # A seller who restocks at once: when a sale leaves a listing with nothing on sale, each of
    # its offerings is set to this many (0: it stays sold out, as Etsy leaves it).
    restock: int = 0
    bump_updated_on_cancel: bool = False
    bump_updated_on_refund: bool = False
    # Latency added to every /v3 request (milliseconds): fixed part plus uniform jitter.
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    currencies: tuple[str, ...] = ("USD", "EUR", "GBP", "JPY")
    history_days: int = 365
    start_time: int | None = None
    keystring: str | None = None
    shared_secret: str | None = None

    def app_keystring(self) -> str:
        return self.keystring or _derive(self.seed, "keystring", 24)

    def app_shared_secret(self) -> str:
        return self.shared_secret or _derive(self.seed, "secret", 10)


def _derive(seed: int, label: str, length: int) -> str:
    """A stable credential from the seed, so a restarted sandbox keeps its keys."""
    return hashlib.sha256(f"shopbridge-sandbox:{label}:{seed}".encode()).hexdigest()[:length]
