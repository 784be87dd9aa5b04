"""Typed dependencies, declared once; routes just name them.

The settings and the running service live on `app.state` (set by `create_app` and the
lifespan), so several apps with different settings can coexist in one process (tests do this).

Every dependency is `async def` although none awaits anything: FastAPI runs a plain `def`
dependency in its worker thread pool, a thread hop per dependency per request, which cost more
CPU than the whole rest of the request's routing (see BENCHMARKS.md).
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from app.errors import AuthenticationError, ModelNotReadyError
from app.metrics import ServiceMetrics
from app.pipeline import LandmarkPipeline
from app.service import Service
from app.settings import Settings

API_KEY_HEADER = "X-API-Key"

# auto_error=False: a missing key is our AuthenticationError (401 with our message), not
# FastAPI's 403; the scheme is still documented in OpenAPI.
_api_key_scheme = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description="Required on the landmark routes when LANDMARKS_API_KEY is set.",
)


async def get_app_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


async def get_metrics(request: Request) -> ServiceMetrics:
    """The app's metrics registry."""
    metrics: ServiceMetrics = request.app.state.metrics
    return metrics


async def get_service(request: Request) -> Service:
    """The running service; 503 before the model is loaded and warmed up or during shutdown."""
    service: Service | None = request.app.state.service
    if service is None:
        raise ModelNotReadyError("the model is not loaded yet")
    return service


async def get_pipeline(service: Annotated[Service, Depends(get_service)]) -> LandmarkPipeline:
    """The upload pipeline of the running service."""
    return service.pipeline


async def require_api_key(
    settings: Annotated[Settings, Depends(get_app_settings)],
    api_key: Annotated[str | None, Security(_api_key_scheme)] = None,
) -> None:
    """Checks `X-API-Key` against LANDMARKS_API_KEY when one is configured."""
    expected = settings.API_KEY
    if expected is None:
        return
    if api_key is None:
        raise AuthenticationError(f"missing API key: send it in the {API_KEY_HEADER} header")
    # Constant-time comparison, so response timing does not reveal how much of a guess matched.
    if not hmac.compare_digest(
        api_key.encode("utf-8"), expected.get_secret_value().encode("utf-8")
    ):
        raise AuthenticationError("invalid API key")


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
MetricsDep = Annotated[ServiceMetrics, Depends(get_metrics)]
ServiceDep = Annotated[Service, Depends(get_service)]
PipelineDep = Annotated[LandmarkPipeline, Depends(get_pipeline)]
ApiKeyDep = Depends(require_api_key)
