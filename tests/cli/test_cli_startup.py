"""The CLI starts fast (issue 18 point 4): a command's module is imported only when it runs,
`--version` and `--help` import none, and no view pays for Alembic, HTTP or the web stack.
Timings live in bench/bench_cli.py; these tests pin what makes them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from shopbridge.cli.app import COMMANDS, app, load_command

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("alembic", "sqlalchemy", "pydantic_settings", "httpx", "fastapi", "uvicorn",
         "procrastinate", "cryptography", "rich.markdown")


def imported_after(home: Path, *args: str) -> tuple[set[str], subprocess.CompletedProcess]:
    """The modules a `shopbridge ARGS` process had imported when it exited."""
    probe = (
        "import atexit, sys\n"
        "atexit.register(lambda: sys.stderr.write('MODULES ' + ' '.join(sys.modules) + '\\n'))\n"
        "from shopbridge.cli.app import main\n"
        f"main({list(args)!r})\n"
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SHOPBRIDGE_")}
    environment.update(SHOPBRIDGE_HOME=str(home), PYTHONPATH=str(ROOT), COLUMNS="100")
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=environment, check=False
    )
    line = next(line for line in result.stderr.splitlines() if line.startswith("MODULES "))
    return set(line.split()[1:]), result


def loaded(modules: set[str], prefix: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for name in modules)


@pytest.mark.parametrize("args", [("--version",), ("--help",), ()])
def test_version_and_help_import_no_command_and_no_heavy_library(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    modules, result = imported_after(tmp_path, *args)
    assert result.returncode == 0 or args == ()  # no arguments: the help, exit status 2
    commands = {name for name in modules if name.startswith("shopbridge.cli.")}
    assert commands <= {"shopbridge.cli.app", "shopbridge.cli.context"}
    assert [lib for lib in HEAVY if loaded(modules, lib)] == []


def test_a_ledger_view_imports_its_module_only_and_no_alembic(tmp_path: Path) -> None:
    modules, result = imported_after(tmp_path, "orders")
    assert result.returncode == 0, result.stderr
    assert "shopbridge.cli.ledger" in modules
    for other in ("shops", "sync", "demo", "sandbox", "serve", "worker", "runs", "schedule"):
        assert f"shopbridge.cli.{other}" not in modules
    for library in ("alembic", "httpx", "fastapi", "uvicorn", "procrastinate", "shopbridge.sync",
                    "shopbridge.channels", "shopbridge.sandbox", "rich.markdown"):
        assert not loaded(modules, library), library


def test_help_lists_every_command_with_its_own_help() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for name, spec in COMMANDS.items():
        command = load_command(name)
        # The listing's line is the command's own first help line, so the two never drift.
        assert (command.help or "").strip().splitlines()[0] == spec.help, name
        assert f"  {name}  " in result.output or f"  {name} " in result.output
        assert spec.help in " ".join(result.output.split())
    headings = [line for line in result.output.splitlines() if line and line[0] != " "]
    panels = list(dict.fromkeys(spec.panel for spec in COMMANDS.values()))
    assert [h.rstrip(":") for h in headings if h.rstrip(":") in panels] == panels
    assert "Examples:" in result.output


def test_sub_apps_stay_groups_even_with_one_subcommand() -> None:
    shop = load_command("shop")
    add = shop.commands["add"]
    assert isinstance(add, typer.core.TyperGroup)  # `shop add etsy`, not `shop add`
    assert list(add.commands) == ["etsy", "woocommerce"]
    items = load_command("items")
    assert isinstance(items, typer.core.TyperGroup) and items.invoke_without_command
    orders = load_command("orders")
    assert isinstance(orders, typer.core.TyperGroup) and list(orders.commands) == ["show"]
    stock = load_command("stock")  # the view, and moves/adjust/import under it (issue 14)
    assert isinstance(stock, typer.core.TyperGroup) and stock.invoke_without_command
    assert set(stock.commands) == {"moves", "adjust", "import", "push", "drift"}


def test_every_command_module_is_in_the_table() -> None:
    """A command module added under cli/ without a line in the table would be unreachable."""
    modules = {spec.module.rsplit(".", 1)[1] for spec in COMMANDS.values()}
    helpers = {"__init__", "app", "context", "options", "output"}
    on_disk = {path.stem for path in (ROOT / "shopbridge" / "cli").glob("*.py")} - helpers
    assert on_disk <= modules


def test_an_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["ordrs"])
    assert result.exit_code == 2
    assert "No such command" in result.output

