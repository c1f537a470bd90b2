"""Settings: the only place configuration is read (environment `SHOPBRIDGE_*` and a TOML file).

Precedence: keyword arguments, then environment, then `config.toml` (`SHOPBRIDGE_CONFIG`, or
`config.toml` in the data directory), then defaults. Defaults need no setup: SQLite and the key
file live in the data directory (`SHOPBRIDGE_HOME`, else ~/.local/share/shopbridge).
"""

from __future__ import annotations

import ipaddress
import os
import tempfile
import tomllib
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from shopbridge.errors import ConfigError

SUPPORTED_DATABASES = ("sqlite", "postgresql")
ETSY_API_URL = "https://openapi.etsy.com"
# The hosts of Etsy's Open API (`api.etsy.com` is equivalent to `openapi.etsy.com`).
ETSY_API_HOSTS = ("openapi.etsy.com", "api.etsy.com")


def is_loopback_host(host: str) -> bool:
    """127.0.0.0/8, ::1 (also IPv4-mapped), `localhost` and `*.localhost` (RFC 6761)."""
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def check_api_url(
    url: str,
    *,
    allow_custom_host: bool = False,
    what: str = "--api-url",
    custom_flag: str = "--allow-custom-api-host",
) -> str:
    """The API URL as stored (scheme and host lower case, no trailing slash), or a ConfigError.

    Etsy's API hosts over https are accepted; plain http only for this machine (loopback, where
    the sandbox runs); any other host only with `allow_custom_host`, and then over https only,
    because the app's keys and the shop's tokens travel with every request."""
    shown = url if len(url) <= 200 else url[:200] + "..."
    if not url.strip():
        raise ConfigError(f"{what} is empty: leave it out to use Etsy's API ({ETSY_API_URL})")
    if "://" not in url:
        raise ConfigError(
            f"{what} {shown!r} has no scheme: write https://HOST (http://{shown} only for a "
            "sandbox on this machine)"
        )
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"{what} {shown!r} is not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ConfigError(
            f"{what} {shown!r}: only https:// URLs are accepted (http:// only for a sandbox on "
            "this machine)"
        )
    if not host:
        raise ConfigError(f"{what} {shown!r} has no host")
    if parts.username is not None or parts.password is not None:
        raise ConfigError(f"{what} {shown!r} must not carry a user name or password")
    if parts.query or parts.fragment:
        raise ConfigError(f"{what} {shown!r} must not have a query or a fragment")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    path = parts.path.rstrip("/")
    loopback = is_loopback_host(host)
    if scheme == "http" and not loopback:
        raise ConfigError(
            f"{what} {shown!r}: plain http would send the API keys and tokens unencrypted; it "
            "is accepted only for this machine (127.0.0.1, ::1, localhost), where the sandbox "
            "runs: use https://"
        )
    if scheme == "https" and host in ETSY_API_HOSTS:
        if path or port not in (None, 443):
            raise ConfigError(f"{what} {shown!r}: give Etsy's host only, e.g. {ETSY_API_URL}")
        return f"https://{host}"
    if not loopback and not allow_custom_host:
        raise ConfigError(
            f"{what} {shown!r} is not Etsy's API ({', '.join(ETSY_API_HOSTS)}): shopbridge "
            f"would send the app's keys and the shop's tokens to {host}. If that host is yours "
            f"(a proxy), say so with {custom_flag}"
        )
    return f"{scheme}://{netloc}{path}"


def _named_path(variable: str, value: str) -> Path:
    """A path given by an environment variable: an empty value names nothing (it used to mean
    the current directory, silently) and is refused."""
    if not value.strip():
        raise ConfigError(f"{variable} is set but empty: give it a path, or unset it")
    return Path(value).expanduser()


def default_home() -> Path:
    home = os.environ.get("SHOPBRIDGE_HOME")
    if home is not None:
        return _named_path("SHOPBRIDGE_HOME", home)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "shopbridge"


def config_file_path() -> Path:
    """`SHOPBRIDGE_CONFIG` (which must name an existing file), else config.toml in the data
    directory (optional)."""
    explicit = os.environ.get("SHOPBRIDGE_CONFIG")
    if explicit is None:
        return default_home() / "config.toml"
    path = _named_path("SHOPBRIDGE_CONFIG", explicit)
    if not path.is_file():
        raise ConfigError(
            f"SHOPBRIDGE_CONFIG names {path}, which "
            f"{'is not a file' if path.exists() else 'does not exist'}"
        )
    return path


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHOPBRIDGE_", extra="forbid")

    home: Path = Field(default_factory=default_home)
    database_url: str | None = None
    secret_key: SecretStr | None = None
    log_json: bool = False
    # Any other API host than Etsy's (or this machine) must be allowed here first.
    allow_custom_api_host: bool = False
    etsy_api_url: str = ETSY_API_URL
    request_log_days: int = Field(default=14, ge=1, le=3650)
    # Scheduling (issue 7): global switch and default intervals; 0 turns a stream off.
    scheduler_enabled: bool = True
    schedule_orders_minutes: int = Field(default=5, ge=0, le=60)
    schedule_listings_hours: int = Field(default=24, ge=0, le=24)
    schedule_reconcile_minutes: int = Field(default=60, ge=0, le=1440)
    # Stock pushes (issue 14): the `stock` job pulls a shop's orders then pushes its stock. A
    # stock change is pushed this many seconds after it was queued (debounced per shop) for
    # every shop that pushes stock; an interval (`schedule set NAME stock --every 10m`) adds a
    # periodic check on top, off by default (it costs calls when nothing changed).
    schedule_stock_minutes: int = Field(default=0, ge=0, le=1440)
    push_debounce_seconds: float = Field(default=30.0, ge=0, le=3600)
    scheduler_tick_seconds: float = Field(default=5.0, gt=0, le=300)
    scheduler_concurrency: int = Field(default=4, ge=1, le=64)
    worker_heartbeat_seconds: float = Field(default=10.0, gt=0, le=600)
    worker_stalled_seconds: float = Field(default=60.0, gt=0, le=86400)
    # Sync history and the retry queue.
    retention_succeeded_days: int = Field(default=30, ge=1, le=3650)
    retention_failed_days: int = Field(default=60, ge=1, le=3650)
    retry_max_attempts: int = Field(default=8, ge=1, le=100)
    # How long one run may keep retrying failed calls (429 storms, 5xx, timeouts) in all,
    # Retry-After waits included, before it fails; the next run resumes from its cursor.
    retry_budget_minutes: float = Field(default=10.0, gt=0, le=1440)
    # API budget per key: the channel's daily limit minus a share kept for manual work.
    api_daily_limit: int = Field(default=10_000, ge=1)
    api_per_second: float = Field(default=10.0, gt=0)
    api_budget_reserve: float = Field(default=0.1, ge=0, lt=1)
    idle_backoff_cap_hours: float = Field(default=6.0, gt=0, le=168)
    # Alerts by email.
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_tls: str = Field(default="none", pattern="^(none|starttls|ssl)$")
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    alert_from: str = "shopbridge@localhost"
    alert_to: str | None = None  # comma separated addresses
    alert_failures_in_row: int = Field(default=3, ge=1, le=100)
    alert_budget_fraction: float = Field(default=0.9, gt=0, le=1)

    @field_validator("home", mode="before")
    @classmethod
    def _home_named(cls, home: Any) -> Any:
        if isinstance(home, str) and not home.strip():
            raise ValueError("the data directory is empty: give it a path")
        return home

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, url: str | None) -> str | None:
        if url is None:
            return None
        dialect = url.split(":", 1)[0].split("+", 1)[0]
        if dialect not in SUPPORTED_DATABASES:
            raise ValueError(
                f"unsupported database URL scheme {dialect!r}: use sqlite:///PATH or "
                "postgresql+psycopg://USER@HOST/DB"
            )
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        return url

    @field_validator("etsy_api_url")
    @classmethod
    def _checked_api_url(cls, url: str, info: ValidationInfo) -> str:
        try:
            return check_api_url(
                url,
                allow_custom_host=bool(info.data.get("allow_custom_api_host")),
                what="etsy_api_url",
                custom_flag="allow_custom_api_host = true",
            )
        except ConfigError as exc:
            raise ValueError(str(exc)) from None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_file_path())
        return (init_settings, env_settings, toml)

    @cached_property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'shopbridge.db'}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    @property
    def key_file(self) -> Path:
        return self.home / "secret.key"

    def ensure_home(self) -> Path:
        """Create the data directory (0700) and check that it is writable.

        The probe is a temporary file of this call's own: a fixed name raced between commands
        started at once (one removed it under another, "not writable").
        """
        try:
            self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
            with tempfile.TemporaryFile(dir=self.home, prefix=".write-probe-"):
                pass
        except OSError as exc:
            raise ConfigError(
                f"data directory {self.home} is not writable ({exc.strerror}); "
                "set SHOPBRIDGE_HOME to a writable directory"
            ) from exc
        return self.home


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment and config file, or one clear ConfigError."""
    path = config_file_path()
    if path.exists():
        try:
            tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "settings"
        variable = f"SHOPBRIDGE_{where.upper()}"
        source = (
            f"environment variable {variable}"
            if variable in os.environ
            else f"config file {path}"
            if path.exists()
            else "environment"
        )
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"invalid setting {where!r} ({source}): {message}") from None
