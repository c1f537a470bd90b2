"""Rendering for the CLI: Rich tables for people, JSON for scripts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()
err_console = Console(stderr=True)


def emit(rows: Sequence[dict[str, Any]], title: str, as_json: bool) -> None:
    """Print rows as a table, or as a JSON array when `as_json`."""
    if as_json:
        print(json.dumps(list(rows), default=str))
        return
    if not rows:
        console.print(f"[dim]no {title.lower()} yet[/dim]")
        return
    table = Table(title=title)
    for column in rows[0]:
        table.add_column(column.replace("_", " "))
    for row in rows:
        table.add_row(*("" if value is None else str(value) for value in row.values()))
    console.print(table)


def emit_object(value: dict[str, Any], title: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps(value, default=str))
        return
    table = Table(title=title, show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value")
    for key, item in value.items():
        table.add_row(key.replace("_", " "), "" if item is None else str(item))
    console.print(table)
