"""Writing channel listings into the ledger: items, variants, shared attributes, first stock.

Identity: a listing binds to an item (entity "listing"); each variant binds under two keys, its
SKU (when present and unique within the listing) and its signature of property values, so that
neither Etsy's renumbering of product ids nor a later edit of one of the two breaks the link.
A variant seen for the first time whose SKU matches exactly one ledger variant is linked to it:
the same product sold on two channels is one stock pool. Ambiguous or missing SKUs are flagged
as unmatched for a person to link or confirm.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shopbridge.domain.records import Listing
from shopbridge.domain.records import Variant as VariantRecord
from shopbridge.store import bindings
from shopbridge.store.dialect import insert_for
from shopbridge.store.models import Binding, Item, Variant, VariantAttributeValue
from shopbridge.store.repos import Outcome, attribute_value_id, move_stock

LISTING = "listing"
VARIANT = "variant"
INITIAL_IMPORT = "initial import"
MAX_TITLE = 1000


@dataclass(frozen=True, slots=True)
class CatalogTarget:
    """Where a shop's listings land: its ledger id, its warehouse and its stock policy."""

    shop_id: int
    warehouse_id: int | None
    seed_stock: bool = True


@dataclass(slots=True)
class ListingResult:
    outcome: Outcome
    item_id: int
    variants_created: int = 0
    variants_linked: int = 0
    unmatched: list[str] = field(default_factory=list)


def sku_key(listing_id: str, sku: str) -> str:
    return f"{listing_id}:sku:{sku}"


def signature_key(listing_id: str, signature: str) -> str:
    return f"{listing_id}:sig:{signature}"


def write_listing(session: Session, target: CatalogTarget, listing: Listing) -> ListingResult:
    """Create or update the item and variants of one listing; skip it if not newer."""
    claimed = bindings.claim(session, target.shop_id, LISTING, listing.external_id)
    if claimed.is_stale(listing.updated_at):
        return ListingResult(Outcome.UNCHANGED, claimed.binding.local_id or 0)
    sku_counts = Counter(v.sku for v in listing.variants if v.sku)
    resolved = [
        _existing_variant(session, target.shop_id, listing.external_id, v, sku_counts)
        for v in listing.variants
    ]
    if claimed.is_new:
        item_id = _item_of_linked_variants(session, resolved) or _create_item(session, listing)
        outcome = Outcome.CREATED
    else:
        item_id = claimed.binding.local_id or 0
        _update_item(session, item_id, listing)
        outcome = Outcome.UPDATED
    result = ListingResult(outcome, item_id)
    kept: set[int] = set()
    for record, found in zip(listing.variants, resolved, strict=True):
        kept.add(_write_variant(session, target, listing, record, found, sku_counts, result))
    _retire_missing_variants(session, target.shop_id, listing.external_id, kept)
    bindings.bind(session, claimed, item_id, listing.updated_at)
    return result


@dataclass(frozen=True, slots=True)
class _Found:
    variant_id: int | None
    linked_by_sku: bool = False
    ambiguous: bool = False


def _existing_variant(
    session: Session,
    shop_id: int,
    listing_id: str,
    record: VariantRecord,
    skus: Counter[str],
) -> _Found:
    """The ledger variant this channel variant already is, or the one its SKU names."""
    keys = [signature_key(listing_id, record.signature)]
    if record.sku and skus[record.sku] == 1:
        keys.insert(0, sku_key(listing_id, record.sku))
    bound = bindings.local_ids(session, shop_id, VARIANT, keys)
    for key in keys:
        if key in bound:
            return _Found(bound[key])
    if not record.sku or skus[record.sku] > 1:
        return _Found(None)
    matches = session.execute(select(Variant.id).where(Variant.sku == record.sku).limit(2)).all()
    if len(matches) == 1:
        return _Found(matches[0][0], linked_by_sku=True)
    return _Found(None, ambiguous=len(matches) > 1)


def _item_of_linked_variants(session: Session, resolved: list[_Found]) -> int | None:
    """A new listing whose variants all matched one ledger item becomes that item."""
    ids = [found.variant_id for found in resolved]
    if not ids or None in ids:
        return None
    items = set(session.execute(select(Variant.item_id).where(Variant.id.in_(ids))).scalars())
    return items.pop() if len(items) == 1 else None


def _item_values(listing: Listing) -> dict[str, object]:
    return {
        "title": listing.title[:MAX_TITLE],
        "description": listing.description,
        "tags": list(listing.tags),
        "state": listing.state.value,
        "is_digital": listing.is_digital,
        "url": listing.url,
        "image_url": listing.image_url,
        "views": listing.views,
        "favourites": listing.favourites,
        "flags": {"warnings": list(listing.warnings)} if listing.warnings else {},
    }


def _create_item(session: Session, listing: Listing) -> int:
    item = Item(**_item_values(listing))
    session.add(item)
    session.flush()
    return item.id


def _update_item(session: Session, item_id: int, listing: Listing) -> None:
    item = session.get_one(Item, item_id)
    for name, value in _item_values(listing).items():
        if getattr(item, name) != value:
            setattr(item, name, value)


def _variant_state(listing: Listing, record: VariantRecord) -> str:
    if record.is_deleted:
        return "deleted"
    if not record.is_enabled:
        return "disabled"
    return listing.state.value


def _write_variant(
    session: Session,
    target: CatalogTarget,
    listing: Listing,
    record: VariantRecord,
    found: _Found,
    skus: Counter[str],
    result: ListingResult,
) -> int:
    values = {
        "sku": record.sku,
        "signature": record.signature,
        "price": record.price.amount if record.price else None,
        "currency": record.price.currency if record.price else None,
        "is_enabled": record.is_enabled,
        "is_deleted": record.is_deleted,
        "state": _variant_state(listing, record),
    }
    unmatched_reason = None
    if found.variant_id is None:
        variant = Variant(item_id=result.item_id, **values)
        session.add(variant)
        session.flush()
        variant_id = variant.id
        result.variants_created += 1
        if target.seed_stock and target.warehouse_id is not None and record.quantity:
            reference = f"{LISTING} {listing.external_id}"
            move_stock(
                session, variant_id, target.warehouse_id, record.quantity, INITIAL_IMPORT, reference
            )
        if not record.sku:
            unmatched_reason = "no SKU"
        elif skus[record.sku] > 1:
            unmatched_reason = "SKU repeated within the listing"
        elif found.ambiguous:
            unmatched_reason = "SKU matches several ledger variants"
    else:
        variant_id = found.variant_id
        if found.linked_by_sku:
            result.variants_linked += 1
        else:
            _update_variant(session, variant_id, values)
    _link_attributes(session, variant_id, record)
    remote: dict[str, Any] = {
        "quantity": record.quantity,
        "price": str(record.price.amount) if record.price else None,
        "product_id": record.external_product_id,
        "listing_id": listing.external_id,
    }
    if unmatched_reason:
        remote["unmatched"] = unmatched_reason
        result.unmatched.append(f"{listing.external_id}/{record.signature or record.sku or '-'}")
    _bind_variant(session, target.shop_id, listing, record, skus, variant_id, remote)
    return variant_id


def _update_variant(session: Session, variant_id: int, values: Mapping[str, object]) -> None:
    variant = session.get_one(Variant, variant_id)
    for name, value in values.items():
        if getattr(variant, name) != value:
            setattr(variant, name, value)


def _link_attributes(session: Session, variant_id: int, record: VariantRecord) -> None:
    for option in record.options:
        value_id = attribute_value_id(session, option.attribute[:255], option.value[:255])
        session.execute(
            insert_for(session, VariantAttributeValue)
            .values(variant_id=variant_id, attribute_value_id=value_id)
            .on_conflict_do_nothing()
        )


def _bind_variant(
    session: Session,
    shop_id: int,
    listing: Listing,
    record: VariantRecord,
    skus: Counter[str],
    variant_id: int,
    remote: dict[str, Any],
) -> None:
    keys = [signature_key(listing.external_id, record.signature)]
    if record.sku and skus[record.sku] == 1:
        keys.append(sku_key(listing.external_id, record.sku))
    for key in keys:
        claimed = bindings.claim(session, shop_id, VARIANT, key)
        previous = claimed.binding.remote_state or {}
        # A flag stays until a person links or confirms the variant.
        state = {**remote, "unmatched": remote.get("unmatched") or previous.get("unmatched")}
        bindings.bind(session, claimed, variant_id, listing.updated_at, record.signature, state)


def _retire_missing_variants(
    session: Session, shop_id: int, listing_id: str, kept: set[int]
) -> None:
    """Variants the listing no longer offers are marked removed; nothing is deleted."""
    bound = session.execute(
        select(Binding.local_id).where(
            Binding.shop_id == shop_id,
            Binding.entity == VARIANT,
            Binding.external_id.like(f"{listing_id}:%"),
        )
    ).scalars()
    gone = {local_id for local_id in bound if local_id is not None} - kept
    if gone:
        session.execute(update(Variant).where(Variant.id.in_(gone)).values(state="removed"))


def unmatched_variants(session: Session, shop_id: int | None = None) -> list[dict[str, object]]:
    """Channel variants flagged for a person: no SKU, a repeated SKU or an ambiguous match."""
    query = select(Binding).where(Binding.entity == VARIANT, Binding.external_id.like("%:sig:%"))
    if shop_id is not None:
        query = query.where(Binding.shop_id == shop_id)
    rows = []
    for binding in session.execute(query).scalars():
        state = binding.remote_state or {}
        if state.get("unmatched"):
            rows.append(
                {
                    "binding": binding.id,
                    "shop": binding.shop_id,
                    "external": binding.external_id,
                    "variant": binding.local_id,
                    "reason": state["unmatched"],
                }
            )
    return rows


def link_variant(session: Session, binding_id: int, ledger_variant_id: int) -> None:
    """Point a channel variant (all its keys) at an existing ledger variant; clear the flag."""
    binding = session.get_one(Binding, binding_id)
    session.get_one(Variant, ledger_variant_id)
    old = binding.local_id
    siblings = session.execute(
        select(Binding).where(
            Binding.shop_id == binding.shop_id,
            Binding.entity == VARIANT,
            Binding.local_id == old,
        )
    ).scalars()
    for sibling in siblings:
        sibling.local_id = ledger_variant_id
        sibling.remote_state = {**(sibling.remote_state or {}), "unmatched": None}
    if old is not None and old != ledger_variant_id:
        session.execute(update(Variant).where(Variant.id == old).values(state="merged"))


def confirm_variant(session: Session, binding_id: int) -> None:
    """Accept the variant created for a channel variant as a product of its own."""
    binding = session.get_one(Binding, binding_id)
    binding.remote_state = {**(binding.remote_state or {}), "unmatched": None}
