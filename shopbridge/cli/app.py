"""The `shopbridge` command.

Commands load lazily: `shopbridge orders` imports the ledger views and nothing else, `--version`
and `--help` import no command module at all (the listing below carries each command's one-line
help; tests/cli/test_cli_startup.py checks it against the commands themselves).
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from typing import Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from shopbridge.cli.context import AppContext
from shopbridge.errors import ShopbridgeError


@dataclass(frozen=True)
class LazyCommand:
    """Where a command lives (module and attribute: a Typer sub-app or a function), its one-line
    help for `shopbridge --help`, and the help panel it is listed under."""

    module: str
    attribute: str
    help: str
    panel: str


START, LEDGER, SYNC, CALLS, PROCESSES = (
    "Getting started",
    "The ledger",
    "Syncing",
    "API calls and limits",
    "Long-running processes",
)

# In the order `--help` lists them, panel by panel.
COMMANDS: dict[str, LazyCommand] = {
    "demo": LazyCommand(
        "shopbridge.cli.demo",
        "demo",
        "Run a sandboxed Etsy shop, connect it, import its listings and orders, and sync again.",
        START,
    ),
    "shop": LazyCommand(
        "shopbridge.cli.shops",
        "app",
        "Connected shops: add, list, show, connect, credentials, disable, enable, remove.",
        START,
    ),
    "user": LazyCommand(
        "shopbridge.cli.users", "user_app", "Dashboard users: add, list, remove, password.", START
    ),
    "token": LazyCommand(
        "shopbridge.cli.users", "token_app", "API tokens for /api/v1: create, list, revoke.", START
    ),
    "db": LazyCommand("shopbridge.cli.db", "app", "Create and check the ledger's schema.", START),
    "orders": LazyCommand(
        "shopbridge.cli.ledger", "orders_app", "Sales orders, newest first.", LEDGER
    ),
    "customers": LazyCommand(
        "shopbridge.cli.ledger", "customers", "Customers with their order counts.", LEDGER
    ),
    "items": LazyCommand(
        "shopbridge.cli.items",
        "app",
        "Items (products) in the ledger, and unmatched channel variants.",
        LEDGER,
    ),
    "stock": LazyCommand(
        "shopbridge.cli.stock",
        "app",
        "Stock per variant and warehouse: on hand, reserved, available, offered.",
        LEDGER,
    ),
    "warehouse": LazyCommand(
        "shopbridge.cli.warehouse", "app", "Warehouses: where stock is kept (add, list).", LEDGER
    ),
    "ship": LazyCommand(
        "shopbridge.cli.ship",
        "app",
        "Tell the channel an order shipped, with its tracking code: post, import, retry, list.",
        LEDGER,
    ),
    "carriers": LazyCommand(
        "shopbridge.cli.ship",
        "carriers",
        "The carriers Etsy knows for a shop's parcels (cached for a day).",
        LEDGER,
    ),
    "sync": LazyCommand(
        "shopbridge.cli.sync", "app", "Pull listings and orders from a shop now.", SYNC
    ),
    "schedule": LazyCommand("shopbridge.cli.schedule", "app", "When each shop's jobs run.", SYNC),
    "runs": LazyCommand(
        "shopbridge.cli.runs", "app", "Sync history: what ran, what it did, and replays.", SYNC
    ),
    "errors": LazyCommand(
        "shopbridge.cli.errors",
        "app",
        "Records that failed to import: list, retry, dismiss.",
        SYNC,
    ),
    "order": LazyCommand(
        "shopbridge.cli.order",
        "app",
        "Change an order on the channel: its status, or a new order.",
        SYNC,
    ),
    "webhooks": LazyCommand(
        "shopbridge.cli.webhooks",
        "app",
        "A WooCommerce site's webhooks to shopbridge (register, list, remove).",
        SYNC,
    ),
    "remote": LazyCommand(
        "shopbridge.cli.remote",
        "app",
        "Read a channel's records live, without importing them.",
        SYNC,
    ),
    "budget": LazyCommand(
        "shopbridge.cli.budget",
        "budget",
        "Calls used today, forecast for the day and remaining budget, per API key and per shop.",
        CALLS,
    ),
    "requests": LazyCommand(
        "shopbridge.cli.requests",
        "requests",
        "Show the request log of a shop (method, path, query, status, time, rate headers).",
        CALLS,
    ),
    "web": LazyCommand(
        "shopbridge.cli.users", "web", "Serve the dashboard and its JSON API.", PROCESSES
    ),
    "serve": LazyCommand(
        "shopbridge.cli.serve",
        "serve",
        "Run due jobs on their schedules in this process; stop cleanly on SIGINT/SIGTERM.",
        PROCESSES,
    ),
    "worker": LazyCommand(
        "shopbridge.cli.worker",
        "worker",
        "Run scheduled and queued jobs from the shared PostgreSQL queue until SIGINT/SIGTERM.",
        PROCESSES,
    ),
    "sandbox": LazyCommand(
        "shopbridge.cli.sandbox", "app", "Local stand-ins for the sales channels' APIs.", PROCESSES
    ),
}


def load_command(name: str) -> Any:
    """Import one command's module and build its Click command (a Typer sub-app stays a group,
    even with a single subcommand)."""
    spec = COMMANDS[name]
    target = getattr(importlib.import_module(spec.module), spec.attribute)
    if isinstance(target, typer.Typer):
        command: Any = typer.main.get_group(target)
    else:
        single = typer.Typer(add_completion=False)
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    command.rich_help_panel = spec.panel
    _plain_help(command)
    return command


def _plain_help(command: Any) -> None:
    """Click's plain help for a command and everything under it: the same look as the root's,
    and no Rich help renderer (Markdown, tracebacks: 0.15 s of imports) to load for it. Values
    are named, not typed: `--shop NAME`, `RUN_ID`, never `<str>`, `<bool>` or `{run_id}`."""
    command.rich_markup_mode = None
    for param in command.params:
        if isinstance(param, TyperArgument):
            param.__class__ = NamedArgument
            param.metavar = param.metavar or (param.name or "value").upper()
        elif isinstance(param, TyperOption) and not param.is_flag:
            param.__class__ = NamedOption
    for sub in getattr(command, "commands", {}).values():
        _plain_help(sub)


class NamedArgument(TyperArgument):
    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    def _usage_display_name(self) -> str:
        name = self.display_name_raw if self.required else f"[{self.display_name_raw}]"
        return name + ("..." if self.nargs != 1 else "")


class NamedOption(TyperOption):
    def display_type_rich(self, ctx: Any) -> str | None:
        if self.metavar is not None:
            return self.metavar
        label = self.display_type(ctx)
        if "|" in label:  # choices: [all|paid|shipped]
            return "[" + label.strip("<>") + "]"
        longest = max(self.opts, key=len).lstrip("-")
        return longest.replace("-", "_").upper()


class LazyGroup(TyperGroup):
    """The root group: a command's module is imported when that command runs; listing commands
    (help, suggestions) uses the table above."""

    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        if self._listing:
            spec = COMMANDS[cmd_name]
            return TyperCommand(
                name=cmd_name, help=spec.help, short_help=spec.help, rich_help_panel=spec.panel
            )
        if cmd_name not in self.commands:
            self.commands[cmd_name] = load_command(cmd_name)
        return self.commands[cmd_name]

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """The commands under their headings, in the table's order."""
        panels: dict[str, list[tuple[str, str]]] = {}
        for name, spec in COMMANDS.items():
            panels.setdefault(spec.panel, []).append((name, spec.help))
        for panel, rows in panels.items():
            with formatter.section(panel):
                formatter.write_dl(rows)


EXAMPLES = """\b
Examples:
  shopbridge demo                     a sandboxed Etsy shop, imported end to end
  shopbridge shop add etsy --name my-shop --keystring KEY --shared-secret SECRET
  shopbridge shop connect my-shop     authorise it in the browser
  shopbridge sync orders my-shop      pull its orders now
  shopbridge orders --shop my-shop    what came in
  shopbridge COMMAND --help           every command's options
"""

app = typer.Typer(
    name="shopbridge",
    cls=LazyGroup,
    rich_markup_mode=None,
    help="Keep online shops and the back office in step.",
    epilog=EXAMPLES,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

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
        from rich.markup import escape

        from shopbridge.cli.output import err_console

        # One line however narrow the terminal (soft_wrap), and the message is text, not markup.
        err_console.print(
            f"[red]error:[/red] {escape(str(exc))}", highlight=False, markup=True, soft_wrap=True
        )
        return _exit(1)
    except typer.Abort:
        print("aborted", file=sys.stderr)
        return _exit(1)
    except typer.TyperException as exc:  # usage errors (Typer bundles its own Click)
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            print(exc.format_message(), file=sys.stderr)
        return _exit(exc.exit_code)
    except KeyboardInterrupt:
        return _exit(130)
    return _exit(result if isinstance(result, int) else 0)


def _exit(code: int) -> int:
    if code:
        sys.exit(code)
    return 0
