"""The push engine finds a channel's writer in the registry; a channel without one says so."""

from __future__ import annotations

import pytest

from shopbridge.channels.etsy.adapter import EtsyAdapter
from shopbridge.channels.registry import writer_for
from shopbridge.errors import ConfigError


def test_etsy_has_a_writer_and_others_say_they_have_none() -> None:
    writer = writer_for("etsy", object(), 42)
    assert isinstance(writer, EtsyAdapter) and writer.shop_id == 42
    for method in ("listings_by_ids", "push_stock", "set_listing_active", "create_shipment",
                   "carriers"):
        assert callable(getattr(writer, method))
    with pytest.raises(ConfigError, match="takes no stock or shipments"):
        writer_for("amazon", object(), 1)


def test_woocommerce_has_a_writer_too() -> None:
    from shopbridge.channels.woocommerce.adapter import WooAdapter

    writer = writer_for("woocommerce", object(), 0)
    assert isinstance(writer, WooAdapter)
