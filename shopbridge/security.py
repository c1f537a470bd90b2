"""Secrets: the Fernet key, encrypted JSON credentials, and redaction of everything secret.

The key comes from SHOPBRIDGE_SECRET_KEY, else from a key file created with 0600 permissions in
the data directory. Every secret shopbridge handles is registered here, so one `redact()` call
removes it from log lines, error messages and request logs, along with any Bearer token,
x-api-key value and token-shaped string it meets. The registry is bounded (the secrets in force:
the least recently registered are forgotten first) and its cost per call does not grow with the
secrets a long-running process has seen (`python -m bench.bench_redact`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from shopbridge.config import Settings
from shopbridge.errors import ConfigError

MASK = "***"
# Credential fields whose values are secret (scopes, expiry and ids are not).
SECRET_FIELDS = (
    "keystring", "shared_secret", "access_token", "refresh_token", "code_verifier", "webhook_secret"
)
# Shorter strings would mask innocent text; real keys and tokens are far longer.
MIN_SECRET_LENGTH = 6

_FIELDS = (
    "access_token", "refresh_token", "code_verifier", "client_secret", "shared_secret", "keystring"
)
# Each pattern with the (lower-case) words one of which the text must contain for it to apply:
# a text without them is not scanned at all.
_PATTERNS = (
    (("bearer",), re.compile(r"(?i)(bearer\s+)[^\s,;\"']+")),
    (("x-api-key",), re.compile(r"(?i)(x-api-key[\"']?\s*[:=]\s*[\"']?)[^\s,;\"']+")),
    (_FIELDS, re.compile(
        r"(?i)((?:" + "|".join(_FIELDS) + r")[\"']?\s*[:=]\s*[\"']?)[^\s,;&\"']+"
    )),
)

# Shapes of tokens masked even when never registered (or registered long ago and forgotten):
# Etsy's "<user_id>.<random>" access and refresh tokens, WooCommerce's consumer key and secret.
# Each with a cheap pattern that must match somewhere first.
_SHAPES = (
    (re.compile(r"\.[A-Za-z0-9_-]{20}"),
     re.compile(r"\b\d{1,20}\.(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{20,}")),
    (re.compile(r"c[ks]_"), re.compile(r"\bc[ks]_[0-9a-f]{40}\b")),
)
# A registered secret is looked up as a whole run of these characters (RFC 3986's unreserved
# ones, what generated keys and tokens are made of), or as the part of a run after a dot.
_RUN = re.compile(rf"[A-Za-z0-9._~-]{{{MIN_SECRET_LENGTH},}}")
_TAILS = re.compile(rf"\.(?=([A-Za-z0-9._~-]{{{MIN_SECRET_LENGTH},}}))")
_PLAIN = re.compile(r"[A-Za-z0-9._~-]+")
# How many secrets are remembered at once. Registering is O(1) and so is the look-up per run
# of the text, however many secrets came and went; a secret registered again (credentials are
# decrypted for every run, tokens on every refresh) is fresh again, so only secrets not used
# for the last MAX_SECRETS registrations are forgotten (and token shapes are masked anyway).
MAX_SECRETS = 32_768
MAX_ODD_SECRETS = 256  # secrets with other characters: each is searched for in every text


class SecretRegistry:
    """The secrets in force, bounded: least recently registered ones are forgotten first.

    It used to keep every secret ever seen and sort them on every call, so a worker with
    hundreds of shops slowed down day by day (10 ms a call at 40,000 secrets). Now `redact()`
    cuts the text into runs of token characters and looks each up in a dict: the cost follows
    the text, not how many secrets the process has seen.
    """

    def __init__(self, capacity: int = MAX_SECRETS, odd_capacity: int = MAX_ODD_SECRETS) -> None:
        self.capacity = capacity
        self.odd_capacity = odd_capacity
        self._plain: OrderedDict[str, None] = OrderedDict()
        self._odd: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._plain) + len(self._odd)

    def register(self, *values: str | None) -> None:
        with self._lock:
            for value in values:
                if not value or len(value) < MIN_SECRET_LENGTH:
                    continue
                self._remember(value)
                # A token's random part after "<user_id>." is just as secret on its own.
                if "." in value:
                    tail = value.split(".", 1)[1]
                    if len(tail) >= MIN_SECRET_LENGTH:
                        self._remember(tail)

    def _remember(self, value: str) -> None:
        store, limit = (
            (self._plain, self.capacity) if _PLAIN.fullmatch(value)
            else (self._odd, self.odd_capacity)
        )
        store[value] = None
        store.move_to_end(value)
        while len(store) > limit:
            store.popitem(last=False)

    def found_in(self, text: str) -> list[str]:
        """The registered secrets that occur in `text`, longest first."""
        candidates = set(_RUN.findall(text))
        candidates.update(_TAILS.findall(text))  # "<user_id>.<tail>": the tail, after any dot
        with self._lock:
            hits = [value for value in candidates if value in self._plain]
            hits += [value for value in self._odd if value in text]
        return sorted(hits, key=len, reverse=True)

    def clear(self) -> None:
        with self._lock:
            self._plain.clear()
            self._odd.clear()


_registry = SecretRegistry()


def register_secret(*values: str | None) -> None:
    """Remember secrets so that `redact()` masks them wherever they appear."""
    _registry.register(*values)


def redact(text: str) -> str:
    """The text with every registered secret, token-shaped string, Bearer token and x-api-key
    value masked."""
    for secret in _registry.found_in(text):
        text = text.replace(secret, MASK)
    for hint, shape in _SHAPES:
        if hint.search(text):
            text = shape.sub(MASK, text)
    lower = text.lower()
    for words, pattern in _PATTERNS:
        if any(word in lower for word in words):
            text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text


class RedactingFilter(logging.Filter):
    """Formats each record's message once, redacted, so no handler can print a secret.

    A traceback is formatted here and kept, redacted, in `exc_text` (the exception itself is
    dropped so no formatter can print it unredacted): every formatter, the JSON one included,
    prints `exc_text`. So is a stack given with `stack_info`.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = redact(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> RedactingFilter:
    """Attach one RedactingFilter to the logger and to each of its handlers (idempotent)."""
    target = logger or logging.getLogger()
    existing = next((f for f in target.filters if isinstance(f, RedactingFilter)), None)
    flt = existing or RedactingFilter()
    for holder in (target, *target.handlers):
        if flt not in holder.filters:
            holder.addFilter(flt)
    return flt


# --- encryption ------------------------------------------------------------------------------


def _read_or_create_key_file(path: Path) -> bytes:
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    key = Fernet.generate_key()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return key


def load_key(settings: Settings) -> bytes:
    """The Fernet key from settings, else from the key file (created 0600 when missing)."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    settings.ensure_home()
    return _read_or_create_key_file(settings.key_file)


class Vault:
    """Encrypts and decrypts JSON credentials with one Fernet key."""

    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError):
            raise ConfigError(
                "the secret key is not a valid Fernet key (32 url-safe base64 bytes): "
                "generate one with `python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`"
            ) from None

    @classmethod
    def from_settings(cls, settings: Settings) -> Vault:
        return cls(load_key(settings))

    def encrypt_json(self, value: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(value, sort_keys=True).encode()).decode()

    def decrypt_json(self, token: str) -> dict[str, Any]:
        try:
            value = json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken:
            raise ConfigError(
                "stored credentials cannot be decrypted with this secret key: restore the "
                "original SHOPBRIDGE_SECRET_KEY or key file, or reconnect the shop"
            ) from None
        if not isinstance(value, dict):
            raise ConfigError("stored credentials are not a JSON object")
        register_secret(*(str(value[name]) for name in SECRET_FIELDS if value.get(name)))
        return value
