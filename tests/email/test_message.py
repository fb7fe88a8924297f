"""The alert email: compiled once, filled per recipient, headers per RFC 2369/8058."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy

from distributor.email.compose import compile_alert
from distributor.email.message import Recipient, WireBytes
from distributor.store import Article

ARTICLE = Article(
    guid="g1", url="https://news.example.org/a?x=1&y=2",
    title="Quid Pro Quo: North Korea's <Workers> & Russia's Arms — समाचार",
    summary="Three hundred workers arrived in Vladivostok.",
    section="South Asia and Beyond", author="Ashwin Ahmad",
    image_url="https://news.example.org/img.jpg", tags=[], body_html="",
    published_at=datetime(2026, 11, 29, 5, 30, tzinfo=UTC),
)


def parse(raw: bytes):
    return message_from_bytes(raw, policy=policy.default)


def recipient(n: int = 1, name: str = "Asha Rao") -> Recipient:
    return Recipient(n, f"reader{n}@example.com", name,
                     f"https://news.example.org/unsubscribe/tok{n}?a=1&b=2")


def test_each_recipient_gets_their_own_headers_and_links(make_settings):
    compiled = compile_alert(make_settings(), ARTICLE, "breaking", message_key="alert-7")
    one, two = parse(compiled.fill(recipient(1))), parse(compiled.fill(recipient(2, "")))
    assert one["To"] == "Asha Rao <reader1@example.com>"
    assert two["To"] == "reader2@example.com"
    assert one["Message-ID"] != two["Message-ID"]
    assert one["List-Unsubscribe"].startswith("<https://news.example.org/unsubscribe/tok1?")
    assert one["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert one["List-Id"] == "breaking <breaking.news.example.org>"
    assert one["Subject"] == ARTICLE.title
    text = one.get_body(("plain",)).get_content()
    html = one.get_body(("html",)).get_content()
    assert "https://news.example.org/unsubscribe/tok1?a=1&b=2" in text
    assert 'href="https://news.example.org/unsubscribe/tok1?a=1&amp;b=2"' in html
    assert "reader1@example.com" in html and "tok2" not in html


def test_article_text_is_escaped_in_html_and_css_is_inlined(make_settings):
    compiled = compile_alert(make_settings(), ARTICLE, "breaking", message_key="alert-7")
    html = parse(compiled.fill(recipient())).get_body(("html",)).get_content()
    assert "&lt;Workers&gt; &amp; Russia" in html
    assert "<Workers>" not in html
    assert 'style="' in html  # premailer moved the stylesheet onto the elements
    assert "1 Test Road, Delhi" in html  # the publisher's postal address in the footer


def test_a_name_cannot_inject_headers(make_settings):
    compiled = compile_alert(make_settings(), ARTICLE, "breaking", message_key="alert-7")
    raw = compiled.fill(recipient(3, "Eve\r\nBcc: victim@example.com"))
    message = parse(raw)
    assert message["Bcc"] is None
    assert b"\r\nBcc:" not in raw.split(b"\r\n\r\n", 1)[0]


def test_non_ascii_names_and_subjects_are_encoded(make_settings):
    compiled = compile_alert(make_settings(), ARTICLE, "breaking", message_key="alert-7")
    raw = compiled.fill(recipient(4, "मीरा अय्यर"))
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    assert all(len(line) <= 998 for line in head.split(b"\r\n"))
    assert parse(raw)["To"].addresses[0].display_name == "मीरा अय्यर"


def test_filling_does_not_render_again(make_settings, monkeypatch):
    compiled = compile_alert(make_settings(), ARTICLE, "breaking", message_key="alert-7")
    import distributor.email.message as email_module

    monkeypatch.setattr(email_module, "inline_css", lambda *_: (_ for _ in ()).throw(
        AssertionError("premailer ran per recipient")))
    for n in range(50):
        compiled.fill(recipient(n))


def test_every_line_stays_short_whatever_fills_the_placeholders(make_settings):
    compiled = compile_alert(make_settings(), ARTICLE, "breaking", message_key="alert-7")
    long_url = "https://news.example.org/unsubscribe/" + "x" * 300 + "?a=1&b=2"
    raw = compiled.fill(Recipient(9, "reader9@example.com", "Ä" * 80, long_url))
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    body_lines = raw.split(b"\r\n\r\n", 1)[1].split(b"\r\n")
    assert max(len(line) for line in body_lines) <= 78
    message = parse(raw)
    assert long_url in message.get_body(("plain",)).get_content()
    assert long_url.replace("&", "&amp;") in message.get_body(("html",)).get_content()


def _wire_ready(raw: bytes) -> bool:
    """CRLF line ends only and no line starting with a dot (RFC 5321 2.3.8, 4.5.2)."""
    bare = raw.replace(b"\r\n", b"")
    return b"\r" not in bare and b"\n" not in bare and not raw.startswith(b".") \
        and b"\n." not in raw


def test_a_filled_message_goes_on_the_wire_as_it_is_whatever_the_text_holds(make_settings):
    """Dots at the start of a line (also where a long line is broken) are written =2E,
    stray CRs become line ends: smtp_client.py sends WireBytes without scanning them."""
    dotted = ".starts with a dot\r\n..two\rstray CR\n" + "." * 300 + "\n" + "a." * 200
    article = Article(**{**{c: getattr(ARTICLE, c) for c in (
        "guid", "url", "section", "author", "image_url", "tags", "body_html",
        "published_at")}, "title": ".Dotted\rtitle", "summary": dotted})
    compiled = compile_alert(make_settings(), article, "breaking", message_key="alert-7")
    for name, email in ((".Asha", "." * 100 + "@example.com"), ("." * 120, ".r@example.com"),
                        ("Ä." * 60, "reader3@example.com"), ("", "." * 75 + "é@example.com")):
        raw = compiled.fill(Recipient(3, email, name, "https://news.example.org/unsubscribe/t"))
        assert isinstance(raw, WireBytes)
        assert _wire_ready(raw), name
        body = raw.split(b"\r\n\r\n", 1)[1].split(b"\r\n")
        assert max(len(line) for line in body) <= 78
        assert max(len(line) for line in body if line.startswith(b"=2E")) <= 76  # RFC 2045 6.7
        message = parse(raw)
        text = "".join(message.get_body(("plain",)).get_content().split())  # wordwrap aside
        assert ".startswithadot..twostrayCR" + "." * 300 + "a." * 200 in text
        assert email in text and email in message.get_body(("html",)).get_content()
        assert message["To"].addresses[0].display_name == name
