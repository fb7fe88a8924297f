from __future__ import annotations

import uuid

import pytest
import requests
from sqlalchemy import select

from distributor.channels.adapters import ADAPTERS, make_adapter, validate_channel_options
from distributor.channels.ratelimit import ChannelLimiter as RedisLimiter
from distributor.config import ChannelConfig, Settings
from distributor.inbound.article import ingest
from distributor.store import ChannelPost, Database
from tests.channels.cases import CASES, IDS, NEWSLETTER, TG_CHAT, TG_TOKEN, WAHA_KEY
from tests.channels.fake_telegram import FakeTelegram
from tests.channels.fake_whatsapp import FakeWaha


@pytest.fixture(params=CASES, ids=IDS)
def case(request):
    return request.param


@pytest.fixture()
def fake(case):
    with case.make() as server:
        yield server


def channel_of(channel_type: str, keys: dict, name: str = "chan", **common) -> ChannelConfig:
    keys = dict(keys)
    base_url = keys.pop("base_url", None)
    options = validate_channel_options(channel_type, keys, base_url)
    return ChannelConfig(name=name, type=channel_type, base_url=base_url, options=options,
                         **common)


def adapter_for(channel: ChannelConfig, timeout: float = 5.0):
    return make_adapter(channel, requests.Session(), timeout)


@pytest.fixture()
def plain_settings() -> Settings:
    return Settings()


@pytest.fixture()
def setup(make_settings):
    made = []

    def build(channels):
        settings = make_settings(channels=channels)
        db = Database(settings.database_url.get_secret_value())
        db.upgrade()
        made.append(db)
        return settings, db

    yield build
    for db in made:
        db.dispose()


def publish(settings, db, title="A story") -> list[int]:
    url = f"https://news.example.org/{uuid.uuid4().hex[:8]}"
    result = ingest(db, settings, {"url": url, "title": title, "summary": "Short & sweet."})
    with db.session() as session:
        return list(session.scalars(select(ChannelPost.id).where(
            ChannelPost.article_id == result.article_id).order_by(ChannelPost.id)))




@pytest.fixture()
def limiter(redis_client):
    """The real shared limiter, on keys of its own."""
    defaults = {name: cls.default_rate for name, cls in ADAPTERS.items()}
    return RedisLimiter(redis_client, prefix=f"test:{uuid.uuid4().hex[:6]}:", defaults=defaults)


def post_row(db, post_id) -> ChannelPost:
    with db.session() as session:
        return session.get(ChannelPost, post_id)


@pytest.fixture()
def telegram():
    with FakeTelegram(TG_TOKEN, TG_CHAT) as server:
        yield server


@pytest.fixture()
def waha():
    with FakeWaha(WAHA_KEY) as server:
        yield server


def telegram_adapter(server, **keys):
    return adapter_for(channel_of("telegram", {"base_url": server.url(), "chat_id": TG_CHAT,
                                               "token": TG_TOKEN, **keys}))


def waha_adapter(server, **keys):
    return adapter_for(channel_of("waha", {"base_url": server.url(), "chat_id": NEWSLETTER,
                                           "api_key": WAHA_KEY, **keys}))
