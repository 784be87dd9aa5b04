"""Response bodies, as documented in OpenAPI (every field described, with examples)."""

from __future__ import annotations

import base64

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from app.model_runtime import ModelMetadata
from app.overlay import OverlayMediaType
from app.pipeline import Analysis

COORDINATE_CONVENTION = (
    "Pixel indices in the uploaded image after EXIF rotation: x to the right, y down, the "
    "centre of the top-left pixel at (0, 0) (its top-left corner is (-0.5, -0.5)). A model-space "
    "point (u, v) on the 256x256 input maps to x = (u + 0.5) * W / 256 - 0.5, "
    "y = (v + 0.5) * H / 256 - 0.5."
)


class ModelInfo(BaseModel):
    """Which model answered."""

    name: str = Field(description="Model name from metadata.json.", examples=["garment_landmarks"])
    version: int = Field(
        description="Model version (the export's integer directory).", examples=[1]
    )


class ImageInfo(BaseModel):
    """The upload's size after EXIF rotation: the space all coordinates are in."""

    width: int = Field(description="Width W in pixels.", examples=[1200])
    height: int = Field(description="Height H in pixels.", examples=[1600])


class CandidatePoint(BaseModel):
    """Another distinct peak of a landmark's probability map."""

    x: float = Field(description=f"x of the peak. {COORDINATE_CONVENTION}", examples=[415.3])
    y: float = Field(description="y of the peak, same convention as x.", examples=[388.9])
    probability: float = Field(
        ge=0.0, le=1.0, description="The landmark's probability at the peak.", examples=[0.93]
    )


class LandmarkPoint(BaseModel):
    """One of the six landmarks; every landmark is always returned."""

    id: int = Field(ge=1, le=6, description="Landmark id (1..6).", examples=[1])
    name: str = Field(description="Landmark name.", examples=["left_collar"])
    x: float = Field(
        description=f"x of the landmark, sub-pixel. {COORDINATE_CONVENTION}", examples=[415.3]
    )
    y: float = Field(description="y of the landmark, same convention as x.", examples=[388.9])
    probability: float = Field(
        ge=0.0,
        le=1.0,
        description="How sure the model is of this point (GET /metadata `score` says how it is "
        "computed): its own-channel probability at the peak, and for a mirror-averaged model "
        "that times the agreement between the image and its mirror image.",
        examples=[0.93],
    )
    detected: bool = Field(
        description="Whether `probability` reaches the service's DETECTION_THRESHOLD "
        "(GET /metadata `detection_threshold`).",
        examples=[True],
    )
    candidates: list[CandidatePoint] | None = Field(
        default=None,
        description="Up to `top_k` distinct local maxima of this landmark's probability map, "
        "best first, at whole model pixels (mapped to upload space); fewer when the map has "
        "fewer peaks. Null unless `top_k` > 0.",
    )


_LANDMARK_EXAMPLE: dict[str, JsonValue] = {
    "id": 1,
    "name": "left_collar",
    "x": 415.3,
    "y": 388.9,
    "probability": 0.93,
    "detected": True,
    "candidates": None,
}


class LandmarkResponse(BaseModel):
    """The landmarks found in one image."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "model": {"name": "garment_landmarks", "version": 9},
                    "image": {"width": 1200, "height": 1600},
                    "landmarks": [_LANDMARK_EXAMPLE],
                    "overlay": "iVBORw0KGgoAAAANSUhEUgAA...",
                    "overlay_media_type": "image/png",
                }
            ]
        }
    )

    model: ModelInfo = Field(description="The model that answered.")
    image: ImageInfo = Field(description="The upload's size after EXIF rotation.")
    landmarks: list[LandmarkPoint] = Field(
        description="All six landmarks in id order, detected or not."
    )
    overlay: str | None = Field(
        default=None,
        description="Base64-encoded image at the upload's size (PNG, or JPEG with "
        "`overlay_format=jpeg`): landmark-class pixels tinted with their class colour (40 % "
        "photo, 60 % colour), plus a labelled dot per landmark (filled when detected, a ring "
        "when not). Null when `overlay=false`.",
    )
    overlay_media_type: OverlayMediaType | None = Field(
        default=None,
        description="What `overlay` holds: `image/png` or `image/jpeg`; null without overlay.",
        examples=["image/png"],
    )

    @classmethod
    def from_analysis(cls, analysis: Analysis, metadata: ModelMetadata) -> LandmarkResponse:
        """Builds the response body from the pipeline's answer."""
        return cls(
            model=ModelInfo(name=metadata.name, version=metadata.version),
            image=ImageInfo(width=analysis.width, height=analysis.height),
            landmarks=[
                LandmarkPoint(
                    id=landmark.id,
                    name=landmark.name,
                    x=landmark.x,
                    y=landmark.y,
                    probability=landmark.probability,
                    detected=landmark.detected,
                    candidates=None
                    if landmark.candidates is None
                    else [
                        CandidatePoint(x=c.x, y=c.y, probability=c.probability)
                        for c in landmark.candidates
                    ],
                )
                for landmark in analysis.landmarks
            ],
            overlay=None
            if analysis.overlay_image is None
            else base64.b64encode(analysis.overlay_image).decode("ascii"),
            overlay_media_type=analysis.overlay_media_type,
        )


class BatchResponse(BaseModel):
    """The answers for a batch, in the order the images were sent."""

    results: list[LandmarkResponse] = Field(description="One result per image, in upload order.")


class ErrorResponse(BaseModel):
    """Every error has this shape."""

    detail: str = Field(description="What went wrong, in words.", examples=["the image is empty"])


class StatusResponse(BaseModel):
    """Liveness or readiness."""

    status: str = Field(description="`ok` (liveness) or `ready` (readiness).", examples=["ok"])


class LandmarkDescription(BaseModel):
    """A landmark as the model defines it."""

    id: int = Field(description="Landmark id (1..6).", examples=[1])
    name: str = Field(description="Landmark name.", examples=["left_collar"])
    color: tuple[int, int, int] = Field(
        description="RGB colour used in the overlay.", examples=[[255, 0, 0]]
    )


class Limits(BaseModel):
    """The request limits in force."""

    max_upload_bytes: int = Field(description="Largest image file, bytes.")
    max_pixels: int = Field(description="Largest width x height.")
    max_images_per_request: int = Field(description="Most images per batch request.")
    max_batch_size: int = Field(description="Most images per model call.")
    batch_wait_ms: float = Field(description="Longest wait for a batch to fill.")
    queue_length: int = Field(description="Most images in flight before 503.")
    queue_timeout_s: float = Field(description="Longest wait for a model result before 503.")
    upload_timeout_s: float = Field(description="Longest a request body may take before 408.")
    detection_threshold: float = Field(description="Probability at which `detected` is true.")
    overlay_default: bool = Field(description="Whether `overlay` defaults to true.")
    supported_formats: list[str] = Field(description="Accepted image formats.")


class MetadataResponse(BaseModel):
    """What is being served, and how."""

    name: str = Field(description="Model name from metadata.json.", examples=["garment_landmarks"])
    version: int = Field(description="Model version being served.", examples=[1])
    architecture: str = Field(description="Network architecture.", examples=["unet"])
    input_size: tuple[int, int] = Field(description="Model input (height, width).")
    top_k: int = Field(description="Largest accepted `top_k` query value.")
    flip_average: bool = Field(
        description="Whether each image is averaged with its mirror image (two network "
        "passes per image): the model was exported so and LANDMARKS_FLIP_AVERAGE is on."
    )
    score: str = Field(
        description="What each landmark's `probability` is: `peak` (its probability at the "
        "peak) or `peak_x_mirror_agreement` (that times exp(-d^2 / (2 sigma^2)), d the distance "
        "in model pixels between the peaks found in the image and in its mirror image).",
        examples=["peak_x_mirror_agreement"],
    )
    detection_threshold: float = Field(
        description="`detected` is true where `probability` reaches this (DETECTION_THRESHOLD).",
        examples=[0.5],
    )
    landmarks: list[LandmarkDescription] = Field(description="The six landmarks in id order.")
    background_color: tuple[int, int, int] = Field(
        description="RGB colour of the background class (never drawn on the overlay)."
    )
    device: str = Field(description="Where inference runs.", examples=["CPU"])
    limits: Limits = Field(description="The request limits in force (from the settings).")
