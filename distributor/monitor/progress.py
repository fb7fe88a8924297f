"""Progress of sends from the ledger, and channel posts that failed or wait on a retry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from distributor.email.closing import HELD
from distributor.email.reputation import send_rates
from distributor.monitor.deliveries import batch_errors, send_counts, send_report
from distributor.states import OPEN, SEND_OPEN, PostState
from distributor.store import Article, Batch, ChannelPost, Database, Delivery, MailingList, Send


def progress(report: dict[str, Any], first_at: datetime | None, last_at: datetime | None,
             now: datetime) -> dict[str, Any]:
    """Done so far, rate per second and the time left, from a send report and the
    times of its first and last ledger rows."""
    planned = report["planned"]
    done = report["sent"] + report["failed"] + report["skipped"]
    rate = None
    if first_at and last_at and done > 1:
        span = (last_at - first_at).total_seconds()
        rate = done / span if span > 0 else None
    finished = report["state"] not in SEND_OPEN
    remaining = max(0, planned - done)
    eta = None
    if not finished and rate and remaining:
        eta = remaining / rate
    elif not finished and remaining == 0 and planned:
        eta = 0.0
    return {"done": done, "fraction": round(done / planned, 4) if planned else 1.0,
            "rate_per_second": round(rate, 2) if rate else None,
            "eta_seconds": round(eta, 1) if eta is not None else None,
            "elapsed_seconds": round(((report.get("_finished") or now)
                                      - report["_created"]).total_seconds(), 1)}


def recent_sends(db: Database, since: datetime, limit: int = 200,
                 now: datetime | None = None) -> list[dict[str, Any]]:
    now = now or datetime.now(UTC)
    with db.session() as session:
        rows = session.execute(
            select(Send, MailingList.name).join(MailingList, MailingList.id == Send.list_id)
            .where(Send.created_at >= since).order_by(Send.id.desc()).limit(limit)).all()
        ids = [s.id for s, _ in rows]
        counts = send_counts(session, ids)
        errors = batch_errors(session, ids)
        rates = send_rates(session, ids)
        spans = {}
        titles = {}
        if ids:
            spans = {send_id: (first, last) for send_id, first, last in session.execute(
                select(Delivery.send_id, func.min(Delivery.at), func.max(Delivery.at))
                .where(Delivery.send_id.in_(ids)).group_by(Delivery.send_id))}
            article_ids = [s.article_id for s, _ in rows if s.article_id]
            if article_ids:
                titles = dict(session.execute(select(Article.id, Article.title)
                                              .where(Article.id.in_(article_ids))).all())
        out = []
        for send, list_name in rows:
            report = send_report(send, list_name, counts[send.id], errors.get(send.id))
            report["_created"], report["_finished"] = send.created_at, send.finished_at
            first, last = spans.get(send.id, (None, None))
            report.update(progress(report, _aware(first), _aware(last), now))
            del report["_created"], report["_finished"]
            report["article"] = titles.get(send.article_id)
            report["reputation"] = rates[send.id]
            out.append(report)
        return out


def mail_trouble(db: Database, now: datetime | None = None,
                 within: timedelta = timedelta(minutes=10)) -> str | None:
    """Why mail is not going out, when a batch that still has work said so in the last
    `within` (an unreachable server, a refused login); None when all is well. A batch
    held back by throttling is slowed, not failing, and does not count."""
    now = now or datetime.now(UTC)
    with db.session() as session:
        return session.scalar(
            select(Batch.error).where(Batch.state.in_(OPEN), Batch.error.is_not(None),
                                      ~Batch.error.startswith(HELD, autoescape=True),
                                      Batch.updated_at >= now - within)
            .order_by(Batch.updated_at.desc()).limit(1))


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def troubled_posts(db: Database, limit: int = 100) -> list[dict[str, Any]]:
    """Channel posts that failed or wait for another try, newest first."""
    with db.session() as session:
        rows = session.execute(
            select(ChannelPost, Article.guid, Article.title)
            .join(Article, Article.id == ChannelPost.article_id)
            .where(ChannelPost.state.in_((PostState.FAILED, PostState.RETRYING)))
            .order_by(ChannelPost.id.desc()).limit(limit)).all()
        return [{"id": f"post:{p.id}", "post_id": p.id, "channel": p.channel, "state": p.state,
                 "attempts": p.attempts, "error": p.error, "guid": guid, "title": title,
                 "next_attempt_at": _iso(p.next_attempt_at)} for p, guid, title in rows]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
