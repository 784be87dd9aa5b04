"""The service's settings: one object, read from `LANDMARKS_*` environment variables.

docs/configuration.md's table documents every field; a test keeps the two in step.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MEBIBYTE = 1024 * 1024

LogLevel = Literal["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"]


class Settings(BaseSettings):
    """Environment-driven configuration; every field is `LANDMARKS_<FIELD>`."""

    model_config = SettingsConfigDict(env_prefix="LANDMARKS_", frozen=True, extra="ignore")

    MODEL_DIR: Path = Field(
        default=Path("models/garment_landmarks"),
        description="`models/<name>` (the highest integer version inside is served) or "
        "`models/<name>/<version>`; relative paths start at the working directory.",
    )
    MAX_UPLOAD_BYTES: int = Field(
        default=10 * MEBIBYTE,
        gt=0,
        description="Largest accepted image file, in bytes (413 above).",
    )
    MAX_PIXELS: int = Field(
        default=40_000_000, gt=0, description="Largest accepted width x height (413 above)."
    )
    MAX_IMAGES_PER_REQUEST: int = Field(
        default=16, ge=1, description="Most images in one `POST /landmarks/batch` (413 above)."
    )
    MAX_BATCH_SIZE: int = Field(
        default=8, ge=1, le=1024, description="Most images in one model call."
    )
    BATCH_WAIT_MS: float = Field(
        default=20.0,
        ge=0,
        description="Longest a batch that is not full waits, once the model is free, for "
        "images on their way: requests whose body is arriving or being decoded, and (for at "
        "most a quarter of a model call) the callers just answered. No wait when none is.",
    )
    QUEUE_LENGTH: int = Field(
        default=64,
        ge=1,
        description="Most images admitted at once (decoding, queued or in the model).",
    )
    QUEUE_TIMEOUT_S: float = Field(
        default=30.0, gt=0, description="Longest an image may wait for the model before a 503."
    )
    UPLOAD_TIMEOUT_S: float = Field(
        default=60.0,
        gt=0,
        description="Longest a request body may take to arrive before a 408 (stalled or "
        "trickling uploads).",
    )
    OVERLAY_DEFAULT: bool = Field(
        default=True, description="Whether responses include the overlay."
    )
    FLIP_AVERAGE: bool = Field(
        default=True,
        description="Serve a mirror-averaged model (metadata.json `flip_average`) as exported: "
        "two network passes per image for a lower error. `false` serves its single-pass "
        "signature (about twice the images per second on CPU); no effect on a single-pass model.",
    )
    DETECTION_THRESHOLD: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="A landmark is `detected` at this probability or more.",
    )
    API_KEY: SecretStr | None = Field(
        default=None, description="When set, landmark routes need it in the `X-API-Key` header."
    )
    HOST: str = Field(default="0.0.0.0", description="Interface `python -m app` binds.")
    PORT: int = Field(default=8000, ge=1, le=65535, description="Port `python -m app` listens on.")
    WORKERS_THREADS: int = Field(
        default=2, ge=1, description="Threads that decode, resize and render overlays."
    )
    LOG_LEVEL: LogLevel = Field(default="INFO", description="Level of the `app` loggers.")

    @field_validator("API_KEY", mode="before")
    @classmethod
    def _empty_key_means_none(cls, value: object) -> object:
        # `LANDMARKS_API_KEY=` in an env file should switch authentication off, not demand an
        # empty key.
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("LOG_LEVEL", mode="before")
    @classmethod
    def _upper_case_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _batch_fits_in_queue(self) -> Settings:
        # A batch request is admitted whole or not at all, so a larger one could never run.
        if self.QUEUE_LENGTH < self.MAX_IMAGES_PER_REQUEST:
            raise ValueError(
                f"QUEUE_LENGTH ({self.QUEUE_LENGTH}) must be at least MAX_IMAGES_PER_REQUEST "
                f"({self.MAX_IMAGES_PER_REQUEST})"
            )
        return self


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once."""
    return Settings()
