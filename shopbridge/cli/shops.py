"""`shopbridge shop ...`: register, inspect, pause, remove and connect shops."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
import webbrowser
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import typer

from shopbridge.cli.context import app_context
from shopbridge.cli.output import console, emit, emit_object
from shopbridge.config import check_api_url
from shopbridge.domain.records import OrderFilter
from shopbridge.errors import AuthError, ShopbridgeError
from shopbridge.store.shops import ShopRecord
from shopbridge.sync.connection import (
    CALLBACK_PATH,
    DEFAULT_REDIRECT_PORT,
    ShopConnections,
    default_redirect_uri,
)

app = typer.Typer(
    help="Connected shops: add, list, show, connect, credentials, disable, enable, remove.",
    no_args_is_help=True,
)
add_app = typer.Typer(help="Register a shop.", no_args_is_help=True)
app.add_typer(add_app, name="add")

JSON = typer.Option(False, "--json", help="Print JSON.")
SHOP_NAME = typer.Argument(..., metavar="NAME", help="The shop's name (`shopbridge shop list`).")
SECRET_ENV = "SHOPBRIDGE_ETSY_SHARED_SECRET"  # noqa: S105 (a variable's name)
SHARED_SECRET = typer.Option(
    None,
    "--shared-secret",
    envvar=SECRET_ENV,
    show_envvar=True,
    show_default=False,
    help="The Etsy app's shared secret. A flag is visible in `ps` and in shell history: prefer "
    "the environment variable, --shared-secret-stdin, or no option at all in a terminal (you "
    "are asked, and the answer is not shown).",
)
SHARED_SECRET_STDIN = typer.Option(
    False,
    "--shared-secret-stdin",
    help="Read the shared secret from the first line of standard input "
    "(e.g. `pass show etsy | shopbridge shop add etsy ... --shared-secret-stdin`).",
)


WEBHOOK_ENV = "SHOPBRIDGE_ETSY_WEBHOOK_SECRET"
WEBHOOK_SECRET = typer.Option(
    None,
    "--webhook-secret",
    envvar=WEBHOOK_ENV,
    show_envvar=True,
    show_default=False,
    help="The endpoint's signing secret (whsec_...) from Etsy's webhook portal, stored "
    "encrypted. A new one replaces the current, which stays valid for --webhook-grace. Prefer "
    "the environment variable or --webhook-secret-stdin to a flag (visible in `ps`).",
)
WEBHOOK_SECRET_STDIN = typer.Option(
    False, "--webhook-secret-stdin",
    help="Read the webhook signing secret from the first line of standard input.",
)


def read_webhook_secret(given: str | None, from_stdin: bool) -> str | None:
    """The webhook secret from --webhook-secret-stdin, else --webhook-secret (or its variable);
    None when neither is given. Checked (whsec_ + base64) without ever printing it."""
    from shopbridge.channels.etsy.webhooks import check_secret

    if from_stdin:
        if given is not None:
            raise ShopbridgeError(
                "give the webhook secret one way: --webhook-secret-stdin or --webhook-secret "
                f"({WEBHOOK_ENV}), not both"
            )
        given = sys.stdin.readline().rstrip("\r\n")
        if not given.strip():
            raise ShopbridgeError("--webhook-secret-stdin: standard input held no secret")
    if given is None:
        return None
    try:
        return check_secret(given)
    except ValueError as exc:
        raise ShopbridgeError(f"the webhook secret was refused: {exc}") from None


SKIP_CHECK = typer.Option(
    False,
    "--skip-check",
    help="Store the keys without checking them with Etsy first (offline; mistakes then show "
    "at `shop connect`).",
)


def _interactive() -> bool:
    return sys.stdin.isatty()


def read_shared_secret(ctx: typer.Context, given: str | None, from_stdin: bool) -> str:
    """The shared secret from, in this order: --shared-secret-stdin, --shared-secret, the
    SHOPBRIDGE_ETSY_SHARED_SECRET variable, a hidden prompt when standard input is a terminal."""
    source = ctx.get_parameter_source("shared_secret")
    if from_stdin:
        if given is not None and source is not None and source.name == "COMMANDLINE":
            raise ShopbridgeError(
                "give the shared secret one way: --shared-secret-stdin or --shared-secret, not both"
            )
        secret = sys.stdin.readline().rstrip("\r\n")
        if not secret.strip():
            raise ShopbridgeError("--shared-secret-stdin: standard input held no shared secret")
        return secret
    if given is not None:
        return given
    if _interactive():
        secret = str(typer.prompt("Etsy shared secret", hide_input=True))
        if secret.strip():
            return secret
    raise ShopbridgeError(
        f"the shared secret is required: type it when asked (in a terminal), set {SECRET_ENV}, "
        "or pipe it with --shared-secret-stdin"
    )


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
    shared_secret: str | None = SHARED_SECRET,
    shared_secret_stdin: bool = SHARED_SECRET_STDIN,
    api_url: str | None = typer.Option(
        None,
        "--api-url",
        help="API URL (default: Etsy's, https://openapi.etsy.com). Etsy's hosts over https; "
        "http only for this machine (127.0.0.1, ::1, localhost: the sandbox).",
    ),
    allow_custom_api_host: bool = typer.Option(
        False,
        "--allow-custom-api-host",
        help="Accept an https --api-url that is not Etsy's: the app's keystring and shared "
        "secret and the shop's tokens are then sent to that host with every request.",
    ),
    warehouse: str | None = typer.Option(None, "--warehouse", help="Stock comes from here."),
    skip_check: bool = SKIP_CHECK,
    as_json: bool = JSON,
) -> None:
    """Register an Etsy shop (credentials are stored encrypted); then `shop connect` it.

    A shop name has 1-64 letters, digits, spaces and - _ . (starting with a letter or digit),
    unique ignoring case. The key pair is checked with one call to Etsy (openapi-ping) before
    anything is stored. The shared secret is asked for (hidden) when it is not given; see
    --shared-secret-stdin and SHOPBRIDGE_ETSY_SHARED_SECRET for scripts.
    """
    service = _service(ctx)
    # Mistakes that need no secret are refused before the secret is asked for.
    service.shops.check_new_name(name)
    url = check_api_url(api_url, allow_custom_host=allow_custom_api_host) if api_url else None
    secret = read_shared_secret(ctx, shared_secret, shared_secret_stdin)
    if not skip_check:
        asyncio.run(service.check_keys(keystring, secret, url))
    shop = service.register_etsy(
        name, keystring, secret, url, warehouse, allow_custom_api_host=allow_custom_api_host
    )
    if as_json:
        emit_object(_row(shop), "Shop", True)
        return
    console.print(f"added shop [bold]{shop.name}[/bold]: now run `shopbridge shop connect {name}`")


WOO_SECRET_ENV = "SHOPBRIDGE_WOO_CONSUMER_SECRET"  # noqa: S105 (a variable name)


@add_app.command("woocommerce")
def add_woocommerce(
    ctx: typer.Context,
    name: str = typer.Option(..., "--name", help="A name for this shop."),
    url: str = typer.Option(
        ..., "--url", help="The site's address (https; http only on this machine: the sandbox)."
    ),
    consumer_key: str = typer.Option(..., "--consumer-key", help="The REST API key (ck_...)."),
    consumer_secret: str | None = typer.Option(
        None,
        "--consumer-secret",
        envvar=WOO_SECRET_ENV,
        show_envvar=True,
        show_default=False,
        help="The REST API secret (cs_...). A flag shows in `ps` and shell history: prefer the "
        "environment variable, --consumer-secret-stdin, or the hidden prompt.",
    ),
    consumer_secret_stdin: bool = typer.Option(
        False, "--consumer-secret-stdin", help="Read the secret from standard input's first line."
    ),
    warehouse: str | None = typer.Option(None, "--warehouse", help="Stock comes from here."),
    as_json: bool = JSON,
) -> None:
    """Register a WooCommerce site (keys stored encrypted); then `shop connect` checks them."""
    service = _service(ctx)
    service.shops.check_new_name(name)
    if consumer_secret_stdin:
        secret = sys.stdin.readline().rstrip("\r\n")
    elif consumer_secret is not None:
        secret = consumer_secret
    elif _interactive():
        secret = str(typer.prompt("WooCommerce consumer secret", hide_input=True))
    else:
        secret = ""
    if not secret.strip():
        raise ShopbridgeError(
            f"the consumer secret is required: --consumer-secret, {WOO_SECRET_ENV}, "
            "--consumer-secret-stdin, or type it when asked (in a terminal)"
        )
    shop = service.register_woocommerce(name, url, consumer_key, secret, warehouse)
    if as_json:
        emit_object(_row(shop), "Shop", True)
        return
    console.print(f"added shop [bold]{shop.name}[/bold]: now run `shopbridge shop connect {name}`")


@app.command("credentials")
def credentials(
    ctx: typer.Context,
    name: str = SHOP_NAME,
    shared_secret: str | None = SHARED_SECRET,
    shared_secret_stdin: bool = SHARED_SECRET_STDIN,
    keystring: str | None = typer.Option(
        None, "--keystring", help="A new keystring (another app: the shop must connect again)."
    ),
    skip_check: bool = SKIP_CHECK,
    as_json: bool = JSON,
) -> None:
    """Replace a shop's app keys in place; its orders, items and history stay its own.

    The shared secret is read like `shop add etsy` reads it (hidden prompt, standard input or
    SHOPBRIDGE_ETSY_SHARED_SECRET); --keystring changes the app too. The new pair is checked
    with one call to the shop's API before it is stored.
    """
    service = _service(ctx)
    shop = service.shops.get(name)
    if shop.channel == "woocommerce":
        raise ShopbridgeError(
            f"shop {name!r} is a WooCommerce shop: `shop remove {name}` then `shop add "
            "woocommerce` and `shop connect` with the new keys (the same site takes back its "
            "orders, items and history)"
        )
    secret = read_shared_secret(ctx, shared_secret, shared_secret_stdin)
    if not skip_check:
        current = keystring or str(service.shops.credentials(shop.id).get("keystring", ""))
        asyncio.run(service.check_keys(current, secret, shop.api_url))
    shop = service.replace_credentials(name, secret, keystring)
    if as_json:
        emit_object(_row(shop), "Shop", True)
        return
    if shop.status == "pending":
        console.print(
            f"new keys stored for [bold]{name}[/bold]: now run `shopbridge shop connect {name}`"
        )
    else:
        console.print(f"new keys stored for [bold]{name}[/bold]")


@app.command("list")
def list_shops(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Every shop and its status."""
    shops = _service(ctx).shops.list()
    rows = [{k: v for k, v in _row(s).items() if as_json or k in LIST_COLUMNS} for s in shops]
    emit(rows, "Shops", as_json)


@app.command("show")
def show(ctx: typer.Context, name: str = SHOP_NAME, as_json: bool = JSON) -> None:
    """One shop: status and why, Etsy ids, API URL, its webhooks: deliveries accepted,
    refused by reason, the last received (never a secret)."""
    from shopbridge.store import webhooks

    service = _service(ctx)
    shop = service.shops.get(name)
    row = {**_row(shop), **webhooks.shop_view(service.database, shop.id)}
    emit_object(row, f"Shop {name}", as_json)


@app.command("settings")
def settings(
    ctx: typer.Context,
    name: str = SHOP_NAME,
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
    warehouse: str | None = typer.Option(
        None, "--warehouse", help="The warehouse this shop's orders reserve in."
    ),
    stock_from: str | None = typer.Option(
        None,
        "--stock-from",
        help="Warehouses this shop sells from, summed: W1,W2 (default: its own warehouse).",
    ),
    buffer: int | None = typer.Option(None, "--buffer", help="Units kept back from the offer."),
    offer_percent: int | None = typer.Option(
        None, "--offer-percent", help="The share of the rest offered, 0-100, rounded down."
    ),
    max_offer: int | None = typer.Option(
        None, "--max-offer", help="Offer at most this many per variant (Etsy's ceiling: 999)."
    ),
    push_stock: bool | None = typer.Option(
        None, "--push-stock/--no-push-stock", help="Push this shop's stock to the channel."
    ),
    webhook_secret: str | None = WEBHOOK_SECRET,
    webhook_secret_stdin: bool = WEBHOOK_SECRET_STDIN,
    webhook_grace: float = typer.Option(
        24.0, "--webhook-grace", min=0, max=24 * 30,
        help="Hours the replaced webhook secret is still accepted.",
    ),
    as_json: bool = JSON,
) -> None:
    """Show a shop's import, stock and webhook settings; options change them."""
    from datetime import timedelta

    from shopbridge.store import webhooks

    context = app_context(ctx)
    service = _service(ctx)
    shops = service.shops
    shop_id = shops.get(name).id
    hook_secret = read_webhook_secret(webhook_secret, webhook_secret_stdin)
    changes = {
        "import_orders": import_orders,
        "seed_stock_on_import": seed_stock,
        "match_customers_by_name_and_postcode": match_by_name,
    }
    from shopbridge.store import stock

    with context.database().write() as session:  # stock first: a bad value changes nothing
        if warehouse is not None:
            stock.set_shop_warehouse(session, shop_id, warehouse)
        sources = stock_from.split(",") if stock_from is not None else None
        offer = (stock_from, buffer, offer_percent, max_offer, push_stock)
        if any(value is not None for value in offer):
            stock.change_offer_settings(
                session,
                shop_id,
                sources=sources,
                buffer=buffer,
                offer_percent=offer_percent,
                max_offer=max_offer,
                push_stock=push_stock,
            )
    if any(value is not None for value in changes.values()):
        current = shops.change_import_settings(name, **changes)
    else:
        current = shops.import_settings(name)
    with context.database().read() as session:
        summary = stock.offer_summary(session, shop_id)
    if hook_secret is not None:
        webhooks.set_secret(context.database(), shops.vault, shop_id, hook_secret,
                            timedelta(hours=webhook_grace))
    hooks = webhooks.secrets_info(context.database(), shop_id)
    emit_object({**current.as_dict(), **summary, **hooks}, f"Settings of {name}", as_json)


@app.command("disable")
def disable(ctx: typer.Context, name: str = SHOP_NAME, as_json: bool = JSON) -> None:
    """Pause a shop: no job calls its API until it is enabled."""
    emit_object(_row(_service(ctx).set_enabled(name, False)), f"Shop {name}", as_json)


@app.command("enable")
def enable(ctx: typer.Context, name: str = SHOP_NAME, as_json: bool = JSON) -> None:
    """Resume a disabled shop."""
    emit_object(_row(_service(ctx).set_enabled(name, True)), f"Shop {name}", as_json)


@app.command("remove")
def remove(
    ctx: typer.Context,
    name: str = SHOP_NAME,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    as_json: bool = JSON,
) -> None:
    """Forget a shop and its credentials; orders and items it brought stay in the ledger.

    Adding and connecting the same Etsy shop again (under any name) takes them back; to change
    a shop's keys, use `shop credentials` instead."""
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
    name: str = SHOP_NAME,
    port: int = PORT,
    no_browser: bool = NO_BROWSER,
    timeout: float = TIMEOUT,
) -> None:
    """Authorise shopbridge on the shop (Etsy: OAuth with PKCE through a one-shot local
    callback; WooCommerce: check the keys and read the store's currency, decimals, time zone)."""
    service = _service(ctx)
    if service.shops.get(name).channel == "woocommerce":
        shop, site = asyncio.run(service.connect_woocommerce(name))
        console.print(
            f"connected [bold]{shop.name}[/bold] ({site.url}): {site.currency}, "
            f"{site.decimals} decimals, time zone {site.timezone}"
        )
        return
    _authorize(service, name, port, no_browser, timeout)


@app.command("reauth")
def reauth(
    ctx: typer.Context,
    name: str = SHOP_NAME,
    port: int = PORT,
    no_browser: bool = NO_BROWSER,
    timeout: float = TIMEOUT,
) -> None:
    """Authorise again (revoked grant, new scopes); it must be the same Etsy shop."""
    _authorize(_service(ctx), name, port, no_browser, timeout)


def _authorize(
    service: ShopConnections, name: str, port: int, no_browser: bool, timeout: float
) -> None:
    if not 1 <= port <= 65535:
        raise ShopbridgeError(f"--port {port} is not a TCP port (1-65535)")
    if not timeout > 0:
        raise ShopbridgeError(f"--timeout {timeout:g} must be a number of seconds above 0")
    service.shops.get(name)  # an unknown shop is refused before a port is opened
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

        try:
            self._server = HTTPServer(("127.0.0.1", port), Handler)
        except OSError as exc:
            raise ShopbridgeError(
                f"cannot listen on 127.0.0.1:{port} for the OAuth callback ({exc.strerror}): "
                "close what uses it, or pick another --port (and register "
                f"http://localhost:PORT{CALLBACK_PATH} with the app on Etsy)"
            ) from None
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
