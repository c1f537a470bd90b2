"""Ledger views: orders, customers (items and stock, groups of their own, live in `items` and
`stock`).

Every view lists 50 rows by default, up to 10,000 with --limit, or every row with --all, streamed
in constant memory (`--format csv|jsonl|json`); filters narrow it first.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import typer

from shopbridge.cli.context import app_context
from shopbridge.cli.options import (
    ALL,
    FORMAT,
    JSON,
    LIMIT,
    SHOP,
    SINCE,
    UNTIL,
    OutputFormat,
    parse_moment,
    resolve_format,
)
from shopbridge.cli.output import emit, emit_object, export_view
from shopbridge.domain.records import OrderStatus
from shopbridge.store import details, queries

RowSource = Callable[[Any, queries.ViewFilter, int | None], Iterator[dict[str, Any]]]


def show_view(
    ctx: typer.Context,
    source: RowSource,
    title: str,
    where: queries.ViewFilter,
    limit: int,
    every: bool,
    fmt: OutputFormat,
    as_json: bool,
    table_row: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> None:
    fmt = resolve_format(fmt, as_json, every, limit)
    export_view(
        app_context(ctx).database(),
        lambda session, cap: source(session, where, cap),
        title,
        fmt.value,
        None if every else limit,
        table_row,
    )


def order_table_row(row: dict[str, Any]) -> dict[str, Any]:
    """An order for people at 80 columns: the total with its currency, `reconciles` only when it
    does not (exports keep every field apart)."""
    return {
        "id": row["id"],
        "shop": row["shop"],
        "number": row["number"],
        "ordered at": row["ordered_at"],
        "customer": row["customer"],
        "status": row["status"],
        "total": f"{row['grand_total']} {row['currency']}",
        "reconciles": None if row["reconciles"] else "NO",
        "void reason": row["void_reason"],
    }


orders_app = typer.Typer(help="Sales orders, newest first.")


@orders_app.callback(invoke_without_command=True)
def orders(
    ctx: typer.Context,
    shop: str | None = SHOP,
    status: OrderStatus | None = typer.Option(
        None,
        "--status",
        case_sensitive=False,
        help="Only orders in this status (void: no longer served by Etsy, with the reason).",
    ),
    since: str | None = SINCE,
    until: str | None = UNTIL,
    search: str | None = typer.Option(
        None,
        "--search",
        metavar="TEXT",
        help="Order number, customer name or email containing TEXT.",
    ),
    limit: int = LIMIT,
    every: bool = ALL,
    fmt: OutputFormat = FORMAT,
    as_json: bool = JSON,
) -> None:
    """Sales orders, newest first.

    \\b
    Examples:
      shopbridge orders --shop my-shop --status paid --from 2026-01-01
      shopbridge orders --search ada@example.com
      shopbridge orders --all --format csv > orders.csv
      shopbridge orders show my-shop 1234567890
    """
    if ctx.invoked_subcommand is not None:
        return
    where = queries.ViewFilter(
        shop=shop,
        status=status.value if status else None,
        since=parse_moment(since, "--from"),
        until=parse_moment(until, "--to"),
        search=search,
    )
    show_view(
        ctx, queries.order_rows, "Orders", where, limit, every, fmt, as_json, order_table_row
    )


@orders_app.command("show")
def show_order(
    ctx: typer.Context,
    shop: str = typer.Argument(..., metavar="SHOP", help="The shop's name."),
    order: str = typer.Argument(
        ..., metavar="ORDER", help="The order's number or the channel's receipt id."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON, the payload included."),
) -> None:
    """One order: totals, lines, customer and addresses, invoice, payments, shipments, refunds,
    the runs that wrote it and the last payload kept for it."""
    with app_context(ctx).database().read() as session:
        detail = details.order_detail(session, shop, order)
    if as_json:
        emit_object(detail, "", True)
        return
    sections = {name: detail.pop(name) for name in SECTIONS}
    customer, payload = detail.pop("customer"), detail.pop("payload")
    detail.update(detail.pop("totals"))
    detail["shipping_address"] = _one_line(detail["shipping_address"])
    detail["flags"] = json.dumps(detail["flags"]) if detail["flags"] else None
    if customer is not None:
        detail["customer"] = f"{customer['name']} <{customer['email']}> (customer {customer['id']})"
        detail["customer_addresses"] = (
            "; ".join(_one_line(a) or "" for a in customer["addresses"]) or None
        )
    detail["payload"] = (
        f"{len(payload)} fields kept from the channel: see --json"
        if payload
        else "none kept (payloads are kept for records that failed)"
    )
    emit_object(detail, f"Order {detail['number']} of {shop}", False)
    for name, rows in sections.items():
        if name == "invoice":
            rows = [rows] if rows else []
        if rows:
            emit(
                [
                    {k: json.dumps(v) if isinstance(v, list | dict) else v for k, v in r.items()}
                    for r in rows
                ],
                name.replace("_", " ").capitalize(),
                False,
            )


SECTIONS = ("lines", "invoice", "payments", "shipments", "refunds", "history")


def _one_line(address: dict[str, Any] | None) -> str | None:
    if not address:
        return None
    parts = ("name", "line1", "line2", "city", "state", "postcode", "country_code")
    return ", ".join(str(address[p]) for p in parts if address.get(p))


def customers(
    ctx: typer.Context,
    shop: str | None = typer.Option(
        None,
        "--shop",
        metavar="NAME",
        help="Only customers who ordered there (orders counted there).",
    ),
    since: str | None = typer.Option(
        None, "--from", metavar="DATE", help="First seen on or after DATE (YYYY-MM-DD or ISO 8601)."
    ),
    until: str | None = typer.Option(
        None, "--to", metavar="DATE", help="First seen before DATE (exclusive)."
    ),
    search: str | None = typer.Option(
        None, "--search", metavar="TEXT", help="Name or email containing TEXT."
    ),
    limit: int = LIMIT,
    every: bool = ALL,
    fmt: OutputFormat = FORMAT,
    as_json: bool = JSON,
) -> None:
    """Customers with their order counts.

    \\b
    Examples:
      shopbridge customers --search smith
      shopbridge customers --shop my-shop --all --format jsonl
    """
    where = queries.ViewFilter(
        shop=shop,
        since=parse_moment(since, "--from"),
        until=parse_moment(until, "--to"),
        search=search,
    )
    show_view(ctx, queries.customer_rows, "Customers", where, limit, every, fmt, as_json)
