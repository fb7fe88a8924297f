"""Render cost per recipient: the compiled fill against three ways of rendering each
recipient's email from scratch, so the ratio says what it is measured against:
Jinja2 + premailer + MIME (what a naive sender does), Jinja2 + stdlib MIME (premailer
left out), and Jinja2 alone (no MIME at all)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

from distributor.email.compose import compile_digest, digest_content
from distributor.email.message import Recipient
from distributor.store import Article, MailingList
from distributor.templates import environment


def sample_articles(count: int = 12) -> list[Article]:
    now = datetime.now(UTC)
    sections = ["South Asia and Beyond", "Defence", "Economy", "World"]
    return [Article(id=n, guid=f"g{n}", url=f"https://news.example.org/story-{n}",
                    title=f"Story {n}: North Korean workers return to Russia, quid pro quo?",
                    summary="Three hundred North Korean workers arrived in Vladivostok "
                            "earlier this month, a clear violation of UN sanctions. " * 2,
                    body_html="", section=sections[n % 4], tags=[], author="Ashwin Ahmad",
                    image_url=f"https://news.example.org/img/{n}.jpg",
                    published_at=now - timedelta(hours=n)) for n in range(count)]


def _reader(n: int) -> Recipient:
    return Recipient(n, f"reader{n}@example.com", f"Reader {n}",
                     f"https://news.example.org/unsubscribe/tok{n}")


def _per_call(function, count: int) -> float:
    started = time.perf_counter()
    for n in range(count):
        function(n)
    return (time.perf_counter() - started) / count


def sample_message(settings) -> bytes:
    """One reader's digest of the sample articles, as the workers would send it."""
    mailing_list = MailingList(id=1, name="daily", timezone="Asia/Kolkata", sections=[])
    compiled = compile_digest(settings, mailing_list, sample_articles(), datetime.now(UTC),
                              "bench")
    return compiled.fill(_reader(1))


def run(settings, recipients: int = 5000, naive: int = 40) -> dict:
    mailing_list = MailingList(id=1, name="daily", timezone="Asia/Kolkata",
                               sections=["South Asia and Beyond", "Defence"])
    articles = sample_articles()
    now = datetime.now(UTC)
    compiled = compile_digest(settings, mailing_list, articles, now, "bench")
    size = len(compiled.fill(_reader(0)))
    subject, context = digest_content(settings, mailing_list, articles, now)
    env = environment(settings.templates_dir)
    html_template = env.get_template("email/digest.html.j2")
    text_template = env.get_template("email/digest.txt.j2")

    def jinja(n: int) -> tuple[str, str]:
        reader = _reader(n)
        values = {"web": False, "view_online_url": None, "transactional": False,
                  "open_pixel": None, **context, "publisher": settings.publisher,
                  "list_name": "daily",
                  "public_url": settings.public_url,
                  "recipient": {"name": reader.name, "email": reader.email,
                                "unsubscribe_url": reader.unsubscribe_url,
                                "manage_url": reader.unsubscribe_url, "reader_path": ""}}
        return html_template.render(values), text_template.render(values)

    def jinja_mime(n: int) -> bytes:
        html_body, text_body = jinja(n)
        message = EmailMessage()
        message["Subject"], message["From"] = subject, settings.from_address
        message["To"] = f"Reader {n} <reader{n}@example.com>"
        message.set_content(text_body)
        message.add_alternative(html_body, subtype="html")
        return message.as_bytes()

    figures = {
        "fill_us": _per_call(lambda n: compiled.fill(_reader(n)), recipients) * 1e6,
        "jinja_us": _per_call(jinja, naive * 10) * 1e6,
        "jinja_mime_us": _per_call(jinja_mime, naive * 10) * 1e6,
        "naive_ms": _per_call(lambda n: compile_digest(settings, mailing_list, articles, now,
                                                       f"naive-{n}").fill(_reader(n)),
                              naive) * 1e3,
        "message_bytes": size,
    }
    figures["ratio"] = figures["naive_ms"] * 1e3 / figures["fill_us"]
    figures["ratio_mime"] = figures["jinja_mime_us"] / figures["fill_us"]
    figures["ratio_jinja"] = figures["jinja_us"] / figures["fill_us"]
    return figures
