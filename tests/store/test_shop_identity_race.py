"""Two shops connected to one Etsy shop at the same moment (issue 13): the second is refused.

Each `save_connection` checks that no other live shop holds the channel's shop id, then stores
it. On PostgreSQL two processes could both pass the check before either committed; the first
connection here is held inside its transaction, after the check, while the second runs.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from cryptography.fernet import Fernet

from shopbridge.security import Vault
from shopbridge.store.db import Database
from shopbridge.store.shops import DuplicateShopError, ShopRepository

ETSY_SHOP = "77001"


class HeldVault(Vault):
    """Encrypts normally, but the first grant waits inside its transaction until released."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.inside = threading.Event()
        self.release = threading.Event()
        self.held = False

    def encrypt_json(self, value: Any) -> str:
        if isinstance(value, dict) and value.get("access_token") == "first" and not self.held:
            self.held = True
            self.inside.set()
            assert self.release.wait(30)
        return super().encrypt_json(value)


def test_two_simultaneous_connections_of_one_etsy_shop_store_one(database: Database) -> None:
    vault = HeldVault(Fernet.generate_key().decode())
    shops = ShopRepository(database, vault)
    first = shops.add("crafts", "etsy", "https://openapi.etsy.com/v3", {"keystring": "k"})
    second = shops.add("crafts again", "etsy", "https://openapi.etsy.com/v3", {"keystring": "k"})
    outcome: dict[str, Any] = {}

    def connect_first() -> None:
        outcome["first"] = shops.save_connection(first.id, {"access_token": "first"}, "9",
                                                 ETSY_SHOP)

    def connect_second() -> None:
        try:
            outcome["second"] = shops.save_connection(
                second.id, {"access_token": "second"}, "9", ETSY_SHOP)
        except Exception as exc:  # the test looks at what it was
            outcome["second"] = exc

    one = threading.Thread(target=connect_first)
    one.start()
    assert vault.inside.wait(30), "the first connection never reached its grant"
    two = threading.Thread(target=connect_second)
    two.start()
    two.join(1.5)  # it must wait for the first (PostgreSQL: row locks; SQLite: the write lock)
    vault.release.set()
    one.join(30)
    two.join(30)
    assert outcome["first"].external_shop_id == ETSY_SHOP
    refused = outcome["second"]
    if not isinstance(refused, DuplicateShopError):
        pytest.fail(f"the second connection was not refused: {refused!r}")
    assert "is already registered as 'crafts'" in str(refused)
    live = [s for s in shops.list() if s.external_shop_id == ETSY_SHOP]
    assert [s.name for s in live] == ["crafts"]
