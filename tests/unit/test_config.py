"""Settings: environment, TOML file, defaults, and one clear error for each kind of bad input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shopbridge.config import load_settings
from shopbridge.errors import ConfigError


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in list(os.environ):
        if name.startswith("SHOPBRIDGE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SHOPBRIDGE_HOME", str(tmp_path / "home"))
    return tmp_path


def test_defaults_put_sqlite_under_the_data_directory(tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.home == tmp_path / "home"
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'home' / 'shopbridge.db'}"
    assert settings.is_sqlite


def test_environment_selects_postgresql(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPBRIDGE_DATABASE_URL", "postgresql://postgres@127.0.0.1/db")
    settings = load_settings()
    assert settings.effective_database_url == "postgresql+psycopg://postgres@127.0.0.1/db"
    assert not settings.is_sqlite


def test_toml_file_is_read_and_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "c.toml"
    config.write_text('database_url = "sqlite:////tmp/from-file.db"\nrequest_log_days = 3\n')
    monkeypatch.setenv("SHOPBRIDGE_CONFIG", str(config))
    assert load_settings().request_log_days == 3
    monkeypatch.setenv("SHOPBRIDGE_REQUEST_LOG_DAYS", "9")
    settings = load_settings()
    assert (settings.request_log_days, settings.database_url) == (9, "sqlite:////tmp/from-file.db")


def test_malformed_config_file_is_one_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "c.toml"
    config.write_text("database_url = [unclosed")
    monkeypatch.setenv("SHOPBRIDGE_CONFIG", str(config))
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings()


def test_unknown_setting_in_file_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("databse_url = 'sqlite:///x'\n")
    monkeypatch.setenv("SHOPBRIDGE_CONFIG", str(config))
    with pytest.raises(ConfigError, match="databse_url"):
        load_settings()


def test_unknown_database_scheme_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPBRIDGE_DATABASE_URL", "mysql://root@localhost/db")
    with pytest.raises(ConfigError, match="unsupported database URL scheme 'mysql'"):
        load_settings()


def test_unwritable_data_directory_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Root writes anywhere, so make the directory impossible to create: its parent is a file.
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("SHOPBRIDGE_HOME", str(blocker / "home"))
    with pytest.raises(ConfigError, match="not writable.*SHOPBRIDGE_HOME"):
        load_settings().ensure_home()
