"""Writing channel listings into the ledger: items, variants, shared attributes, first stock.

Listings are written a page at a time with set-based statements; a single listing is a page of
one. Identity: a listing binds to an item (entity "listing"); each variant binds under two keys,
its SKU (when present and unique within the listing) and its signature of property values, so
that neither Etsy's renumbering of product ids nor a later edit of one of the two breaks the link.
A variant seen for the first time whose SKU matches exactly one ledger variant is linked to it:
the same product sold on two channels (or listed twice) is one stock pool. Ambiguous or missing
SKUs are flagged as unmatched for a person to link or confirm.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select, tuple_, update
from sqlalchemy.orm import Session

from shopbridge.domain.records import Listing
from shopbridge.domain.records import Variant as VariantRecord
from shopbridge.domain.timeutil import utcnow
from shopbridge.errors import RecordError
from shopbridge.store import bindings, stock
from shopbridge.store.dialect import insert_for, table_of, update_by_id
from shopbridge.store.models import (
    Attribute,
    AttributeValue,
    Binding,
    Item,
    Variant,
    VariantAttributeValue,
)
from shopbridge.store.repos import Outcome

LISTING = "listing"
VARIANT = "variant"
INITIAL_IMPORT = "initial import"
# The flag of a variant an order line created (a product the catalog had not listed): it is in
# the unmatched queue until a catalog import lists that variant, or a person links or keeps it.
FROM_ORDER = "created from an order: not in the catalog (yet)"
MAX_TITLE = 1000
MAX_NAME = 255


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


def variant_keys(listing_id: str, record: VariantRecord, skus: Counter[str]) -> list[str]:
    """The binding keys of a variant: its SKU first when that is unique in the listing."""
    keys = [signature_key(listing_id, record.signature)]
    if record.sku and skus[record.sku] == 1:
        keys.insert(0, sku_key(listing_id, record.sku))
    return keys


def write_listing(session: Session, target: CatalogTarget, listing: Listing) -> ListingResult:
    """Create or update the item and variants of one listing; skip it if not newer."""
    return write_listings(session, target, [listing])[0]


@dataclass(slots=True)
class _PlannedVariant:
    """A variant of this page: an existing ledger row, or one to insert."""

    listing: Listing
    record: VariantRecord
    keys: list[str]
    variant_id: int | None = None
    linked_by_sku: bool = False
    unmatched: str | None = None
    creates: bool = False
    same_as: _PlannedVariant | None = None  # a variant created earlier in this page
    flags: dict[str, str | None] = field(default_factory=dict)  # unmatched flag per bound key

    def resolved_id(self) -> int:
        if self.same_as is not None:
            return self.same_as.resolved_id()
        assert self.variant_id is not None
        return self.variant_id


def write_listings(
    session: Session, target: CatalogTarget, listings: Sequence[Listing]
) -> list[ListingResult]:
    """Create or update a page of listings; results in the same order as `listings`."""
    claims = bindings.claim_many(
        session, target.shop_id, LISTING, [item.external_id for item in listings]
    )
    latest = {
        item.external_id: index
        for index, item in sorted(enumerate(listings), key=lambda p: _order_key(p[1]))
    }
    results: list[ListingResult | None] = [None] * len(listings)
    changed: list[int] = []
    for index, listing in enumerate(listings):
        known = claims[listing.external_id]
        stale = known.local_id is not None and _not_newer(listing, known.remote_updated_at)
        if latest[listing.external_id] != index or stale:
            results[index] = ListingResult(Outcome.UNCHANGED, known.local_id or 0)
        else:
            changed.append(index)
    if changed:
        page = [listings[i] for i in changed]
        written = _write_changed(session, target, page, claims)
        for index, result in zip(changed, written, strict=True):
            results[index] = result
    return [result for result in results if result is not None]


def _order_key(listing: Listing) -> float:
    return listing.updated_at.timestamp() if listing.updated_at else 0.0


def _not_newer(listing: Listing, known: Any) -> bool:
    return known is not None and listing.updated_at is not None and listing.updated_at <= known


def _write_changed(
    session: Session,
    target: CatalogTarget,
    page: list[Listing],
    claims: dict[str, bindings.BindingRow],
) -> list[ListingResult]:
    plans = _plan_variants(session, target, page)
    results = _write_items(session, page, claims, plans)
    _write_variants(session, target, plans, results)
    _link_attributes(session, [p for ps in plans for p in ps])
    _bind_variants(session, target, page, plans, results)
    for listing, result in zip(page, results, strict=True):
        if result.outcome is Outcome.UPDATED:
            kept = {p.resolved_id() for p in plans[page.index(listing)]}
            _retire_missing_variants(session, target.shop_id, listing.external_id, kept)
    bindings.bind_many(
        session,
        [
            {
                "id": claims[listing.external_id].id,
                "local_id": result.item_id,
                "remote_updated_at": listing.updated_at,
            }
            for listing, result in zip(page, results, strict=True)
        ],
    )
    return results


def _plan_variants(
    session: Session, target: CatalogTarget, page: list[Listing]
) -> list[list[_PlannedVariant]]:
    """Which ledger variant each channel variant is: bound already, matched by SKU, or new."""
    plans = []
    for listing in page:
        skus = Counter(v.sku for v in listing.variants if v.sku)
        plans.append(
            [
                _PlannedVariant(listing, v, variant_keys(listing.external_id, v, skus))
                for v in listing.variants
            ]
        )
    flat = [plan for listing_plans in plans for plan in listing_plans]
    bound = bindings.bound_states(
        session, target.shop_id, VARIANT, [key for plan in flat for key in plan.keys]
    )
    for plan in flat:
        plan.variant_id = next((bound[key][0] for key in plan.keys if key in bound), None)
        plan.flags = {
            key: flag if (flag := bound[key][1].get("unmatched")) != FROM_ORDER else None
            for key in plan.keys
            if key in bound
        }
    unique_skus = {
        plan.record.sku for plan in flat if plan.variant_id is None and len(plan.keys) == 2
    }
    by_sku = _ledger_variants_by_sku(session, sorted(s for s in unique_skus if s))
    created_by_sku: dict[str, _PlannedVariant] = {}
    for plan in flat:
        if plan.variant_id is not None:
            continue
        sku = plan.record.sku
        if not sku:
            plan.creates, plan.unmatched = True, "no SKU"
        elif len(plan.keys) == 1:
            plan.creates, plan.unmatched = True, "SKU repeated within the listing"
        elif len(by_sku.get(sku, ())) == 1:
            plan.variant_id, plan.linked_by_sku = by_sku[sku][0], True
        elif len(by_sku.get(sku, ())) > 1:
            plan.creates, plan.unmatched = True, "SKU matches several ledger variants"
        elif sku in created_by_sku:
            plan.same_as, plan.linked_by_sku = created_by_sku[sku], True
        else:
            plan.creates = True
            created_by_sku[sku] = plan
    return plans


def _ledger_variants_by_sku(session: Session, skus: list[str]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    if skus:
        for sku, variant_id in session.execute(
            select(Variant.sku, Variant.id).where(Variant.sku.in_(skus))
        ):
            found.setdefault(sku or "", []).append(variant_id)
    return found


def _item_values(listing: Listing) -> dict[str, Any]:
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


def _write_items(
    session: Session,
    page: list[Listing],
    claims: dict[str, bindings.BindingRow],
    plans: list[list[_PlannedVariant]],
) -> list[ListingResult]:
    """Insert new items (or adopt the one item all of a new listing's variants belong to) and
    update existing ones."""
    adopted = _items_of_linked_variants(session, plans)
    results, new_rows, updates = [], [], []
    for index, listing in enumerate(page):
        local_id = claims[listing.external_id].local_id
        if local_id is not None:
            updates.append({"id": local_id, **_item_values(listing)})
            results.append(ListingResult(Outcome.UPDATED, local_id))
        elif index in adopted:
            results.append(ListingResult(Outcome.CREATED, adopted[index]))
        else:
            new_rows.append(_item_values(listing))
            results.append(ListingResult(Outcome.CREATED, 0))
    if new_rows:
        now = utcnow()
        table = table_of(Item)
        ids = iter(
            session.execute(
                insert(table).returning(table.c.id, sort_by_parameter_order=True),
                [{**row, "created_at": now, "updated_at": now} for row in new_rows],
            ).scalars()
        )
        for index, result in enumerate(results):
            if result.item_id == 0 and index not in adopted:
                result.item_id = next(ids)
    update_by_id(session, Item, updates)
    return results


def _items_of_linked_variants(
    session: Session, plans: list[list[_PlannedVariant]]
) -> dict[int, int]:
    """Page index -> item, for new listings whose variants all matched one existing item."""
    candidates = {
        index: [p.variant_id for p in listing_plans]
        for index, listing_plans in enumerate(plans)
        if listing_plans and all(p.variant_id is not None for p in listing_plans)
    }
    ids = sorted({v for variants in candidates.values() for v in variants if v is not None})
    if not ids:
        return {}
    item_of: dict[int, int] = {
        variant_id: item_id
        for variant_id, item_id in session.execute(
            select(Variant.id, Variant.item_id).where(Variant.id.in_(ids))
        )
    }
    adopted: dict[int, int] = {}
    for index, variants in candidates.items():
        items = {item_of[v] for v in variants if v is not None and v in item_of}
        if len(items) == 1 and len(variants) == sum(v in item_of for v in variants):
            adopted[index] = items.pop()
    return adopted


def _variant_values(listing: Listing, record: VariantRecord) -> dict[str, Any]:
    if record.is_deleted:
        state = "deleted"
    elif not record.is_enabled:
        state = "disabled"
    else:
        state = listing.state.value
    return {
        "sku": record.sku,
        "signature": record.signature,
        "price": record.price.amount if record.price else None,
        "currency": record.price.currency if record.price else None,
        "is_enabled": record.is_enabled,
        "is_deleted": record.is_deleted,
        "state": state,
    }


def _write_variants(
    session: Session,
    target: CatalogTarget,
    plans: list[list[_PlannedVariant]],
    results: list[ListingResult],
) -> None:
    creating: list[_PlannedVariant] = []
    new_rows, updates = [], []
    for listing_plans, result in zip(plans, results, strict=True):
        for plan in listing_plans:
            values = _variant_values(plan.listing, plan.record)
            if plan.creates:
                creating.append(plan)
                new_rows.append({"item_id": result.item_id, **values})
                result.variants_created += 1
            elif plan.linked_by_sku:
                result.variants_linked += 1
            elif plan.variant_id is not None:
                updates.append({"id": plan.variant_id, **values})
            if plan.unmatched:
                label = plan.record.signature or plan.record.sku or "-"
                result.unmatched.append(f"{plan.listing.external_id}/{label}")
    if new_rows:
        now = utcnow()
        table = table_of(Variant)
        ids = session.execute(
            insert(table).returning(table.c.id, sort_by_parameter_order=True),
            [{**row, "created_at": now, "updated_at": now} for row in new_rows],
        ).scalars()
        for plan, variant_id in zip(creating, ids, strict=True):
            plan.variant_id = variant_id
    update_by_id(session, Variant, updates)
    _seed_first_stock(session, target, [p for ps in plans for p in ps])


def _seed_first_stock(
    session: Session, target: CatalogTarget, plans: list[_PlannedVariant]
) -> None:
    """A variant whose pool has no stock of its own yet (no initial move, no person's
    adjustment) takes its first stock from this shop's quantity: stock.seed_from_channel.
    Later imports never overwrite ledger stock (the ledger is the stock master)."""
    if not target.seed_stock or target.warehouse_id is None:
        return
    quantities: dict[int, tuple[int, str]] = {}
    for plan in plans:
        quantities.setdefault(plan.resolved_id(), (plan.record.quantity, plan.listing.external_id))
    stock.seed_from_channel(session, target.shop_id, target.warehouse_id, quantities)


def _link_attributes(session: Session, plans: list[_PlannedVariant]) -> None:
    """Attributes are shared by name across listings and shops; values by (attribute, value)."""
    pairs = {
        (option.attribute[:MAX_NAME], option.value[:MAX_NAME])
        for plan in plans
        for option in plan.record.options
    }
    if not pairs:
        return
    names = sorted({name for name, _ in pairs})
    session.execute(
        insert_for(session, Attribute).on_conflict_do_nothing(), [{"name": n} for n in names]
    )
    attribute_ids = dict(
        session.execute(select(Attribute.name, Attribute.id).where(Attribute.name.in_(names))).all()
    )
    wanted = sorted((attribute_ids[name], value) for name, value in pairs)
    session.execute(
        insert_for(session, AttributeValue).on_conflict_do_nothing(),
        [{"attribute_id": a, "value": v} for a, v in wanted],
    )
    value_ids = {
        (a, v): id_
        for a, v, id_ in session.execute(
            select(AttributeValue.attribute_id, AttributeValue.value, AttributeValue.id).where(
                tuple_(AttributeValue.attribute_id, AttributeValue.value).in_(wanted)
            )
        )
    }
    links = {
        (
            plan.resolved_id(),
            value_ids[(attribute_ids[o.attribute[:MAX_NAME]], o.value[:MAX_NAME])],
        )
        for plan in plans
        for o in plan.record.options
    }
    session.execute(
        insert_for(session, VariantAttributeValue).on_conflict_do_nothing(),
        [{"variant_id": v, "attribute_value_id": a} for v, a in sorted(links)],
    )


def _bind_variants(
    session: Session,
    target: CatalogTarget,
    page: list[Listing],
    plans: list[list[_PlannedVariant]],
    results: list[ListingResult],
) -> None:
    """Bind every key of every variant; an unmatched flag stays until a person clears it."""
    flat = [plan for listing_plans in plans for plan in listing_plans]
    rows = {}
    for plan in flat:
        record = plan.record
        remote: dict[str, Any] = {
            "quantity": record.quantity,
            "price": str(record.price.amount) if record.price else None,
            "product_id": record.external_product_id,
            "listing_id": plan.listing.external_id,
        }
        for key in plan.keys:
            flag = plan.unmatched or plan.flags.get(key)
            rows[key] = {
                "external_id": key,
                "local_id": plan.resolved_id(),
                "remote_updated_at": plan.listing.updated_at,
                "signature": record.signature,
                "remote_state": {**remote, "unmatched": flag},
            }
    bindings.upsert_many(session, target.shop_id, VARIANT, list(rows.values()))


def _retire_missing_variants(
    session: Session, shop_id: int, listing_id: str, kept: set[int]
) -> None:
    """Variants the listing no longer offers are marked removed; nothing is deleted."""
    bound = session.execute(
        select(Binding.local_id).where(
            Binding.shop_id == shop_id,
            Binding.entity == VARIANT,
            # A range, not LIKE: it walks the (shop, entity, external_id) index.
            Binding.external_id >= f"{listing_id}:",
            Binding.external_id < f"{listing_id};",
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
    if binding.entity != VARIANT:
        raise RecordError(f"binding {binding_id} is a {binding.entity}, not a channel variant")
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
