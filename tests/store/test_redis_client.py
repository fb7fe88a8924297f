"""The one Redis factory and the broker wiring: plain Redis, Sentinel, RabbitMQ.
(Failing a Sentinel primary over under a real worker: tests/faults/test_broker_failover.py.)"""

from __future__ import annotations

import pytest
from redis.sentinel import SentinelConnectionPool

from distributor.bootstrap import load_settings
from distributor.monitor.snapshot import redis_host, settings_host
from distributor.store.redis_client import SentinelAddress, connect, redis_for
from tasks.app import broker_options, make_app, queue_name


def settings(tmp_path, **env):
    return load_settings({"DISTRIBUTOR_VAR_DIR": str(tmp_path),
                          **{f"DISTRIBUTOR_{k.upper()}": v for k, v in env.items()}})


def test_a_sentinel_url_names_every_sentinel_and_the_primary_database():
    address = SentinelAddress.parse("sentinel://:s3cret@h1:26379;sentinel://h2;sentinel://h3:26380/4")
    assert address.sentinels == (("h1", 26379), ("h2", 26379), ("h3", 26380))
    assert (address.db, address.password) == (4, "s3cret")


def test_kombu_is_given_the_credentials_and_database_on_every_sentinel():
    """kombu reads them from the first sentinel only; the client reads them anywhere."""
    url = SentinelAddress.parse("sentinel://h1:26379;sentinel://u:p%40ss@h2:26379/3").kombu_url()
    assert url == "sentinel://u:p%40ss@h1:26379/3;sentinel://u:p%40ss@h2:26379/3"


def test_a_sentinel_broker_gives_celery_the_master_name(tmp_path):
    s = settings(tmp_path, broker_url="sentinel://h1:26379;sentinel://h2:26379/2",
                 sentinel_master="news")
    url, options = broker_options(s)
    assert url == "sentinel://h1:26379/2;sentinel://h2:26379/2"
    assert options["master_name"] == "news" and options["visibility_timeout"] == 3600


def test_the_limiter_and_heartbeat_redis_follows_the_sentinels(tmp_path):
    s = settings(tmp_path, broker_url="sentinel://h1:26379;sentinel://h2:26379/2",
                 sentinel_master="news")
    client = redis_for(s)
    pool = client.connection_pool
    assert isinstance(pool, SentinelConnectionPool) and pool.service_name == "news"
    assert pool.connection_kwargs["db"] == 2
    client.close()


def test_a_plain_redis_url_gives_a_plain_client():
    client = connect("redis://127.0.0.1:6379/5", "mymaster", timeout=1.5)
    assert client.connection_pool.connection_kwargs["db"] == 5
    assert client.connection_pool.connection_kwargs["socket_timeout"] == 1.5
    client.close()


def test_a_rabbitmq_broker_declares_quorum_queues_on_topic_exchanges(tmp_path):
    s = settings(tmp_path, broker_url="amqp://guest:guest@rabbit:5672//",
                 redis_url="redis://cache:6379/1", broker_prefix="site1:")
    app = make_app(s)
    queues = {q.name: q for q in app.conf.task_queues}
    assert set(queues) == {"site1:publish", "site1:email", "site1:channels", "site1:digests",
                           "site1:maintenance"}
    email = queues["site1:email"]
    assert email.queue_arguments == {"x-queue-type": "quorum"}
    assert email.exchange.type == "topic" and email.routing_key == "site1:email"
    assert app.conf.task_routes["email.*"] == {"queue": "site1:email"}
    assert queue_name(s, "email") == "site1:email"
    assert redis_for(s).connection_pool.connection_kwargs["host"] == "cache"


def test_on_redis_the_prefix_stays_kombus_key_prefix(tmp_path):
    s = settings(tmp_path, broker_url="redis://127.0.0.1:6379/0", broker_prefix="site1:")
    app = make_app(s)
    assert {q.name for q in app.conf.task_queues} >= {"email", "publish"}
    assert app.conf.broker_transport_options["global_keyprefix"] == "site1:"
    assert queue_name(s, "email") == "email"


@pytest.mark.parametrize("env,shown", [
    ({"broker_url": "sentinel://:pw@h1:26379;sentinel://h2:26379/3"},
     "sentinel h1:26379,h2:26379/3"),
    ({"broker_url": "amqp://guest:pw@rabbit//", "redis_url": "redis://:pw@cache:6380/1"},
     "rabbit:5672//, redis cache:6380/1"),
])
def test_where_the_broker_is_is_shown_without_credentials(tmp_path, env, shown):
    s = settings(tmp_path, **env)
    assert settings_host(s) == shown
    assert "pw" not in redis_host(s)


def test_broker_and_redis_passwords_are_secrets_for_the_logs(tmp_path):
    s = settings(tmp_path, broker_url="amqp://guest:rabbit-pass@rabbit//",
                 redis_url="sentinel://:sentinel-pass@h1:26379;sentinel://h2:26379/0")
    assert {"rabbit-pass", "sentinel-pass"} <= set(s.secret_values())
