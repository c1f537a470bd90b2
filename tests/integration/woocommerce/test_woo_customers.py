"""Customers from WooCommerce orders: a guest is matched by email across orders, a registered
customer by id; once linked, a later order with another name or address adds an address and
never overwrites the customer."""

from __future__ import annotations

from sqlalchemy import func, select
from woo_harness import SHOP, build, make_config

from shopbridge.store.db import Database
from shopbridge.store.models import Address, Customer, SalesOrder


async def test_guests_by_email_and_no_overwrite(database: Database) -> None:
    woo = await build(database, make_config(orders=0))
    world = woo.world
    first, second = world.create_orders(2, status="processing")
    with world.lock:
        for order in (first, second):
            order.customer_id = 0
            order.billing.update(email="Guest.Same@Example.org", first_name="Ann", last_name="Lee")
            order.shipping.update(first_name="Ann", last_name="Lee")
        second.shipping.update(address_1="Other Street 9", city="Wien", postcode="1010",
                               country="AT", first_name="Someone", last_name="Else")
        second.billing.update(first_name="Someone", last_name="Else")
    world.advance(30)
    assert (await woo.service.orders(SHOP)).status == "succeeded"
    with database.read() as session:
        ids = set(session.execute(select(SalesOrder.customer_id)).scalars())
        customer = session.execute(select(Customer)).scalar_one()
        addresses = session.execute(
            select(func.count()).select_from(Address).where(Address.customer_id == customer.id)
        ).scalar_one()
    assert len(ids) == 1  # one customer for both guest orders
    assert customer.email == "guest.same@example.org"
    assert customer.name == "Ann Lee"  # the later order's name did not overwrite it
    assert addresses == 2  # its new address was added
