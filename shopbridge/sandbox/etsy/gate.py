"""What every /v3/application request passes before its handler: key, rate limit, token, scope."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from .errors import EtsyError
from .ratelimit import LimitState
from .tokens import AccessToken
from .world import EtsySandbox

SECRET_REQUIRED = "Shared secret is required in x-api-key header."  # noqa: S105 (a message)


@dataclass
class Admission:
    limits: LimitState
    token: AccessToken | None

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(self.token.scopes) if self.token else frozenset()


def check_api_key(request: Request, world: EtsySandbox) -> None:
    """`x-api-key: <keystring>:<shared_secret>` is mandatory (403 otherwise)."""
    header = request.headers.get("x-api-key")
    if not header:
        raise EtsyError(403, "Missing x-api-key header.")
    keystring, sep, secret = header.partition(":")
    if keystring != world.keystring:
        raise EtsyError(403, "Invalid API key")
    if not sep or not secret:
        raise EtsyError(403, SECRET_REQUIRED)
    if secret != world.shared_secret:
        raise EtsyError(403, "Invalid shared secret in x-api-key header.")


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def authenticate(request: Request, world: EtsySandbox, scope: str | None) -> AccessToken | None:
    """Scoped endpoints need a live Bearer token holding `scope`; others use one if sent."""
    token = bearer(request)
    if token is None:
        if scope is None:
            return None
        raise EtsyError(401, "invalid_token", "access token is missing")
    record = world.tokens.authenticate(token)
    if scope is not None and scope not in record.scopes:
        raise EtsyError(403, "insufficient_scope", f"this endpoint requires the {scope} scope")
    return record


def admit(request: Request, world: EtsySandbox, scope: str | None) -> Admission:
    check_api_key(request, world)
    limits = world.limiter.admit(world.keystring)
    try:
        return Admission(limits, authenticate(request, world, scope))
    except EtsyError as exc:
        exc.headers.update(limits.headers())
        raise
