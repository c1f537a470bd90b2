"""Job leases exclude on SQLite and PostgreSQL alike: one holder until it releases or expires."""

from __future__ import annotations

import time
from datetime import timedelta

from shopbridge.store import alerts, leases
from shopbridge.store.db import Database


def test_a_held_lease_is_refused_to_another_holder(database: Database) -> None:
    ttl = timedelta(seconds=60)
    assert leases.acquire(database, "job:1:orders", "a", ttl)
    assert not leases.acquire(database, "job:1:orders", "b", ttl)
    assert leases.acquire(database, "job:1:orders", "a", ttl)  # renewal by its holder
    assert leases.holder_of(database, "job:1:orders") == "a"
    assert not leases.release(database, "job:1:orders", "b")
    assert leases.release(database, "job:1:orders", "a")
    assert leases.acquire(database, "job:1:orders", "b", ttl)


def test_an_expired_lease_can_be_taken(database: Database) -> None:
    assert leases.acquire(database, "job:2:orders", "dead", timedelta(milliseconds=50))
    time.sleep(0.1)
    assert leases.acquire(database, "job:2:orders", "alive", timedelta(seconds=60))
    assert leases.holder_of(database, "job:2:orders") == "alive"


def test_an_alert_opens_once_and_again_after_it_clears(database: Database) -> None:
    assert alerts.raise_alert(database, "failing:1:orders", "failing", "s", "b")
    assert not alerts.raise_alert(database, "failing:1:orders", "failing", "s", "b")
    assert alerts.clear(database, "failing:1:orders")
    assert not alerts.clear(database, "failing:1:orders")
    assert alerts.raise_alert(database, "failing:1:orders", "failing", "s2", "b2")
    assert [a.subject for a in alerts.unsent(database)] == ["s2"]
