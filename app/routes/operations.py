"""Operational routes: liveness, readiness, model metadata and Prometheus metrics.

None needs the API key: probes and scrapers run inside the deployment and carry no secrets.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.decoding import SUPPORTED_FORMAT_NAMES
from app.deps import MetricsDep, ServiceDep, SettingsDep
from app.routes.openapi import error_responses
from app.schemas import LandmarkDescription, Limits, MetadataResponse, StatusResponse

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=StatusResponse, summary="Liveness: the process answers")
async def healthz() -> StatusResponse:
    return StatusResponse(status="ok")


@router.get(
    "/readyz",
    response_model=StatusResponse,
    summary="Readiness: the model is loaded and warmed up",
    responses=error_responses(503),
)
async def readyz(service: ServiceDep) -> StatusResponse:
    # Reaching here means the dependency found a running service; otherwise it raised 503.
    return StatusResponse(status="ready")


@router.get(
    "/metadata",
    response_model=MetadataResponse,
    summary="The served model, its landmarks and colours, the device and the limits",
    responses=error_responses(503),
)
async def metadata(service: ServiceDep, settings: SettingsDep) -> MetadataResponse:
    model = service.runtime.metadata
    return MetadataResponse(
        name=model.name,
        version=model.version,
        architecture=model.architecture,
        input_size=model.input_size,
        top_k=model.top_k,
        flip_average=service.runtime.flip_average,
        score=service.runtime.score_kind,
        detection_threshold=settings.DETECTION_THRESHOLD,
        landmarks=[
            LandmarkDescription(id=spec.id, name=spec.name, color=spec.color)
            for spec in model.landmarks
        ],
        background_color=model.background_color,
        device=service.runtime.device,
        limits=Limits(
            max_upload_bytes=settings.MAX_UPLOAD_BYTES,
            max_pixels=settings.MAX_PIXELS,
            max_images_per_request=settings.MAX_IMAGES_PER_REQUEST,
            max_batch_size=settings.MAX_BATCH_SIZE,
            batch_wait_ms=settings.BATCH_WAIT_MS,
            queue_length=settings.QUEUE_LENGTH,
            queue_timeout_s=settings.QUEUE_TIMEOUT_S,
            upload_timeout_s=settings.UPLOAD_TIMEOUT_S,
            detection_threshold=settings.DETECTION_THRESHOLD,
            overlay_default=settings.OVERLAY_DEFAULT,
            supported_formats=list(SUPPORTED_FORMAT_NAMES),
        ),
    )


@router.get(
    "/metrics",
    response_class=Response,
    summary="Prometheus metrics",
    responses={200: {"content": {"text/plain": {}}, "description": "Text exposition format."}},
)
async def metrics(service_metrics: MetricsDep) -> Response:
    return Response(content=service_metrics.render(), media_type=service_metrics.content_type)
