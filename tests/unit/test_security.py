"""Key handling, encrypted credentials and redaction."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from shopbridge.config import Settings
from shopbridge.errors import ConfigError
from shopbridge.security import (
    Vault,
    install_log_redaction,
    load_key,
    redact,
    register_secret,
)


def test_key_file_is_created_0600_and_reused(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    key = load_key(settings)
    assert stat.S_IMODE(settings.key_file.stat().st_mode) == 0o600
    assert load_key(settings) == key
    Fernet(key)  # a valid key


def test_environment_key_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("SHOPBRIDGE_SECRET_KEY", key)
    settings = Settings(home=tmp_path)
    assert load_key(settings) == key.encode()
    assert not settings.key_file.exists()


def test_credentials_round_trip_and_ciphertext_hides_them() -> None:
    vault = Vault(Fernet.generate_key())
    secret = {"keystring": "ks-abcdef123", "shared_secret": "sh-9876543", "expires_at": 1.5}
    sealed = vault.encrypt_json(secret)
    assert "ks-abcdef123" not in sealed and "sh-9876543" not in sealed
    assert vault.decrypt_json(sealed) == secret


def test_wrong_key_is_one_clear_error() -> None:
    sealed = Vault(Fernet.generate_key()).encrypt_json({"a": 1})
    with pytest.raises(ConfigError, match="cannot be decrypted"):
        Vault(Fernet.generate_key()).decrypt_json(sealed)
    with pytest.raises(ConfigError, match="not a valid Fernet key"):
        Vault(b"short")


def test_redact_masks_registered_secrets_bearer_and_api_key() -> None:
    register_secret("1234.registered-token-value")
    text = (
        "GET /x Authorization: Bearer abc.def x-api-key: keyvalue:secretvalue "
        "token 1234.registered-token-value and its tail registered-token-value "
        "refresh_token=rt-plain state=active"
    )
    clean = redact(text)
    for leaked in ("abc.def", "keyvalue", "secretvalue", "registered-token-value", "rt-plain"):
        assert leaked not in clean
    assert "state=active" in clean  # ordinary parameters stay readable


def test_logging_filter_redacts_message_args_and_tracebacks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    register_secret("very-secret-refresh")
    logger = logging.getLogger("shopbridge.test.redaction")
    install_log_redaction(logger)
    with caplog.at_level(logging.INFO, logger="shopbridge.test.redaction"):
        logger.info("token %s", "very-secret-refresh")
        try:
            raise RuntimeError("boom with very-secret-refresh")
        except RuntimeError:
            logger.exception("failed")
    text = caplog.text + "".join(r.getMessage() for r in caplog.records)
    assert "very-secret-refresh" not in text
    assert "***" in text
