"""POST /landmarks, /landmarks/overlay and /landmarks/batch: read the upload, call the pipeline,
shape the answer. Validation and all the work live in app.uploads and app.pipeline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from app.deps import ApiKeyDep, PipelineDep, SettingsDep
from app.overlay import OverlayFormat
from app.pipeline import AnalysisOptions, LandmarkPipeline
from app.routes.openapi import error_responses, upload_body
from app.schemas import BatchResponse, LandmarkResponse
from app.settings import Settings
from app.uploads import read_batch_images, read_single_image

router = APIRouter(prefix="/landmarks", tags=["landmarks"], dependencies=[ApiKeyDep])

TopKQuery = Annotated[
    int,
    Query(
        ge=0,
        description="Also return up to this many distinct candidate peaks per landmark "
        "(0..top_k of the model, see GET /metadata; 0 = none).",
    ),
]
OverlayQuery = Annotated[
    bool | None,
    Query(
        description="Include the base64 overlay image; defaults to LANDMARKS_OVERLAY_DEFAULT.",
    ),
]
OverlayFormatQuery = Annotated[
    OverlayFormat,
    Query(
        description="The overlay's encoding: `png` (lossless) or `jpeg` (quality 90; about "
        "6x smaller and 10x cheaper to encode for a photo).",
    ),
]

_UPLOAD_ERRORS = error_responses(400, 401, 408, 413, 415, 422, 500, 503)


def _options(
    settings: Settings, top_k: int, overlay: bool | None, overlay_format: OverlayFormat
) -> AnalysisOptions:
    return AnalysisOptions(
        top_k=top_k,
        overlay=settings.OVERLAY_DEFAULT if overlay is None else overlay,
        overlay_format=overlay_format,
    )


async def _json_response(
    pipeline: LandmarkPipeline, build: Callable[[], BaseModel], *, with_overlay: bool
) -> Response:
    """Builds and serialises a response body, in the CPU pool when it carries overlays.

    With the base64 overlay of a large photo the JSON runs to tens of megabytes: encoding it on
    the event loop would stall every other request meanwhile. The documented `response_model`
    still describes the body.
    """

    def render() -> bytes:
        return build().model_dump_json().encode("utf-8")

    if not with_overlay:
        # Without the overlay the body is about 1 KiB per image: a thread hop would cost more
        # than serialising it.
        return Response(content=render(), media_type="application/json")
    return Response(content=await pipeline.run_in_pool(render), media_type="application/json")


@router.post(
    "",
    response_model=LandmarkResponse,
    summary="Find the six garment landmarks in one image",
    description="Send the image as multipart field `image` or as the raw body (`Content-Type: "
    "image/jpeg` etc.). JPEG, PNG, WebP and BMP are accepted, recognised from their bytes. "
    "Coordinates are pixel indices of the upload after EXIF rotation, with the centre of the "
    "top-left pixel at (0, 0).",
    responses=_UPLOAD_ERRORS,
    openapi_extra=upload_body("image", repeated=False, raw_allowed=True),
)
async def detect_landmarks(
    request: Request,
    settings: SettingsDep,
    pipeline: PipelineDep,
    top_k: TopKQuery = 0,
    overlay: OverlayQuery = None,
    overlay_format: OverlayFormatQuery = "png",
) -> Response:
    options = _options(settings, top_k, overlay, overlay_format)
    pipeline.check_options(options)
    with pipeline.incoming():
        data = await read_single_image(
            request, settings.MAX_UPLOAD_BYTES, settings.UPLOAD_TIMEOUT_S
        )
    analysis = await pipeline.analyse(data, options)
    return await _json_response(
        pipeline,
        lambda: LandmarkResponse.from_analysis(analysis, pipeline.metadata),
        with_overlay=options.overlay,
    )


@router.post(
    "/overlay",
    response_class=Response,
    summary="The overlay image itself, as PNG or JPEG",
    description="Same input as POST /landmarks; answers with the overlay at the upload's size, "
    "as `image/png` (or `image/jpeg` with `overlay_format=jpeg`), for a browser or "
    "`curl -o overlay.png`.",
    responses={
        200: {
            "content": {"image/png": {}, "image/jpeg": {}},
            "description": "The overlay image.",
        },
        **_UPLOAD_ERRORS,
    },
    openapi_extra=upload_body("image", repeated=False, raw_allowed=True),
)
async def render_overlay_image(
    request: Request,
    settings: SettingsDep,
    pipeline: PipelineDep,
    overlay_format: OverlayFormatQuery = "png",
) -> Response:
    options = AnalysisOptions(top_k=0, overlay=True, overlay_format=overlay_format)
    with pipeline.incoming():
        data = await read_single_image(
            request, settings.MAX_UPLOAD_BYTES, settings.UPLOAD_TIMEOUT_S
        )
    analysis = await pipeline.analyse(data, options)
    return Response(content=analysis.overlay_image, media_type=analysis.overlay_media_type)


@router.post(
    "/batch",
    response_model=BatchResponse,
    summary="Landmarks for several images in one request",
    description="Repeat multipart field `images` once per image (at most "
    "LANDMARKS_MAX_IMAGES_PER_REQUEST). Results come back in upload order. All images are "
    "validated before any reaches the model: if one is bad the whole request fails with that "
    "image's 4xx, its `detail` starting with `images[<index>]: ` (0-based), and nothing is "
    "returned for the others, so a pipeline can fix or drop that one image and resend.",
    responses=_UPLOAD_ERRORS,
    openapi_extra=upload_body("images", repeated=True, raw_allowed=False),
)
async def detect_landmarks_batch(
    request: Request,
    settings: SettingsDep,
    pipeline: PipelineDep,
    top_k: TopKQuery = 0,
    overlay: OverlayQuery = None,
    overlay_format: OverlayFormatQuery = "png",
) -> Response:
    options = _options(settings, top_k, overlay, overlay_format)
    pipeline.check_options(options)
    with pipeline.incoming():
        uploads = await read_batch_images(
            request,
            settings.MAX_IMAGES_PER_REQUEST,
            settings.MAX_UPLOAD_BYTES,
            settings.UPLOAD_TIMEOUT_S,
        )
    analyses = await pipeline.analyse_many(uploads, options)
    return await _json_response(
        pipeline,
        lambda: BatchResponse(
            results=[LandmarkResponse.from_analysis(item, pipeline.metadata) for item in analyses]
        ),
        with_overlay=options.overlay,
    )
