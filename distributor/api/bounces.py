"""`POST /v1/bounces/{provider}`: bounce and complaint events from Amazon SES (through
SNS), Postmark, SendGrid and Mailgun. No API token: each is verified the provider's
own way (email/providers.py); what does not verify is refused with 401 and changes
nothing. A replayed event answers 200 (so the provider stops) and changes nothing."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from distributor.email.bounces import take_all
from distributor.email.providers import https_getter, read_events
from distributor.monitor.counters import count_bounces

router = APIRouter()


@router.post("/v1/bounces/{provider}", summary="Bounces and complaints from an email provider",
             responses={401: {"description": "signature, credentials or timestamp refused"},
                        404: {"description": "unknown or unconfigured provider"},
                        422: {"description": "verified, but not what the provider sends"},
                        503: {"description": "the SNS certificate could not be fetched"}})
async def bounces(provider: str, request: Request) -> dict:
    """Verify, record, apply the bounce policy; answer what came of each event."""
    state = request.app.state
    body = await request.body()
    fetch = https_getter(state.settings.http_timeout)
    events = await run_in_threadpool(read_events, state.settings, provider, request.headers,
                                     body, fetch)
    if events.confirm_url:
        await run_in_threadpool(fetch, events.confirm_url)
        return {"subscribed": True}
    taken = await run_in_threadpool(take_all, state.db, state.settings, events.reports)
    count_bounces(state.broker, state.settings.broker_prefix, taken.by_list)
    return {**taken.counts, "ignored": events.ignored,
            "paused_sends": sorted(taken.paused)}
