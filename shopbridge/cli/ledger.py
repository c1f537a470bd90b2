"""Ledger views: orders, customers, stock (items, a group of its own, live in `items`)."""

from __future__ import annotations

import typer

from shopbridge.cli.context import app_context
from shopbridge.cli.output import emit
from shopbridge.store import queries

LIMIT = typer.Option(50, "--limit", min=1, max=10_000, help="Rows to show.")
JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")


def orders(
    ctx: typer.Context,
    shop: str | None = typer.Option(None, "--shop", help="Only this shop's orders."),
    status: str | None = typer.Option(
        None, "--status", help="Only orders in this status (void: no longer served by Etsy)."
    ),
    limit: int = LIMIT,
    as_json: bool = JSON,
) -> None:
    """Sales orders, newest first."""
    with app_context(ctx).database().read() as session:
        emit(queries.orders(session, limit, shop, status), "Orders", as_json)


def customers(ctx: typer.Context, limit: int = LIMIT, as_json: bool = JSON) -> None:
    """Customers with their order counts."""
    with app_context(ctx).database().read() as session:
        emit(queries.customers(session, limit), "Customers", as_json)


def stock(ctx: typer.Context, limit: int = LIMIT, as_json: bool = JSON) -> None:
    """Stock per variant and warehouse."""
    with app_context(ctx).database().read() as session:
        emit(queries.stock(session, limit), "Stock", as_json)


def register(app: typer.Typer) -> None:
    for command in (orders, customers, stock):
        app.command(command.__name__)(command)
