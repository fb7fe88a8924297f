"""Double opt-in through a real worker: the form's POST wakes the email.confirm task,
the worker mails the link, and following it (the page's button) activates the reader."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from distributor.api import create_app
from distributor.audience.lists import create_list
from distributor.store import Subscriber, Subscription
from tests.peers import wait_for


def test_the_confirmation_email_goes_through_the_worker_and_its_link_confirms(stack):
    name = stack.unique("optin")
    reader = f"{stack.unique('optin-reader')}@example.com"
    create_list(stack.db, name, instant=False, schedule="0 8 * * 1", double_opt_in=True)
    client = TestClient(create_app(stack.settings, stack.db, stack.dispatcher))
    answer = client.post("/subscribe", json={"email": reader, "list": name})
    assert answer.status_code == 202

    mail = wait_for(lambda: stack.smtp.handler.to(reader), timeout=30,
                    what="the confirmation email at the SMTP server")
    assert len(mail) == 1
    body = mail[0].message.get_body(("plain",)).get_content()
    link = re.search(r"https?://\S+/confirm/(\S+)", body)
    assert link, body
    assert client.get(f"/confirm/{link.group(1)}").status_code == 200  # the page, a button
    assert client.post(f"/confirm/{link.group(1)}").status_code == 200
    with stack.db.session() as session:
        status = session.scalar(select(Subscription.status).join(
            Subscriber, Subscriber.id == Subscription.subscriber_id)
            .where(Subscriber.email == reader))
    assert status == "active"
