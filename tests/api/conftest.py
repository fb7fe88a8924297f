from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from distributor.api import create_app
from distributor.outbox.wake import MemoryDispatcher
from tests.conftest import API_TOKEN


@pytest.fixture()
def dispatcher():
    """Wiring only: records what the API asked for. Delivery is proven in tests/e2e."""
    return MemoryDispatcher()


@pytest.fixture()
def settings(make_settings):
    return make_settings()


@pytest.fixture()
def client(settings, db, dispatcher, redis_client):
    for key in redis_client.scan_iter("*distributor:rate:subscribe:*"):
        redis_client.delete(key)
    app = create_app(settings, db, dispatcher)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
