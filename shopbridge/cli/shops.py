"""`shopbridge shop ...`: register, inspect, pause, remove and connect shops."""

from __future__ import annotations

import asyncio
import threading
import time
import webbrowser
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import typer

from shopbridge.cli.context import app_context
from shopbridge.cli.output import console, emit, emit_object
from shopbridge.domain.records import OrderFilter
from shopbridge.errors import AuthError
from shopbridge.store.shops import ShopRecord
from shopbridge.sync.connection import (
    CALLBACK_PATH,
    DEFAULT_REDIRECT_PORT,
    ShopConnections,
    default_redirect_uri,
)

app = typer.Typer(
    help="Connected shops: add, list, show, connect, disable, enable, remove.", no_args_is_help=True
)
add_app = typer.Typer(help="Register a shop.", no_args_is_help=True)
app.add_typer(add_app, name="add")

JSON = typer.Option(False, "--json", help="Print JSON.")
LIST_COLUMNS = ("name", "channel", "status", "external_shop_id", "warehouse", "api_url")


def _service(ctx: typer.Context) -> ShopConnections:
    context = app_context(ctx)
    return ShopConnections.from_settings(context.settings, context.database())


def _row(shop: ShopRecord) -> dict[str, Any]:
    return shop.as_dict()


@add_app.command("etsy")
def add_etsy(
    ctx: typer.Context,
    name: str = typer.Option(..., "--name", help="A name for this shop."),
    keystring: str = typer.Option(..., "--keystring", help="The Etsy app's keystring."),
    shared_secret: str = typer.Option(
        ..., "--shared-secret", help="The Etsy app's shared secret.", hide_input=True
    ),
    api_url: str | None = typer.Option(None, "--api-url", help="API URL (default: Etsy's)."),
    warehouse: str | None = typer.Option(None, "--warehouse", help="Stock comes from here."),
    as_json: bool = JSON,
) -> None:
    """Register an Etsy shop (credentials are stored encrypted); then `shop connect` it."""
    shop = _service(ctx).register_etsy(name, keystring, shared_secret, api_url, warehouse)
    if as_json:
        emit_object(_row(shop), "Shop", True)
        return
    console.print(f"added shop [bold]{shop.name}[/bold]: now run `shopbridge shop connect {name}`")


@app.command("list")
def list_shops(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Every shop and its status."""
    shops = _service(ctx).shops.list()
    rows = [{k: v for k, v in _row(s).items() if as_json or k in LIST_COLUMNS} for s in shops]
    emit(rows, "Shops", as_json)


@app.command("show")
def show(ctx: typer.Context, name: str, as_json: bool = JSON) -> None:
    """One shop: status and why, Etsy ids, API URL (never a secret)."""
    emit_object(_row(_service(ctx).shops.get(name)), f"Shop {name}", as_json)


@app.command("settings")
def settings(
    ctx: typer.Context,
    name: str,
    import_orders: OrderFilter | None = typer.Option(
        None,
        "--import-orders",
        help="Which new orders enter the ledger: all, paid only, or shipped only (like Zoho's "
        "confirmed / fulfilled). An order left out is taken once it passes.",
    ),
    seed_stock: bool | None = typer.Option(
        None,
        "--seed-stock/--no-seed-stock",
        help="A new variant's first stock comes from the channel's quantity.",
    ),
    match_by_name: bool | None = typer.Option(
        None,
        "--match-by-name-and-postcode/--no-match-by-name-and-postcode",
        help="Match customers by name and postcode after buyer id and email.",
    ),
    as_json: bool = JSON,
) -> None:
    """Show a shop's import settings; options change them."""
    shops = _service(ctx).shops
    changes = {
        "import_orders": import_orders,
        "seed_stock_on_import": seed_stock,
        "match_customers_by_name_and_postcode": match_by_name,
    }
    if any(value is not None for value in changes.values()):
        current = shops.change_import_settings(name, **changes)
    else:
        current = shops.import_settings(name)
    emit_object(current.as_dict(), f"Import settings of {name}", as_json)


@app.command("disable")
def disable(ctx: typer.Context, name: str, as_json: bool = JSON) -> None:
    """Pause a shop: no job calls its API until it is enabled."""
    emit_object(_row(_service(ctx).set_enabled(name, False)), f"Shop {name}", as_json)


@app.command("enable")
def enable(ctx: typer.Context, name: str, as_json: bool = JSON) -> None:
    """Resume a disabled shop."""
    emit_object(_row(_service(ctx).set_enabled(name, True)), f"Shop {name}", as_json)


@app.command("remove")
def remove(
    ctx: typer.Context,
    name: str,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    as_json: bool = JSON,
) -> None:
    """Forget a shop and its credentials; orders and items it brought stay in the ledger."""
    service = _service(ctx)
    service.shops.get(name)  # a clear error before asking about a shop that does not exist
    if not yes:
        typer.confirm(
            f"Remove shop {name!r} and its credentials? Ledger records are kept.", abort=True
        )
    service.shops.remove(name)
    if as_json:
        emit_object({"removed": name}, "Removed", True)
    else:
        console.print(f"removed shop [bold]{name}[/bold]; its ledger records are kept")


PORT = typer.Option(DEFAULT_REDIRECT_PORT, "--port", help="Local port of the OAuth callback.")
NO_BROWSER = typer.Option(False, "--no-browser", help="Only print the authorisation URL.")
TIMEOUT = typer.Option(300.0, "--timeout", help="Seconds to wait for the owner.")


@app.command("connect")
def connect(
    ctx: typer.Context,
    name: str,
    port: int = PORT,
    no_browser: bool = NO_BROWSER,
    timeout: float = TIMEOUT,
) -> None:
    """Authorise shopbridge on the shop (OAuth with PKCE) through a one-shot local callback."""
    _authorize(_service(ctx), name, port, no_browser, timeout)


@app.command("reauth")
def reauth(
    ctx: typer.Context,
    name: str,
    port: int = PORT,
    no_browser: bool = NO_BROWSER,
    timeout: float = TIMEOUT,
) -> None:
    """Authorise again (revoked grant, new scopes); it must be the same Etsy shop."""
    _authorize(_service(ctx), name, port, no_browser, timeout)


def _authorize(
    service: ShopConnections, name: str, port: int, no_browser: bool, timeout: float
) -> None:
    redirect_uri = default_redirect_uri(port)
    with CallbackServer(port) as server:
        pending = service.start_authorization(name, redirect_uri)
        console.print(f"Authorise shop [bold]{name}[/bold] by opening:", highlight=False)
        console.print(pending.url, highlight=False, soft_wrap=True)
        console.print(f"waiting for the redirect to {redirect_uri} ...", highlight=False)
        if not no_browser:
            webbrowser.open(pending.url)
        params = server.wait(timeout)
    if params is None:
        raise AuthError(
            f"shop {name!r}: no redirect reached {redirect_uri} within {timeout:.0f} s: run "
            f"`shopbridge shop connect {name}` again (is that redirect URI registered with Etsy?)"
        )
    shop = asyncio.run(service.complete_authorization(name, params))
    console.print(
        f"shop [bold]{name}[/bold] connected to Etsy shop {shop.external_shop_id} "
        f"(user {shop.external_user_id})"
    )


class CallbackServer:
    """A one-shot HTTP server on 127.0.0.1 that keeps the query of the first callback."""

    def __init__(self, port: int) -> None:
        self.params: dict[str, str] | None = None
        self._got = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path != CALLBACK_PATH or owner._got.is_set():
                    self.send_error(404)
                    return
                owner.params = dict(parse_qsl(url.query))
                owner._got.set()
                body = b"<!doctype html><p>shopbridge got the answer: you can close this tab.</p>"
                self.send_response(200)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return  # the query carries the code and state: never log it

        self._server = HTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> CallbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait(self, timeout: float) -> dict[str, str] | None:
        deadline = time.monotonic() + timeout
        while not self._got.wait(0.1):
            if time.monotonic() > deadline:
                return None
        return self.params
