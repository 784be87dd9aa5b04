"""ASGI middleware that counts every HTTP request for the metrics, by route template."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.metrics import ServiceMetrics

# Requests that match no route share one label, so random paths cannot blow up cardinality.
UNMATCHED_ROUTE = "<unmatched>"


class RequestMetricsMiddleware:
    """Records status and latency per route template (`/landmarks`, never the raw path)."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            # The router stores the matched route in the (shared, mutable) scope.
            route = scope.get("route")
            template = getattr(route, "path", None) or UNMATCHED_ROUTE
            self.metrics.observe_request(
                template, scope["method"], status, time.perf_counter() - started
            )
