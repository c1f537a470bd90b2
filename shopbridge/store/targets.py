"""Per-shop write policies for the engines, read from the shop's row and settings."""

from __future__ import annotations

from shopbridge.store.catalog import CatalogTarget
from shopbridge.store.db import Database
from shopbridge.store.models import Shop
from shopbridge.store.orders import OrderTarget


def catalog_target(database: Database, shop_id: int) -> CatalogTarget:
    with database.read() as session:
        shop = session.get_one(Shop, shop_id)
        seed = bool((shop.settings or {}).get("seed_stock_on_import", True))
        return CatalogTarget(shop.id, shop.warehouse_id, seed_stock=seed)


def order_target(database: Database, shop_id: int) -> OrderTarget:
    with database.read() as session:
        shop = session.get_one(Shop, shop_id)
        by_name = bool((shop.settings or {}).get("match_customers_by_name_and_postcode", False))
        return OrderTarget(shop.id, shop.name, match_by_name_and_postcode=by_name)
