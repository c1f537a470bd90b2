"""The stock pool: warehouses, append-only stock moves, what each shop is offered.

Per variant and warehouse: on hand is the sum of the on-hand moves (initial, opening, sale,
adjust), reserved the sum of the reservation moves (reserve, release), available = on hand -
reserved. `stock_level` caches both sums; it is kept in the transaction that appends the moves,
from the moves really inserted (a move keyed to an order line that already exists inserts
nothing and changes nothing).

Move kinds:
- initial: the channel's quantity adopted as a variant's first stock (one per variant);
- opening: a unit Etsy had already taken out of that quantity for an order the ledger learnt of
  afterwards (the order was placed before the initial move): it is put back, then reserved;
- reserve / release: an order line holds units (not shipped, not cancelled, not void) / no
  longer does;
- sale: the units of a shipped line leave the warehouse;
- adjust: a person's correction (`stock adjust`, `stock import`).

Every change of a variant's available stock writes an outbox row per channel listing offered
from that warehouse, in the same transaction (see `record_moves`).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Select, delete, func, insert, select, tuple_, update
from sqlalchemy.orm import Session

from shopbridge.domain.timeutil import utcnow
from shopbridge.errors import ShopbridgeError
from shopbridge.store.dialect import insert_for, is_postgres, table_of
from shopbridge.store.models import (
    Binding,
    Item,
    OrderLine,
    Outbox,
    SalesOrder,
    Shop,
    StockLevel,
    StockMove,
    StockOffer,
    StockOfferSource,
    Variant,
    Warehouse,
)
from shopbridge.store.rawsql import Raw

INITIAL, OPENING, RESERVE, RELEASE, SALE, ADJUST = (
    "initial",
    "opening",
    "reserve",
    "release",
    "sale",
    "adjust",
)
RESERVATION_KINDS = frozenset({RESERVE, RELEASE})
KINDS = frozenset({INITIAL, OPENING, RESERVE, RELEASE, SALE, ADJUST})
ETSY_MAX_QUANTITY = 999  # Etsy's ceiling per offering
VARIANT = "variant"
LISTING = "listing"
STOCK_PUSH = "stock"
INITIAL_REASON = "initial import"


class StockError(ShopbridgeError):
    """Bad stock input (unknown SKU or warehouse, a negative result, a bad CSV row)."""


# --- warehouses ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WarehouseRow:
    id: int
    name: str
    is_default: bool


def add_warehouse(session: Session, name: str, default: bool = False) -> WarehouseRow:
    """A new warehouse; `default` makes it the only default one."""
    name = name.strip()
    if not name or len(name) > 120:
        raise StockError("a warehouse name has 1 to 120 characters")
    if session.execute(select(Warehouse.id).where(Warehouse.name == name)).first():
        raise StockError(f"warehouse {name!r} exists already")
    if default:
        session.execute(update(Warehouse).values(is_default=False))
    row = Warehouse(name=name, is_default=default)
    session.add(row)
    session.flush()
    return WarehouseRow(row.id, row.name, row.is_default)


def list_warehouses(session: Session) -> list[WarehouseRow]:
    rows = session.execute(
        select(Warehouse.id, Warehouse.name, Warehouse.is_default).order_by(Warehouse.name)
    )
    return [WarehouseRow(*row) for row in rows]


def warehouse_by_name(session: Session, name: str | None) -> WarehouseRow:
    """The warehouse called `name`; without a name, the default warehouse (or the only one)."""
    if name is not None:
        found = session.execute(
            select(Warehouse.id, Warehouse.name, Warehouse.is_default).where(Warehouse.name == name)
        ).first()
        if found is None:
            raise StockError(f"unknown warehouse {name!r} (see `shopbridge warehouse list`)")
        return WarehouseRow(*found)
    every = list_warehouses(session)
    defaults = [w for w in every if w.is_default]
    if defaults:
        return defaults[0]
    if len(every) == 1:
        return every[0]
    if not every:
        raise StockError("no warehouse yet: add one with `shopbridge warehouse add NAME`")
    raise StockError(
        "several warehouses and no default: name one with --warehouse "
        "(or `shopbridge warehouse add NAME --default`)"
    )


def default_warehouse_id(session: Session) -> int | None:
    return session.execute(
        select(Warehouse.id).where(Warehouse.is_default.is_(True))
    ).scalar_one_or_none()


def shop_warehouse_ids(session: Session, shop_ids: Iterable[int]) -> dict[int, int | None]:
    """The warehouse each shop's orders reserve in: its own, else the default warehouse."""
    ids = sorted(set(shop_ids))
    if not ids:
        return {}
    default = default_warehouse_id(session)
    rows = session.execute(select(Shop.id, Shop.warehouse_id).where(Shop.id.in_(ids)))
    return {shop_id: warehouse or default for shop_id, warehouse in rows}


# --- moves -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Move:
    variant_id: int
    warehouse_id: int
    quantity: int
    kind: str
    reason: str
    reference: str | None = None
    order_line_id: int | None = None
    shop_id: int | None = None
    actor: str | None = None

    def row(self, now: datetime) -> dict[str, Any]:
        return {
            "variant_id": self.variant_id,
            "warehouse_id": self.warehouse_id,
            "quantity": self.quantity,
            "kind": self.kind,
            "reason": self.reason[:64],
            "reference": self.reference[:255] if self.reference else None,
            "order_line_id": self.order_line_id,
            "shop_id": self.shop_id,
            "actor": self.actor[:120] if self.actor else None,
            "created_at": now,
        }


_NEW_MOVE = (
    "INSERT INTO stock_move (variant_id, warehouse_id, quantity, kind, reason, reference, "
    "order_line_id, shop_id, actor, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT DO NOTHING RETURNING variant_id, warehouse_id, kind, quantity"
)


_NEW_MOVES_PG = (
    "INSERT INTO stock_move (created_at, variant_id, warehouse_id, quantity, kind, reason, "
    "reference, order_line_id, shop_id, actor) SELECT ?::timestamptz, * FROM unnest(?::int[], "
    "?::int[], ?::int[], ?::text[], ?::text[], ?::text[], ?::int[], ?::int[], ?::text[]) "
    "ON CONFLICT DO NOTHING RETURNING variant_id, warehouse_id, kind, quantity"
)


def record_moves(session: Session, moves: Sequence[Move], *, quiet_shop: int | None = None) -> int:
    """Append moves (a keyed move that exists already is skipped), add what was really inserted
    to the cached levels, and write an outbox row for every channel listing whose available
    stock changed. A handful of statements whatever the number of moves. Returns how many moves
    were inserted."""
    if not moves:
        return 0
    now = utcnow()
    # The DBAPI path (store/rawsql.py): the moves of an order page were a tenth of its write.
    raw = Raw(session)
    at = raw.time(now)
    rows = [
        (
            m.variant_id,
            m.warehouse_id,
            m.quantity,
            m.kind,
            m.reason[:64],
            m.reference[:255] if m.reference else None,
            m.order_line_id,
            m.shop_id,
            m.actor[:120] if m.actor else None,
        )
        for m in moves
    ]
    if raw.pg:  # one statement, a column per array parameter
        columns = [list(column) for column in zip(*rows, strict=True)]
        inserted = raw.rows(_NEW_MOVES_PG, (at, *columns))
    else:
        found = raw.many_returning_rows(_NEW_MOVE, [(*row, at) for row in rows])
        inserted = [row for row in found if row is not None]
    if not inserted:
        return 0
    deltas: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0])
    for variant_id, warehouse_id, kind, quantity in inserted:
        deltas[(variant_id, warehouse_id)][1 if kind in RESERVATION_KINDS else 0] += quantity
    level = insert_for(session, StockLevel)
    session.execute(
        level.on_conflict_do_update(
            index_elements=["variant_id", "warehouse_id"],
            set_={
                "on_hand": StockLevel.on_hand + level.excluded.on_hand,
                "reserved": StockLevel.reserved + level.excluded.reserved,
                "updated_at": now,
            },
        ),
        [
            {
                "variant_id": v,
                "warehouse_id": w,
                "on_hand": on_hand,
                "reserved": reserved,
                "updated_at": now,
            }
            for (v, w), (on_hand, reserved) in sorted(deltas.items())
        ],
    )
    changed = {key for key, (on_hand, reserved) in deltas.items() if on_hand != reserved}
    queue_pushes(session, changed, quiet_shop)
    return len(inserted)


def queue_pushes(
    session: Session, changed: set[tuple[int, int]], quiet_shop: int | None = None
) -> int:
    """One outbox row per channel listing that offers one of these (variant, warehouse) pairs
    and pushes stock (but none for `quiet_shop`, whose own quantity the change adopted).
    Returns how many rows were written."""
    if not changed:
        return 0
    warehouses = {w for _, w in changed}
    sellers = _shops_selling_from(session, warehouses)
    if quiet_shop is not None:
        for shops in sellers.values():
            shops.discard(quiet_shop)
    if not sellers:
        return 0
    variants = sorted({v for v, w in changed if sellers.get(w)})
    # A variant whose pool has no stock of its own yet (an order's line met it before any
    # catalog import) is never pushed: it would offer 0 where the channel still sells it.
    variants = sorted(set(_given_stock(session, variants)))
    bound = session.execute(
        select(Binding.shop_id, Binding.local_id, Binding.external_id).where(
            Binding.entity == VARIANT, Binding.local_id.in_(variants)
        )
    ).all()
    wanted: set[tuple[int, str]] = set()
    for shop_id, variant_id, external_id in bound:
        if any(shop_id in sellers.get(w, ()) for v, w in changed if v == variant_id):
            wanted.add((shop_id, external_id.split(":", 1)[0]))
    return _queue_listings(session, wanted)


def _given_stock(session: Session, variant_ids: Sequence[int]) -> set[int]:
    """The variants whose pool was given stock: an initial move or a person's adjustment."""
    if not variant_ids:
        return set()
    return set(
        session.execute(
            select(StockMove.variant_id)
            .where(
                StockMove.variant_id.in_(list(variant_ids)), StockMove.kind.in_([INITIAL, ADJUST])
            )
            .distinct()
        ).scalars()
    )


def _queue_listings(session: Session, wanted: set[tuple[int, str]]) -> int:
    if not wanted:
        return 0
    listings = session.execute(
        select(Binding.id, Binding.shop_id, Binding.local_id).where(
            Binding.entity == LISTING,
            tuple_(Binding.shop_id, Binding.external_id).in_(sorted(wanted)),
        )
    ).all()
    now = utcnow()
    rows = [
        {
            "shop_id": shop_id,
            "kind": STOCK_PUSH,
            "entity": LISTING,
            "local_id": item_id or 0,
            "binding_id": binding_id,
            "payload": {},
            "status": "pending",
            "attempts": 0,
            "created_at": now,
        }
        for binding_id, shop_id, item_id in sorted(listings)
    ]
    if rows:
        session.execute(insert(table_of(Outbox)), rows)
    return len(rows)


def queue_shop_listings(session: Session, shop_id: int) -> int:
    """An outbox row for every listing of a shop (its offer settings changed)."""
    if not _offer(session, shop_id).push_stock:
        return 0
    listings = session.execute(
        select(Binding.external_id).where(Binding.shop_id == shop_id, Binding.entity == LISTING)
    ).scalars()
    return _queue_listings(session, {(shop_id, external_id) for external_id in listings})


def _shops_selling_from(session: Session, warehouses: set[int]) -> dict[int, set[int]]:
    """warehouse -> the shops that sell from it and push stock."""
    listed = session.execute(select(StockOfferSource.shop_id, StockOfferSource.warehouse_id)).all()
    with_sources = {shop_id for shop_id, _ in listed}
    no_push = set(
        session.execute(select(StockOffer.shop_id).where(StockOffer.push_stock.is_(False)))
        .scalars()
        .all()
    )
    sellers: dict[int, set[int]] = defaultdict(set)
    for shop_id, warehouse_id in listed:
        if warehouse_id in warehouses and shop_id not in no_push:
            sellers[warehouse_id].add(shop_id)
    default = default_warehouse_id(session)
    for shop_id, own in session.execute(
        select(Shop.id, Shop.warehouse_id).where(Shop.status != "removed")
    ):
        warehouse = own or default
        if shop_id not in with_sources and shop_id not in no_push and warehouse in warehouses:
            sellers[warehouse].add(shop_id)
    return sellers


# --- figures ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Level:
    variant_id: int
    sku: str | None
    title: str
    warehouse: str
    warehouse_id: int
    on_hand: int
    reserved: int

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


def level_query() -> Select[*tuple[Any, ...]]:
    """Every cached level with its variant's SKU, its item's title and its warehouse, in
    `Level`'s order (labelled: variant, sku, title, warehouse, warehouse_id, on_hand,
    reserved); not ordered, not filtered."""
    return (
        select(
            Variant.id.label("variant"),
            Variant.sku,
            Item.title,
            Warehouse.name.label("warehouse"),
            Warehouse.id.label("warehouse_id"),
            StockLevel.on_hand,
            StockLevel.reserved,
        )
        .join(Variant, Variant.id == StockLevel.variant_id)
        .join(Item, Item.id == Variant.item_id)
        .join(Warehouse, Warehouse.id == StockLevel.warehouse_id)
    )


def levels(
    session: Session,
    sku: str | None = None,
    warehouse: str | None = None,
    variant_ids: Sequence[int] | None = None,
) -> list[Level]:
    """On hand and reserved per variant and warehouse (from the cached sums)."""
    query = level_query().order_by(Variant.sku, Variant.id, Warehouse.name)
    if sku is not None:
        query = query.where(Variant.id.in_(variants_with_sku(session, sku)))
    if warehouse is not None:
        query = query.where(Warehouse.id == warehouse_by_name(session, warehouse).id)
    if variant_ids is not None:
        query = query.where(Variant.id.in_(list(variant_ids)))
    return [Level(*row) for row in session.execute(query)]


def summed_levels(session: Session) -> dict[tuple[int, int], tuple[int, int]]:
    """(variant, warehouse) -> (on hand, reserved) summed from the moves themselves: what the
    cached levels must equal."""
    reserved_kind = StockMove.kind.in_(sorted(RESERVATION_KINDS))
    rows = session.execute(
        select(
            StockMove.variant_id,
            StockMove.warehouse_id,
            func.coalesce(func.sum(StockMove.quantity).filter(~reserved_kind), 0),
            func.coalesce(func.sum(StockMove.quantity).filter(reserved_kind), 0),
        ).group_by(StockMove.variant_id, StockMove.warehouse_id)
    )
    return {(v, w): (int(on_hand), int(reserved)) for v, w, on_hand, reserved in rows}


@dataclass(frozen=True, slots=True)
class OfferSettings:
    shop_id: int
    sources: tuple[int, ...]  # warehouse ids; empty: the shop's own (else the default)
    buffer: int = 0
    offer_percent: int = 100
    max_offer: int | None = None
    push_stock: bool = True

    def offer(self, available: int) -> int:
        """What to offer out of the summed available stock: less the buffer, the share rounded
        down, at most max_offer and Etsy's 999, never below 0."""
        kept = max(0, available - self.buffer)
        share = kept * self.offer_percent // 100
        ceiling = ETSY_MAX_QUANTITY if self.max_offer is None else self.max_offer
        return max(0, min(share, ceiling, ETSY_MAX_QUANTITY))


def _offer(session: Session, shop_id: int) -> OfferSettings:
    row = session.get(StockOffer, shop_id)
    sources = tuple(
        sorted(
            session.execute(
                select(StockOfferSource.warehouse_id).where(StockOfferSource.shop_id == shop_id)
            ).scalars()
        )
    )
    if row is None:
        return OfferSettings(shop_id, sources)
    return OfferSettings(
        shop_id, sources, row.buffer, row.offer_percent, row.max_offer, row.push_stock
    )


def offer_settings(session: Session, shop_id: int) -> OfferSettings:
    return _offer(session, shop_id)


def source_warehouses(session: Session, shop_id: int) -> list[int]:
    """The warehouses a shop sells from: its listed sources, else its own or the default one."""
    settings = _offer(session, shop_id)
    if settings.sources:
        return list(settings.sources)
    own = shop_warehouse_ids(session, [shop_id]).get(shop_id)
    return [own] if own is not None else []


def change_offer_settings(
    session: Session,
    shop_id: int,
    *,
    sources: Sequence[str] | None = None,
    buffer: int | None = None,
    offer_percent: int | None = None,
    max_offer: int | None = None,
    push_stock: bool | None = None,
) -> OfferSettings:
    """Change what a shop is offered; every listing of the shop is queued for a push."""
    if buffer is not None and buffer < 0:
        raise StockError(f"--buffer {buffer}: a buffer is 0 or more units")
    if offer_percent is not None and not 0 <= offer_percent <= 100:
        raise StockError(f"--offer-percent {offer_percent}: a share is 0 to 100")
    if max_offer is not None and max_offer < 0:
        raise StockError(f"--max-offer {max_offer}: a ceiling is 0 or more units")
    source_ids = None
    if sources is not None:
        names = [name.strip() for name in sources if name.strip()]
        if not names:
            raise StockError("--stock-from names at least one warehouse")
        source_ids = sorted({warehouse_by_name(session, name).id for name in names})
    row = session.get(StockOffer, shop_id)
    if row is None:
        row = StockOffer(shop_id=shop_id, buffer=0, offer_percent=100, push_stock=True)
        session.add(row)
    if buffer is not None:
        row.buffer = buffer
    if offer_percent is not None:
        row.offer_percent = offer_percent
    if max_offer is not None:
        row.max_offer = max_offer
    if push_stock is not None:
        row.push_stock = push_stock
    if source_ids is not None:
        session.execute(delete(StockOfferSource).where(StockOfferSource.shop_id == shop_id))
        session.add_all(StockOfferSource(shop_id=shop_id, warehouse_id=w) for w in source_ids)
    session.flush()
    queue_shop_listings(session, shop_id)
    return _offer(session, shop_id)


def offered(
    session: Session, shop_id: int, variant_ids: Sequence[int] | None = None
) -> dict[int, int]:
    """variant -> the quantity offered to this shop, for every variant bound to it."""
    settings = _offer(session, shop_id)
    query = select(Binding.local_id).where(Binding.shop_id == shop_id, Binding.entity == VARIANT)
    if variant_ids is not None:
        query = query.where(Binding.local_id.in_(list(variant_ids)))
    variants = {v for v in session.execute(query).scalars() if v is not None}
    if not variants:
        return {}
    warehouses = source_warehouses(session, shop_id)
    available: dict[int, int] = dict.fromkeys(variants, 0)
    if warehouses:
        rows = session.execute(
            select(StockLevel.variant_id, func.sum(StockLevel.on_hand - StockLevel.reserved))
            .where(
                StockLevel.warehouse_id.in_(warehouses),
                StockLevel.variant_id.in_(sorted(variants)),
            )
            .group_by(StockLevel.variant_id)
        )
        for variant_id, total in rows:
            available[variant_id] = int(total or 0)
    return {v: settings.offer(total) for v, total in available.items()}


# --- manual stock ----------------------------------------------------------------------------


def variants_with_sku(session: Session, sku: str) -> list[int]:
    return list(
        session.execute(
            select(Variant.id).where(Variant.sku == sku, Variant.state != "merged")
        ).scalars()
    )


def variant_by_sku(session: Session, sku: str) -> int:
    found = variants_with_sku(session, sku)
    if not found:
        raise StockError(f"unknown SKU {sku!r}")
    if len(found) > 1:
        ids = ", ".join(str(v) for v in found[:5])
        raise StockError(
            f"SKU {sku!r} names {len(found)} ledger variants ({ids}): link them first "
            "(`shopbridge items unmatched`, `items link`)"
        )
    return found[0]


def on_hand(session: Session, variant_id: int, warehouse_id: int) -> int:
    query = select(StockLevel.on_hand).where(
        StockLevel.variant_id == variant_id, StockLevel.warehouse_id == warehouse_id
    )
    if is_postgres(session):
        query = query.with_for_update()
    return int(session.execute(query).scalar_one_or_none() or 0)


@dataclass(frozen=True, slots=True)
class Adjustment:
    sku: str
    warehouse: str
    before: int
    after: int

    @property
    def change(self) -> int:
        return self.after - self.before

    def as_dict(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "warehouse": self.warehouse,
            "on_hand_before": self.before,
            "on_hand": self.after,
            "change": self.change,
        }


def adjust(
    session: Session,
    sku: str,
    *,
    by: int | None = None,
    set_to: int | None = None,
    warehouse: str | None = None,
    reason: str,
    actor: str | None = None,
) -> Adjustment:
    """Change a variant's on hand by N or to N; a negative result is refused."""
    if (by is None) == (set_to is None):
        raise StockError("give exactly one of --by N and --set N")
    if not reason.strip():
        raise StockError("--reason is required: say why the stock changes")
    variant_id = variant_by_sku(session, sku)
    place = warehouse_by_name(session, warehouse)
    before = on_hand(session, variant_id, place.id)
    after = before + by if by is not None else set_to
    assert after is not None
    if after < 0:
        what = f"--by {by}" if by is not None else f"--set {set_to}"
        raise StockError(
            f"{what} would leave {sku!r} at {after} in {place.name} (on hand {before}): "
            "stock cannot go below 0"
        )
    if after != before:
        record_moves(
            session,
            [Move(variant_id, place.id, after - before, ADJUST, reason.strip(), actor=actor)],
        )
    return Adjustment(sku, place.name, before, after)


@dataclass(frozen=True, slots=True)
class _CsvRow:
    line: int
    sku: str
    quantity: int
    warehouse: str | None


def parse_stock_csv(text: str) -> list[_CsvRow]:
    """Rows of `sku, quantity[, warehouse]` (a header row is optional); a bad row is a
    StockError naming its line."""
    rows: list[_CsvRow] = []
    reader = csv.reader(io.StringIO(text))
    for cells in reader:
        line = reader.line_num
        cells = [cell.strip() for cell in cells]
        if not any(cells):
            continue
        if not rows and line == 1 and cells[0].lower() == "sku":
            continue  # the header
        if len(cells) not in (2, 3):
            raise StockError(
                f"line {line}: expected sku, quantity[, warehouse], got {len(cells)} columns"
            )
        if not cells[0]:
            raise StockError(f"line {line}: the SKU is empty")
        try:
            quantity = int(cells[1])
        except ValueError:
            raise StockError(
                f"line {line}: quantity {cells[1][:40]!r} is not a whole number"
            ) from None
        warehouse = cells[2] if len(cells) == 3 and cells[2] else None
        rows.append(_CsvRow(line, cells[0], quantity, warehouse))
    return rows


def import_stock(
    session: Session, text: str, mode: str, *, source: str, actor: str | None = None
) -> list[Adjustment]:
    """Set (mode "set") or add to (mode "add") on hand from a CSV; every row is checked first
    and nothing is applied unless every row is valid."""
    if mode not in ("set", "add"):
        raise StockError(f"--mode {mode!r}: use set or add")
    rows = parse_stock_csv(text)
    if not rows:
        raise StockError("the file has no stock rows")
    planned: dict[tuple[int, int], tuple[_CsvRow, str, int, int]] = {}
    for row in rows:
        try:
            variant_id = variant_by_sku(session, row.sku)
            place = warehouse_by_name(session, row.warehouse)
        except StockError as exc:
            raise StockError(f"line {row.line}: {exc}") from None
        key = (variant_id, place.id)
        if key in planned:
            first = planned[key][0]
            if mode == "set":
                raise StockError(
                    f"line {row.line}: {row.sku!r} in {place.name} is set on line {first.line} "
                    "already"
                )
            before, after = planned[key][2], planned[key][3] + row.quantity
        else:
            before = on_hand(session, variant_id, place.id)
            after = row.quantity if mode == "set" else before + row.quantity
        if after < 0:
            raise StockError(
                f"line {row.line}: {row.sku!r} would be {after} in {place.name} (on hand "
                f"{before}): stock cannot go below 0"
            )
        planned[key] = (planned.get(key, (row,))[0], place.name, before, after)
    moves = [
        Move(v, w, after - before, ADJUST, f"import {source}"[:64], f"line {row.line}", actor=actor)
        for (v, w), (row, _, before, after) in planned.items()
        if after != before
    ]
    record_moves(session, moves)
    return [
        Adjustment(row.sku, name, before, after) for row, name, before, after in planned.values()
    ]


# --- history ---------------------------------------------------------------------------------


def history(session: Session, sku: str, limit: int = 200) -> list[dict[str, Any]]:
    """The moves of every variant with this SKU, newest first: when, what, how many, where,
    why, which order, who."""
    variants = variants_with_sku(session, sku)
    if not variants:
        raise StockError(f"unknown SKU {sku!r}")
    rows = session.execute(
        select(
            StockMove.id,
            StockMove.created_at,
            StockMove.variant_id,
            Warehouse.name,
            StockMove.kind,
            StockMove.quantity,
            StockMove.reason,
            StockMove.reference,
            SalesOrder.number,
            Shop.name,
            OrderLine.external_id,
            StockMove.actor,
        )
        .join(Warehouse, Warehouse.id == StockMove.warehouse_id)
        .outerjoin(OrderLine, OrderLine.id == StockMove.order_line_id)
        .outerjoin(SalesOrder, SalesOrder.id == OrderLine.order_id)
        .outerjoin(Shop, Shop.id == StockMove.shop_id)
        .where(StockMove.variant_id.in_(variants))
        .order_by(StockMove.created_at.desc(), StockMove.id.desc())
        .limit(limit)
    )
    return [
        {
            "id": r[0],
            "at": r[1],
            "variant": r[2],
            "warehouse": r[3],
            "kind": r[4],
            "quantity": r[5],
            "reason": r[6],
            "order": f"{r[9]} receipt {r[8]} line {r[10]}" if r[8] is not None else None,
            "reference": r[7],
            "who": r[11] or (f"shop {r[9]}" if r[9] else None),
        }
        for r in rows
    ]


# --- orders move stock exactly once ------------------------------------------------------------

VOID_STATUS = "void"
RELEASING_STATUSES = frozenset({"canceled", "refunded", VOID_STATUS})


def _line_state(status: str, is_shipped: bool, is_canceled: bool) -> str:
    """open (holds its units), shipped (they left), or released (cancelled, fully refunded or
    void before shipping: it holds nothing)."""
    if is_shipped:
        return "shipped"
    if is_canceled or status in RELEASING_STATUSES:
        return "released"
    return "open"


class _LineRow(NamedTuple):
    id: int
    order_id: int
    variant_id: int | None
    quantity: int
    shop_id: int
    number: str
    status: str
    is_shipped: bool
    is_canceled: bool
    ordered_at: datetime  # NOT NULL in sales_order
    warehouse_id: int | None


# The lines of some orders, their order's state and their shop's warehouse (own, else default).
_ORDER_LINES = (
    "SELECT l.id, l.order_id, l.variant_id, l.quantity, o.shop_id, o.number, o.status, "
    "o.is_shipped, o.is_canceled, o.ordered_at, COALESCE(s.warehouse_id, "
    "(SELECT id FROM warehouse WHERE is_default = ? LIMIT 1)) "
    "FROM order_line l JOIN sales_order o ON o.id = l.order_id JOIN shop s ON s.id = o.shop_id "
    "WHERE IN_LIST(l.order_id) AND l.variant_id IS NOT NULL ORDER BY l.id"
)


def apply_orders(session: Session, order_ids: Sequence[int], created: Iterable[int] = ()) -> int:
    """Bring the stock moves of these orders' lines in line with the orders as stored: an open
    line reserves its units in its shop's warehouse, a shipped line releases them and moves
    them out, a line cancelled before shipping releases them. Every move is keyed to its line
    (and kind), so writing an order again moves nothing twice. A cancellation or a refund after
    shipping puts nothing back (a return is `stock adjust`).

    A line of an order placed before its variant's initial stock was taken from this shop's
    quantity, first seen open, was already out of that quantity: an opening move puts its
    units back on hand as it reserves them (the pool then agrees with the channel); first seen
    shipped or released, it moves nothing.

    `created`: orders this transaction inserted (their lines have no moves yet: not looked up).
    Set-based: two or three reads and the writes of `record_moves` per call, whatever its size.
    """
    if not order_ids:
        return 0
    raw = Raw(session)  # the DBAPI path (store/rawsql.py): this read is on every order page
    read_time = raw.read_time
    lines = [
        _LineRow(*row[:9], read_time(row[9]), row[10])  # type: ignore[call-arg]
        for row in raw.rows(_ORDER_LINES, (True, raw.list(sorted(set(order_ids)))))
    ]
    if not lines:
        return 0
    new = set(created)
    existing: dict[int, dict[str, tuple[int, int]]] = defaultdict(dict)
    known = [line.id for line in lines if line.order_id not in new]
    if known:
        for line_id, kind, quantity, warehouse_id in session.execute(
            select(
                StockMove.order_line_id,
                StockMove.kind,
                StockMove.quantity,
                StockMove.warehouse_id,
            ).where(StockMove.order_line_id.in_(known))
        ):
            existing[line_id or 0][kind] = (quantity, warehouse_id)
    seeds = initial_moves(session, {line.variant_id for line in lines if line.variant_id})
    moves: list[Move] = []
    for line in lines:
        line_id, variant_id, quantity = line.id, line.variant_id, line.quantity
        assert variant_id is not None  # selected so
        order = _OrderState(line.shop_id, line.number, line.status, line.ordered_at)
        state = _line_state(line.status, line.is_shipped, line.is_canceled)
        has = existing.get(line_id, {})
        reserved = has.get(RESERVE)
        warehouse = reserved[1] if reserved else line[10]
        if warehouse is None:
            continue  # no warehouse for this shop and no default: stock is not kept
        seed = seeds.get(variant_id)
        before_seed = (
            seed is not None
            and seed.shop_id == order.shop_id
            and seed.warehouse_id == warehouse
            and order.ordered_at < seed.created_at
        )
        reference = f"receipt {order.number}"

        base = Move(
            variant_id,
            warehouse,
            0,
            "",
            "",
            reference,
            order_line_id=line_id,
            shop_id=order.shop_id,
        )

        def move(kind: str, units: int, reason: str, base: Move = base) -> Move:
            return replace(base, kind=kind, quantity=units, reason=reason)

        if not has and before_seed and state != "open":
            continue  # already out of the channel's quantity the first stock came from
        if state == "open":
            if reserved is None:
                if not has and before_seed:
                    moves.append(move(OPENING, quantity, "sold before the first stock import"))
                moves.append(move(RESERVE, quantity, "order placed"))
            continue
        if reserved is not None and RELEASE not in has:
            reason = "order shipped" if state == "shipped" else f"order {order.status}"
            moves.append(move(RELEASE, -reserved[0], reason))
        if state == "shipped" and SALE not in has:
            units = reserved[0] if reserved is not None else quantity
            moves.append(move(SALE, -units, "order shipped"))
    return record_moves(session, moves)


@dataclass(frozen=True, slots=True)
class _OrderState:
    shop_id: int
    number: str
    status: str
    ordered_at: datetime


@dataclass(frozen=True, slots=True)
class Seed:
    variant_id: int
    warehouse_id: int
    shop_id: int | None
    created_at: datetime


def initial_moves(session: Session, variant_ids: Iterable[int]) -> dict[int, Seed]:
    """variant -> its initial move (where and when its first stock came from a channel)."""
    ids = sorted(set(variant_ids))
    if not ids:
        return {}
    raw = Raw(session)
    rows = raw.rows(
        "SELECT variant_id, warehouse_id, shop_id, created_at FROM stock_move "
        "WHERE kind = ? AND IN_LIST(variant_id)",
        (INITIAL, raw.list(ids)),
    )
    read_time = raw.read_time
    return {v: Seed(v, w, shop, read_time(at)) for v, w, shop, at in rows}  # type: ignore[arg-type]


def seed_from_channel(
    session: Session, shop_id: int, warehouse_id: int, quantities: dict[int, tuple[int, str]]
) -> int:
    """Give variants their first stock from a shop's channel quantities (variant -> (quantity,
    listing id)), once per variant: only variants with no initial move and no adjustment yet.

    The channel's quantity already excludes the units sold and not yet shipped, and the ledger
    may hold this shop's orders already (imported first: their lines reserve, their shipped
    lines moved out): the initial move makes on hand = quantity + the units this shop's open
    orders reserve, so what is offered equals the channel's quantity whatever was imported
    first. Queues no push for this shop (it is offered what it shows). Returns how many
    variants were seeded."""
    if not quantities:
        return 0
    ids = sorted(quantities)
    given = _given_stock(session, ids)
    todo = [v for v in ids if v not in given]
    if not todo:
        return 0
    held = dict(
        session.execute(
            select(StockLevel.variant_id, StockLevel.on_hand).where(
                StockLevel.variant_id.in_(todo), StockLevel.warehouse_id == warehouse_id
            )
        ).all()
    )
    reserved_here = dict(
        session.execute(
            select(StockMove.variant_id, func.sum(StockMove.quantity))
            .where(
                StockMove.variant_id.in_(todo),
                StockMove.warehouse_id == warehouse_id,
                StockMove.shop_id == shop_id,
                StockMove.kind.in_(sorted(RESERVATION_KINDS)),
            )
            .group_by(StockMove.variant_id)
        ).all()
    )
    moves = []
    for variant_id in todo:
        quantity, listing = quantities[variant_id]
        first = quantity + int(reserved_here.get(variant_id) or 0) - int(held.get(variant_id) or 0)
        moves.append(
            Move(
                variant_id,
                warehouse_id,
                first,
                INITIAL,
                INITIAL_REASON,
                f"listing {listing}",
                shop_id=shop_id,
            )
        )
    return record_moves(session, moves, quiet_shop=shop_id)


# --- the view `shopbridge stock` shows ------------------------------------------------------------


def with_offered(
    session: Session,
    rows: Iterable[dict[str, Any]],
    shop_id: int | None = None,
    sku: str | None = None,
    batch: int = 500,
) -> Iterator[dict[str, Any]]:
    """Stock rows (variant, sku, ..., available) with what each shop selling the variant is
    offered (summed over that shop's warehouses), read a batch at a time so an export stays in
    constant memory; `shop_id` keeps that shop's offer only, `sku` that SKU's rows only."""
    if sku is not None and not variants_with_sku(session, sku):
        raise StockError(f"unknown SKU {sku!r}")
    shops = dict(
        session.execute(
            select(Shop.id, Shop.name).where(Shop.status != "removed").order_by(Shop.name)
        ).all()
    )
    if shop_id is not None:
        shops = {shop_id: shops[shop_id]} if shop_id in shops else {}
    chunk: list[dict[str, Any]] = []

    def flush() -> Iterator[dict[str, Any]]:
        variant_ids = sorted({row["variant"] for row in chunk})
        offers = {sid: offered(session, sid, variant_ids) for sid in shops}
        for row in chunk:
            yield {
                **row,
                "offered": {
                    shops[sid]: offer[row["variant"]]
                    for sid, offer in offers.items()
                    if row["variant"] in offer
                },
            }
        chunk.clear()

    for row in rows:
        if sku is not None and row["sku"] != sku:
            continue
        chunk.append(row)
        if len(chunk) >= batch:
            yield from flush()
    if chunk:
        yield from flush()


def set_shop_warehouse(session: Session, shop_id: int, name: str) -> WarehouseRow:
    """The warehouse a shop's orders reserve in (and, without --stock-from, it sells from)."""
    place = warehouse_by_name(session, name)
    session.execute(update(Shop).where(Shop.id == shop_id).values(warehouse_id=place.id))
    queue_shop_listings(session, shop_id)
    return place


def offer_summary(session: Session, shop_id: int) -> dict[str, Any]:
    """A shop's stock settings by name, as `shop settings` shows them."""
    settings = _offer(session, shop_id)
    names = dict(session.execute(select(Warehouse.id, Warehouse.name)).all())
    own = session.execute(select(Shop.warehouse_id).where(Shop.id == shop_id)).scalar_one()
    return {
        "warehouse": names.get(own) if own is not None else None,
        "stock_from": [names[w] for w in source_warehouses(session, shop_id) if w in names],
        "buffer": settings.buffer,
        "offer_percent": settings.offer_percent,
        "max_offer": settings.max_offer,
        "push_stock": settings.push_stock,
    }
