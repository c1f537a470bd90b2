"""Listings into the ledger: stable variant identity, SKU matching, first stock, retirement."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from shopbridge.domain.money import Money
from shopbridge.domain.records import Listing, ListingState, Variant, VariantOption
from shopbridge.store.catalog import (
    CatalogTarget,
    confirm_variant,
    link_variant,
    unmatched_variants,
    write_listing,
)
from shopbridge.store.db import Database
from shopbridge.store.models import Attribute, Item, Shop, StockLevel, StockMove
from shopbridge.store.models import Variant as VariantRow
from shopbridge.store.repos import Outcome, warehouse_id

T0 = datetime(2026, 2, 1, tzinfo=UTC)


def variant(colour: str, size: str, sku: str | None, product: str, qty: int = 5) -> Variant:
    options = (VariantOption("Colour", colour), VariantOption("Size", size))
    return Variant(
        signature=f"Colour={colour}|Size={size}",
        sku=sku,
        options=options,
        price=Money.of("12.50", "USD"),
        quantity=qty,
        external_product_id=product,
    )


def shirt(updated: datetime, products: tuple[str, str], skus=("SH-R-S", "SH-B-S")) -> Listing:
    return Listing(
        external_id="100",
        title="Shirt",
        state=ListingState.ACTIVE,
        updated_at=updated,
        variants=(
            variant("Red", "S", skus[0], products[0]),
            variant("Blue", "S", skus[1], products[1]),
        ),
    )


@pytest.fixture
def target(database: Database) -> CatalogTarget:
    with database.write() as session:
        shop = Shop(channel="etsy", name="s", api_url="x")
        session.add(shop)
        session.flush()
        return CatalogTarget(shop.id, warehouse_id(session, "main"))


def count(database: Database, model: type) -> int:
    with database.read() as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_renumbered_products_update_the_same_variants(database: Database, target) -> None:
    with database.write() as session:
        first = write_listing(session, target, shirt(T0, ("1", "2")))
    with database.write() as session:
        again = write_listing(session, target, shirt(T0 + timedelta(hours=1), ("91", "92")))
    with database.write() as session:
        unchanged = write_listing(session, target, shirt(T0 + timedelta(hours=1), ("91", "92")))
    assert (first.outcome, first.variants_created) == (Outcome.CREATED, 2)
    assert (again.outcome, again.variants_created) == (Outcome.UPDATED, 0)
    assert unchanged.outcome == Outcome.UNCHANGED
    assert (count(database, Item), count(database, VariantRow)) == (1, 2)


def test_variants_without_sku_are_bound_by_signature_and_flagged(database: Database, target):
    listing = shirt(T0, ("1", "2"), skus=(None, None))
    with database.write() as session:
        result = write_listing(session, target, listing)
    with database.write() as session:
        write_listing(session, target, shirt(T0 + timedelta(1), ("7", "8"), skus=(None, None)))
    assert len(result.unmatched) == 2
    assert count(database, VariantRow) == 2
    with database.read() as session:
        flagged = unmatched_variants(session, target.shop_id)
    assert {row["reason"] for row in flagged} == {"no SKU"}


def test_first_import_seeds_stock_and_later_imports_do_not(database: Database, target) -> None:
    with database.write() as session:
        write_listing(session, target, shirt(T0, ("1", "2")))
    later = shirt(T0 + timedelta(hours=1), ("3", "4"))
    later = replace(later, variants=tuple(replace(v, quantity=99) for v in later.variants))
    with database.write() as session:
        write_listing(session, target, later)
    with database.read() as session:
        levels = sorted(session.execute(select(StockLevel.on_hand)).scalars())
        reasons = set(session.execute(select(StockMove.reason)).scalars())
    assert levels == [5, 5]
    assert reasons == {"initial import"}


def test_matching_sku_links_to_the_existing_ledger_variant(database: Database, target) -> None:
    with database.write() as session:
        item = Item(title="Shirt (from the shop floor)")
        session.add(item)
        session.flush()
        session.add_all(
            [VariantRow(item_id=item.id, sku="SH-R-S"), VariantRow(item_id=item.id, sku="SH-B-S")]
        )
    with database.write() as session:
        result = write_listing(session, target, shirt(T0, ("1", "2")))
    assert (result.variants_created, result.variants_linked) == (0, 2)
    assert result.item_id == item.id
    # The ledger's variants had no stock yet (no initial move, no adjustment): they take their
    # first stock from the shop's quantity once, so connecting a shop changes nothing on Etsy.
    assert (count(database, Item), count(database, VariantRow), count(database, StockMove)) == (
        1,
        2,
        2,
    )


def test_ambiguous_sku_creates_and_flags_then_a_person_links_it(database: Database, target):
    with database.write() as session:
        item = Item(title="dupes")
        session.add(item)
        session.flush()
        session.add_all(
            [VariantRow(item_id=item.id, sku="SH-R-S"), VariantRow(item_id=item.id, sku="SH-R-S")]
        )
    with database.write() as session:
        write_listing(session, target, shirt(T0, ("1", "2")))
        flagged = unmatched_variants(session, target.shop_id)
    assert [row["reason"] for row in flagged] == ["SKU matches several ledger variants"]
    with database.write() as session:
        chosen = session.execute(select(VariantRow.id).where(VariantRow.sku == "SH-R-S")).scalars()
        link_variant(session, flagged[0]["binding"], next(iter(chosen)))
    with database.read() as session:
        assert unmatched_variants(session, target.shop_id) == []


def test_confirm_clears_the_flag(database: Database, target) -> None:
    with database.write() as session:
        write_listing(session, target, shirt(T0, ("1", "2"), skus=(None, "X")))
        flagged = unmatched_variants(session, target.shop_id)
        confirm_variant(session, flagged[0]["binding"])
        assert unmatched_variants(session, target.shop_id) == []


def test_variants_dropped_from_a_listing_are_marked_removed(database: Database, target) -> None:
    with database.write() as session:
        write_listing(session, target, shirt(T0, ("1", "2")))
    shorter = shirt(T0 + timedelta(hours=1), ("3", "4"))
    shorter = replace(shorter, variants=shorter.variants[:1], state=ListingState.SOLD_OUT)
    with database.write() as session:
        write_listing(session, target, shorter)
    with database.read() as session:
        states = {
            sku: state for sku, state in session.execute(select(VariantRow.sku, VariantRow.state))
        }
        assert session.execute(select(Item.state)).scalar_one() == "sold_out"
    assert states == {"SH-R-S": "sold_out", "SH-B-S": "removed"}


def test_attributes_are_shared_across_listings(database: Database, target) -> None:
    other = replace(shirt(T0, ("5", "6"), skus=("O-1", "O-2")), external_id="200")
    with database.write() as session:
        write_listing(session, target, shirt(T0, ("1", "2")))
        write_listing(session, target, other)
    assert count(database, Attribute) == 2
