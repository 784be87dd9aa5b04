"""Assembles the FastAPI app. `uvicorn app.main:app` serves it.

Importing this module builds the app but loads nothing: the model is loaded in the lifespan,
before the server accepts its first request, and a model that cannot be loaded stops startup.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.error_handlers import install_exception_handlers
from app.metrics import ServiceMetrics
from app.middleware import RequestMetricsMiddleware
from app.routes import demo, docs, landmarks, operations
from app.schemas import COORDINATE_CONVENTION
from app.service import configure_logging, start_service
from app.settings import Settings, get_settings

logger = logging.getLogger(__name__)

API_DESCRIPTION = f"""
Finds six garment landmarks (left/right collar, sleeve and hem) in product photos.

**Coordinates.** {COORDINATE_CONVENTION}

**Errors** always have the body `{{"detail": "<what went wrong>"}}`: 400 empty, truncated or
corrupt upload; 401 missing or wrong `X-API-Key` (when the service has a key); 408 the body took
longer than the upload timeout; 413 too many bytes, pixels or images; 415 not JPEG, PNG, WebP or
BMP (also for bytes that are no image at all); 422 wrong field name or query value; 500 the model
call failed; 503 not ready or overloaded (with `Retry-After`).
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Builds the app; the model loads when the app's lifespan starts.

    Args:
        settings: defaults to `get_settings()` (the environment).
    """
    settings = settings or get_settings()
    metrics = ServiceMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.LOG_LEVEL)
        service = await start_service(settings, metrics)
        app.state.service = service
        metrics.ready.set(1)
        logger.info("ready")
        try:
            yield
        finally:
            # Not ready first, so probes and new requests see 503 while in-flight work drains.
            metrics.ready.set(0)
            app.state.service = None
            await service.aclose()
            logger.info("stopped")

    app = FastAPI(
        title="Garment landmark service",
        version="1.0.0",
        description=API_DESCRIPTION,
        lifespan=lifespan,
        # FastAPI's own /docs and /redoc load their assets from a CDN; app.routes.docs serves
        # the same pages with the assets from this service.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.service = None
    install_exception_handlers(app)
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    app.include_router(landmarks.router)
    app.include_router(operations.router)
    app.include_router(docs.router)
    app.include_router(demo.router)
    app.mount(docs.DOCS_ASSETS_URL, docs.docs_assets(), name="docs-assets")
    app.mount(demo.STATIC_URL, demo.static_files(), name="static")
    return app


app = create_app()
