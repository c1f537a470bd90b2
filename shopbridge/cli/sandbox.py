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
