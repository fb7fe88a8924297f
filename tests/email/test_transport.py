"""SMTP results against a real SMTP server: 250 delivers, 4xx is transient, 5xx on RCPT
bounces, a dropped connection is transient and the next send reconnects."""

from __future__ import annotations

import pytest

from distributor.email.transport import MaildirTransport, open_transport
from distributor.errors import ConfigError, RecipientRefused, TransientError
from tests.peers import SMTPServer, free_port

MESSAGE = b"Subject: hi\r\nFrom: news@example.org\r\nTo: a@example.com\r\n\r\nhello\r\n"


@pytest.fixture()
def server():
    with SMTPServer() as smtp:
        yield smtp


def test_a_message_is_delivered_over_one_connection(server):
    connection = open_transport(server.url).connect()
    for n in range(3):
        connection.send("news@example.org", f"r{n}@example.com", MESSAGE)
    connection.close()
    assert [m.rcpt_to for m in server.handler.messages] == [f"r{n}@example.com" for n in range(3)]


def test_5xx_on_rcpt_is_a_bounce_and_4xx_is_transient(server):
    server.handler.rcpt_replies["gone@example.com"] = "550 5.1.1 no such user"
    server.handler.rcpt_replies["busy@example.com"] = "451 4.3.0 try later"
    connection = open_transport(server.url).connect()
    with pytest.raises(RecipientRefused, match="550"):
        connection.send("news@example.org", "gone@example.com", MESSAGE)
    with pytest.raises(TransientError, match="451"):
        connection.send("news@example.org", "busy@example.com", MESSAGE)
    connection.send("news@example.org", "fine@example.com", MESSAGE)
    connection.close()
    assert [m.rcpt_to for m in server.handler.messages] == ["fine@example.com"]


def test_4xx_on_data_is_transient(server):
    server.handler.data_replies.append("452 4.3.1 insufficient storage")
    connection = open_transport(server.url).connect()
    with pytest.raises(TransientError, match="452"):
        connection.send("news@example.org", "a@example.com", MESSAGE)
    connection.send("news@example.org", "a@example.com", MESSAGE)
    connection.close()
    assert len(server.handler.messages) == 1


def test_no_server_is_transient():
    connection = open_transport(f"smtp://127.0.0.1:{free_port()}", timeout=2).connect()
    with pytest.raises(TransientError, match="connect"):
        connection.send("news@example.org", "a@example.com", MESSAGE)


def test_maildir_and_bad_urls(tmp_path):
    transport = open_transport(f"maildir:{tmp_path / 'box'}")
    assert isinstance(transport, MaildirTransport)
    transport.connect().send("news@example.org", "a@example.com", MESSAGE)
    assert len(list((tmp_path / "box" / "new").iterdir())) == 1
    with pytest.raises(ConfigError, match="DISTRIBUTOR_SMTP_URL"):
        open_transport("http://example.org")
