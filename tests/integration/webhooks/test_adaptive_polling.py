"""Adaptive polling (issue 17 point 3), on SQLite and PostgreSQL: the orders interval slows while
a shop's webhooks are healthy and returns to its pace as soon as a poll finds an order the
webhooks missed; the hour of day shapes it; a dropped webhook costs freshness, never an order."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from hooks_harness import SECRET, Hooks
from sqlalchemy import select

from shopbridge.jobs import adaptive, planner, tasks
from shopbridge.jobs.alerts import Mailer
from shopbridge.store import activity, schedules
from shopbridge.store.models import SalesOrder


@pytest.fixture(autouse=True)
def fresh_profiles() -> None:
    adaptive.clear_cache()


def now_of(hooks: Hooks) -> datetime:
    return datetime.fromtimestamp(hooks.harness.world.now(), UTC)


def orders_interval(hooks: Hooks) -> float:
    intervals = planner.effective_intervals(hooks.database, hooks.settings, now_of(hooks))
    return intervals[(hooks.shop_id, "orders")]


def runtime(hooks: Hooks) -> tasks.JobRuntime:
    return tasks.JobRuntime(hooks.settings, hooks.database, hooks.harness.service,
                            Mailer(hooks.settings), clock=lambda: now_of(hooks))


async def test_polls_slow_while_webhooks_are_healthy_and_a_lost_one_costs_no_order(
    hooks: Hooks,
) -> None:
    world, shop = hooks.harness.world, hooks.etsy_shop_id
    rt = runtime(hooks)
    planner.due_jobs(hooks.database, hooks.settings, now_of(hooks))  # the schedule's rows
    await tasks.run_job(rt, hooks.shop_id, "crafts", "orders", "schedule")  # the first import
    normal = orders_interval(hooks)
    assert normal == hooks.settings.schedule_orders_minutes * 60

    # Webhooks arrive and deliver the orders; three polls in a row find nothing new: healthy.
    sender = world.webhooks
    sender.transport = httpx.ASGITransport(app=hooks.app)
    sender.configure("http://hub/hooks/etsy/crafts", SECRET, shop)
    first = world.create_receipts(shop, 1)[0]
    assert await sender.pump() == 1
    await tasks.run_job(rt, hooks.shop_id, "crafts", "webhooks", "webhook")
    assert hooks.order(first.receipt_id) is not None
    for polls in range(1, adaptive.HEALTHY_IDLE_POLLS + 1):
        assert orders_interval(hooks) == normal  # not yet
        world.advance(1)
        summary = await tasks.run_job(rt, hooks.shop_id, "crafts", "orders", "schedule")
        assert summary is not None and summary.counts.created == 0, polls
    slow = orders_interval(hooks)
    assert slow == normal * adaptive.HEALTHY_STRETCH

    # A webhook is lost: the order is not in the ledger until the (slower) poll comes.
    sender.set_faults(drop=1.0)
    lost = world.create_receipts(shop, 1)[0]
    assert await sender.pump() == 0
    assert await tasks.run_job(rt, hooks.shop_id, "crafts", "webhooks", "webhook") is None
    assert hooks.order(lost.receipt_id) is None
    world.advance(slow)
    summary = await tasks.run_job(rt, hooks.shop_id, "crafts", "orders", "schedule")
    assert summary is not None and summary.counts.created >= 1
    assert hooks.order(lost.receipt_id) is not None
    # That poll found what the webhooks missed: back to the normal pace at once.
    assert orders_interval(hooks) == normal

    # Healthy again only after polls find nothing new and a delivery came recently; webhooks
    # that stopped long ago do not count.
    for _ in range(adaptive.HEALTHY_IDLE_POLLS):
        world.advance(1)
        await tasks.run_job(rt, hooks.shop_id, "crafts", "orders", "schedule")
    assert orders_interval(hooks) == slow
    world.advance(adaptive.HEALTHY_FOR.total_seconds() + 1)
    assert orders_interval(hooks) == normal


async def test_the_hour_of_day_shapes_the_interval(hooks: Hooks) -> None:
    await hooks.harness.service.orders("crafts")
    with hooks.database.read() as session:
        placed = session.scalars(select(SalesOrder.ordered_at)).all()
    since = datetime(2000, 1, 1, tzinfo=UTC)
    profile = activity.orders_by_hour(hooks.database, since)[hooks.shop_id]
    assert profile == [Counter(at.astimezone(UTC).hour for at in placed)[h] for h in range(24)]

    busy = [0] * 24
    busy[14] = 200
    busy[13] = busy[15] = 50
    assert adaptive.hour_factor(busy, 14) == adaptive.FACTOR_RANGE[1]
    assert adaptive.hour_factor(busy, 2) == adaptive.FACTOR_RANGE[0]
    assert adaptive.hour_factor([1] * 24, 5) == 1.0  # too few orders: no shaping
    flat = [10] * 24
    assert adaptive.hour_factor(flat, 7) == pytest.approx(1.0)

    # The shop is polled faster than its plan in its busy hour and slower at night, never
    # faster than its base.
    shape_busy = adaptive.ShopActivity(hour_factor=4.0)
    shape_quiet = adaptive.ShopActivity(hour_factor=0.25)
    assert shape_busy.at_this_hour(1200, 300, 6 * 3600) == 300
    assert shape_busy.at_this_hour(2400, 300, 6 * 3600) == 600
    assert shape_quiet.at_this_hour(2400, 300, 6 * 3600) == 9600
    assert shape_quiet.at_this_hour(8 * 3600, 300, 6 * 3600) == 8 * 3600  # the plan's own cap
    # And through the planner: a profile peaking at this hour vs twelve hours away.
    now = now_of(hooks)

    def shaped(peak: int) -> float:
        adaptive.clear_cache()
        counts = [2] * 24
        counts[peak] = 400
        adaptive._cache[id(hooks.database)] = (now, {hooks.shop_id: counts})
        settings = hooks.settings.model_copy(update={"api_daily_limit": 400})
        return planner.effective_intervals(hooks.database, settings, now)[
            (hooks.shop_id, "orders")]

    at_peak, off_peak = shaped(now.hour), shaped((now.hour + 12) % 24)
    assert at_peak < off_peak
    assert at_peak >= hooks.settings.schedule_orders_minutes * 60


async def test_webhook_fetches_are_paced_within_the_shops_budget_share(hooks: Hooks) -> None:
    adaptive.pacer.clear()
    now = now_of(hooks)
    job = planner.Job(hooks.shop_id, "crafts", planner.HOOKS, 0.0, now)
    # A 100-call key: half of its 90-call budget for this shop's webhook runs, 30 banked.
    settings = hooks.settings.model_copy(update={"api_daily_limit": 100})
    schedules.ensure(hooks.database, hooks.shop_id, planner.HOOKS, now)
    taken = 0
    for i in range(40):
        moment = now + timedelta(seconds=2 * i)  # claims 2 s apart: each may claim
        taken += planner.claim(hooks.database, job, moment, settings)
    assert taken == 30  # the burst; the refill (45 a day) adds none in 80 s
    later = now + timedelta(seconds=80 + 86_400 / 45 + 1)
    assert planner.claim(hooks.database, job, later, settings)
    assert not planner.claim(hooks.database, job, later + timedelta(seconds=2), settings)
    adaptive.pacer.clear()
