"""A sender identity per list: its From, Reply-To and List-Id, and the envelope sender
(RFC 5321 MAIL FROM) the server sees."""

from __future__ import annotations

from sqlalchemy import select

from distributor.audience.lists import update_list
from distributor.store import MailingList


def test_a_list_sends_as_itself(alert, smtp_server):
    job = alert(readers=2)
    with job.db.session() as session:
        name = session.scalar(select(MailingList.name))
    update_list(job.db, name, from_address="Morning Brief <brief@brief.example.org>",
                reply_to="desk@news.example.org")
    job.run()
    received = smtp_server.handler.to(job.emails[0])[-1]
    message = received.message
    assert received.mail_from == "brief@brief.example.org"
    assert message["From"] == "Morning Brief <brief@brief.example.org>"
    assert message["Reply-To"] == "desk@news.example.org"
    assert message["List-Id"] == f"{name} <{name}.brief.example.org>"
    assert message["Message-ID"].endswith("@brief.example.org>")


def test_without_its_own_sender_a_list_uses_distributor_from(alert, smtp_server):
    job = alert(readers=1)
    job.run()
    received = smtp_server.handler.to(job.emails[0])[-1]
    assert received.mail_from == "news@news.example.org"
    assert received.message["Reply-To"] is None
