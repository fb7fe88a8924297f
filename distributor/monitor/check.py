"""`distributor check`: can this configuration work? One line per peer (the mail
server, Redis, the database), each saying what was tried and what went wrong.
Secrets never show: every line is redacted with the settings' secrets."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from alembic.script import ScriptDirectory
from kombu import Connection
from kombu.exceptions import ChannelError, KombuError
from kombu.exceptions import ConnectionError as AmqpConnectionError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from distributor.config import Settings
from distributor.email.transport import open_transport
from distributor.errors import DistributorError
from distributor.monitor.queues import broker_client
from distributor.monitor.snapshot import redis_host, settings_host
from distributor.store import Database
from distributor.store.migrate import alembic_config

TIMEOUT = 10.0


@dataclass
class Finding:
    name: str
    ok: bool
    detail: str

    def line(self, secrets: list[str]) -> str:
        text_ = f"{self.name}: {'ok' if self.ok else 'FAILED'}: {self.detail}"
        for secret in secrets:
            text_ = text_.replace(secret, "***")
        return text_


def check_smtp(settings: Settings) -> list[Finding]:
    """Each mail route: 'smtp' for DISTRIBUTOR_SMTP_URL, 'smtp[name]' per [[smtp]] table."""
    findings = []
    for route in settings.smtp_routes:
        name = f"smtp[{route.name}]" if settings.file.smtp else "smtp"
        transport = open_transport(route.url.get_secret_value(), min(settings.smtp_timeout, TIMEOUT))
        try:
            done = transport.check()
        except DistributorError as exc:
            findings.append(Finding(name, False, f"{transport.description}: {exc}"))
        else:
            findings.append(Finding(name, True, f"{transport.description}: {done}"))
    return findings


def check_redis(settings: Settings) -> Finding:
    client = broker_client(settings, timeout=5)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        return Finding("redis", False, f"{redis_host(settings)}: {_reason(exc)}")
    finally:
        client.close()
    return Finding("redis", True, f"{redis_host(settings)}: PING answered")


def _reason(exc: Exception) -> str:
    """The error's name and first line, without the client reprs redis-py appends."""
    first = str(exc).splitlines()[0].split(" : <")[0][:200] if str(exc) else ""
    return f"{type(exc).__name__}: {first}".rstrip(": ")


def check_amqp(settings: Settings) -> Finding:
    """An amqp:// broker: connect and open a channel (the Redis beside it is checked apart)."""
    where = settings_host(settings).split(",")[0]  # the broker, not the Redis beside it
    try:
        with Connection(settings.broker_url, connect_timeout=5) as connection:
            connection.ensure_connection(max_retries=1)
            connection.channel().close()
    except (KombuError, ChannelError, AmqpConnectionError, OSError) as exc:
        return Finding("broker", False, f"{where}: {_reason(exc)}")
    return Finding("broker", True, f"{where}: AMQP connection opened")


def check_database(settings: Settings) -> Finding:
    try:
        db = Database(settings.database_url.get_secret_value())
    except DistributorError as exc:
        return Finding("database", False, str(exc))
    name = db.engine.dialect.name
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            try:
                current = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
            except SQLAlchemyError:
                current = None
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()
        return Finding("database", False, f"{name}: does not answer: "
                                          f"{reason[0] if reason else type(exc).__name__}")
    finally:
        db.dispose()
    if current is None:
        return Finding("database", False, f"{name}: no schema yet; run `distributor db upgrade`")
    if current != head:
        return Finding("database", False, f"{name}: schema at {current}, this version needs "
                                          f"{head}; run `distributor db upgrade`")
    return Finding("database", True, f"{name}: schema at {head}")


def check_all(settings: Settings) -> list[Finding]:
    broker = [check_amqp(settings)] if settings.broker_is_amqp else []
    return [*check_smtp(settings), *broker, check_redis(settings), check_database(settings)]
