"""Settings: environment, TOML file, defaults, and one clear error for each kind of bad input."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from shopbridge.config import load_settings
from shopbridge.errors import ConfigError
from shopbridge.store.db import Database


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


def test_commands_started_at_once_all_find_the_directory_writable(tmp_path: Path) -> None:
    # 48 commands at once once failed "not writable (No such file or directory)": they shared
    # one probe file, and one removed it while another was still writing it.
    settings = load_settings()
    settings.ensure_home()
    failures: list[str] = []

    def check() -> None:
        for _ in range(200):
            try:
                settings.ensure_home()
            except ConfigError as exc:
                failures.append(str(exc))

    threads = [threading.Thread(target=check) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert list((tmp_path / "home").iterdir()) == []  # no probe left behind


def test_config_naming_a_missing_file_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SHOPBRIDGE_CONFIG", str(tmp_path / "typo.toml"))
    with pytest.raises(ConfigError, match=r"SHOPBRIDGE_CONFIG names .*typo.toml.*does not exist"):
        load_settings()
    monkeypatch.setenv("SHOPBRIDGE_CONFIG", str(tmp_path))
    with pytest.raises(ConfigError, match="is not a file"):
        load_settings()
    monkeypatch.setenv("SHOPBRIDGE_CONFIG", "")
    with pytest.raises(ConfigError, match="SHOPBRIDGE_CONFIG is set but empty"):
        load_settings()


def test_empty_home_is_refused_not_the_current_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SHOPBRIDGE_HOME", "")
    with pytest.raises(ConfigError, match="SHOPBRIDGE_HOME is set but empty"):
        load_settings()
    monkeypatch.setenv("SHOPBRIDGE_HOME", "   ")
    with pytest.raises(ConfigError, match="SHOPBRIDGE_HOME is set but empty"):
        load_settings()
    # The same in the config file (read when the environment does not set the home).
    monkeypatch.delenv("SHOPBRIDGE_HOME")
    config = tmp_path / "c.toml"
    config.write_text('home = ""\n')
    monkeypatch.setenv("SHOPBRIDGE_CONFIG", str(config))
    with pytest.raises(ConfigError, match="'home'.*empty"):
        load_settings()


def test_sqlite_database_and_its_wal_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    old = os.umask(0o022)  # the usual umask, under which the database was created 0644
    try:
        database = Database(f"sqlite:///{path}")
        with database.write() as session:
            session.execute(text("CREATE TABLE t (x INTEGER)"))
            session.execute(text("INSERT INTO t VALUES (1)"))
        with database.read() as session:
            assert session.execute(text("SELECT x FROM t")).scalar_one() == 1
            files = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
        database.dispose()
    finally:
        os.umask(old)
    assert files == {"ledger.db": 0o600, "ledger.db-wal": 0o600, "ledger.db-shm": 0o600}


def test_an_existing_database_readable_by_others_is_narrowed_to_its_owner(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "ledger.db"
    old = os.umask(0o022)
    try:
        created = Database(f"sqlite:///{path}")
        created.create_schema_if_empty()
        created.dispose()
        for name in ("ledger.db", "ledger.db-wal"):  # as an older release or a copy left them
            (tmp_path / name).touch()
            os.chmod(tmp_path / name, 0o644)
        with caplog.at_level("WARNING", logger="shopbridge.store.db"):
            database = Database(f"sqlite:///{path}")
            database.check_schema()  # what every command does first
            database.dispose()
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert modes.pop("ledger.db") == 0o600
    assert set(modes.values()) <= {0o600}  # -wal and -shm, while they exist
    assert "readable by others" in caplog.text
