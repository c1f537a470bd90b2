"""`shopbridge demo`: a whole shop, from OAuth to ledger, against a local Etsy sandbox.

The sandbox runs on a free local port for the length of the command and stops at its end. The
demo shop is registered once under a stable sandbox address (`DEMO_API_URL`); every request to
that address is routed to wherever the sandbox listens this time, so a second run on the same
data directory reuses the shop, its bindings and its cursor, and imports nothing twice.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import typer

from shopbridge.cli.context import app_context
from shopbridge.cli.output import console, emit_object
from shopbridge.cli.sync import STATES, run_with_progress
from shopbridge.domain.records import OrderStatus
from shopbridge.errors import ShopbridgeError
from shopbridge.sandbox.etsy import SandboxConfig, SandboxHandle, serve_in_thread
from shopbridge.store import queries
from shopbridge.sync.connection import ShopConnections, default_redirect_uri
from shopbridge.sync.pull import MARGIN
from shopbridge.sync.runs import RunSummary
from shopbridge.sync.service import SyncService

DEMO_SHOP = "etsy-demo"
DEMO_API_URL = "http://etsy-sandbox.localhost"
DEMO_SEED = 2024
# The sandbox's clock starts here on every run, so every run sees the same shop.
DEMO_START = 1_767_225_600  # 2026-01-01T00:00:00Z
REDIRECT_URI = default_redirect_uri()
# Past the engine's safety margin (15 s): orders created now are due in the next sync.
CLOCK_STEP = 60
DASHBOARD_URL = "http://127.0.0.1:8000/"  # `shopbridge web`'s default address
EXPLORE = (
    ("shopbridge orders --shop etsy-demo", "the imported orders, newest first"),
    ("shopbridge items", "items with their variant counts"),
    ("shopbridge customers", "customers with their order counts"),
    ("shopbridge stock", "stock per variant in the demo warehouse"),
    ("shopbridge runs list", "every sync run: window, counts, API calls, duration"),
    ("shopbridge requests --shop etsy-demo", "each API call the demo made, with rate headers"),
    ("shopbridge shop show etsy-demo", "the connected shop"),
)


class SandboxRoute(httpx.AsyncBaseTransport):
    """Sends requests for the demo's stable sandbox address to the running sandbox.

    Each request gets its own connection (the sandbox is local), so the route can be shared by
    every client and event loop of the demo and closing one client closes nothing else.
    """

    def __init__(self, base_url: str) -> None:
        target = httpx.URL(base_url)
        self.host, self.port = target.host, target.port

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(scheme="http", host=self.host, port=self.port)
        async with httpx.AsyncHTTPTransport() as inner:
            response = await inner.handle_async_request(request)
            body = await response.aread()
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            content=body,
            extensions=response.extensions,
        )


@dataclass
class DemoRun:
    registered: bool
    sandbox_url: str
    listings: RunSummary
    orders: RunSummary
    incremental: RunSummary
    new_orders: int
    listing_floor: int


def demo(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    listings: int = typer.Option(
        300, "--listings", min=1, hidden=True, help="Listings in the sandboxed shop."
    ),
    receipts: int = typer.Option(
        3000, "--receipts", min=1, hidden=True, help="Receipts in its history."
    ),
    new_orders: int = typer.Option(
        36, "--new-orders", min=1, max=99, hidden=True, help="Orders sold before the re-sync."
    ),
    latency_ms: float = typer.Option(
        40.0, "--latency-ms", min=0, hidden=True, help="The sandbox's answer delay."
    ),
) -> None:
    """Run a sandboxed Etsy shop, connect it, import its listings and orders, and sync again."""
    started = time.perf_counter()
    context = app_context(ctx)
    database = context.database(check_schema=False)
    database.upgrade()
    config = SandboxConfig(
        seed=DEMO_SEED,
        listings=listings,
        receipts=receipts,
        shops=1,
        qps_limit=10,
        daily_limit=10_000,
        latency_ms=latency_ms,
        auto_approve=True,
        redirect_uris=[REDIRECT_URI],
        start_time=DEMO_START,
    )
    say = (lambda _text: None) if as_json else console.print
    say(f"[bold]shopbridge demo[/bold]: ledger at {database.engine.url.render_as_string()}")
    with serve_in_thread(config) as sandbox:
        say(
            f"Etsy sandbox on {sandbox.base_url}: {listings} listings, {receipts} receipts, "
            f"10 requests/s, {latency_ms:g} ms latency"
        )
        connections = ShopConnections.from_settings(
            context.settings,
            database,
            transport=SandboxRoute(sandbox.base_url),
            clock=lambda: float(sandbox.sandbox.now()),
        )
        run = _run(connections, sandbox, new_orders, as_json, say, receipts)
    say("Etsy sandbox stopped.")
    with database.read() as session:
        counts = queries.counts(session)
        orders = queries.orders(session, limit=10**9, shop=DEMO_SHOP)
    summary = _summary(run, counts, orders, time.perf_counter() - started)
    if as_json:
        emit_object(summary, "", as_json=True)
        return
    _print(summary)


def _run(
    connections: ShopConnections,
    sandbox: SandboxHandle,
    new_orders: int,
    as_json: bool,
    say: Any,
    receipts: int,
) -> DemoRun:
    world = sandbox.sandbox
    shop_id = sandbox.shops[0][1]
    registered = DEMO_SHOP not in {shop.name for shop in connections.shops.list()}
    if registered:
        connections.register_etsy(
            DEMO_SHOP, sandbox.keystring, sandbox.shared_secret, DEMO_API_URL, warehouse="demo"
        )
        say(f"Registered the shop {DEMO_SHOP!r}.")
    else:
        say(f"Reusing the shop {DEMO_SHOP!r} from an earlier run.")
    asyncio.run(_connect(connections))
    say(f"Connected through OAuth 2.0 with PKCE (Etsy shop {shop_id}).")

    service = SyncService(connections, clock=lambda: datetime.fromtimestamp(world.now(), UTC))
    listing_run = run_with_progress(
        "listings", as_json, lambda p: service.listings(DEMO_SHOP, STATES, progress=p)
    )
    _check(listing_run)
    order_run = run_with_progress(
        "orders", as_json, lambda p: service.orders(DEMO_SHOP, progress=p)
    )
    _check(order_run)
    waiting = receipts - order_run.counts.done
    if registered and waiting > 0:
        say(
            f"{waiting} of the shop's {receipts} receipts changed in the last "
            f"{MARGIN.total_seconds():g} seconds: they wait for the next sync (a safety margin, "
            "as Etsy's search may lag its clock)."
        )

    world.create_receipts(shop_id, new_orders)
    world.advance(CLOCK_STEP)
    say(f"The shop sold {new_orders} more orders; syncing what changed:")
    incremental = run_with_progress(
        "new orders", as_json, lambda p: service.orders(DEMO_SHOP, progress=p)
    )
    _check(incremental)
    by_state = world.snapshot(shop_id)["listings_by_state"]
    return DemoRun(
        registered=registered,
        sandbox_url=sandbox.base_url,
        listings=listing_run,
        orders=order_run,
        incremental=incremental,
        new_orders=new_orders,
        listing_floor=sum(max(1, math.ceil(by_state.get(s, 0) / 100)) for s in STATES),
    )


async def _connect(connections: ShopConnections) -> None:
    """The owner's side of OAuth: visit the authorisation URL, come back with code and state."""
    pending = await asyncio.to_thread(connections.start_authorization, DEMO_SHOP, REDIRECT_URI)
    async with httpx.AsyncClient(transport=connections.transport) as browser:
        answer = await browser.get(pending.url)
    location = answer.headers.get("location", "")
    if answer.status_code != 302 or not location.startswith(REDIRECT_URI):
        raise ShopbridgeError(f"the sandbox did not approve the demo shop ({answer.status_code})")
    await connections.complete_authorization(DEMO_SHOP, dict(parse_qsl(urlsplit(location).query)))


def _check(summary: RunSummary) -> None:
    if summary.status == "failed":
        raise ShopbridgeError(f"the demo's {summary.stream} run failed: {summary.error}")


def _run_dict(summary: RunSummary, floor: int | None = None) -> dict[str, Any]:
    """A run's counts, its API calls and the floor: one call per 100 records it read."""
    if floor is None:
        floor = max(1, math.ceil(summary.counts.done / 100))
    return {
        **summary.counts.as_dict(),
        "api_calls": summary.api_calls,
        "api_call_floor": floor,
        "seconds": round(summary.seconds, 2),
    }


def _summary(
    run: DemoRun, counts: dict[str, int], orders: list[dict[str, Any]], seconds: float
) -> dict[str, Any]:
    revenue: dict[str, Decimal] = defaultdict(Decimal)
    for order in orders:
        if order["status"] != OrderStatus.VOID:  # no longer served by the channel: no revenue
            revenue[order["currency"]] += Decimal(order["grand_total"])
    runs = {
        "listings": _run_dict(run.listings, run.listing_floor),
        "orders": _run_dict(run.orders),
        "incremental": _run_dict(run.incremental),
    }
    calls = sum(r["api_calls"] for r in runs.values())
    floor = sum(r["api_call_floor"] for r in runs.values())
    return {
        "shop": DEMO_SHOP,
        "registered_now": run.registered,
        "sandbox": run.sandbox_url,
        "items": counts["items"],
        "variants": counts["variants"],
        "customers": counts["customers"],
        "orders": len(orders),
        "revenue": {currency: str(total) for currency, total in sorted(revenue.items())},
        "new_orders_in_incremental": run.new_orders,
        "runs": runs,
        "api_calls": calls,
        "api_call_floor": floor,
        "seconds": round(seconds, 1),
        "explore": [command for command, _ in EXPLORE],
    }


def _calls(count: int) -> str:
    return f"{count} API call" + ("" if count == 1 else "s")


def _print(summary: dict[str, Any]) -> None:
    runs = summary["runs"]
    rows = {
        "items": summary["items"],
        "variants": summary["variants"],
        "customers": summary["customers"],
        "orders": summary["orders"],
        "revenue": ", ".join(f"{v} {c}" for c, v in summary["revenue"].items()) or "none",
    }
    for name, label in (
        ("listings", "listings import"),
        ("orders", "orders import"),
        ("incremental", "incremental sync"),
    ):
        r = runs[name]
        rows[label] = (
            f"{r['created']} created, {r['updated']} updated, {r['unchanged']} unchanged, "
            f"{r['failed']} failed; {_calls(r['api_calls'])} (floor {r['api_call_floor']}), "
            f"{r['seconds']} s"
        )
    rows["API calls"] = f"{summary['api_calls']} (floor {summary['api_call_floor']})"
    rows["time taken"] = f"{summary['seconds']} s"
    emit_object(rows, "The demo shop in the ledger", as_json=False)
    console.print(
        "floor: the fewest calls possible, one per 100 records read (Etsy's largest page). "
        "The incremental sync re-reads the last seconds before its cursor (an overlap), so a "
        "record it already had shows as unchanged.",
        highlight=False,
    )
    console.print("Explore further:")
    for command, what in EXPLORE:
        console.print(f"  [bold]{command}[/bold]\n      [dim]{what}[/dim]")
    console.print(
        f"The dashboard: run [bold]shopbridge web[/bold] and open {DASHBOARD_URL} "
        "(the first visit asks for the first user; or `shopbridge user add NAME`).",
        highlight=False,
    )
