"""docker-compose.yml and the Dockerfile, checked without Docker: valid against the
Compose Specification's JSON schema (.ci/compose-spec.json, from compose-spec/compose-spec
at 170098ba, Apache-2.0), no default secrets, local-only ports, a health check per service,
and every file the Dockerfile copies present."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT

yaml = pytest.importorskip("yaml")
jsonschema_rs = pytest.importorskip("jsonschema_rs")

COMPOSE = ROOT / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_the_file_is_valid_compose(compose):
    import json

    schema = json.loads((ROOT / ".ci" / "compose-spec.json").read_text())
    errors = [f"{'/'.join(map(str, e.instance_path))}: {e.message}"
              for e in jsonschema_rs.validator_for(schema).iter_errors(compose)]
    assert errors == []


def test_no_default_secrets_and_the_token_is_required(compose):
    text = COMPOSE.read_text()
    assert "change-me" not in text
    for name, service in compose["services"].items():
        env = service.get("environment") or {}
        token = env.get("DISTRIBUTOR_API_TOKEN")
        if token is not None:
            assert re.fullmatch(r"\$\{DISTRIBUTOR_API_TOKEN:\?[^}]+\}", token), name
        for key, value in env.items():
            if any(word in key for word in ("TOKEN", "SECRET", "PASSWORD", "AUTH")):
                assert ":-}" in str(value) or ":?" in str(value) or str(value).startswith("${"), key
                assert not re.search(r":-[^}]", str(value)), f"{name}.{key} has a default"


def test_published_ports_bind_to_localhost_unless_asked(compose):
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith(("127.0.0.1:", "${DISTRIBUTOR_BIND:-127.0.0.1}:")), name


def test_every_long_running_service_has_a_health_check(compose):
    for name, service in compose["services"].items():
        if service.get("restart") == "no":
            continue  # a one-shot job (migrate)
        assert "healthcheck" in service, name


def test_the_flower_service_demands_basic_auth(compose):
    flower = compose["services"]["flower"]
    assert "--basic-auth" in " ".join(flower["command"])
    assert "exit 2" in " ".join(flower["command"])


def test_every_file_the_dockerfile_copies_exists():
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source
