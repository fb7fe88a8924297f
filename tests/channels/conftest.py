from __future__ import annotations

import pytest
import requests

from distributor.channels import make_adapter, validate_channel_options
from distributor.config import ChannelConfig, Settings
from tests.channels.cases import CASES, IDS


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
