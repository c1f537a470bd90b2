"""`shopbridge stock`: the stock pool, its history, and manual corrections.

shopbridge stock [--sku S] [--warehouse W] [--shop NAME] [--json]
shopbridge stock moves SKU
shopbridge stock adjust SKU (--by N | --set N) [--warehouse W] --reason TEXT
shopbridge stock import FILE.csv [--mode set|add]
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Any

import typer

from shopbridge.cli.context import app_context
from shopbridge.cli.output import emit, emit_object
from shopbridge.errors import ShopbridgeError
from shopbridge.store import stock

app = typer.Typer(help="Stock per variant and warehouse: on hand, reserved, available, offered.")

JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")
WAREHOUSE = typer.Option(
    None, "--warehouse", help="The warehouse (default: the default warehouse)."
)


def _actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


@app.callback(invoke_without_command=True)
def show(
    ctx: typer.Context,
    sku: str | None = typer.Option(None, "--sku", help="Only this SKU."),
    warehouse: str | None = typer.Option(None, "--warehouse", help="Only this warehouse."),
    shop: str | None = typer.Option(None, "--shop", help="Only what this shop sells."),
    limit: int = typer.Option(500, "--limit", min=1, max=100_000, help="Rows to show."),
    as_json: bool = JSON,
) -> None:
    """Stock per variant and warehouse: on hand, reserved, available, and per shop offered."""
    if ctx.invoked_subcommand is not None:
        return
    context = app_context(ctx)
    shop_id = context.connections().shops.get(shop).id if shop else None
    with context.database().read() as session:
        rows = stock.stock_view(session, sku, warehouse, shop_id, limit)
    if not as_json:
        rows = [_flat(row) for row in rows]
    emit(rows, "Stock", as_json)


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    offered = ", ".join(f"{name} {n}" for name, n in row["offered"].items())
    return {**row, "offered": offered or "-"}


@app.command("moves")
def moves(
    ctx: typer.Context,
    sku: str = typer.Argument(..., help="The variant's SKU."),
    limit: int = typer.Option(200, "--limit", min=1, max=100_000, help="Moves to show."),
    as_json: bool = JSON,
) -> None:
    """The history of a variant, newest first: when, what, how many, where, why, which order,
    who."""
    with app_context(ctx).database().read() as session:
        rows = stock.history(session, sku, limit)
    emit(rows, f"Stock moves of {sku}", as_json)


@app.command("adjust")
def adjust(
    ctx: typer.Context,
    sku: str = typer.Argument(..., help="The variant's SKU."),
    by: int | None = typer.Option(None, "--by", help="Add N (negative: take away)."),
    set_to: int | None = typer.Option(None, "--set", help="Set on hand to N."),
    warehouse: str | None = WAREHOUSE,
    reason: str = typer.Option(..., "--reason", help="Why (count, return, breakage...)."),
    as_json: bool = JSON,
) -> None:
    """Correct a variant's on hand (--by N or --set N); a result below 0 is refused."""
    if (by is None) == (set_to is None):
        raise ShopbridgeError("give exactly one of --by N and --set N")
    with app_context(ctx).database().write() as session:
        done = stock.adjust(
            session, sku, by=by, set_to=set_to, warehouse=warehouse, reason=reason, actor=_actor()
        )
    emit_object(done.as_dict(), f"Stock of {sku}", as_json)


@app.command("import")
def import_file(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="CSV: sku, quantity[, warehouse] (header optional)."),
    mode: str = typer.Option("set", "--mode", help="set: on hand becomes quantity; add: added."),
    as_json: bool = JSON,
) -> None:
    """Set or add stock from a CSV; nothing is applied unless every row is valid."""
    if mode not in ("set", "add"):
        raise ShopbridgeError(f"--mode {mode!r}: use set or add")
    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise ShopbridgeError(f"cannot read {file}: {reason}") from None
    with app_context(ctx).database().write() as session:
        done = stock.import_stock(session, text, mode, source=file.name, actor=_actor())
    rows = [a.as_dict() for a in done]
    emit(rows, f"Stock imported from {file.name}", as_json)
