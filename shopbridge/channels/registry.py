"""Channel name -> adapter factory: a new platform is a new package plus one line here."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shopbridge.channels.base import ChannelAdapter, ChannelWriter
from shopbridge.channels.etsy import mapping as etsy_mapping
from shopbridge.channels.etsy.adapter import EtsyAdapter
from shopbridge.channels.woocommerce import mapping as woo_mapping
from shopbridge.channels.woocommerce.adapter import WooAdapter
from shopbridge.domain.money import Money
from shopbridge.errors import ConfigError

ADAPTERS: dict[str, Callable[[Any, int], ChannelAdapter]] = {
    "etsy": EtsyAdapter,
    "woocommerce": WooAdapter,
}


# Channels that take stock and shipments back (the push engine's side of the same adapters).
WRITERS: dict[str, Callable[[Any, int], ChannelWriter]] = {
    "etsy": EtsyAdapter,
    "woocommerce": WooAdapter,
}


def writer_for(channel: str, client: Any, external_shop_id: int) -> ChannelWriter:
    try:
        factory = WRITERS[channel]
    except KeyError:
        raise ConfigError(f"channel {channel!r} takes no stock or shipments yet") from None
    return factory(client, external_shop_id)


@dataclass(frozen=True, slots=True)
class ShippingRules:
    """A channel's rules for shipments, pure: the carrier name to send for a name, code or
    alias (`other_carrier` when it knows none), and whether an order needs a tracking code."""

    other_carrier: str
    carrier_for: Callable[[str, Iterable[str]], str]
    tracking_required: Callable[[str | None, str | None, Money | None], bool]


SHIPPING: dict[str, ShippingRules] = {
    "etsy": ShippingRules(
        etsy_mapping.OTHER_CARRIER, etsy_mapping.carrier_for, etsy_mapping.tracking_required
    ),
    "woocommerce": ShippingRules(
        woo_mapping.OTHER_CARRIER, woo_mapping.carrier_for, woo_mapping.tracking_required
    ),
}


def shipping_rules(channel: str) -> ShippingRules:
    try:
        return SHIPPING[channel]
    except KeyError:
        raise ConfigError(f"channel {channel!r} takes no shipments yet") from None


def adapter_for(channel: str, client: Any, external_shop_id: int) -> ChannelAdapter:
    try:
        factory = ADAPTERS[channel]
    except KeyError:
        raise ConfigError(f"no adapter for channel {channel!r}") from None
    return factory(client, external_shop_id)


def earliest_for(channel: str) -> datetime:
    """The oldest date the channel accepts in an order query (history imports start there)."""
    factory = ADAPTERS.get(channel)
    earliest = getattr(factory, "earliest", None)
    return earliest if isinstance(earliest, datetime) else datetime(1970, 1, 1, tzinfo=UTC)
