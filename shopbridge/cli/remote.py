"""`shopbridge remote orders`: a channel's orders as the channel holds them, not imported."""

from __future__ import annotations

import asyncio

import typer

from shopbridge.cli.context import app_context
from shopbridge.cli.output import emit

app = typer.Typer(
    help="Read a channel's records live, without importing them.", no_args_is_help=True
)


@app.callback()
def remote() -> None:
    """Read a channel's records live, without importing them."""


@app.command("orders")
def orders(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="SHOP", help="The shop's name."),
    status: str | None = typer.Option(
        None,
        "--status",
        help="WooCommerce: its status (processing, completed...); Etsy: paid, "
        "unpaid, unshipped, shipped, canceled.",
    ),
    search: str | None = typer.Option(None, "--search", help="Order number, name or email."),
    limit: int = typer.Option(50, "--limit", metavar="K", help="At most this many (1-1000)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The shop's orders on the channel, newest first (nothing is written to the ledger)."""
    from shopbridge.sync.connection import ShopConnections
    from shopbridge.sync.remote import remote_orders

    context = app_context(ctx)
    connections = ShopConnections.from_settings(context.settings, context.database())
    rows = asyncio.run(remote_orders(connections, name, status=status, search=search, limit=limit))
    emit(rows, f"Orders on {name}", as_json)
