"""Rendering for the CLI: Rich tables for people, JSON for scripts."""

from __future__ import annotations

import csv
import json
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from rich import box
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
    # Light rules and narrow gaps, so at 80 columns the cells get the room. When the table is
    # too wide, short columns (ids, counts, statuses, times) keep their width and long cells
    # fold onto more lines of their column; when even that does not fit, each row is printed
    # as a block of "key: value" lines. Nothing is ever cut to an ellipsis. Times are UTC.
    # A column empty in every row (no errors, no void orders on this page) says nothing.
    shown = [key for key in rows[0] if any(row.get(key) is not None for row in rows)]
    rows = [{key: row.get(key) for key in shown} for row in rows]
    cells = [[_cell(value) for value in row.values()] for row in rows]
    headers = [column.replace("_", " ") for column in rows[0]]
    times = any(_is_time(value) for row in rows for value in row.values())
    widths = [max([len(h), *(len(line[i]) for line in cells)]) for i, h in enumerate(headers)]
    gaps = GAP * (len(headers) - 1)
    room = console.width
    short = [w for w in widths if w <= SHORT_COLUMN]
    long_count = len(widths) - len(short)
    if sum(widths) + gaps > room and sum(short) + gaps + long_count * LONG_MIN > room:
        _blocks(title, headers, cells, times)
        return
    squeeze = sum(widths) + gaps > room
    table = Table(
        title=title,
        caption="times in UTC" if times else None,
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=0,  # the box's column divider is the one space between columns
    )
    for header, widest in zip(headers, widths, strict=True):
        if not squeeze:
            table.add_column(header)
        elif widest <= SHORT_COLUMN:
            table.add_column(header, min_width=widest, max_width=widest)
        else:
            table.add_column(header, overflow="fold", min_width=LONG_MIN)
    for line in cells:
        table.add_row(*line)
    console.print(table)


def _blocks(title: str, headers: list[str], cells: list[list[str]], times: bool) -> None:
    console.print(f"[bold]{title}[/bold]" + (" (times in UTC)" if times else ""))
    label = max(len(h) for h in headers)
    for line in cells:
        console.print()
        for header, value in zip(headers, line, strict=True):
            console.print(f"  {header:<{label}}  {value}", highlight=False, markup=False)


GAP = 1
LONG_MIN = 12
SHORT_COLUMN = 19  # a time, 2026-12-03 13:44:09, stays on one line
_ISO_UTC = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.\d+)?\+00:00$")


def short_time(value: str | None) -> str | None:
    """An ISO UTC time as tables show it: 2026-12-03 13:49:37."""
    moment = _ISO_UTC.match(value) if value else None
    return f"{moment.group(1)} {moment.group(2)}" if moment else value


def _is_time(value: Any) -> bool:
    if isinstance(value, datetime):
        return True
    return isinstance(value, str) and _ISO_UTC.match(value) is not None


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        value = value.isoformat()
    if isinstance(value, str):
        moment = _ISO_UTC.match(value)
        if moment:
            return f"{moment.group(1)} {moment.group(2)}"
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return str(value)


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


RowReader = Callable[[Any, int | None], Iterable[dict[str, Any]]]  # (session, limit) -> rows


def export_view(
    database: Any,
    read: RowReader,
    title: str,
    fmt: str,
    limit: int | None,
    flat: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    flat_formats: frozenset[str] = frozenset({"table"}),
) -> int:
    """A ledger view or export: `read(session, limit)` runs inside one read transaction and its
    rows stream out in `fmt` (see emit_rows); `flat` reshapes each row for the formats in
    `flat_formats` (a table for people, a CSV's flat cells). Returns how many rows went out."""
    with database.read() as session:
        rows = read(session, limit)
        if flat is not None and fmt in flat_formats:
            rows = (flat(row) for row in rows)
        return emit_rows(rows, title, fmt)
