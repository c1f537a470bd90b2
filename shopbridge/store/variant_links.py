"""Checks before a person links or confirms a channel variant: the ids must name what they say.

`catalog.link_variant` and `catalog.confirm_variant` trust their arguments; an id typed by a
person is looked up here first, so a wrong one is an error message, not a changed ledger.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from shopbridge.errors import ShopbridgeError
from shopbridge.store.catalog import VARIANT
from shopbridge.store.models import Binding, Variant


def channel_variant(session: Session, binding_id: int) -> Binding:
    """The binding of a channel variant (an id `items unmatched` shows)."""
    binding = session.get(Binding, binding_id)
    if binding is None or binding.entity != VARIANT or binding.local_id is None:
        raise ShopbridgeError(
            f"{binding_id} is not a channel variant: use an id from `shopbridge items unmatched`"
        )
    return binding


def ledger_variant(session: Session, variant_id: int) -> Variant:
    variant = session.get(Variant, variant_id)
    if variant is None:
        raise ShopbridgeError(f"there is no ledger variant {variant_id}")
    return variant
