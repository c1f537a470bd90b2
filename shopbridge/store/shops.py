"""Shops: registration, status, encrypted credentials, pending authorisations, token rotation.

Credentials (keystring, shared secret, tokens) are one Fernet-encrypted JSON document. Token
rotation happens under the shop's lock: `SELECT ... FOR UPDATE` on PostgreSQL, the BEGIN IMMEDIATE
write transaction on SQLite. The rotation callback sees the credentials as they are under the lock
(another process may have just refreshed them) and its result is committed before anyone uses it.
"""

from __future__ import annotations

import hashlib
import shlex
import unicodedata
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shopbridge.domain.records import OrderFilter
from shopbridge.domain.timeutil import utcnow
from shopbridge.errors import ShopbridgeError
from shopbridge.security import Vault
from shopbridge.store.db import Database
from shopbridge.store.dialect import insert_for
from shopbridge.store.models import Base, Shop, Warehouse

STATUSES = ("pending", "connected", "disabled", "reauth_required")
REMOVED = "removed"
PENDING_KEY = "oauth_pending"

Credentials = dict[str, Any]
Rotation = Callable[[Credentials], Credentials | None]


NAME_MAX = 64
CHANNEL_NAMES = {"etsy": "Etsy", "woocommerce": "WooCommerce"}
NAME_PUNCTUATION = frozenset(" -_.")


class ShopNotFoundError(ShopbridgeError):
    pass


class ShopNameError(ShopbridgeError):
    """A shop name outside what a name may be (see `check_shop_name`)."""


class DuplicateShopError(ShopbridgeError):
    """The channel's shop is already registered under another name."""


def check_shop_name(name: str) -> str:
    """A shop name: 1-64 letters, digits, spaces and `-_.`, starting with a letter or a digit,
    ending without a space. Names are unique ignoring case. Anything else is refused here, so a
    name is safe to print in a terminal, to pass as an argument and to put in a path or URL."""
    shown = name[:80] + ("..." if len(name) > 80 else "")  # shown with repr(): escapes visible
    if not name:
        raise ShopNameError("a shop name cannot be empty")
    if len(name) > NAME_MAX:
        raise ShopNameError(f"a shop name has at most {NAME_MAX} characters ({len(name)} given)")
    bad = sorted({c for c in name if not (c.isalnum() or c in NAME_PUNCTUATION)})
    if bad:
        listed = ", ".join(repr(c) for c in bad[:5])
        raise ShopNameError(
            f"shop name {shown!r} has characters a name may not have ({listed}): use letters, "
            "digits, spaces and - _ ."
        )
    if not name[0].isalnum():
        raise ShopNameError(f"shop name {shown!r} must start with a letter or a digit")
    if name[-1] == " ":
        raise ShopNameError(f"shop name {shown!r} must not end with a space")
    return name


def name_key(name: str) -> str:
    """The form names are compared in: `MY SHOP` and `my shop` are the same name."""
    return unicodedata.normalize("NFKC", name).casefold()


@dataclass(frozen=True)
class ShopRecord:
    """A shop as the rest of shopbridge sees it: no secret in here."""

    id: int
    name: str
    channel: str
    status: str
    status_reason: str | None
    api_url: str
    api_key_id: str | None
    external_shop_id: str | None
    external_user_id: str | None
    warehouse: str | None
    connected: bool
    created_at: datetime
    updated_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ImportSettings:
    """How a shop's records enter the ledger (kept in the shop's settings)."""

    seed_stock_on_import: bool = True  # a new variant's first stock comes from the channel
    match_customers_by_name_and_postcode: bool = False  # after buyer id and email
    import_orders: OrderFilter = OrderFilter.ALL

    @classmethod
    def from_settings(cls, settings: dict[str, Any] | None) -> ImportSettings:
        """The stored values over the defaults above (other settings keys are not these)."""
        names = {f.name for f in fields(cls)}
        stored = cls(**{k: v for k, v in (settings or {}).items() if k in names})
        return replace(stored, import_orders=OrderFilter(stored.import_orders))

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def api_key_id(keystring: str) -> str:
    """A stable, non-secret id of an API key: the limiter's and the budget's key."""
    return hashlib.sha256(keystring.encode()).hexdigest()[:16]


def state_digest(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


class ShopRepository:
    def __init__(self, database: Database, vault: Vault) -> None:
        self.database = database
        self.vault = vault

    # --- reading ---------------------------------------------------------------------------

    def get(self, name: str) -> ShopRecord:
        with self.database.read() as session:
            return self._record(session, self._row(session, name))

    def get_by_id(self, shop_id: int) -> ShopRecord:
        with self.database.read() as session:
            row = session.get(Shop, shop_id)
            if row is None or row.status == REMOVED:
                raise ShopNotFoundError(f"no shop with id {shop_id}")
            return self._record(session, row)

    def list(self) -> list[ShopRecord]:
        with self.database.read() as session:
            rows = session.scalars(select(Shop).where(Shop.status != REMOVED).order_by(Shop.name))
            return [self._record(session, row) for row in rows]

    def check_new_name(self, name: str) -> None:
        """Refuse a name that is not a valid shop name or that a shop already has (any case)."""
        check_shop_name(name)
        with self.database.read() as session:
            self._check_name_free(session, name)

    def import_settings(self, name: str) -> ImportSettings:
        with self.database.read() as session:
            return ImportSettings.from_settings(self._row(session, name).settings)

    def credentials(self, shop_id: int) -> Credentials:
        with self.database.read() as session:
            row = session.get(Shop, shop_id)
            return self._decrypt(row)

    # --- writing ---------------------------------------------------------------------------

    def add(
        self,
        name: str,
        channel: str,
        api_url: str,
        credentials: Credentials,
        warehouse: str | None = None,
    ) -> ShopRecord:
        check_shop_name(name)
        try:
            with self.database.write() as session:
                self._check_name_free(session, name)
                row = Shop(
                    name=name,
                    channel=channel,
                    status="pending",
                    api_url=api_url.rstrip("/"),
                    api_key_id=api_key_id(
                        str(credentials.get("keystring") or credentials.get("consumer_key", ""))
                    ),
                    warehouse_id=_warehouse_id(session, warehouse) if warehouse else None,
                    settings={},
                    credentials=self.vault.encrypt_json(credentials),
                )
                session.add(row)
                session.flush()
                return self._record(session, row)
        except IntegrityError:
            raise ShopbridgeError(
                f"a shop named {name!r} already exists: pick another name, or see "
                f"`shopbridge shop show {name}`"
            ) from None

    def set_status(self, name: str, status: str, reason: str | None = None) -> ShopRecord:
        if status not in STATUSES:
            raise ValueError(f"unknown shop status {status!r}")
        with self.database.write() as session:
            row = self._row(session, name)
            row.status = status
            row.status_reason = reason
            session.flush()
            return self._record(session, row)

    def change_import_settings(self, name: str, **changes: Any) -> ImportSettings:
        """Change some import settings (None leaves one as it is); the settings now."""
        with self.database.write() as session:
            row = self._row(session, name)
            current = ImportSettings.from_settings(row.settings)
            wanted = replace(current, **{k: v for k, v in changes.items() if v is not None})
            row.settings = {**(row.settings or {}), **wanted.as_dict()}
            return wanted

    def mark_reauth_required(self, shop_id: int, reason: str) -> None:
        with self.database.write() as session:
            session.execute(
                update(Shop)
                .where(Shop.id == shop_id)
                .values(status="reauth_required", status_reason=reason, updated_at=utcnow())
            )

    def replace_credentials(
        self, name: str, keystring: str | None, shared_secret: str
    ) -> ShopRecord:
        """New app keys for a shop, in place: its records, bindings and cursors stay its own.

        A new shared secret for the same keystring keeps the grant (tokens belong to the app's
        keystring). A new keystring is another app: its tokens cannot be refreshed with it, so
        they are dropped and the shop waits for `shop connect` (which must bring back the same
        channel shop)."""
        with self.database.write() as session:
            row = self._row(session, name)
            current = self._decrypt(row) if row.credentials else {}
            fresh = dict(current)
            fresh["shared_secret"] = shared_secret
            if keystring is not None and keystring != current.get("keystring"):
                fresh = {"keystring": keystring, "shared_secret": shared_secret}
                row.api_key_id = api_key_id(keystring)
                if row.status != "disabled":
                    row.status = "pending"
                    row.status_reason = "new app keys: connect the shop again"
            row.credentials = self.vault.encrypt_json(fresh)
            session.flush()
            return self._record(session, row)

    def remove(self, name: str) -> None:
        """Forget the shop's secrets and free its name; the ledger keeps its records.

        The row stays (status `removed`, renamed `NAME~removed-ID`) with its channel shop id, so
        that registering the same channel shop again takes back its records, bindings and
        cursors instead of importing everything a second time (see `save_connection`)."""
        with self.database.write() as session:
            row = self._row(session, name)
            row.status = REMOVED
            row.status_reason = f"removed {utcnow().isoformat(timespec='seconds')}"
            row.credentials = None
            row.settings = {}
            row.name = f"{row.name}~removed-{row.id}"

    def save_pending(self, shop_id: int, state: str, pending: dict[str, Any]) -> None:
        """Remember one pending authorisation (replacing any earlier one), encrypted."""
        with self.database.write() as session:
            row = session.get(Shop, shop_id)
            assert row is not None
            sealed = {"state": state_digest(state), "sealed": self.vault.encrypt_json(pending)}
            row.settings = {**(row.settings or {}), PENDING_KEY: sealed}

    def take_pending(self, shop_id: int) -> dict[str, Any] | None:
        """Consume the pending authorisation: it can be used once, whatever the outcome."""
        with self.database.write() as session:
            row = session.execute(
                select(Shop).where(Shop.id == shop_id).with_for_update()
            ).scalar_one()
            settings = dict(row.settings or {})
            sealed = settings.pop(PENDING_KEY, None)
            if sealed is None:
                return None
            row.settings = settings
            return self.vault.decrypt_json(sealed["sealed"])

    def find_pending(self, state: str) -> int | None:
        """The shop waiting for this state (a web callback knows nothing else)."""
        digest = state_digest(state)
        with self.database.read() as session:
            for shop_id, settings in session.execute(
                select(Shop.id, Shop.settings).where(Shop.status != REMOVED)
            ):
                if (settings or {}).get(PENDING_KEY, {}).get("state") == digest:
                    return int(shop_id)
        return None

    def save_connection(
        self, shop_id: int, credentials: Credentials, user_id: str, external_shop_id: str
    ) -> ShopRecord:
        """Store a grant. The channel's shop id is the shop's identity: if another live shop
        already holds it, nothing is stored (DuplicateShopError names it); if a removed shop
        holds it, that shop comes back under this one's name with these credentials, and this
        just-registered row (which never synced) is folded into it."""
        with self.database.write() as session:
            row = session.execute(select(Shop).where(Shop.id == shop_id)).scalar_one()
            # Two connections of one channel shop under two names at once (PostgreSQL, many
            # processes) would each see no other holder: every shop row of the channel is
            # locked first, so the second waits and its next statement sees the first's grant.
            session.execute(
                select(Shop.id).where(Shop.channel == row.channel).order_by(Shop.id)
                .with_for_update()
            ).all()
            others = session.scalars(
                select(Shop)
                .where(
                    Shop.channel == row.channel,
                    Shop.external_shop_id == external_shop_id,
                    Shop.id != row.id,
                )
                .order_by(Shop.updated_at.desc(), Shop.id.desc())
            ).all()
            live = [other for other in others if other.status != REMOVED]
            if live:
                raise DuplicateShopError(
                    f"{CHANNEL_NAMES.get(row.channel, row.channel)} shop {external_shop_id} "
                    "is already registered as "
                    f"{live[0].name!r}; nothing was stored for {row.name!r}. Use "
                    f"{live[0].name!r} (new keys: `shopbridge shop credentials "
                    f"{shlex.quote(live[0].name)}`) and `shopbridge shop remove "
                    f"{shlex.quote(row.name)}`"
                )
            if others:
                row = _revive(session, others[0], row)
            row.credentials = self.vault.encrypt_json(credentials)
            row.external_user_id = user_id
            row.external_shop_id = external_shop_id
            row.status = "connected"
            row.status_reason = None
            session.flush()
            return self._record(session, row)

    def rotate_credentials(self, shop_id: int, rotate: Rotation) -> Credentials:
        """Run `rotate` on the credentials under the shop's lock; commit what it returns.

        `rotate` returns None when nothing needs doing. It must be pure and quick: it runs
        inside a write transaction (on SQLite one that locks the whole database), so it never
        does I/O. A token refresh calls Etsy outside any transaction, under the shop's token
        lease (`sync.connection.ShopTokens`), and commits the answer through this.
        """
        with self.database.write() as session:
            row = session.execute(
                select(Shop).where(Shop.id == shop_id).with_for_update()
            ).scalar_one()
            current = self._decrypt(row)
            fresh = rotate(current)
            if fresh is None:
                return current
            row.credentials = self.vault.encrypt_json(fresh)
            return fresh

    # --- helpers ---------------------------------------------------------------------------

    def _check_name_free(self, session: Session, name: str, exclude: int | None = None) -> None:
        key = name_key(name)
        for other_id, other in session.execute(
            select(Shop.id, Shop.name).where(Shop.status != REMOVED)
        ):
            if other_id != exclude and name_key(other) == key:
                raise ShopbridgeError(
                    f"a shop named {other!r} already exists (names are compared ignoring "
                    f"case): pick another name, or see `shopbridge shop show {other}`"
                )

    def _row(self, session: Session, name: str) -> Shop:
        row = session.scalars(select(Shop).where(Shop.name == name)).one_or_none()
        if row is None or row.status == REMOVED:
            raise ShopNotFoundError(f"no shop named {name!r}: see `shopbridge shop list`")
        return row

    def _decrypt(self, row: Shop | None) -> Credentials:
        if row is None or not row.credentials:
            raise ShopNotFoundError("the shop has no stored credentials")
        return self.vault.decrypt_json(row.credentials)

    def _record(self, session: Session, row: Shop) -> ShopRecord:
        warehouse = session.get(Warehouse, row.warehouse_id) if row.warehouse_id else None
        connected = bool(row.credentials) and row.external_shop_id is not None
        return ShopRecord(
            id=row.id,
            name=row.name,
            channel=row.channel,
            status=row.status,
            status_reason=row.status_reason,
            api_url=row.api_url,
            api_key_id=row.api_key_id,
            external_shop_id=row.external_shop_id,
            external_user_id=row.external_user_id,
            warehouse=warehouse.name if warehouse else None,
            connected=connected,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


def _revive(session: Session, old: Shop, new: Shop) -> Shop:
    """`old` (removed) takes `new`'s name, API URL, keys and settings; `new` is deleted.

    `new` was registered but never connected, so it owns nothing but perhaps a few request-log
    rows (the connect's own calls) or schedule rows: rows keyed by the shop alone are dropped,
    the others (request log, runs) move to `old`, whose history stays whole."""
    tables = [
        (table, column)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if any(fk.column.table.name == Shop.__tablename__ for fk in column.foreign_keys)
    ]
    for table, column in tables:
        if column.primary_key:
            session.execute(delete(table).where(column == new.id))
        else:
            session.execute(update(table).where(column == new.id).values({column.name: old.id}))
    name, settings = new.name, dict(new.settings or {})
    settings.pop(PENDING_KEY, None)
    old.api_url, old.api_key_id = new.api_url, new.api_key_id
    old.warehouse_id = new.warehouse_id or old.warehouse_id
    old.settings = {**(old.settings or {}), **settings}
    session.delete(new)
    session.flush()  # the name is free now
    old.name = name
    return old


def _warehouse_id(session: Session, name: str) -> int:
    session.execute(insert_for(session, Warehouse).values(name=name).on_conflict_do_nothing())
    return session.execute(select(Warehouse.id).where(Warehouse.name == name)).scalar_one()
