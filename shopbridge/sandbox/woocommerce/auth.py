"""WooCommerce's REST authentication: HTTP Basic over HTTPS, one-legged OAuth 1.0a over HTTP.

As in WooCommerce's WC_REST_Authentication: over HTTPS the consumer key and secret come as
Basic credentials (or `consumer_key`/`consumer_secret` query parameters); over plain HTTP only
an OAuth 1.0a signature (HMAC-SHA1 or HMAC-SHA256, key `secret&`) over the method, the URL and
the sorted, twice-encoded parameters is accepted, with a timestamp within 15 minutes and a nonce
used once. Basic credentials over plain HTTP are ignored: the request is unauthenticated, and
the endpoint refuses it. Timestamps are checked against the real clock: the clients sign with
it, whatever the sandbox's virtual clock says.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from urllib.parse import quote, unquote_plus

from .world import ApiKey, WooError, WooSandbox

OAUTH_REQUIRED = (
    "oauth_consumer_key",
    "oauth_timestamp",
    "oauth_nonce",
    "oauth_signature",
    "oauth_signature_method",
)


def _error(message: str) -> WooError:
    return WooError(401, "woocommerce_rest_authentication_error", message)


def php_query(raw: str) -> dict[str, str]:
    """The query string as PHP's $_GET holds it: `+` is a space, the last of a repeated key
    wins (the published Python client sends its parameters twice over plain HTTP)."""
    params: dict[str, str] = {}
    for part in raw.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        params[unquote_plus(key)] = unquote_plus(value)
    return params


def _basic(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def _oauth_header(header: str | None) -> dict[str, str]:
    if not header or not header.lower().startswith("oauth "):
        return {}
    found: dict[str, str] = {}
    for part in header[6:].split(","):
        key, _, value = part.strip().partition("=")
        if key.startswith("oauth_"):
            found[key] = unquote_plus(value.strip().strip('"'))
    return found


def _rawurlencode(text: str) -> str:
    return quote(text, safe="")


def signature_base(method: str, url: str, params: Mapping[str, str]) -> str:
    """WooCommerce's string to sign (the signature itself left out)."""
    pairs = sorted((k, v) for k, v in params.items() if k != "oauth_signature")
    joined = "%26".join(_rawurlencode(f"{_rawurlencode(k)}={_rawurlencode(v)}") for k, v in pairs)
    return f"{method.upper()}&{_rawurlencode(url)}&{joined}"


def sign(method: str, url: str, params: Mapping[str, str], secret: str, algorithm: str) -> str:
    digest = hashlib.sha256 if algorithm == "HMAC-SHA256" else hashlib.sha1
    base = signature_base(method, url, params)
    mac = hmac.new(f"{secret}&".encode(), base.encode(), digest).digest()
    return base64.b64encode(mac).decode()


def authenticate(
    world: WooSandbox,
    *,
    method: str,
    https: bool,
    url: str,
    query: dict[str, str],
    authorization: str | None,
) -> ApiKey | None:
    """The key the request authenticates with; None when it brings none the site accepts
    (the endpoint then refuses it); WooError for credentials that are wrong."""
    if https:
        creds = _basic(authorization)
        if creds is None and query.get("consumer_key"):
            creds = (query["consumer_key"], query.get("consumer_secret", ""))
        if creds is None:
            return None
        key = world.keys.get(creds[0])
        if key is None:
            raise _error("Consumer key is invalid.")
        if not hmac.compare_digest(key.secret.encode(), creds[1].encode()):
            raise _error("Consumer secret is invalid.")
        return key
    params = dict(query)
    params.update(_oauth_header(authorization))
    if not any(k.startswith("oauth_") for k in params):
        return None  # Basic over plain HTTP lands here: ignored, so refused by the endpoint
    for name in OAUTH_REQUIRED:
        if not params.get(name):
            raise _error(f"{name} parameter is missing")
    key = world.keys.get(params["oauth_consumer_key"])
    if key is None:
        raise _error("Consumer key is invalid.")
    algorithm = params["oauth_signature_method"]
    if algorithm not in ("HMAC-SHA1", "HMAC-SHA256"):
        raise _error("Invalid signature - signature method is invalid.")
    expected = sign(method, url, params, key.secret, algorithm)
    given = params["oauth_signature"].replace(" ", "+")
    if not hmac.compare_digest(expected.encode(), given.encode()):
        raise _error("Invalid signature - provided signature does not match.")
    try:
        timestamp = int(params["oauth_timestamp"])
    except ValueError:
        raise _error("Invalid timestamp.") from None
    if abs(time.time() - timestamp) > world.config.nonce_window:
        raise _error("Invalid timestamp.")
    if not world.use_nonce(key.key, params["oauth_nonce"], timestamp):
        raise _error("Invalid nonce - nonce has already been used.")
    return key


def check_permission(key: ApiKey, method: str) -> None:
    if method in ("GET", "HEAD", "OPTIONS"):
        if key.permissions not in ("read", "read_write"):
            raise _error("The API key provided does not have read permissions.")
    elif key.permissions not in ("write", "read_write"):
        raise _error("The API key provided does not have write permissions.")
