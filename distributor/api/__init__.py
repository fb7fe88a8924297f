"""The HTTP API: publish hook, admin API, health, metrics, unsubscribe pages, dashboard."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from distributor.api.archive import router as archive_router
from distributor.api.articles import router as articles_router
from distributor.api.audience import router as audience_router
from distributor.api.audit import AuditTrail
from distributor.api.auth import RedisReplayGuard
from distributor.api.bounces import router as bounces_router
from distributor.api.clicks import router as clicks_router
from distributor.api.dashboard import router as dashboard_router
from distributor.api.errors import BodyLimit, NoNul, document_errors, install_error_handlers
from distributor.api.insights import router as insights_router
from distributor.api.monitor import router as monitor_router
from distributor.api.public import router as public_router
from distributor.api.readers import router as readers_router
from distributor.api.signup import router as signup_router
from distributor.api.subscribe import router as subscribe_router
from distributor.config import Settings
from distributor.monitor.queues import broker_client
from distributor.outbox.ratelimit import RedisLimiter
from distributor.outbox.wake import Dispatcher
from distributor.store import Database

log = logging.getLogger("distributor.api")
ADMIN_OFF = ("DISTRIBUTOR_API_TOKEN is not set: the admin API (/v1/*) and the dashboard are off "
             "(only named tokens from `distributor tokens create` get in). To turn them on, set "
             "DISTRIBUTOR_API_TOKEN (or DISTRIBUTOR_API_TOKEN_FILE) to a random value of at "
             "least 16 bytes and restart.")


def create_app(settings: Settings, db: Database, dispatcher: Dispatcher,
               replay_guard=None) -> FastAPI:
    app = FastAPI(title="distributor", version="0.1.0",
                  description="Publish articles to email lists and messaging channels.")
    app.state.settings = settings
    if settings.api_token is None:
        log.warning(ADMIN_OFF)
    app.state.db = db
    app.state.dispatcher = dispatcher
    broker = app.state.broker = broker_client(settings)
    if replay_guard is None:
        replay_guard = RedisReplayGuard(broker, settings.broker_prefix)
    app.state.replay_guard = replay_guard
    app.state.limiter = RedisLimiter(broker, prefix=settings.broker_prefix + "distributor:rate:")
    install_error_handlers(app)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(NoNul)
    app.add_middleware(AuditTrail, db=db)
    for router in (articles_router, audience_router, bounces_router, public_router,
                   subscribe_router, readers_router, signup_router, archive_router,
                   clicks_router, monitor_router, dashboard_router, insights_router):
        document_errors(router)
        app.include_router(router)
    return app
