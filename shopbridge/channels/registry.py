"""Channel name -> adapter factory: a new platform is a new package plus one line here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from shopbridge.channels.base import ChannelAdapter, ChannelWriter
from shopbridge.channels.etsy.adapter import EtsyAdapter
from shopbridge.channels.woocommerce.adapter import WooAdapter
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
