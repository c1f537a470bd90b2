"""Key handling, encrypted credentials and redaction."""

from __future__ import annotations

import logging
import stat
import time
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bench import bench_redact
from shopbridge.config import Settings
from shopbridge.errors import ConfigError
from shopbridge.security import (
    MAX_ODD_SECRETS,
    SecretRegistry,
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


def test_secrets_in_force_stay_masked_however_many_came_and_went() -> None:
    registry = SecretRegistry(capacity=1_000)
    registry.register("9001.shop-token-in-force-aaaaaaaaaaaa", "keystring0000appkey")
    for number in range(5_000):  # rotations of other shops' tokens, long gone
        registry.register(f"{number}.rotated-{number:08d}-token")
        if number % 400 == 0:  # the shop's run decrypts its credentials again
            registry.register("9001.shop-token-in-force-aaaaaaaaaaaa", "keystring0000appkey")
    assert len(registry) <= 1_000 + MAX_ODD_SECRETS  # bounded, whatever the history
    text = "x-key keystring0000appkey token=9001.shop-token-in-force-aaaaaaaaaaaa done"
    assert registry.found_in(text) == [
        "9001.shop-token-in-force-aaaaaaaaaaaa", "shop-token-in-force-aaaaaaaaaaaa",
        "keystring0000appkey",
    ]
    assert registry.found_in("1.rotated-00000001-token") == []  # forgotten: not in force


def test_redaction_cost_does_not_grow_with_the_secrets_seen() -> None:
    text = " ".join(f"listing {i} state=active word{i * 31}" for i in range(40))

    def per_call(registry: SecretRegistry) -> float:
        best = float("inf")
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(50):
                registry.found_in(text)
            best = min(best, time.perf_counter() - started)
        return best

    few, many = SecretRegistry(), SecretRegistry()
    few.register(*(f"secret-{n:06d}-value" for n in range(10)))
    many.register(*(f"secret-{n:06d}-value" for n in range(30_000)))
    # Sorting and searching for every secret cost ~1,000 times more at 30,000 secrets.
    assert per_call(many) < 5 * per_call(few)


def test_token_shapes_are_masked_without_being_registered() -> None:
    etsy = "73920461.Qm9vLxkK3pZr8yTnW2vA1cFdEeGhIjKl"
    woo = "cs_" + "0123456789abcdef" * 2 + "01234567"
    clean = redact(f"seen {etsy} and {woo}; listing 1234567.5 costs 3.14159265358979323846264")
    assert etsy not in clean and woo not in clean
    assert "1234567.5" in clean and "3.14159265358979323846264" in clean  # numbers stay


def test_secrets_with_odd_characters_and_dotted_tails_are_masked() -> None:
    register_secret("pass word with spaces", "12.tailpart-secret")
    clean = redact(
        "smtp said 'pass word with spaces' for other.tailpart-secret and 12.tailpart-secret")
    assert "pass word with spaces" not in clean and "tailpart-secret" not in clean
    assert "other.***" in clean


def test_benchmark_runs_and_keeps_secrets_in_force_masked() -> None:
    result = bench_redact.run(total=2_000, step=1_000, seconds=0.02)
    assert result["in_force_unmasked"] == 0 and result["leaked"] == 0
    assert [c["registered"] for c in result["checkpoints"]] == [0, 1_000, 2_000]
