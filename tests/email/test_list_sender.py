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


def test_each_sender_domain_is_signed_with_its_own_dkim_key(alert, smtp_server, tmp_path):
    import dkim

    from distributor.config import DkimConfig
    from tests.email.test_dkim import make_key

    keys = {}
    for domain in ("news.example.org", "brief.example.org"):
        (tmp_path / domain).mkdir()
        keys[domain] = make_key(tmp_path / domain)
    job = alert(readers=1)
    job.settings = job.settings.model_copy(update={"file": job.settings.file.model_copy(update={
        "dkim_keys": [DkimConfig(key_file=keys[d][0], selector="s1", domain=d) for d in keys]})})

    def dns(name, timeout=5):
        domain = name.decode().removeprefix("s1._domainkey.").rstrip(".")
        return b"v=DKIM1; k=rsa; p=" + keys[domain][1]

    job.run()  # the list has no sender of its own: DISTRIBUTOR_FROM's domain signs
    plain = smtp_server.handler.to(job.emails[0])[-1].data
    assert b"d=news.example.org" in plain and dkim.verify(plain, dnsfunc=dns)

    second = alert(readers=1)
    second.settings = job.settings
    with second.db.session() as session:
        name = session.scalar(select(MailingList.name))
    update_list(second.db, name, from_address="Brief <brief@brief.example.org>")
    second.run()
    own = smtp_server.handler.to(second.emails[0])[-1].data
    assert b"d=brief.example.org" in own and dkim.verify(own, dnsfunc=dns)
