"""OAuth 2.0 state: authorization codes (PKCE S256), access tokens and rotating refresh tokens.

Tokens are shaped `<user_id>.<random>` like Etsy's. Every refresh issues a new refresh token and
revokes the one presented. Expiry uses the virtual clock.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import threading
from dataclasses import dataclass

from .clock import VirtualClock
from .errors import EtsyError

ALL_SCOPES = frozenset(
    "address_r address_w billing_r cart_r cart_w email_r favorites_r favorites_w feedback_r "
    "listings_d listings_r listings_w profile_r profile_w recommend_r recommend_w shops_r "
    "shops_w transactions_r transactions_w".split()
)
VERIFIER_RE = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
CODE_TTL = 600


@dataclass(slots=True)
class AccessToken:
    user_id: int
    scopes: tuple[str, ...]
    expires_at: float
    revoked: bool = False


@dataclass(slots=True)
class RefreshToken:
    user_id: int
    scopes: tuple[str, ...]
    expires_at: float
    revoked: bool = False


@dataclass(slots=True)
class AuthCode:
    user_id: int
    scopes: tuple[str, ...]
    redirect_uri: str
    challenge: str
    expires_at: float


def s256(verifier: str) -> str:
    """The PKCE S256 code challenge of a verifier."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _grant_error(description: str) -> EtsyError:
    return EtsyError(400, "invalid_grant", description)


class TokenStore:
    def __init__(self, clock: VirtualClock, access_ttl: int, refresh_ttl: int) -> None:
        self.clock = clock
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl
        self._access: dict[str, AccessToken] = {}
        self._refresh: dict[str, RefreshToken] = {}
        self._codes: dict[str, AuthCode] = {}
        self._lock = threading.Lock()

    # Issuing -----------------------------------------------------------------------------
    def issue(self, user_id: int, scopes: tuple[str, ...] | list[str]) -> dict[str, object]:
        """A fresh access/refresh pair, in the token endpoint's JSON shape."""
        unknown = set(scopes) - ALL_SCOPES
        if unknown:
            raise EtsyError(400, "invalid_scope", f"unknown scopes: {' '.join(sorted(unknown))}")
        now = self.clock.now()
        access = f"{user_id}.{secrets.token_urlsafe(40)}"
        refresh = f"{user_id}.{secrets.token_urlsafe(40)}"
        with self._lock:
            self._access[access] = AccessToken(user_id, tuple(scopes), now + self.access_ttl)
            self._refresh[refresh] = RefreshToken(user_id, tuple(scopes), now + self.refresh_ttl)
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.access_ttl,
            "refresh_token": refresh,
        }

    def create_code(
        self, user_id: int, scopes: tuple[str, ...], redirect_uri: str, challenge: str
    ) -> str:
        code = secrets.token_urlsafe(32)
        with self._lock:
            self._codes[code] = AuthCode(
                user_id, scopes, redirect_uri, challenge, self.clock.now() + CODE_TTL
            )
        return code

    def redeem_code(self, code: str, redirect_uri: str, verifier: str) -> dict[str, object]:
        """Exchange a single-use code; the verifier must hash to the stored challenge."""
        with self._lock:
            grant = self._codes.pop(code, None)
        if grant is None or grant.expires_at < self.clock.now():
            raise _grant_error("code is invalid or expired")
        if grant.redirect_uri != redirect_uri:
            raise _grant_error("redirect_uri does not match")
        if not VERIFIER_RE.match(verifier) or s256(verifier) != grant.challenge:
            raise _grant_error("code_verifier is invalid")
        return self.issue(grant.user_id, grant.scopes)

    def refresh(self, refresh_token: str) -> dict[str, object]:
        """Rotate: the presented refresh token is revoked and a new pair issued."""
        with self._lock:
            record = self._refresh.get(refresh_token)
            if record is None:
                raise _grant_error("refresh_token is invalid")
            if record.revoked:
                raise _grant_error("refresh_token is revoked")
            if record.expires_at < self.clock.now():
                raise _grant_error("refresh_token is expired")
            record.revoked = True
        return self.issue(record.user_id, record.scopes)

    # Checking ----------------------------------------------------------------------------
    def authenticate(self, access_token: str) -> AccessToken:
        record = self._access.get(access_token)
        if record is None:
            raise EtsyError(401, "invalid_token", "access token is invalid")
        if record.revoked:
            raise EtsyError(401, "invalid_token", "access token is revoked")
        if record.expires_at <= self.clock.now():
            raise EtsyError(401, "invalid_token", "access token is expired")
        return record

    def scopes_of(self, access_token: str) -> tuple[str, ...] | None:
        record = self._access.get(access_token)
        return None if record is None else record.scopes

    # Control -----------------------------------------------------------------------------
    def revoke_user(self, user_id: int) -> int:
        """Revoke every token of a user (what a password change does). Returns how many."""
        n = 0
        with self._lock:
            for table in (self._access, self._refresh):
                for record in table.values():
                    if record.user_id == user_id and not record.revoked:
                        record.revoked = True
                        n += 1
        return n

    def revoke_token(self, token: str) -> bool:
        with self._lock:
            record = self._access.get(token) or self._refresh.get(token)
            if record is None:
                return False
            record.revoked = True
            return True

    def expire_access(self, user_id: int | None = None) -> int:
        """Expire live access tokens now (all, or one user's); refresh tokens stay valid."""
        now = self.clock.now()
        n = 0
        with self._lock:
            for record in self._access.values():
                if (user_id is None or record.user_id == user_id) and record.expires_at > now:
                    record.expires_at = now
                    n += 1
        return n
