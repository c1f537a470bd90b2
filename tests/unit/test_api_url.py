"""The API address is checked (issue 13 point 6, issue 18 point 6): https and Etsy's hosts by
default, plain http only for this machine, any other host only when allowed explicitly."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shopbridge.config import check_api_url, is_loopback_host, load_settings
from shopbridge.errors import ConfigError


@pytest.mark.parametrize(
    ("url", "stored"),
    [
        ("https://openapi.etsy.com", "https://openapi.etsy.com"),
        ("https://openapi.etsy.com/", "https://openapi.etsy.com"),
        ("HTTPS://API.ETSY.COM", "https://api.etsy.com"),
        ("http://127.0.0.1:42459", "http://127.0.0.1:42459"),
        ("http://127.10.0.3:8790/", "http://127.10.0.3:8790"),
        ("http://[::1]:8790", "http://[::1]:8790"),
        ("http://localhost:8790", "http://localhost:8790"),
        ("http://etsy-sandbox.localhost", "http://etsy-sandbox.localhost"),
        ("https://localhost:8443/etsy", "https://localhost:8443/etsy"),
    ],
)
def test_accepted(url: str, stored: str) -> None:
    assert check_api_url(url) == stored


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("notaurl", "has no scheme"),
        ("127.0.0.1:42459", "has no scheme: write https://HOST (http://127.0.0.1:42459"),
        ("localhost:8790", "has no scheme"),
        ("ftp://openapi.etsy.com", "only https:// URLs are accepted"),
        ("http://[::1", "is not a valid URL"),
        ("http://127.0.0.1:99999", "is not a valid URL"),
        ("http://169.254.169.254", "plain http would send the API keys"),
        ("http://example.com", "plain http"),
        ("http://openapi.etsy.com", "plain http"),
        ("http://127.0.0.1.nip.io", "plain http"),
        ("https://169.254.169.254", "not Etsy's API"),
        ("https://openapi.etsy.com.evil.example", "not Etsy's API"),
        ("https://openapi.etsy.com/v3/application", "give Etsy's host only"),
        ("https://user:pw@openapi.etsy.com", "user name or password"),
        ("https://openapi.etsy.com?x=1", "query"),
        ("http://", "has no host"),
        ("", "is empty"),
    ],
)
def test_refused_with_a_reason(url: str, reason: str) -> None:
    with pytest.raises(ConfigError) as refused:
        check_api_url(url)
    assert reason in str(refused.value)
    assert "\n" not in str(refused.value)


def test_another_host_only_when_allowed_and_only_over_https() -> None:
    with pytest.raises(ConfigError, match="--allow-custom-api-host"):
        check_api_url("https://etsy-proxy.example.com")
    assert (
        check_api_url("https://etsy-proxy.example.com/", allow_custom_host=True)
        == "https://etsy-proxy.example.com"
    )
    with pytest.raises(ConfigError, match="plain http"):
        check_api_url("http://etsy-proxy.example.com", allow_custom_host=True)


def test_loopback() -> None:
    for host in ("127.0.0.1", "127.255.255.254", "::1", "::ffff:127.0.0.1", "localhost",
                 "LOCALHOST.", "a.b.localhost"):  # fmt: skip
        assert is_loopback_host(host), host
    for host in ("169.254.169.254", "10.0.0.1", "0.0.0.0", "localhost.example", "::", "example"):
        assert not is_loopback_host(host), host


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in list(os.environ):
        if name.startswith("SHOPBRIDGE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SHOPBRIDGE_HOME", str(tmp_path / "home"))
    return tmp_path


def test_config_file_with_plain_http_to_another_host_is_refused_naming_the_file(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = clean_env / "config.toml"
    config.write_text('etsy_api_url = "http://example.com"\n')
    monkeypatch.setenv("SHOPBRIDGE_CONFIG", str(config))
    with pytest.raises(ConfigError) as refused:
        load_settings()
    message = str(refused.value)
    assert f"config file {config}" in message and "plain http" in message
    assert "Value error" not in message and "\n" not in message
    # A key that is not a setting is named with the file too.
    config.write_text('api_url = "http://example.com"\n')
    with pytest.raises(ConfigError, match=f"'api_url' \\(config file {config}\\)"):
        load_settings()


def test_config_allows_a_custom_host_only_explicitly(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOPBRIDGE_ETSY_API_URL", "https://etsy-proxy.example.com")
    with pytest.raises(ConfigError, match="environment variable SHOPBRIDGE_ETSY_API_URL.*"
                       "allow_custom_api_host = true"):  # fmt: skip
        load_settings()
    monkeypatch.setenv("SHOPBRIDGE_ALLOW_CUSTOM_API_HOST", "true")
    assert load_settings().etsy_api_url == "https://etsy-proxy.example.com"
    monkeypatch.setenv("SHOPBRIDGE_ETSY_API_URL", "http://127.0.0.1:8790/")
    monkeypatch.delenv("SHOPBRIDGE_ALLOW_CUSTOM_API_HOST")
    assert load_settings().etsy_api_url == "http://127.0.0.1:8790"
