"""`shopbridge webhooks register|list|remove`: a WooCommerce site's webhooks to shopbridge."""

from __future__ import annotations

import asyncio

import typer

from shopbridge.cli.context import app_context
from shopbridge.cli.output import emit
from shopbridge.sync.connection import ShopConnections

app = typer.Typer(
    help="A WooCommerce site's webhooks to shopbridge (register, list, remove).",
    no_args_is_help=True,
)
JSON = typer.Option(False, "--json", help="Print JSON.")
SHOP = typer.Argument(..., metavar="SHOP", help="The shop's name.")


def _connections(ctx: typer.Context) -> ShopConnections:

    context = app_context(ctx)
    return ShopConnections.from_settings(context.settings, context.database())


@app.command("register")
def register(
    ctx: typer.Context,
    name: str = SHOP,
    public_url: str = typer.Option(
        ..., "--public-url", help="Where the site reaches `shopbridge serve --http-port`."
    ),
    as_json: bool = JSON,
) -> None:
    """Create order.created/updated/deleted and product.updated webhooks with a secret of
    shopbridge's; the receiver must answer already (WooCommerce pings each on creation)."""
    from shopbridge.sync import woo_hooks as hooks

    emit(asyncio.run(hooks.register(_connections(ctx), name, public_url)), "Webhooks", as_json)


@app.command("list")
def list_hooks(ctx: typer.Context, name: str = SHOP, as_json: bool = JSON) -> None:
    """The site's webhooks (every one, shopbridge's and others')."""
    from shopbridge.sync import woo_hooks as hooks

    emit(asyncio.run(hooks.listed(_connections(ctx), name)), "Webhooks", as_json)


@app.command("remove")
def remove(ctx: typer.Context, name: str = SHOP, as_json: bool = JSON) -> None:
    """Delete shopbridge's webhooks from the site."""
    from shopbridge.sync import woo_hooks as hooks

    emit(asyncio.run(hooks.remove(_connections(ctx), name)), "Removed webhooks", as_json)
