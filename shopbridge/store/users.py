"""Dashboard users and API tokens: argon2 password hashes, SHA-256 token digests."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select

from shopbridge.domain.timeutil import utcnow
from shopbridge.errors import ShopbridgeError
from shopbridge.store.db import Database
from shopbridge.store.models import ApiToken, WebUser

HASHER = PasswordHasher()
MAX_NAME = 100
MIN_PASSWORD = 8
MAX_PASSWORD = 1000
TOKEN_PREFIX = "sbt_"  # noqa: S105 (a marker, not a secret)
# Verified against when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = HASHER.hash("not a password of anyone")


def check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME or any(c.isspace() or not c.isprintable() for c in name):
        raise ShopbridgeError(
            f"a user or token name is 1 to {MAX_NAME} printable characters without spaces"
        )
    return name


def check_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise ShopbridgeError(f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    return password


def user_count(database: Database) -> int:
    with database.read() as session:
        return int(session.execute(select(func.count()).select_from(WebUser)).scalar_one())


def add_user(database: Database, name: str, password: str, only_if_none: bool = False) -> int:
    """A new user; `only_if_none` (the dashboard's first-user form) refuses once any user
    exists, checked in the same transaction as the insert."""
    name, digest = check_name(name), HASHER.hash(check_password(password))
    with database.write() as session:
        if only_if_none and session.execute(select(func.count()).select_from(WebUser)).scalar_one():
            raise ShopbridgeError("the first user exists already: log in")
        if session.execute(select(WebUser.id).where(WebUser.name == name)).first():
            raise ShopbridgeError(f"a user named {name!r} exists already")
        user = WebUser(name=name, password_hash=digest)
        session.add(user)
        session.flush()
        return user.id


def list_users(database: Database) -> list[dict[str, Any]]:
    with database.read() as session:
        rows = session.execute(select(WebUser).order_by(WebUser.name)).scalars()
        return [{"name": u.name, "created": u.created_at.isoformat()} for u in rows]


def remove_user(database: Database, name: str) -> None:
    with database.write() as session:
        user = session.execute(select(WebUser).where(WebUser.name == name)).scalar_one_or_none()
        if user is None:
            raise ShopbridgeError(f"no user named {name!r}: see `shopbridge user list`")
        session.delete(user)


def set_password(database: Database, name: str, password: str) -> None:
    digest = HASHER.hash(check_password(password))
    with database.write() as session:
        user = session.execute(select(WebUser).where(WebUser.name == name)).scalar_one_or_none()
        if user is None:
            raise ShopbridgeError(f"no user named {name!r}: see `shopbridge user list`")
        user.password_hash = digest


def authenticate(database: Database, name: str, password: str) -> int | None:
    """The user's id when the password is right, else None (same cost either way)."""
    if len(name) > MAX_NAME or len(password) > MAX_PASSWORD:
        return None
    with database.read() as session:
        user = session.execute(select(WebUser).where(WebUser.name == name)).scalar_one_or_none()
    try:
        HASHER.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    return user.id if user else None


def user_name(database: Database, user_id: int) -> str | None:
    with database.read() as session:
        user = session.get(WebUser, user_id)
        return user.name if user else None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(database: Database, name: str) -> str:
    """A new token, returned once: only its digest is stored."""
    name = check_name(name)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with database.write() as session:
        if session.execute(select(ApiToken.id).where(ApiToken.name == name)).first():
            raise ShopbridgeError(f"a token named {name!r} exists already")
        session.add(ApiToken(name=name, token_hash=_digest(token)))
    return token


def list_tokens(database: Database) -> list[dict[str, Any]]:
    with database.read() as session:
        rows = session.execute(select(ApiToken).order_by(ApiToken.name)).scalars()
        return [
            {
                "name": t.name,
                "created": t.created_at.isoformat(),
                "last_used": t.last_used_at.isoformat() if t.last_used_at else None,
            }
            for t in rows
        ]


def revoke_token(database: Database, name: str) -> None:
    with database.write() as session:
        token = session.execute(select(ApiToken).where(ApiToken.name == name)).scalar_one_or_none()
        if token is None:
            raise ShopbridgeError(f"no token named {name!r}: see `shopbridge token list`")
        session.delete(token)


def verify_token(database: Database, token: str) -> str | None:
    """The token's name when it is valid (its last use is recorded), else None."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    digest = _digest(token)
    with database.write() as session:
        found = session.execute(
            select(ApiToken).where(ApiToken.token_hash == digest)
        ).scalar_one_or_none()
        if found is None or not hmac.compare_digest(found.token_hash, digest):
            return None
        found.last_used_at = utcnow()
        return found.name
