"""Fixtures for the webhook tests: the sync harness (tests/integration/sync) plus a receiver."""

from hooks_harness import hooks

__all__ = ["hooks"]
