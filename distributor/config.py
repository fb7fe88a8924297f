"""The settings schema: what the service can be told, typed and checked.

Loading (environment, ``*_FILE`` secrets, the TOML file) lives in bootstrap.py;
domain code never reads the environment, it is handed a ``Settings``. The syntaxes of
single values (durations, rates, URLs, secrets) are parsed in values.py, once, when the
settings are built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from distributor.values import (
    ADDRESS,
    AMQP_SCHEMES,
    REDIS_SCHEMES,
    Duration,
    Rate,
    SmtpUrl,
    Utm,
    check_broker_url,
    check_from_address,
    check_secret,
    url_password,
)

ENV_PREFIX = "DISTRIBUTOR_"
SECRET_NAMES = ("SECRET_KEY", "API_TOKEN", "WEBHOOK_SECRET", "SMTP_URL", "DATABASE_URL")


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
    rate: Rate | None = None
    template: str | None = None
    max_age: Duration = 86400.0
    tracking: bool = False  # the article link goes through /r/…: clicks counted per channel
    utm: Utm | None = None  # added to the article link (a tracked link adds it on redirect)
    options: Any = None


class FeedConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str
    every: Duration = 300.0
    backfill: bool = False
    sections: dict[str, str] = {}
    section: str | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http(s) URL")
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


class DomainCap(BaseModel):
    """One ``[[smtp.domains]]`` table under a route: a rate for recipients whose domain
    matches ``pattern`` (``gmail.com``, ``*.outlook.com``), shared by all workers."""

    model_config = ConfigDict(extra="forbid")
    pattern: str = Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9*.-]+$")
    rate: Rate


class SmtpRoute(BaseModel):
    """One ``[[smtp]]`` table: a mail route. The lowest ``priority`` that answers carries
    the mail; the next takes over when it cannot be reached or keeps answering 4xx."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9_.-]+$")
    url: SmtpUrl
    rate: Rate | None = None
    priority: int = 0
    domains: list[DomainCap] = []


def _mailbox_url(value: SecretStr) -> SecretStr:
    scheme = value.get_secret_value().partition(":")[0]
    if scheme not in ("imap", "imaps", "imap+starttls"):
        raise ValueError("use imaps://user:pass@host/FOLDER, imap+starttls:// or imap://")
    try:
        parts = urlsplit(value.get_secret_value())
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        raise ValueError("the port is not a number from 1 to 65535") from None
    if not parts.hostname or not parts.username or parts.password is None:
        raise ValueError(f"{scheme}:// needs user:password@host")
    return value


class BouncesConfig(BaseModel):
    """[bounces]: where late bounces and complaints come from, and what they do."""

    model_config = ConfigDict(extra="forbid")
    # imaps://user:pass@host[:port]/FOLDER (FOLDER: INBOX when left out)
    imap: Annotated[SecretStr, AfterValidator(_mailbox_url)] | None = None
    every: Duration = 300.0
    # Where handled reports go (None: deleted); reports we cannot read stay where they are.
    handled_folder: str | None = None
    # Provider webhooks (POST /v1/bounces/{provider}); each one only when configured.
    ses_topic_arns: list[str] = []  # SNS topics whose notifications are believed
    sns_cert_hosts: list[str] = [r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$"]
    postmark_user: str | None = None  # HTTP basic auth Postmark sends (set in its webhook URL)
    postmark_password: SecretStr | None = None
    sendgrid_public_key: str | None = None  # "Signed Event Webhook" verification key (base64)
    mailgun_signing_key: SecretStr | None = None
    # Signed events older than this (or this far in the future) are refused as replays.
    max_event_age: Duration = 300.0


class FileConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    publisher: Publisher = Publisher()
    dkim: DkimConfig | None = None
    dkim_keys: list[DkimConfig] = []  # [[dkim]] tables: one key per sender domain
    channels: list[ChannelConfig] = []
    feeds: list[FeedConfig] = []
    smtp: list[SmtpRoute] = []
    bounces: BouncesConfig = BouncesConfig()

    @model_validator(mode="before")
    @classmethod
    def _dkim_tables(cls, data: Any) -> Any:
        """[[dkim]] (several keys) lands in dkim_keys; [dkim] (one key) stays as it was."""
        if isinstance(data, dict) and isinstance(data.get("dkim"), list):
            data = {**data, "dkim_keys": data["dkim"]}
            del data["dkim"]
        return data

    @field_validator("smtp")
    @classmethod
    def _unique_routes(cls, routes: list[SmtpRoute]) -> list[SmtpRoute]:
        names = [r.name for r in routes]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"route name {twice[0]!r} is used twice")
        return routes


class Settings(BaseSettings):
    """Everything the service is told. Built by :func:`distributor.bootstrap.load_settings`."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    database_url: SecretStr = SecretStr("sqlite:///./var/distributor.db")
    broker_url: str = "redis://localhost:6379/0"
    # The Sentinel master name when broker_url (or redis_url) is sentinel://…
    sentinel_master: str = Field("mymaster", min_length=1, max_length=100,
                                 pattern=r"^[A-Za-z0-9_.-]+$")
    # Redis for rate limits, heartbeats, counters and locks: the broker's own Redis (or
    # Sentinel) unless set; required with an amqp:// broker.
    redis_url: str | None = None
    broker_prefix: str = Field("", max_length=64, pattern=r"^[A-Za-z0-9:_.-]*$")
    smtp_url: SmtpUrl = SecretStr("maildir:./var/outbox")
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
    smtp_rate: Rate | None = None  # '14/s': messages per second, shared by every worker
    http_timeout: float = Field(10.0, gt=0)
    worker_concurrency: int = Field(8, ge=1, le=256)
    templates_dir: Path | None = None
    sweep_every: float = Field(60.0, ge=1)
    sweep_grace: float = Field(120.0, ge=1)
    release_every: float = Field(30.0, ge=1)  # beat: embargoes are released this often
    # Per-recipient ledger rows of sends that ended longer ago are rolled up (db prune).
    ledger_retention: Duration = 30 * 86400.0
    digest_tick_every: float = Field(60.0, ge=0.5)
    # The first digest of a new list carries what arrived this long before it was made.
    first_digest_window: Duration = 86400.0
    email_retry_base: float = Field(30.0, gt=0)
    channel_retry_base: float = Field(5.0, gt=0)
    # VERP: each message's envelope sender is local+<signed token>@domain of this address.
    bounce_address: str | None = None
    # Soft bounces (4.x.x, mailbox full, policy) suppress an address after so many in so long.
    soft_bounce_limit: int = Field(5, ge=1)
    soft_bounce_window: Duration = 30 * 86400.0
    # A send pauses itself past these rates (once it has reached so many recipients).
    hard_bounce_pause: float = Field(0.05, gt=0, le=1)
    complaint_pause: float = Field(0.003, gt=0, le=1)
    reputation_floor: int = Field(1000, ge=1)

    # From the TOML file, not the environment.
    file: FileConfig = FileConfig()

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, *args, **kwargs):
        # bootstrap.load_settings reads the environment mapping it is given; nothing else leaks in.
        return (init_settings,)

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("secret_key", "api_token", "webhook_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None, info) -> SecretStr | None:
        # An empty or short secret fails open (an empty HMAC key signs for anyone): refuse it.
        if value is not None:
            check_secret(value.get_secret_value(), webhook=info.field_name == "webhook_secret")
        return value

    @field_validator("from_address")
    @classmethod
    def _from_address(cls, value: str) -> str:
        check_from_address(value)
        return value

    @field_validator("bounce_address")
    @classmethod
    def _bounce_address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not ADDRESS.match(value) or not value.isascii() or "+" in value:
            raise ValueError(f"{value!r} is not a plain ASCII address like "
                             "bounces@news.example.org (no name, no '+')")
        return value

    @field_validator("broker_url")
    @classmethod
    def _broker(cls, value: str) -> str:
        check_broker_url(value, AMQP_SCHEMES + REDIS_SCHEMES)
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis(cls, value: str | None) -> str | None:
        if value is not None:
            check_broker_url(value, REDIS_SCHEMES)
        return value

    @model_validator(mode="after")
    def _redis_beside_amqp(self) -> Settings:
        if self.broker_is_amqp and self.redis_url is None:
            raise ValueError("DISTRIBUTOR_REDIS_URL: an amqp:// broker needs a Redis as well, "
                             "for rate limits, heartbeats and locks (e.g. redis://host:6379/0)")
        return self

    @property
    def broker_is_amqp(self) -> bool:
        return self.broker_url.startswith(AMQP_SCHEMES)

    @property
    def redis(self) -> str:
        """The Redis (redis://, rediss://, unix:// or sentinel://) that holds rate limits,
        heartbeats, counters and locks."""
        return self.redis_url or self.broker_url

    @property
    def publisher(self) -> Publisher:
        return self.file.publisher

    @property
    def smtp_routes(self) -> list[SmtpRoute]:
        """The mail routes by priority: the [[smtp]] tables, else one route 'default' from
        DISTRIBUTOR_SMTP_URL and DISTRIBUTOR_SMTP_RATE."""
        if self.file.smtp:
            return sorted(self.file.smtp, key=lambda r: r.priority)
        return [SmtpRoute(name="default", url=self.smtp_url, rate=self.smtp_rate)]

    @property
    def bounces(self) -> BouncesConfig:
        return self.file.bounces

    @property
    def channels(self) -> list[ChannelConfig]:
        return self.file.channels

    def channel(self, name: str) -> ChannelConfig | None:
        return next((c for c in self.channels if c.name == name), None)

    @property
    def secret(self) -> str:
        assert self.secret_key is not None, "bootstrap.load_settings fills the secret key"
        return self.secret_key.get_secret_value()

    def secret_values(self) -> list[str]:
        """Every secret we hold, for redaction from logs and output."""
        found = [s for s in (self.secret_key, self.api_token, self.webhook_secret) if s]
        for channel in self.channels:
            if isinstance(channel.options, BaseModel):
                found += [v for v in vars(channel.options).values() if isinstance(v, SecretStr)]
        values = [s.get_secret_value() for s in found]
        bounces = self.file.bounces
        values += [s.get_secret_value() for s in (bounces.postmark_password,
                                                   bounces.mailgun_signing_key) if s]
        urls = [u.get_secret_value() for u in (self.smtp_url, self.database_url,
                                                *(r.url for r in self.file.smtp))]
        urls += [h for u in (self.broker_url, self.redis_url or "") for h in u.split(";")]
        if bounces.imap:
            urls.append(bounces.imap.get_secret_value())
        for url in urls:
            password = url_password(url)
            if password:
                values.append(password)
        return [v for v in values if len(v) >= 4]


