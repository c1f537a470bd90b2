"""Fixtures for the WooCommerce sync tests (the harness lives in woo_harness.py)."""

from woo_harness import woo

__all__ = ["woo"]
