"""`shopbridge order status|create`: a change made in shopbridge, sent to the channel."""

from __future__ import annotations

import asyncio

import typer

from shopbridge.cli.context import app_context
from shopbridge.cli.output import emit_object
from shopbridge.errors import ShopbridgeError
from shopbridge.sync.connection import ShopConnections

app = typer.Typer(
    help="Change an order on the channel: its status, or a new order.", no_args_is_help=True
)
JSON = typer.Option(False, "--json", help="Print JSON.")


def _connections(ctx: typer.Context) -> ShopConnections:
    context = app_context(ctx)
    return ShopConnections.from_settings(context.settings, context.database())


@app.command("status")
def status(
    ctx: typer.Context,
    shop: str = typer.Argument(..., metavar="SHOP", help="The WooCommerce shop's name."),
    order: str = typer.Argument(..., metavar="ORDER", help="The order's number on the site."),
    new_status: str = typer.Argument(..., metavar="STATUS", help="e.g. completed, cancelled."),
    as_json: bool = JSON,
) -> None:
    """Set an order's status on the site and in the ledger (WooCommerce)."""
    from shopbridge.sync.orders_out import set_status

    result = asyncio.run(set_status(_connections(ctx), shop, order, new_status))
    emit_object(result.as_dict(), f"Order {order}", as_json)


def _line(text: str) -> tuple[str, int]:
    sku, sep, qty = text.rpartition(":")
    if not sep or not sku or not qty.isdigit():
        raise ShopbridgeError(f"--line {text!r}: give SKU:QTY, e.g. MUG-RED:2")
    return sku, int(qty)


@app.command("create")
def create(
    ctx: typer.Context,
    shop: str = typer.Option(..., "--shop", metavar="NAME", help="The WooCommerce shop's name."),
    email: str = typer.Option(..., "--email", help="The buyer's email."),
    line: list[str] = typer.Option(..., "--line", help="SKU:QTY (repeatable)."),
    shipping_name: str | None = typer.Option(
        None, "--shipping-name", help="Who receives the parcel (first and last name)."),
    shipping_address: str | None = typer.Option(
        None, "--shipping-address", help="The street line of the shipping address."),
    as_json: bool = JSON,
) -> None:
    """Create an order taken outside the site (paid) on the site and in the ledger."""
    from shopbridge.sync.orders_out import create_order

    lines = [_line(text) for text in line]
    result = asyncio.run(
        create_order(
            _connections(ctx),
            shop,
            email=email,
            lines=lines,
            shipping_name=shipping_name,
            shipping_address=shipping_address,
        )
    )
    emit_object(result.as_dict(), f"Order {result.order}", as_json)
