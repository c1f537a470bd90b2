"""Per-shop write policies for the engines, read from the shop's row and settings."""

from __future__ import annotations

from shopbridge.domain.records import OrderFilter
from shopbridge.store.catalog import CatalogTarget
from shopbridge.store.db import Database
from shopbridge.store.models import Shop
from shopbridge.store.orders import OrderTarget
from shopbridge.store.shops import ImportSettings
from shopbridge.store.stock import shop_warehouse_ids


def catalog_target(database: Database, shop_id: int) -> CatalogTarget:
    with database.read() as session:
        shop = session.get_one(Shop, shop_id)
        settings = ImportSettings.from_settings(shop.settings)
        # The warehouse its orders reserve in too: its own, else the default warehouse.
        warehouse = shop_warehouse_ids(session, [shop.id]).get(shop.id)
        return CatalogTarget(shop.id, warehouse, seed_stock=settings.seed_stock_on_import)


def order_target(
    database: Database, shop_id: int, import_filter: OrderFilter | None = None
) -> OrderTarget:
    """The shop's order policy; `import_filter` overrides its stored filter for one run."""
    with database.read() as session:
        shop = session.get_one(Shop, shop_id)
        settings = ImportSettings.from_settings(shop.settings)
        return OrderTarget(
            shop.id,
            shop.name,
            match_by_name_and_postcode=settings.match_customers_by_name_and_postcode,
            import_filter=import_filter or settings.import_orders,
        )
