"""Fixtures for the sync tests; the harness itself lives in sync_harness.py so that test modules
can import it by a unique name (every test directory has a conftest module of its own)."""

from sync_harness import harness

__all__ = ["harness"]
