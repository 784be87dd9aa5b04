"""ASGI middleware that counts every HTTP request for the metrics, by route template."""

from __future__ import annotations

import time
from typing import Any

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.metrics import ServiceMetrics

# Requests that match no route share one label, so random paths cannot blow up cardinality.
UNMATCHED_ROUTE = "<unmatched>"


def route_template(scope: Scope, path: str, root_path: str) -> str:
    """The template of the route that served a request: `/landmarks`, `/static/{path}`.

    FastAPI's router stores the matched route in the scope only for its own API routes. The
    docs, the OpenAPI document and mounted static files are plain Starlette routes, so for
    those the app's routes are matched again here against the request's original path (a
    mount rewrites `root_path` in the scope while it serves the request). A mount is labelled
    by its template, never by the file asked for, so the label set stays bounded.
    """
    route = scope.get("route")
    template = getattr(route, "path", None)
    if template:
        return str(template)
    probe: dict[str, Any] = {
        "type": "http",
        "method": scope["method"],
        "path": path,
        "root_path": root_path,
        "path_params": {},
    }
    partial: str | None = None
    for candidate in getattr(scope.get("app"), "routes", ()):
        candidate_template = getattr(candidate, "path_format", None)
        if not isinstance(candidate_template, str):
            continue  # included routers: their API routes set scope["route"] themselves
        match, _ = candidate.matches(probe)
        if match is Match.FULL:
            return candidate_template
        if match is Match.PARTIAL and partial is None:
            # A known path with the wrong method (405), as Starlette's router resolves it.
            partial = candidate_template
    return partial or UNMATCHED_ROUTE


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
        # The router mutates the (shared) scope while routing; keep what matching needs.
        path, root_path = scope["path"], scope.get("root_path", "")

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            self.metrics.observe_request(
                route_template(scope, path, root_path),
                scope["method"],
                status,
                time.perf_counter() - started,
            )
