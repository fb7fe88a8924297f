"""Settings: read once from DISTRIBUTOR_* variables and the TOML config file.

Domain code never reads the environment; it is handed a ``Settings``.
Secrets may come from ``NAME_FILE`` instead of ``NAME`` (not both). Strings in
the TOML file may use ``${VAR}``, read from the environment at load time.
"""

from __future__ import annotations

import os
import re
import secrets
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from distributor.errors import ConfigError

ENV_PREFIX = "DISTRIBUTOR_"
SECRET_NAMES = ("SECRET_KEY", "API_TOKEN", "WEBHOOK_SECRET", "SMTP_URL", "DATABASE_URL")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|m|h)\s*$")


class Publisher(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "distributor"
    address: str = "Postal address not configured"
    subject_prefix: str = ""
    unsubscribe_mailto: str | None = None


class ChannelConfig(BaseModel):
    """One ``[[channels]]`` table. Type-specific keys land in ``options``."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    type: str
    base_url: str | None = None
    sections: list[str] = []
    rate: str | None = None
    template: str | None = None
    max_age: str = "24h"
    options: Any = None

    @field_validator("rate")
    @classmethod
    def _rate(cls, value: str | None) -> str | None:
        if value is not None:
            parse_rate(value)
        return value

    @field_validator("max_age")
    @classmethod
    def _max_age(cls, value: str) -> str:
        parse_duration(value)
        return value

    def matches(self, section: str | None) -> bool:
        return sections_match(self.sections, section)


class FeedConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str
    every: str = "5m"
    backfill: bool = False
    sections: dict[str, str] = {}
    section: str | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        from urllib.parse import urlsplit

        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http(s) URL")
        return value

    @field_validator("every")
    @classmethod
    def _every(cls, value: str) -> str:
        parse_duration(value)
        return value


class DkimConfig(BaseModel):
    """[dkim]: sign every email with this key (the TXT record at selector._domainkey.domain)."""

    model_config = ConfigDict(extra="forbid")
    key_file: Path
    selector: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._-]+$")
    domain: str = Field(min_length=1, pattern=r"^[A-Za-z0-9.-]+$")

    @field_validator("key_file")
    @classmethod
    def _readable(cls, value: Path) -> Path:
        try:
            text = value.read_bytes()
        except OSError as exc:
            raise ValueError(f"cannot read {value}: {exc.strerror}") from None
        if b"PRIVATE KEY" not in text:
            raise ValueError(f"{value} holds no PEM private key")
        return value

    def private_key(self) -> bytes:
        return self.key_file.read_bytes()


class FileConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    publisher: Publisher = Publisher()
    dkim: DkimConfig | None = None
    channels: list[ChannelConfig] = []
    feeds: list[FeedConfig] = []


class Settings(BaseSettings):
    """Everything the service is told. Built by :func:`load_settings`."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    database_url: SecretStr = SecretStr("sqlite:///./var/distributor.db")
    broker_url: str = "redis://localhost:6379/0"
    broker_prefix: str = Field("", max_length=64, pattern=r"^[A-Za-z0-9:_.-]*$")
    smtp_url: SecretStr = SecretStr("maildir:./var/outbox")
    from_address: str = Field("News <news@localhost>", validation_alias="DISTRIBUTOR_FROM")
    public_url: str = "http://localhost:8000"
    secret_key: SecretStr | None = None
    api_token: SecretStr | None = None
    webhook_secret: SecretStr | None = None
    config: Path | None = None
    var_dir: Path = Path("./var")
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"
    batch_size: int = Field(500, ge=1, le=10_000)
    lease_seconds: int = Field(120, ge=5, le=3000)
    max_body_bytes: int = Field(1_000_000, ge=1024)
    smtp_timeout: float = Field(30.0, gt=0)
    smtp_pause_after: int = Field(50, ge=1)
    http_timeout: float = Field(10.0, gt=0)
    worker_concurrency: int = Field(8, ge=1, le=256)
    templates_dir: Path | None = None
    sweep_every: float = Field(60.0, ge=1)
    sweep_grace: float = Field(120.0, ge=1)
    digest_tick_every: float = Field(60.0, ge=0.5)
    email_retry_base: float = Field(30.0, gt=0)
    channel_retry_base: float = Field(5.0, gt=0)

    # From the TOML file, not the environment.
    file: FileConfig = FileConfig()

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, *args, **kwargs):
        # load_settings reads the environment mapping it is given; nothing else leaks in.
        return (init_settings,)

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("broker_url")
    @classmethod
    def _broker(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis:// URL")
        return value

    @property
    def publisher(self) -> Publisher:
        return self.file.publisher

    @property
    def channels(self) -> list[ChannelConfig]:
        return self.file.channels

    def channel(self, name: str) -> ChannelConfig | None:
        return next((c for c in self.channels if c.name == name), None)

    @property
    def secret(self) -> str:
        assert self.secret_key is not None, "load_settings fills the secret key"
        return self.secret_key.get_secret_value()

    def secret_values(self) -> list[str]:
        """Every secret we hold, for redaction from logs and output."""
        found = [s for s in (self.secret_key, self.api_token, self.webhook_secret) if s]
        for channel in self.channels:
            if isinstance(channel.options, BaseModel):
                found += [v for v in vars(channel.options).values() if isinstance(v, SecretStr)]
        values = [s.get_secret_value() for s in found]
        for url in (self.smtp_url, self.database_url):
            password = _url_password(url.get_secret_value())
            if password:
                values.append(password)
        return [v for v in values if len(v) >= 4]


def _url_password(url: str) -> str | None:
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).password
    except ValueError:
        return None


def sections_match(wanted: list[str], section: str | None) -> bool:
    """No filter takes everything; otherwise the section must match, ignoring case."""
    if not wanted:
        return True
    return section is not None and section.casefold() in {w.casefold() for w in wanted}


def parse_duration(text: str) -> float:
    """'90s', '5m', '2h', '1d' -> seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*", str(text))
    if not match:
        raise ValueError(f"{text!r} is not a duration like 30s, 5m, 2h or 1d")
    number, unit = float(match.group(1)), match.group(2) or "s"
    return number * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]


def parse_rate(text: str) -> tuple[float, float]:
    """'20/m' -> (20, 60): so many events per so many seconds."""
    match = _RATE.match(text)
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a rate like 20/m, 1/s or 100/h")
    return float(match.group(1)), {"s": 1.0, "m": 60.0, "h": 3600.0}[match.group(2)]


def expand_vars(value: Any, environ: Mapping[str, str], where: str = "") -> Any:
    """Replace ${VAR} in every string of a parsed TOML document."""
    if isinstance(value, str):
        def swap(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in environ:
                raise ConfigError(f"config {where or 'file'}: ${{{name}}} is not set in the environment")
            return environ[name]
        return _VAR.sub(swap, value)
    if isinstance(value, list):
        return [expand_vars(v, environ, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: expand_vars(v, environ, f"{where}.{k}" if where else k) for k, v in value.items()}
    return value


def _file_secrets(environ: Mapping[str, str]) -> dict[str, str]:
    values = {}
    for name in SECRET_NAMES:
        var, file_var = ENV_PREFIX + name, ENV_PREFIX + name + "_FILE"
        if file_var not in environ:
            continue
        if var in environ:
            raise ConfigError(f"{var} and {file_var} are both set; set one")
        try:
            values[name.lower()] = Path(environ[file_var]).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"{file_var}: cannot read {environ[file_var]}: {exc.strerror}") from None
    return values


def _read_file_config(path: Path, environ: Mapping[str, str]) -> FileConfig:
    from distributor.channels import validate_channel_options

    try:
        raw = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    raw = expand_vars(raw, environ)
    common = set(ChannelConfig.model_fields) - {"options"}
    for channel in raw.get("channels", []) or []:
        if isinstance(channel, dict):
            channel["options"] = {k: channel.pop(k) for k in list(channel) if k not in common}
    try:
        config = FileConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_first_error(exc, raw)}") from None
    seen: set[str] = set()
    for index, channel in enumerate(config.channels):
        if channel.name in seen:
            raise ConfigError(f"{path}: channels[{index}].name: {channel.name!r} is used twice")
        seen.add(channel.name)
        try:
            channel.options = validate_channel_options(channel.type, channel.options or {},
                                                       channel.base_url)
        except ValueError as exc:
            raise ConfigError(f"{path}: channels[{index}] ({channel.name}): {exc}") from None
    return config


def _first_error(exc: ValidationError, raw: dict | None = None) -> str:
    error = exc.errors()[0]
    loc = error["loc"]
    where = ".".join(str(p) for p in loc)
    if raw and len(loc) > 2 and loc[0] == "channels" and isinstance(loc[1], int):
        name = (raw.get("channels") or [{}])[loc[1]].get("name", "?")
        where = f"channels[{loc[1]}] ({name}): " + ".".join(str(p) for p in loc[2:])
    return f"{where}: {error['msg'].removeprefix('Value error, ')}"


def _secret_key(var_dir: Path) -> str:
    path = var_dir / "secret"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build the settings once; raise ConfigError with one line naming what is wrong."""
    environ = os.environ if environ is None else environ
    overrides: dict[str, Any] = _file_secrets(environ)
    env = {k: v for k, v in environ.items() if k.startswith(ENV_PREFIX)}
    config_path = env.get(ENV_PREFIX + "CONFIG")
    path = Path(config_path) if config_path else Path("distributor.toml")
    if config_path and not path.exists():
        raise ConfigError(f"{ENV_PREFIX}CONFIG: {path} does not exist")
    if path.exists():
        overrides["file"] = _read_file_config(path, environ)
        overrides["config"] = path
    try:
        settings = Settings(_env_file=None, **overrides, **_env_only(env))
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else "?"
        variable = "DISTRIBUTOR_FROM" if name in ("from_address", "DISTRIBUTOR_FROM") else (
            ENV_PREFIX + name.upper())
        raise ConfigError(f"{variable}: {error['msg']}") from None
    if settings.secret_key is None:
        settings = settings.model_copy(update={"secret_key": SecretStr(_secret_key(settings.var_dir))})
    return settings


def _env_only(env: Mapping[str, str]) -> dict[str, str]:
    """pydantic-settings reads os.environ itself; pass a given mapping explicitly instead."""
    fields = Settings.model_fields
    values: dict[str, str] = {}
    for key, value in env.items():
        name = key[len(ENV_PREFIX):].lower()
        if key == ENV_PREFIX + "FROM":
            values["DISTRIBUTOR_FROM"] = value
        elif name in fields and name not in ("file", "config") and not name.endswith("_file"):
            values[name] = value
    return values
