"""Secrets: the Fernet key, encrypted JSON credentials, and redaction of everything secret.

The key comes from SHOPBRIDGE_SECRET_KEY, else from a key file created with 0600 permissions in
the data directory. Every secret shopbridge handles is registered here, so one `redact()` call
removes it from log lines, error messages and request logs, along with any Bearer token and
x-api-key value it meets.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from shopbridge.config import Settings
from shopbridge.errors import ConfigError

MASK = "***"
# Credential fields whose values are secret (scopes, expiry and ids are not).
SECRET_FIELDS = ("keystring", "shared_secret", "access_token", "refresh_token", "code_verifier")
# Shorter strings would mask innocent text; real keys and tokens are far longer.
MIN_SECRET_LENGTH = 6

_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[^\s,;\"']+"),
    re.compile(r"(?i)(x-api-key[\"']?\s*[:=]\s*[\"']?)[^\s,;\"']+"),
    re.compile(
        r"(?i)((?:access_token|refresh_token|code_verifier|client_secret|shared_secret|"
        r"keystring)[\"']?\s*[:=]\s*[\"']?)[^\s,;&\"']+"
    ),
)

_known: set[str] = set()
_known_lock = threading.Lock()


def register_secret(*values: str | None) -> None:
    """Remember secrets so that `redact()` masks them wherever they appear."""
    with _known_lock:
        for value in values:
            if value and len(value) >= MIN_SECRET_LENGTH:
                _known.add(value)
                # A token's random part after "<user_id>." is just as secret on its own.
                if "." in value:
                    tail = value.split(".", 1)[1]
                    if len(tail) >= MIN_SECRET_LENGTH:
                        _known.add(tail)


def redact(text: str) -> str:
    """The text with every registered secret, Bearer token and x-api-key value masked."""
    with _known_lock:
        known = sorted(_known, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text


class RedactingFilter(logging.Filter):
    """Formats each record's message once, redacted, so no handler can print a secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = redact(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
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
