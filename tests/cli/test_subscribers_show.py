"""`subscribers show EMAIL`: a reader's lists and the bounces and complaints received."""

from __future__ import annotations

import json
import os

from distributor.audience.bounces import Report
from distributor.bootstrap import load_settings
from distributor.email.bounces import take_all
from distributor.states import BounceKind, SubscriptionStatus
from distributor.store import Database


def test_show_lists_the_events_with_their_raw_reason(run):
    assert run("lists", "create", "breaking", "--instant").exit_code == 0
    assert run("subscribers", "add", "gone@example.com", "--list", "breaking").exit_code == 0
    settings = load_settings(os.environ)
    db = Database(settings.database_url.get_secret_value())
    take_all(db, settings, [Report(kind=BounceKind.HARD, key="k1", source="mailbox",
                                   status="5.1.1", reason="550 5.1.1 <gone@example.com>: "
                                   "Recipient address rejected: User unknown",
                                   email="gone@example.com")])
    db.dispose()
    shown = run("subscribers", "show", "gone@example.com", "--json")
    assert shown.exit_code == 0
    found = json.loads(shown.output)
    assert found["suppressed"] == SubscriptionStatus.BOUNCED
    assert found["subscriptions"][0]["status"] == SubscriptionStatus.BOUNCED
    assert found["events"][0]["status"] == "5.1.1" and "User unknown" in found["events"][0]["reason"]
    human = run("subscribers", "show", "gone@example.com")
    assert "5.1.1" in human.output and "suppressed: bounced" in human.output


def test_show_of_an_unknown_or_bad_address_exits_2(run):
    assert run("subscribers", "show", "nobody@example.com").exit_code == 2
    assert run("subscribers", "show", "not-an-address").exit_code == 2
