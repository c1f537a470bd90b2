"""The `shopbridge` command."""

from __future__ import annotations

import sys
from importlib.metadata import version

import typer
from rich.markup import escape

from shopbridge.cli import db as db_commands
from shopbridge.cli import errors as error_commands
from shopbridge.cli import items as item_commands
from shopbridge.cli import ledger
from shopbridge.cli import requests as requests_commands
from shopbridge.cli import runs as runs_commands
from shopbridge.cli import sandbox as sandbox_commands
from shopbridge.cli import schedule as schedule_commands
from shopbridge.cli import shops as shop_commands
from shopbridge.cli import sync as sync_commands
from shopbridge.cli.budget import budget
from shopbridge.cli.context import AppContext
from shopbridge.cli.demo import demo
from shopbridge.cli.output import err_console
from shopbridge.cli.serve import serve
from shopbridge.cli.worker import worker
from shopbridge.errors import ShopbridgeError

app = typer.Typer(
    name="shopbridge",
    help="Keep online shops and the back office in step.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(db_commands.app, name="db")
app.add_typer(sync_commands.app, name="sync")
app.add_typer(item_commands.app, name="items")
ledger.register(app)
app.add_typer(error_commands.app, name="errors")
app.command("demo")(demo)
app.add_typer(schedule_commands.app, name="schedule")
app.add_typer(runs_commands.app, name="runs")
app.command("budget")(budget)
app.command("serve")(serve)
app.command("worker")(worker)
app.add_typer(shop_commands.app, name="shop")
app.add_typer(sandbox_commands.app, name="sandbox", help="Local stand-ins for the shops' APIs.")
app.command("requests")(requests_commands.requests)


def _version(value: bool) -> None:
    if value:
        print(f"shopbridge {version('shopbridge')}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
    show_version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    ctx.obj = AppContext(debug=debug)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; a shopbridge error is one line on stderr, not a traceback (unless --debug)."""
    args = sys.argv[1:] if argv is None else argv
    try:
        result = app(args=args, prog_name="shopbridge", standalone_mode=False)
    except ShopbridgeError as exc:
        if "--debug" in args:
            raise
        # One line however narrow the terminal (soft_wrap), and the message is text, not markup.
        err_console.print(
            f"[red]error:[/red] {escape(str(exc))}", highlight=False, markup=True, soft_wrap=True
        )
        return _exit(1)
    except typer.Abort:
        err_console.print("aborted")
        return _exit(1)
    except typer.TyperException as exc:  # usage errors (Typer bundles its own Click)
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            err_console.print(exc.format_message(), highlight=False, markup=False)
        return _exit(exc.exit_code)
    except KeyboardInterrupt:
        return _exit(130)
    return _exit(result if isinstance(result, int) else 0)


def _exit(code: int) -> int:
    if code:
        sys.exit(code)
    return 0
