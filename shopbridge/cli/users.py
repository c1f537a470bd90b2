"""`shopbridge user` and `shopbridge token`: who may use the dashboard and its JSON API."""

from __future__ import annotations

import sys

import typer

from shopbridge.cli.context import app_context
from shopbridge.cli.output import console, emit
from shopbridge.errors import ShopbridgeError

user_app = typer.Typer(help="Dashboard users: add, list, remove, password.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens for /api/v1: create, list, revoke.", no_args_is_help=True)
NAME = typer.Argument(..., metavar="NAME", help="The user's name.")
TOKEN_NAME = typer.Argument(..., metavar="NAME", help="The token's name.")
STDIN = typer.Option(
    False, "--password-stdin", help="Read the password from standard input (for scripts)."
)
JSON = typer.Option(False, "--json", help="Print JSON.")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise ShopbridgeError("no password given")
    return password


@user_app.command("add")
def add(ctx: typer.Context, name: str = NAME, password_stdin: bool = STDIN) -> None:
    """Add a dashboard user; the password is asked for (hidden) or read with --password-stdin."""
    from shopbridge.store import users

    users.add_user(app_context(ctx).database(), name, _password(password_stdin))
    console.print(f"user {name} added", highlight=False)


@user_app.command("list")
def list_users(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Dashboard users and when they were added."""
    from shopbridge.store import users

    emit(users.list_users(app_context(ctx).database()), "Users", as_json)


@user_app.command("remove")
def remove(ctx: typer.Context, name: str = NAME) -> None:
    """Remove a dashboard user (their sessions end at their next request)."""
    from shopbridge.store import users

    users.remove_user(app_context(ctx).database(), name)
    console.print(f"user {name} removed", highlight=False)


@user_app.command("password")
def password(ctx: typer.Context, name: str = NAME, password_stdin: bool = STDIN) -> None:
    """Set a user's password."""
    from shopbridge.store import users

    users.set_password(app_context(ctx).database(), name, _password(password_stdin))
    console.print(f"password of {name} changed", highlight=False)


@token_app.command("create")
def create(ctx: typer.Context, name: str = TOKEN_NAME) -> None:
    """Create an API token; it is printed once (only its digest is stored)."""
    from shopbridge.store import users

    print(users.create_token(app_context(ctx).database(), name))


@token_app.command("list")
def list_tokens(ctx: typer.Context, as_json: bool = JSON) -> None:
    """API tokens: name, created, last used."""
    from shopbridge.store import users

    emit(users.list_tokens(app_context(ctx).database()), "API tokens", as_json)


@token_app.command("revoke")
def revoke(ctx: typer.Context, name: str = TOKEN_NAME) -> None:
    """Revoke an API token."""
    from shopbridge.store import users

    users.revoke_token(app_context(ctx).database(), name)
    console.print(f"token {name} revoked", highlight=False)


def web(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", metavar="HOST", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, metavar="PORT", help="Port."),
) -> None:
    """Serve the dashboard and its JSON API."""
    import uvicorn

    from shopbridge.web.app import create_app

    context = app_context(ctx)
    app = create_app(context.settings, context.database())
    console.print(f"dashboard on http://{host}:{port}/", highlight=False)
    uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=True)
