"""A property-based fuzz of the HTTP API from its own OpenAPI document (schemathesis
strategies driven by hypothesis). Request bodies are declared for every endpoint that
reads one, so they are fuzzed too; valid (positive) and invalid (negative) inputs,
with the admin token and without; every answer must be a status the document
declares for that operation, and never a 5xx (/health's documented 503 aside)."""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance

from distributor.api import create_app
from distributor.outbox.wake import MemoryDispatcher
from tests.api.conftest import AUTH


@pytest.mark.timeout(600)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("token", [True, False], ids=["token", "no-token"])
def test_no_input_makes_the_api_fail_or_answer_off_its_schema(make_settings, db, redis_client,
                                                              mode, token):
    dispatcher = MemoryDispatcher()
    app = create_app(make_settings(), db, dispatcher)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    bodies = {(op.method.upper(), op.path) for op in operations if op.body}
    assert {("POST", "/v1/articles"), ("POST", "/subscribe")} <= bodies

    for operation in operations:
        @given(case=operation.as_strategy(generation_mode=mode))
        # The same examples every run, so CI is repeatable; DISTRIBUTOR_FUZZ_SEARCH=1
        # draws new ones each run to look for more.
        @settings(max_examples=15, deadline=None, database=None,
                  derandomize=not os.environ.get("DISTRIBUTOR_FUZZ_SEARCH"),
                  suppress_health_check=list(HealthCheck))
        def answers_by_the_schema(case):
            for key in redis_client.scan_iter("*distributor:rate:subscribe:*"):
                redis_client.delete(key)
            response = case.call(headers=AUTH if token else {})
            if case.path == "/health" and response.status_code == 503:
                return  # documented: no worker has a heartbeat in this test
            case.validate_response(response, checks=[not_a_server_error,
                                                     status_code_conformance])

        try:
            answers_by_the_schema()
        except Unsatisfiable:  # nothing to make invalid (no parameters, no body)
            assert mode == GenerationMode.NEGATIVE, operation.label
