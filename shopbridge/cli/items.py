"""`shopbridge items`: the ledger's items, and channel variants waiting for a person.

A channel variant with no SKU, a repeated SKU or a SKU matching several ledger variants gets a
ledger variant of its own on import and is listed by `items unmatched` until a person links it
to the ledger variant it really is, or accepts the one created for it.
"""

from __future__ import annotations

from typing import Any

import typer

from shopbridge.cli.context import app_context
from shopbridge.cli.options import ALL, FORMAT, JSON, LIMIT, OutputFormat, resolve_format
from shopbridge.cli.output import emit, emit_object, export_view
from shopbridge.domain.records import ListingState
from shopbridge.store import catalog, details, queries, variant_links

app = typer.Typer(help="Items (products) in the ledger, and unmatched channel variants.")

ETSY_VARIANT = typer.Argument(..., help="The channel variant's id from `items unmatched`.")


@app.callback(invoke_without_command=True)
def items(
    ctx: typer.Context,
    shop: str | None = typer.Option(
        None, "--shop", metavar="NAME", help="Only items this shop lists."
    ),
    status: ListingState | None = typer.Option(
        None, "--status", case_sensitive=False, help="Only items in this state."
    ),
    search: str | None = typer.Option(
        None, "--search", metavar="TEXT", help="Title or a variant's SKU containing TEXT."
    ),
    limit: int = LIMIT,
    every: bool = ALL,
    fmt: OutputFormat = FORMAT,
    as_json: bool = JSON,
) -> None:
    """Items (products) in the ledger with their variant counts.

    \b
    Examples:
      shopbridge items --search mug
      shopbridge items --shop my-shop --all --format csv > items.csv
    """
    if ctx.invoked_subcommand is not None:
        return
    fmt = resolve_format(fmt, as_json, every, limit)
    where = queries.ViewFilter(shop=shop, status=status.value if status else None, search=search)

    def rows(session: Any, cap: int | None) -> Any:
        found = queries.item_rows(session, where, cap)
        if fmt in (OutputFormat.JSON, OutputFormat.JSONL):
            # JSON carries each item's variants (SKU, attributes, prices per channel, stock).
            return details.with_variants(session, found)
        return found

    export_view(app_context(ctx).database(), rows, "Items", fmt.value, None if every else limit)


@app.command("show")
def show(
    ctx: typer.Context,
    item_id: int = typer.Argument(
        ..., metavar="ID", help="The item's id (see `shopbridge items`)."
    ),
    as_json: bool = JSON,
) -> None:
    """One item: its listings on each shop and every variant with SKU, attributes, price per
    channel, stock and channel bindings."""
    with app_context(ctx).database().read() as session:
        item = details.item_detail(session, item_id)
    if as_json:
        emit_object(item, "", True)
        return
    variants = item.pop("variants")
    listings = item.pop("listings")
    item["listings"] = ", ".join(f"{x['shop']} {x['listing_id']}" for x in listings) or None
    item["tags"] = ", ".join(item["tags"] or []) or None
    emit_object(item, f"Item {item_id}", False)
    emit(
        [
            {
                "variant": v["id"],
                "sku": v["sku"],
                "attributes": ", ".join(f"{k}: {val}" for k, val in v["attributes"].items()),
                "price": f"{v['price']} {v['currency']}" if v["price"] else None,
                "on_hand": v["on_hand"],
                "available": v["available"],
                "channels": "; ".join(
                    f"{c['shop']}: {c['price'] or '?'} x {c['quantity']}"
                    f" (listing {c['listing_id']})"
                    for c in v["channels"]
                )
                or "not bound",
                "state": v["state"],
            }
            for v in variants
        ],
        "Variants",
        False,
    )


@app.command("unmatched")
def unmatched(
    ctx: typer.Context,
    shop: str | None = typer.Option(None, "--shop", help="Only this shop's variants."),
    as_json: bool = JSON,
) -> None:
    """Channel variants with no SKU, a repeated SKU or an ambiguous SKU match."""
    context = app_context(ctx)
    shop_id = context.connections().shops.get(shop).id if shop else None
    with context.database().read() as session:
        listed = variant_links.unmatched(session, shop_id)
    emit(listed, "Unmatched variants", as_json)


@app.command("link")
def link(
    ctx: typer.Context,
    etsy_variant: int = ETSY_VARIANT,
    ledger_variant: int = typer.Argument(..., help="The ledger variant it really is."),
    as_json: bool = JSON,
) -> None:
    """Link a channel variant to an existing ledger variant (one stock pool)."""
    with app_context(ctx).database().write() as session:
        binding = variant_links.channel_variant(session, etsy_variant)
        variant_links.ledger_variant(session, ledger_variant)
        previous = binding.local_id
        catalog.link_variant(session, etsy_variant, ledger_variant)
    result = {"channel_variant": etsy_variant, "ledger_variant": ledger_variant}
    emit_object({**result, "replaced_variant": previous}, "Linked", as_json)


@app.command("create-from")
def create_from(ctx: typer.Context, etsy_variant: int = ETSY_VARIANT, as_json: bool = JSON) -> None:
    """Accept the ledger variant created for a channel variant as a product of its own."""
    with app_context(ctx).database().write() as session:
        binding = variant_links.channel_variant(session, etsy_variant)
        catalog.confirm_variant(session, etsy_variant)
        variant = binding.local_id
    emit_object({"channel_variant": etsy_variant, "ledger_variant": variant}, "Confirmed", as_json)
