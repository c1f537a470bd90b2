"""Rendering for the CLI: Rich tables for people, JSON for scripts."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Sequence
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


def emit_rows(rows: Iterable[dict[str, Any]], title: str, fmt: str) -> int:
    """Rows in a format: "table" (built whole: bounded by --limit), or streamed as it reads them:
    "json" (one array), "jsonl" (an object a line), "csv" (a header from the first row). Returns
    how many rows went out."""
    if fmt == "table":
        listed = list(rows)
        # A column empty in every row (void_reason, on a page with no void order) says nothing.
        if listed:
            empty = [key for key in listed[0] if all(row.get(key) is None for row in listed)]
            listed = [{k: v for k, v in row.items() if k not in empty} for row in listed]
        emit(listed, title, False)
        return len(listed)
    out = sys.stdout
    count = 0
    if fmt == "json":
        out.write("[")
        for row in rows:
            out.write(("," if count else "") + "\n" + json.dumps(row, default=str))
            count += 1
        out.write("\n]\n" if count else "]\n")
    elif fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(row, default=str) + "\n")
            count += 1
    elif fmt == "csv":
        writer: csv.DictWriter[str] | None = None
        for row in rows:
            if writer is None:
                writer = csv.DictWriter(out, fieldnames=list(row), lineterminator="\n")
                writer.writeheader()
            writer.writerow(row)
            count += 1
    else:
        raise ValueError(f"unknown format {fmt!r}")
    out.flush()
    return count
