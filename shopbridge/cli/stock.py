"""`shopbridge stock`: the stock pool, its history, and manual corrections.

shopbridge stock [--sku S] [--warehouse W] [--shop NAME] [--json]
shopbridge stock moves SKU
shopbridge stock adjust SKU (--by N | --set N) [--warehouse W] --reason TEXT
shopbridge stock import FILE.csv [--mode set|add]
shopbridge stock push NAME [--dry-run] [--all] [--json]
shopbridge stock drift NAME [--json]
"""

from __future__ import annotations

import asyncio
import getpass
import itertools
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import typer

from shopbridge.cli.context import app_context
from shopbridge.cli.options import ALL, FORMAT, LIMIT, OutputFormat, resolve_format
from shopbridge.cli.options import JSON as VIEW_JSON
from shopbridge.cli.output import console, emit, emit_object, export_view
from shopbridge.domain.records import ListingState
from shopbridge.errors import ShopbridgeError
from shopbridge.store import queries, stock

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
    sku: str | None = typer.Option(None, "--sku", metavar="SKU", help="Only this SKU."),
    shop: str | None = typer.Option(
        None,
        "--shop",
        metavar="NAME",
        help="Only the warehouse this shop sells from, and only its offer.",
    ),
    warehouse: str | None = typer.Option(
        None, "--warehouse", metavar="NAME", help="Only this warehouse."
    ),
    status: ListingState | None = typer.Option(
        None, "--status", case_sensitive=False, help="Only variants of items in this state."
    ),
    search: str | None = typer.Option(
        None, "--search", metavar="TEXT", help="SKU or item title containing TEXT."
    ),
    limit: int = LIMIT,
    every: bool = ALL,
    fmt: OutputFormat = FORMAT,
    as_json: bool = VIEW_JSON,
) -> None:
    """Stock per variant and warehouse: on hand, reserved, available, and per shop offered.

    \b
    Examples:
      shopbridge stock --sku MUG-RED
      shopbridge stock --search MUG
      shopbridge stock --all --format csv > stock.csv
      shopbridge stock moves MUG-RED
      shopbridge stock adjust MUG-RED --by -1 --reason breakage
    """
    if ctx.invoked_subcommand is not None:
        return
    fmt = resolve_format(fmt, as_json, every, limit)
    where = queries.ViewFilter(
        shop=shop, warehouse=warehouse, status=status.value if status else None, search=search
    )

    def rows(session: Any, cap: int | None) -> Iterable[dict[str, Any]]:
        if warehouse is not None:
            stock.warehouse_by_name(session, warehouse)  # an unknown name is an error, not []
        shop_id = queries.shop_id(session, shop) if shop else None
        # --sku filters rows as they stream: every row is read, then only that SKU's kept.
        found = stock.with_offered(
            session, queries.stock_rows(session, where, None if sku else cap), shop_id, sku
        )
        return itertools.islice(found, cap) if sku is not None and cap is not None else found

    export_view(app_context(ctx).database(), rows, "Stock", fmt.value,
                None if every else limit, _flat, frozenset({"table", "csv"}))


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


def _print_run(result: Any, title: str, empty: str, as_json: bool) -> None:
    """The lines of a push or drift, then its run's summary; exit 1 when the run failed."""
    summary = result.summary
    if as_json:
        emit_object(result.as_dict(), title, True)
    else:
        rows = [line.as_dict() for line in result.lines]
        if rows:
            emit(rows, title, False)
        else:
            console.print(empty)
        counts = ", ".join(f"{n} {name}" for name, n in summary.counts.as_dict().items() if n)
        console.print(
            f"run {summary.run_id}: {summary.status}"
            + (f", {counts}" if counts else "")
            + f", {summary.api_calls} API call{'s' if summary.api_calls != 1 else ''}"
        )
        for note in summary.notes:
            console.print(f"  {note}")
    if summary.status == "failed":
        raise ShopbridgeError(f"run {summary.run_id} failed: {summary.error}")


@app.command("push")
def push(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The shop's name."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Read the listings and show what would change; write nothing."
    ),
    every: bool = typer.Option(
        False, "--all", help="Check every listing of the shop, not only those whose stock changed."
    ),
    as_json: bool = JSON,
) -> None:
    """Push the shop's stock changes to the channel now (one read per 100 listings, one write
    per listing that changes).

    \b
    Examples:
      shopbridge stock push crafts --dry-run
      shopbridge stock push crafts
    """
    result = asyncio.run(
        app_context(ctx).sync_service().push_stock(name, dry_run=dry_run, every=every)
    )
    title = f"Stock push plan for {name}" if dry_run else f"Stock pushed to {name}"
    empty = "nothing to change" if dry_run else "nothing changed"
    _print_run(result, title, empty, as_json)


@app.command("drift")
def drift(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The shop's name."),
    as_json: bool = JSON,
) -> None:
    """Variants whose quantity on the channel (read now, one call per 100 listings) differs
    from what shopbridge offers, with the reason when it is known."""
    result = asyncio.run(app_context(ctx).sync_service().stock_drift(name))
    _print_run(result, f"Stock drift of {name}", "no drift: the channel shows what shopbridge "
               "offers", as_json)
