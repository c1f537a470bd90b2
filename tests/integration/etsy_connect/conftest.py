"""Fixtures for the connection tests; helpers live in connect_harness.py so that test modules
can import them by a unique name (every test directory has a conftest module of its own)."""

from connect_harness import connected, connections, sandbox_app, transport, vault, world

__all__ = ["connected", "connections", "sandbox_app", "transport", "vault", "world"]
