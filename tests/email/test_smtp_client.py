"""The SMTP transaction of smtp_client.py, held to RFC 5321 and RFC 2920 by a strict
server (strict_smtp.py) and tried against aiosmtpd offering PIPELINING: pipelined only
when offered, replies read in order, the message exactly as sent, the same errors as
smtplib's sendmail gave."""

from __future__ import annotations

import pytest

from distributor.email.transport import open_transport
from distributor.errors import PermanentError, RecipientRefused, Throttled, TransientError
from tests.email.strict_smtp import StrictSMTP
from tests.peers import SMTPServer

SENDER = "news@example.org"
MESSAGE = b"Subject: hi\r\nFrom: news@example.org\r\n\r\nhello\r\n"


@pytest.fixture()
def strict():
    with StrictSMTP() as server:
        yield server


def connect(server, timeout: float = 5.0):
    return open_transport(server.url, timeout).connect()


def test_mail_rcpt_and_data_go_in_one_group_when_the_server_offers_pipelining(strict):
    connection = connect(strict)
    for n in range(3):
        connection.send(SENDER, f"r{n}@example.com", MESSAGE)
    connection.close()
    assert [m.rcpt_tos for m in strict.messages] == [[f"r{n}@example.com"] for n in range(3)]
    assert strict.overtaken == ["MAIL", "RCPT"] * 3  # each answered after the next came
    assert strict.violations == []
    assert strict.connections == 1


def test_one_command_at_a_time_when_the_server_does_not_offer_pipelining():
    with StrictSMTP(pipelining=False) as server:
        connection = connect(server)
        for n in range(3):
            connection.send(SENDER, f"r{n}@example.com", MESSAGE)
        connection.close()
    assert len(server.messages) == 3
    assert server.overtaken == [] and server.violations == []


def test_lines_starting_with_a_dot_arrive_as_written(strict):
    """RFC 5321 4.5.2: without the doubled dot the server would end the message early."""
    message = b".first\r\nSubject: dots\r\n\r\n.\r\n..two\r\nend\n.bare\rcr\r\n"
    connection = connect(strict)
    connection.send(SENDER, "a@example.com", message)
    connection.send(SENDER, "b@example.com", b"no line end at the end")
    connection.close()
    assert strict.messages[0].data == message.replace(b"\n.bare\r", b"\r\n.bare\r\n")
    assert strict.messages[1].data == b"no line end at the end\r\n"
    assert strict.violations == []


def test_a_refused_recipient_bounces_and_the_connection_goes_on(strict):
    strict.replies["RCPT"].append("550 5.1.1 no such user")
    connection = connect(strict)
    with pytest.raises(RecipientRefused, match="550 5.1.1"):
        connection.send(SENDER, "gone@example.com", MESSAGE)
    connection.send(SENDER, "fine@example.com", MESSAGE)
    connection.close()
    assert [m.rcpt_tos for m in strict.messages] == [["fine@example.com"]]
    assert strict.connections == 1 and strict.violations == []
    assert strict.commands[:6] == ["EHLO", "MAIL", "RCPT", "DATA", "RSET", "MAIL"]


def test_data_accepted_after_a_refused_recipient_is_ended_with_a_lone_dot(strict):
    """RFC 2920 3.1: the client checks every reply; a 354 after a refusal gets "."."""
    strict.accept_data_without_rcpt = True
    strict.replies["RCPT"].append("550 5.1.1 no such user")
    connection = connect(strict)
    with pytest.raises(RecipientRefused):
        connection.send(SENDER, "gone@example.com", MESSAGE)
    connection.send(SENDER, "fine@example.com", MESSAGE)
    connection.close()
    assert [m.rcpt_tos for m in strict.messages] == [["fine@example.com"]]
    assert strict.violations == []


def test_a_refused_sender_is_permanent_and_4xx_is_transient(strict):
    strict.replies["MAIL"].extend(["553 5.7.1 sender not allowed", "451 4.3.0 try later"])
    connection = connect(strict)
    with pytest.raises(PermanentError, match="553") as refused:
        connection.send(SENDER, "a@example.com", MESSAGE)
    assert not isinstance(refused.value, RecipientRefused)  # not the reader's fault
    with pytest.raises(TransientError, match="451"):
        connection.send(SENDER, "a@example.com", MESSAGE)
    connection.send(SENDER, "a@example.com", MESSAGE)
    connection.close()
    assert len(strict.messages) == 1 and strict.violations == []


def test_421_throttles_and_the_next_message_reconnects(strict):
    strict.replies["MAIL"].append("421 4.7.0 too many connections")
    connection = connect(strict)
    with pytest.raises(Throttled, match="421"):
        connection.send(SENDER, "a@example.com", MESSAGE)
    connection.send(SENDER, "a@example.com", MESSAGE)
    connection.close()
    assert strict.connections == 2 and len(strict.messages) == 1


def test_421_on_rcpt_throttles_and_reconnects(strict):
    strict.replies["RCPT"].append("421 4.7.0 closing")
    connection = connect(strict)
    with pytest.raises(Throttled):
        connection.send(SENDER, "a@example.com", MESSAGE)
    connection.send(SENDER, "a@example.com", MESSAGE)
    connection.close()
    assert strict.connections == 2 and len(strict.messages) == 1


def test_replies_to_data_and_to_the_final_dot_map_as_before(strict):
    strict.replies["DATA"].append("452 4.3.1 insufficient storage")
    strict.replies["DOT"].extend(["554 5.7.1 content refused", "451 4.3.0 later"])
    connection = connect(strict)
    with pytest.raises(TransientError, match="452"):
        connection.send(SENDER, "a@example.com", MESSAGE)
    with pytest.raises(PermanentError, match="554"):
        connection.send(SENDER, "a@example.com", MESSAGE)
    with pytest.raises(TransientError, match="451"):
        connection.send(SENDER, "a@example.com", MESSAGE)
    connection.send(SENDER, "a@example.com", MESSAGE)
    connection.close()
    assert len(strict.messages) == 1 and strict.connections == 1
    assert strict.violations == []


def test_a_drop_after_the_final_dot_is_an_unknown_outcome_tried_again_later(strict):
    strict.drop_after_dot = 1
    connection = connect(strict)
    with pytest.raises(TransientError, match="closed"):
        connection.send(SENDER, "a@example.com", MESSAGE)
    connection.send(SENDER, "a@example.com", MESSAGE)  # a fresh connection
    connection.close()
    assert strict.connections == 2 and len(strict.messages) == 1


def test_size_is_declared_only_when_offered():
    for size in (10_000_000, None):
        with StrictSMTP(size=size) as server:
            connection = connect(server)
            connection.send(SENDER, "a@example.com", MESSAGE)
            connection.close()
        assert len(server.messages) == 1, size  # 555 for a SIZE it did not offer


def test_a_non_ascii_local_part_goes_with_smtputf8_only_when_offered():
    with StrictSMTP(smtputf8=True) as server:
        connection = connect(server)
        connection.send(SENDER, "jörg@example.com", MESSAGE)
        connection.close()
    assert server.messages[0].rcpt_tos == ["jörg@example.com"]
    with StrictSMTP() as server:
        connection = connect(server)
        with pytest.raises(PermanentError, match="SMTPUTF8"):
            connection.send(SENDER, "jörg@example.com", MESSAGE)
        connection.close()
    assert "MAIL" not in server.commands


@pytest.mark.parametrize("address", ["a@example.com\r\nRCPT TO:<b@example.com>",
                                     "a@example.com>", "a\x00@example.com"])
def test_an_address_that_would_break_the_command_line_is_refused_unsent(strict, address):
    connection = connect(strict)
    with pytest.raises(PermanentError, match="cannot be written"):
        connection.send(SENDER, address, MESSAGE)
    connection.close()
    assert "MAIL" not in strict.commands and strict.messages == []


def test_pipelined_delivery_to_aiosmtpd_offering_pipelining():
    """The suite's SMTP peer offers PIPELINING, so every delivery test goes this way."""
    with SMTPServer() as server:
        server.handler.rcpt_replies["gone@example.com"] = "550 5.1.1 no such user"
        connection = connect(server)
        connection.send(SENDER, "a@example.com", MESSAGE)
        with pytest.raises(RecipientRefused):
            connection.send(SENDER, "gone@example.com", MESSAGE)
        connection.send(SENDER, "b@example.com", b".dot\r\n" + MESSAGE)
        connection.close()
    assert [m.rcpt_to for m in server.handler.messages] == ["a@example.com", "b@example.com"]
    assert server.handler.messages[1].data == b".dot\r\n" + MESSAGE


def test_a_batch_goes_out_over_a_strict_pipelining_server(alert):
    with StrictSMTP() as server:
        send = alert(readers=5, extra=("o.dot@example.com",), server=server)
        result = send.run()
        assert result.sent == 6
        assert sorted(r for m in server.messages for r in m.rcpt_tos) == sorted(send.emails)
        assert server.violations == [] and server.connections == 1
        assert server.overtaken.count("MAIL") == 6
