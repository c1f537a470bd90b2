"""`shopbridge ship` and `shopbridge carriers`: shipments back to the channel.

shopbridge ship NAME RECEIPT_ID [--carrier C] [--tracking T] [--note TEXT] [--json]
shopbridge ship import FILE.csv [--json]      (shop, order, carrier, tracking[, note])
shopbridge ship retry NAME [--json]           (settle shipments left pending)
shopbridge ship list [--shop NAME] [--status S] [--json]
shopbridge carriers NAME [--country CC] [--refresh] [--json]
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from typer.core import TyperGroup

from shopbridge.cli.context import app_context
from shopbridge.cli.output import console, emit, emit_object
from shopbridge.errors import ShopbridgeError

if TYPE_CHECKING:
    from shopbridge.sync.ship import ShipmentService, ShipResult

T = TypeVar("T")

JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")
POST = "post"


class ShipGroup(TyperGroup):
    """`ship NAME RECEIPT_ID ...` is `ship post NAME RECEIPT_ID ...`: a first argument that is
    not a subcommand is a shop name (a shop called like a subcommand needs `ship post`)."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = [POST, *args]
        return super().resolve_command(ctx, args)


app = typer.Typer(
    cls=ShipGroup,
    help="Tell the channel an order shipped, with its tracking code: post, import, retry, list.\n\n"
    "`shopbridge ship NAME RECEIPT_ID --carrier C --tracking T` posts one shipment.",
    no_args_is_help=True,
)


def _actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def _service(ctx: typer.Context) -> ShipmentService:
    from shopbridge.sync.ship import ShipmentService

    return ShipmentService(app_context(ctx).connections())


def _run(work: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(work)


def _report(results: list[ShipResult], title: str, as_json: bool, one: bool = False) -> None:
    """The outcome of each shipment; exit 1 when any was not posted (or found posted)."""
    if as_json:
        rows = [r.as_dict() for r in results]
        if one and rows:
            emit_object(rows[0], title, True)
        else:
            emit(rows, title, True)
    elif one and results:
        result = results[0]
        style = "green" if result.ok else "red"
        console.print(f"[{style}]{result.outcome}[/{style}] {result.message}", highlight=False,
                      markup=True, soft_wrap=True)
    else:
        emit(
            [
                {
                    **({"line": r.line} if r.line is not None else {}),
                    "shop": r.shop,
                    "receipt": r.receipt,
                    "tracking": r.tracking,
                    "carrier sent": r.carrier_sent,
                    "outcome": r.outcome,
                    "message": r.message,
                }
                for r in results
            ],
            title,
            False,
        )
    if any(not r.ok for r in results):
        raise typer.Exit(1)


@app.command(POST)
def post(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="The shop."),
    receipt: str = typer.Argument(..., metavar="RECEIPT_ID", help="The order (Etsy receipt id)."),
    carrier: str | None = typer.Option(
        None, "--carrier", metavar="C",
        help="Carrier name, code or common alias (USPS, 'Royal Mail', fedex...); one Etsy "
             "does not know is sent as 'other'.",
    ),
    tracking: str | None = typer.Option(
        None, "--tracking", metavar="T",
        help="The tracking code (required for US domestic orders above $10 and to India).",
    ),
    note: str | None = typer.Option(None, "--note", metavar="TEXT", help="A note to the buyer."),
    as_json: bool = JSON,
) -> None:
    """Post one shipment (`ship NAME RECEIPT_ID` is the same): recorded first, posted once.

    \b
    Examples:
      shopbridge ship my-shop 1234567 --carrier usps --tracking 9400111899223344556677
      shopbridge ship my-shop 1234567 --carrier "Royal Mail" --tracking AB123456789GB
    """
    from shopbridge.sync.ship import ShipRequest

    service = _service(ctx)
    request = ShipRequest(name, receipt.strip(), carrier, tracking, note)
    results = _run(service.ship([request], source="cli", actor=_actor()))
    _report(results, f"Shipment of receipt {receipt}", as_json, one=True)


@app.command("import")
def import_file(
    ctx: typer.Context,
    file: Path = typer.Argument(
        ..., metavar="FILE.csv",
        help="CSV: shop, order, carrier, tracking[, note] (header optional).",
    ),
    as_json: bool = JSON,
) -> None:
    """Post the shipments of a CSV file; nothing is recorded or posted unless every row is
    valid (each bad row named by its line)."""
    from shopbridge.sync.ship import parse_ship_csv

    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise ShopbridgeError(f"cannot read {file}: {reason}") from None
    requests = parse_ship_csv(text)
    service = _service(ctx)
    results = _run(service.ship(requests, source=file.name, actor=_actor()))
    _report(results, f"Shipments from {file.name}", as_json)


@app.command("retry")
def retry(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="The shop."),
    as_json: bool = JSON,
) -> None:
    """Settle the shop's shipments left pending (a crash, a lost answer): each order is read
    from the channel first and posted only if it does not show the tracking code."""
    results = _run(_service(ctx).retry(name, actor=_actor()))
    if not results and not as_json:
        console.print("no pending shipments")
        return
    _report(results, f"Pending shipments of {name}", as_json)


@app.command("list")
def list_shipments(
    ctx: typer.Context,
    shop: str | None = typer.Option(None, "--shop", metavar="NAME", help="Only this shop."),
    status: str | None = typer.Option(
        None, "--status", metavar="STATUS", help="pending, posted or refused."
    ),
    limit: int = typer.Option(200, "--limit", min=1, max=100_000, help="Shipments to show."),
    as_json: bool = JSON,
) -> None:
    """Shipments shopbridge recorded, newest first: pending, posted or refused, and why."""
    if status is not None and status not in ("pending", "posted", "refused"):
        raise ShopbridgeError(f"--status {status!r}: use pending, posted or refused")
    rows = _service(ctx).list_shipments(shop, status, limit)
    emit(rows, "Shipments", as_json)


def carriers(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="The shop."),
    country: str | None = typer.Option(
        None, "--country", metavar="CC",
        help="Where parcels leave from (two letters; default: where the shop ships from).",
    ),
    refresh: bool = typer.Option(False, "--refresh", help="Read the list again now."),
    as_json: bool = JSON,
) -> None:
    """The carriers Etsy knows for a shop's parcels (cached for a day)."""
    listing = _run(_service(ctx).carriers(name, country, refresh))
    if as_json:
        emit_object(
            {"shop": listing.shop, "country": listing.country, "cached": listing.cached,
             "carriers": listing.carriers},
            "Carriers",
            True,
        )
        return
    emit(listing.carriers, f"Carriers for parcels from {listing.country}", False)
