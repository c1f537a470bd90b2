"""Options the ledger views share: how many rows, in which format, narrowed by what."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

import typer

MAX_LIMIT = 10_000


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    JSONL = "jsonl"
    CSV = "csv"


LIMIT = typer.Option(
    50,
    "--limit",
    min=1,
    metavar="N",
    help=f"Rows to show (at most {MAX_LIMIT:,}; --all exports every row).",
)
ALL = typer.Option(
    False,
    "--all",
    help="Every row, streamed in constant memory: use with --format csv, jsonl or json.",
)
FORMAT = typer.Option(
    OutputFormat.TABLE,
    "--format",
    case_sensitive=False,
    help="table for people; json (one array), jsonl (one object a line) or csv for export.",
)
JSON = typer.Option(False, "--json", help="Print JSON instead of a table (--format json).")
SHOP = typer.Option(None, "--shop", metavar="NAME", help="Only this shop's rows.")
SEARCH = typer.Option(
    None, "--search", metavar="TEXT", help="Only rows containing TEXT (case-insensitive)."
)
SINCE = typer.Option(
    None,
    "--from",
    metavar="DATE",
    help="On or after DATE: YYYY-MM-DD or an ISO 8601 time (UTC unless it has an offset).",
)
UNTIL = typer.Option(
    None, "--to", metavar="DATE", help="Before DATE (exclusive), same formats as --from."
)


def parse_moment(value: str | None, option: str) -> datetime | None:
    """YYYY-MM-DD or ISO 8601 as tz-aware UTC (a time without an offset is UTC)."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date: use YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+HH:MM]",
            param_hint=option,
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def resolve_format(fmt: OutputFormat, as_json: bool, every: bool, limit: int) -> OutputFormat:
    """--json is --format json; --all refuses the table (a table is built whole in memory), and
    --limit stops at 10,000 (more is an export: --all)."""
    if limit > MAX_LIMIT and not every:
        raise typer.BadParameter(
            f"at most {MAX_LIMIT:,} rows at a time: export every row with --all --format "
            "csv, jsonl or json",
            param_hint="--limit",
        )
    if as_json:
        if fmt not in (OutputFormat.TABLE, OutputFormat.JSON):
            raise typer.BadParameter("--json and --format disagree", param_hint="--json")
        fmt = OutputFormat.JSON
    if every and fmt == OutputFormat.TABLE:
        raise typer.BadParameter(
            "--all streams every row: add --format csv, jsonl or json", param_hint="--all"
        )
    return fmt
