"""A property-based fuzz of the HTTP API from its own OpenAPI document (schemathesis
strategies driven by hypothesis): whatever the input, no 5xx."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

from distributor.api import create_app
from distributor.outbox.wake import MemoryDispatcher
from tests.api.conftest import AUTH


def test_no_input_makes_the_api_fail(make_settings, db, redis_client):
    dispatcher = MemoryDispatcher()
    dispatcher.confirm = lambda _id: None
    app = create_app(make_settings(), db, dispatcher)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def no_server_error(case):
            for key in redis_client.scan_iter("*distributor:rate:subscribe:*"):
                redis_client.delete(key)
            response = case.call(headers=AUTH)
            if case.path == "/health" and response.status_code == 503:
                return  # documented: no worker has a heartbeat in this test
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path}: {response.status_code} "
                f"{response.text[:300]}")

        no_server_error()
