"""Mail routes ([[smtp]] tables, or the one route DISTRIBUTOR_SMTP_URL makes): the
first route by priority that is up carries the mail. A route that cannot be reached,
or keeps answering 4xx, is marked down for every worker (in Redis) for a while, and
the next route takes the message and the ones after it. The ledger is written after
whichever route said 250, so a reader gets one email whatever route carried it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import redis

from distributor.config import Settings
from distributor.email.pace import Pace
from distributor.email.transport import Connection, Transport, open_transport
from distributor.errors import Throttled, TransientError, Unreachable
from distributor.outbox.ratelimit import RedisLimiter

DOWN_FOR = 60.0  # seconds a route that failed stays out of use before it is tried again
KEEPS_FAILING = 5  # 4xx replies in a row after which a route counts as down


class RouteHealth:
    """Which routes are down and why, shared by every worker through Redis (kept in
    this process too, so a Redis outage never stops the mail)."""

    def __init__(self, client: redis.Redis | None = None, prefix: str = "distributor:",
                 fresh_for: float = 1.0):
        self.client = client
        self.prefix = prefix + "route:"
        self.local: dict[str, tuple[float, str]] = {}
        # What Redis said, kept for `fresh_for` seconds: asked once a second, not per message.
        self.fresh_for = fresh_for
        self.seen: dict[str, tuple[float, str | None]] = {}

    def mark_down(self, name: str, reason: str, seconds: float = DOWN_FOR) -> None:
        self.local[name] = (time.monotonic() + seconds, reason)
        self.seen[name] = (time.monotonic(), reason)
        if self.client is not None:
            try:
                self.client.set(self.prefix + name, reason.encode(), px=int(seconds * 1000))
            except redis.RedisError:
                pass

    def down(self, name: str) -> str | None:
        """Why the route is down, or None when it may be used."""
        at, known = self.seen.get(name, (float("-inf"), None))
        if time.monotonic() - at < self.fresh_for:
            return known
        if self.client is not None:
            try:
                reason = self.client.get(self.prefix + name)
                known = reason.decode("utf-8", "replace") if reason else None
                self.seen[name] = (time.monotonic(), known)
                return known
            except redis.RedisError:
                pass
        until, reason = self.local.get(name, (0.0, ""))
        return reason if until > time.monotonic() else None


@dataclass
class Route:
    name: str
    transport: Transport
    pace: Pace | None = None


class RoutedConnection:
    def __init__(self, routes: list[Route], health: RouteHealth):
        self.routes, self.health = routes, health
        self.open: dict[str, Connection] = {}
        self.strikes: dict[str, int] = {}

    def candidates(self) -> list[Route]:
        up = [r for r in self.routes if not self.health.down(r.name)]
        return up or self.routes  # all down: try them anyway, one may be back

    @property
    def pace(self) -> Pace | None:
        """The pace of the route the next message will most likely take."""
        return self.candidates()[0].pace

    def send(self, sender: str, recipient: str, message: bytes) -> None:
        failed: list[str] = []
        for route in self.candidates():
            connection = self.open.get(route.name) or self.open.setdefault(
                route.name, route.transport.connect())
            try:
                connection.send(sender, recipient, message)
            except Unreachable as exc:  # nothing went: the next route may take it now
                self.health.mark_down(route.name, str(exc))
                failed.append(f"{route.name}: {exc}")
                continue
            except Throttled:
                raise
            except TransientError as exc:
                self.strikes[route.name] = self.strikes.get(route.name, 0) + 1
                if self.strikes[route.name] >= KEEPS_FAILING and len(self.routes) > 1:
                    self.health.mark_down(route.name, f"{KEEPS_FAILING} 4xx replies in a row, "
                                                      f"last: {exc}")
                    self.strikes[route.name] = 0
                raise
            self.strikes[route.name] = 0
            return
        raise Unreachable("; ".join(failed) if len(self.routes) > 1 else failed[0]
                          .split(": ", 1)[1])

    def close(self) -> None:
        for connection in self.open.values():
            connection.close()
        self.open.clear()


class RoutedTransport:
    def __init__(self, routes: list[Route], health: RouteHealth | None = None):
        self.routes = routes
        self.health = health or RouteHealth()
        self.description = ", ".join(f"{r.name}={r.transport.description}" for r in routes)

    def connect(self) -> RoutedConnection:
        return RoutedConnection(self.routes, self.health)


def open_routes(settings: Settings, client: redis.Redis | None = None) -> RoutedTransport:
    """Every configured route, with its shared rate when Redis is at hand."""
    prefix = settings.broker_prefix + "distributor:"
    limiter = RedisLimiter(client, prefix=prefix + "rate:") if client is not None else None
    routes = [Route(r.name, open_transport(r.url.get_secret_value(), settings.smtp_timeout),
                    Pace(limiter, r.name, r.rate, domains=[(d.pattern, d.rate) for d in r.domains])
                    if limiter else None)
              for r in settings.smtp_routes]
    return RoutedTransport(routes, RouteHealth(client, prefix))


def route_states(settings: Settings, client: redis.Redis | None) -> list[dict[str, Any]]:
    """Each route, in priority order: up or down (and why), and which one carries mail."""
    health = RouteHealth(client, settings.broker_prefix + "distributor:")
    states = []
    for route in settings.smtp_routes:
        reason = health.down(route.name)
        states.append({"name": route.name, "priority": route.priority, "rate": route.rate,
                       "state": "down" if reason else "up", "reason": reason,
                       "carrying": False})
    carrier = next((s for s in states if s["state"] == "up"), None)
    if carrier is not None:
        carrier["carrying"] = True
    return states

