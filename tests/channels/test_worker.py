"""The real path: a Celery worker subprocess on the real Redis posts to local fake
services. A 429's retry-after is waited out by a countdown (not a sleep), and a
task delivered twice posts once."""

from __future__ import annotations

import time
import uuid

import pytest
from sqlalchemy import select

from distributor.inbound.article import ingest
from distributor.store import ChannelPost, Database
from tasks.app import make_app
from tasks.dispatch import CeleryDispatcher
from tests.channels.cases import TG_CHAT, TG_TOKEN
from tests.channels.fake_telegram import FakeTelegram
from tests.channels.fake_webhooks import FakeDiscord
from tests.conftest import Worker, new_database_url, settings_env, write_config
from tests.peers import wait_for


@pytest.fixture(scope="module")
def live(tmp_path_factory, redis_url, backend, postgres):
    tmp = tmp_path_factory.mktemp("channels-live")
    with FakeTelegram(TG_TOKEN, TG_CHAT) as telegram, FakeDiscord() as discord:
        config = write_config(tmp / "distributor.toml", channels=[
            {"name": "tg", "type": "telegram", "base_url": telegram.url(), "chat_id": TG_CHAT,
             "token": TG_TOKEN},
            {"name": "dc", "type": "discord", "url": discord.url(FakeDiscord.PATH)},
        ])
        env = settings_env(tmp, new_database_url(backend, postgres, tmp), redis_url,
                           f"maildir:{tmp / 'outbox'}", config)
        from distributor.bootstrap import load_settings

        settings = load_settings(env)
        db = Database(settings.database_url.get_secret_value())
        db.upgrade()
        worker = Worker(env, tmp).start()
        try:
            yield settings, db, CeleryDispatcher(make_app(settings)), telegram, discord, worker
        finally:
            worker.stop()
            db.dispose()


def new_article(settings, db, title):
    result = ingest(db, settings, {"url": f"https://news.example.org/{uuid.uuid4().hex[:8]}",
                                   "title": title, "summary": "Three hundred workers."})
    with db.session() as session:
        posts = {p.channel: p.id for p in session.scalars(
            select(ChannelPost).where(ChannelPost.article_id == result.article_id))}
    return result.article_id, posts


def settled(db, post_id):
    with db.session() as session:
        post = session.get(ChannelPost, post_id)
        return post if post.state in ("sent", "failed") else None


def test_a_rate_limited_post_goes_once_after_the_retry_after(live):
    settings, db, dispatcher, telegram, _, worker = live
    title = f"Rate limited {uuid.uuid4().hex[:6]}"
    article_id, posts = new_article(settings, db, title)
    telegram.rate_limit(2)
    dispatcher.fan_out(article_id)

    post = wait_for(lambda: settled(db, posts["tg"]), timeout=30, what="the telegram post")
    assert post.state == "sent", worker.output()[-2000:]
    mine = [r for r in telegram.requests if title in r.body.decode()]
    assert len(mine) == 2, "one 429, then one post"
    assert mine[1].at - mine[0].at >= 2.0 - 0.05
    assert [p for p in telegram.posts if title in p["text"]][0]["message_id"] == \
        int(post.remote_id)


def test_a_task_delivered_twice_posts_once(live):
    settings, db, dispatcher, _, discord, worker = live
    title = f"Twice {uuid.uuid4().hex[:6]}"
    _, posts = new_article(settings, db, title)
    discord.delay = 0.5
    try:
        dispatcher.post(posts["dc"])
        dispatcher.post(posts["dc"])
        post = wait_for(lambda: settled(db, posts["dc"]), timeout=30, what="the discord post")
        time.sleep(1.0)  # room for a second request, were there one
    finally:
        discord.delay = 0.0
    assert post.state == "sent", worker.output()[-2000:]
    assert len([r for r in discord.requests if title in r.body.decode()]) == 1
    assert post.remote_id
