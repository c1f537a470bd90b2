"""One item as a seller reads it (issue 18 point 3), on SQLite and PostgreSQL: variants with
SKU, attributes, ledger price, stock per warehouse and each shop's listing, product, price and
quantity; and items streamed with their variants."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shopbridge.domain.money import Money
from shopbridge.domain.records import Listing, ListingState, Variant, VariantOption
from shopbridge.errors import ShopbridgeError
from shopbridge.store import catalog, details, orders, queries
from shopbridge.store.catalog import CatalogTarget, write_listing
from shopbridge.store.db import Database
from shopbridge.store.models import Item, Shop
from shopbridge.store.repos import warehouse_id

T0 = datetime(2026, 2, 1, tzinfo=UTC)


def shirt(price: str) -> Listing:
    def variant(colour: str, sku: str, product: str, qty: int) -> Variant:
        return Variant(
            signature=f"Colour={colour}|Size=S",
            sku=sku,
            options=(VariantOption("Colour", colour), VariantOption("Size", "S")),
            price=Money.of(price, "EUR"),
            quantity=qty,
            external_product_id=product,
        )

    return Listing(
        external_id="100",
        title="Shirt",
        state=ListingState.ACTIVE,
        updated_at=T0,
        variants=(variant("Red", "SH-R", "1", 4), variant("Blue", "SH-B", "2", 7)),
    )


def test_binding_entities_are_the_writers(database: Database) -> None:
    assert (details.LISTING, details.VARIANT, details.RECEIPT) == (
        catalog.LISTING,
        catalog.VARIANT,
        orders.RECEIPT,
    )
    assert queries.LISTING == catalog.LISTING


def test_an_item_with_its_variants_on_two_shops(database: Database) -> None:
    with database.write() as session:
        shops = [Shop(channel="etsy", name=n, api_url="x", currency="EUR") for n in ("a", "b")]
        session.add_all(shops)
        session.flush()
        main = warehouse_id(session, "main")
        write_listing(session, CatalogTarget(shops[0].id, main), shirt("20.00"))
        # The same SKUs on a second shop at another price: one ledger variant each, two channels.
        write_listing(session, CatalogTarget(shops[1].id, main), shirt("22.50"))
        item_id = session.query(Item.id).one()[0]
    with database.read() as session:
        item = details.item_detail(session, item_id)
        rows = list(
            details.with_variants(session, queries.item_rows(session, queries.ViewFilter(), None))
        )
    assert [(x["shop"], x["listing_id"]) for x in item["listings"]] == [("a", "100"), ("b", "100")]
    red, blue = item["variants"]
    assert (red["sku"], red["attributes"]) == ("SH-R", {"Colour": "Red", "Size": "S"})
    assert blue["attributes"] == {"Colour": "Blue", "Size": "S"}
    assert [(c["shop"], c["price"], c["quantity"], c["product_id"]) for c in red["channels"]] == [
        ("a", "20.00", 4, "1"),
        ("b", "22.50", 4, "1"),
    ]
    assert all(len(c["keys"]) == 2 for c in red["channels"])  # bound by SKU and by properties
    assert red["stock"] and red["stock"][0]["warehouse"] == "main"
    assert red["on_hand"] == sum(level["on_hand"] for level in red["stock"])
    assert rows == [
        {
            "id": item_id,
            "title": "Shirt",
            "state": "active",
            "digital": False,
            "variant_count": 2,
            "variants": item["variants"],
        }
    ]
    with database.read() as session, pytest.raises(ShopbridgeError, match="no item 999"):
        details.item_detail(session, 999)
