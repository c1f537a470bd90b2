"""`shopbridge sandbox etsy`: a realistic Etsy shop on localhost."""

from __future__ import annotations

import json
from typing import Annotated

import typer
import uvicorn

from shopbridge.errors import ShopbridgeError
from shopbridge.sandbox.etsy import SandboxConfig, create_app
from shopbridge.sandbox.etsy.server import bind

app = typer.Typer(help="Local stand-ins for the sales channels' APIs.", no_args_is_help=True)


@app.callback()
def sandbox() -> None:
    """Local stand-ins for the sales channels' APIs."""


@app.command()
def etsy(
    port: Annotated[int, typer.Option(help="TCP port (0: any free port).")] = 8790,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    seed: Annotated[int, typer.Option(help="Seed of the generated data and faults.")] = 7,
    listings: Annotated[int, typer.Option(help="Listings per shop.")] = 300,
    receipts: Annotated[int, typer.Option(help="Receipts per shop.")] = 5000,
    shops: Annotated[int, typer.Option(help="Shops under the one application key.")] = 1,
    redirect_uri: Annotated[
        list[str] | None, typer.Option(help="Registered OAuth redirect URI (repeatable).")
    ] = None,
    auto_approve: Annotated[
        bool, typer.Option(help="Redirect from /oauth/connect at once, without a consent page.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="First stdout line: one JSON object of credentials.")
    ] = False,
    qps: Annotated[int, typer.Option(help="Requests per second per API key.")] = 10,
    daily: Annotated[int, typer.Option(help="Requests per sliding 24 h per API key.")] = 10_000,
) -> None:
    """Serve a sandboxed Etsy Open API v3 (Etsy's own paths under the base URL)."""
    if not 0 <= port <= 65535:
        raise ShopbridgeError(f"--port {port} is not a TCP port (0-65535; 0 picks a free one)")
    for flag, value, least in (
        ("--listings", listings, 1),
        ("--receipts", receipts, 0),
        ("--shops", shops, 1),
        ("--qps", qps, 1),
        ("--daily", daily, 1),
    ):
        if value < least:
            raise ShopbridgeError(f"{flag} {value} must be at least {least}")
    # The port first: generating the data takes a while, a busy port is known at once.
    try:
        sock = bind(host, port)
    except OSError as exc:  # busy, or an address this machine does not have
        raise ShopbridgeError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}): pick another --port "
            "(0 picks a free one) or --host"
        ) from None
    config = SandboxConfig(
        seed=seed,
        listings=listings,
        receipts=receipts,
        shops=shops,
        qps_limit=qps,
        daily_limit=daily,
        auto_approve=auto_approve,
    )
    if redirect_uri:
        config.redirect_uris = list(redirect_uri)
    application = create_app(config)
    world = application.state.sandbox
    url_host = f"[{host}]" if ":" in host else host
    base_url = f"http://{url_host}:{sock.getsockname()[1]}"
    user_id, shop_id = world.shops[0]
    info = {
        "base_url": base_url,
        "keystring": world.keystring,
        "shared_secret": world.shared_secret,
        "shop_id": shop_id,
        "user_id": user_id,
        "redirect_uris": config.redirect_uris,
    }
    if shops > 1:
        info["shops"] = [{"user_id": u, "shop_id": s} for u, s in world.shops]
    if as_json:
        typer.echo(json.dumps(info), nl=True)
    else:
        _print_banner(info, world.shops)
    server = uvicorn.Server(uvicorn.Config(application, log_level="warning", lifespan="off"))
    server.run(sockets=[sock])


def _print_banner(info: dict[str, object], shops: list[tuple[int, int]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Etsy sandbox", show_header=False)
    for key in ("base_url", "keystring", "shared_secret", "shop_id", "user_id"):
        table.add_row(key, str(info[key]))
    table.add_row("x-api-key", f"{info['keystring']}:{info['shared_secret']}")
    table.add_row("redirect_uris", "\n".join(map(str, info["redirect_uris"])))  # type: ignore[call-overload]
    if len(shops) > 1:
        table.add_row("shops", "\n".join(f"user {u} -> shop {s}" for u, s in shops))
    Console().print(table)


@app.command()
def woocommerce(
    port: Annotated[int, typer.Option(help="TCP port (0: any free port).")] = 8791,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    seed: Annotated[int, typer.Option(help="Seed of the generated data and faults.")] = 7,
    products: Annotated[int, typer.Option(help="Products (simple and variable).")] = 40,
    orders: Annotated[int, typer.Option(help="Orders in the site's history.")] = 300,
    timezone: Annotated[str, typer.Option(help="The site's time zone (WordPress).")] = (
        "Europe/Berlin"
    ),
    currency: Annotated[str, typer.Option(help="The store's currency.")] = "EUR",
    decimals: Annotated[int, typer.Option(help="The store's price decimals.")] = 2,
    latency_ms: Annotated[float, typer.Option(help="Latency added to every API call.")] = 0.0,
    https: Annotated[
        bool, typer.Option(help="Serve HTTPS with a self-signed certificate (Basic auth).")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="First stdout line: one JSON object of credentials.")
    ] = False,
) -> None:
    """Serve a sandboxed WooCommerce REST API v3 under /wp-json/wc/v3 (plain HTTP takes
    OAuth 1.0a signatures; --https takes Basic auth)."""
    import tempfile
    from pathlib import Path
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from shopbridge.sandbox.woocommerce import WooSandboxConfig
    from shopbridge.sandbox.woocommerce import create_app as create_woo_app
    from shopbridge.sandbox.woocommerce.server import self_signed, uvicorn_config

    if not 0 <= port <= 65535:
        raise ShopbridgeError(f"--port {port} is not a TCP port (0-65535; 0 picks a free one)")
    for flag, value, least in (("--products", products, 1), ("--orders", orders, 0),
                               ("--decimals", decimals, 0)):
        if value < least:
            raise ShopbridgeError(f"{flag} {value} must be at least {least}")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ShopbridgeError(f"--timezone {timezone!r} is not a time zone name") from None
    try:
        sock = bind(host, port)
    except OSError as exc:
        raise ShopbridgeError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}): pick another --port "
            "(0 picks a free one) or --host"
        ) from None
    config = WooSandboxConfig(seed=seed, products=products, orders=orders, timezone=timezone,
                              currency=currency.upper(), decimals=decimals,
                              latency_ms=latency_ms)
    application = create_woo_app(config)
    with tempfile.TemporaryDirectory(prefix="woo-sandbox-") as tmp:
        files = self_signed(Path(tmp)) if https else None
        url_host = "localhost" if https else (f"[{host}]" if ":" in host else host)
        scheme = "https" if https else "http"
        info: dict[str, object] = {
            "base_url": f"{scheme}://{url_host}:{sock.getsockname()[1]}",
            "consumer_key": config.key(),
            "consumer_secret": config.secret(),
            "read_only_key": config.read_key(),
            "read_only_secret": config.read_secret(),
            "timezone": timezone,
            "ca_file": files[0] if files else None,
        }
        application.state.sandbox.public_url = info["base_url"]
        if as_json:
            typer.echo(json.dumps(info), nl=True)
        else:
            from rich.console import Console
            from rich.table import Table

            table = Table(title="WooCommerce sandbox", show_header=False)
            for key, shown in info.items():
                table.add_row(key, str(shown))
            Console().print(table)
        uvicorn.Server(uvicorn_config(application, files)).run(sockets=[sock])
