"""`shopbridge warehouse`: the places stock is kept."""

from __future__ import annotations

import typer

from shopbridge.cli.context import app_context
from shopbridge.cli.output import console, emit, emit_object
from shopbridge.store import stock

app = typer.Typer(help="Warehouses: where stock is kept (add, list).", no_args_is_help=True)

JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")


@app.command("add")
def add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="A name, unique."),
    default: bool = typer.Option(
        False, "--default", help="Shops without a warehouse of their own reserve and sell here."
    ),
    as_json: bool = JSON,
) -> None:
    """Add a warehouse (--default: the one a shop without its own uses)."""
    with app_context(ctx).database().write() as session:
        row = stock.add_warehouse(session, name, default)
    if as_json:
        emit_object({"id": row.id, "name": row.name, "default": row.is_default}, "Warehouse", True)
        return
    console.print(f"added warehouse [bold]{row.name}[/bold]" + (" (default)" if default else ""))


@app.command("list")
def list_warehouses(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Every warehouse, the default one marked."""
    with app_context(ctx).database().read() as session:
        rows = stock.list_warehouses(session)
    emit(
        [{"id": w.id, "name": w.name, "default": w.is_default} for w in rows],
        "Warehouses",
        as_json,
    )
