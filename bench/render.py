"""Render cost per recipient: the compiled fill against rendering from scratch."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from distributor.email.compose import compile_digest
from distributor.email.message import Recipient
from distributor.store import Article, MailingList


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


def run(settings, recipients: int = 5000, naive: int = 40) -> dict:
    mailing_list = MailingList(id=1, name="daily", timezone="Asia/Kolkata",
                               sections=["South Asia and Beyond", "Defence"])
    articles = sample_articles()
    now = datetime.now(UTC)
    compiled = compile_digest(settings, mailing_list, articles, now, "bench")
    started = time.perf_counter()
    size = 0
    for n in range(recipients):
        size = len(compiled.fill(Recipient(n, f"reader{n}@example.com", f"Reader {n}",
                                           f"https://news.example.org/unsubscribe/tok{n}")))
    fill = (time.perf_counter() - started) / recipients
    started = time.perf_counter()
    for n in range(naive):
        compile_digest(settings, mailing_list, articles, now, f"naive-{n}").fill(
            Recipient(n, f"reader{n}@example.com", f"Reader {n}",
                      f"https://news.example.org/unsubscribe/tok{n}"))
    scratch = (time.perf_counter() - started) / naive
    return {"fill_us": fill * 1e6, "naive_ms": scratch * 1e3, "ratio": scratch / fill,
            "message_bytes": size}
