"""The serving flow for uploads: decode/validate -> resize -> model -> landmarks -> overlay.

Knows nothing of HTTP. CPU work (decoding, resizing, mapping, overlay rendering, PNG encoding)
runs in a thread pool, the model call in the batcher's inference thread, so the event loop only
coordinates and several requests' CPU work overlaps with inference.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from app.batcher import MicroBatcher, OutputsFuture
from app.decoding import decode_image
from app.errors import InputError, InvalidParameterError, QueueFullError
from app.geometry import model_to_image, resize_for_model
from app.metrics import ServiceMetrics
from app.model_runtime import ModelMetadata
from app.overlay import (
    OVERLAY_MEDIA_TYPES,
    OverlayFormat,
    OverlayMediaType,
    encode_overlay,
    render_overlay,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Candidate:
    """One candidate peak, (x, y) in upload pixel indices."""

    x: float
    y: float
    probability: float


@dataclass(frozen=True)
class LandmarkResult:
    """One landmark's answer, (x, y) in upload pixel indices."""

    id: int
    name: str
    x: float
    y: float
    probability: float
    detected: bool
    candidates: tuple[Candidate, ...] | None


@dataclass(frozen=True)
class Analysis:
    """The answer for one image."""

    width: int
    height: int
    landmarks: tuple[LandmarkResult, ...]
    overlay_image: bytes | None
    overlay_media_type: OverlayMediaType | None = None


@dataclass(frozen=True)
class AnalysisOptions:
    """Per-request choices.

    Attributes:
        top_k: candidates per landmark, 0..metadata.top_k (0: none).
        overlay: whether to render the overlay.
        overlay_format: its encoding, `png` or `jpeg`.
    """

    top_k: int = 0
    overlay: bool = True
    overlay_format: OverlayFormat = "png"


@dataclass(frozen=True)
class _Prepared:
    """A decoded upload on its way through the model.

    Attributes:
        width: upload width after EXIF rotation.
        height: upload height after EXIF rotation.
        pixels: uint8 [H, W, 3], kept only when an overlay will be drawn on it.
        model_input: uint8 [S, S, 3].
    """

    width: int
    height: int
    pixels: np.ndarray | None
    model_input: np.ndarray


class LandmarkPipeline:
    """Turns uploaded image bytes into landmark answers.

    Args:
        metadata: the served model's metadata (names, colours, input size, top_k).
        batcher: a started MicroBatcher around the model.
        executor: the CPU pool for decoding and rendering.
        max_pixels: MAX_PIXELS.
        max_in_flight: QUEUE_LENGTH; images admitted at once, more get QueueFullError.
        detection_threshold: DETECTION_THRESHOLD.
        metrics: receives the in-flight gauge.
    """

    def __init__(
        self,
        metadata: ModelMetadata,
        batcher: MicroBatcher,
        executor: ThreadPoolExecutor,
        *,
        max_pixels: int,
        max_in_flight: int,
        detection_threshold: float,
        metrics: ServiceMetrics | None = None,
    ) -> None:
        self.metadata = metadata
        self._batcher = batcher
        self._executor = executor
        self._max_pixels = max_pixels
        self._max_in_flight = max_in_flight
        self._threshold = detection_threshold
        self._metrics = metrics
        self._in_flight = 0

    def incoming(self) -> contextlib.AbstractContextManager[None]:
        """Announces a request whose body is still arriving (wrap the body read in it).

        The batcher then counts its image as on its way, so a batch forming meanwhile waits for
        it (at most BATCH_WAIT_MS) rather than going half full. `analyse` takes over the
        announcement with the real image count; leave this block right before calling it.
        """
        return self._batcher.expecting(1)

    def check_options(self, options: AnalysisOptions) -> None:
        """Raises InvalidParameterError when `top_k` exceeds what the model provides."""
        if not 0 <= options.top_k <= self.metadata.top_k:
            raise InvalidParameterError(
                f"top_k must be between 0 and {self.metadata.top_k} (the model's top_k), "
                f"got {options.top_k}"
            )

    async def analyse(self, data: bytes, options: AnalysisOptions) -> Analysis:
        """Answers one upload (see `analyse_many` for the errors)."""
        (analysis,) = await self._analyse([data], options, label=lambda index: None)
        return analysis

    async def analyse_many(
        self, uploads: Sequence[bytes], options: AnalysisOptions
    ) -> list[Analysis]:
        """Answers several uploads, in order; all are validated before any reaches the model.

        Raises:
            InputError: the first bad upload's error, its message prefixed with `images[i]: `.
            InvalidParameterError: `options` does not fit the model.
            QueueFullError: admitting all the images would exceed QUEUE_LENGTH.
            QueueTimeoutError, InferenceError, ModelNotReadyError: from the batcher.
        """
        return await self._analyse(uploads, options, label=lambda index: f"images[{index}]")

    async def _analyse(
        self,
        uploads: Sequence[bytes],
        options: AnalysisOptions,
        label: Callable[[int], str | None],
    ) -> list[Analysis]:
        self.check_options(options)
        with self._admit(len(uploads)):
            # Announced to the batcher until queued, so a forming batch waits for these images.
            with self._batcher.expecting(len(uploads)):
                prepared = await asyncio.gather(
                    *(self.run_in_pool(self._prepare, data, options.overlay) for data in uploads),
                    return_exceptions=True,
                )
                checked = [
                    _raise_with_label(result, label(index)) for index, result in enumerate(prepared)
                ]
                futures = self._enqueue_all(checked)
            outputs = await asyncio.gather(*(self._batcher.result(future) for future in futures))
            if not options.overlay:
                # Without an overlay, finishing is coordinate arithmetic on six points: cheaper
                # on the loop than the thread hop it would take.
                return [
                    self._finish(item, output, options)
                    for item, output in zip(checked, outputs, strict=True)
                ]
            return list(
                await asyncio.gather(
                    *(
                        self.run_in_pool(self._finish, item, output, options)
                        for item, output in zip(checked, outputs, strict=True)
                    )
                )
            )

    def _enqueue_all(self, items: Sequence[_Prepared]) -> list[OutputsFuture]:
        """Queues every image for the model, or none: a refusal withdraws those already queued."""
        futures: list[OutputsFuture] = []
        try:
            for item in items:
                futures.append(self._batcher.enqueue(item.model_input))
        except BaseException:
            for future in futures:
                # A cancelled job is skipped by the batcher and frees its batch slot.
                future.cancel()
            raise
        return futures

    @contextmanager
    def _admit(self, count: int) -> Iterator[None]:
        # Bounds the images held in memory at once: uploads are refused before decoding (the
        # expensive, memory-hungry step), not just before the model.
        if self._in_flight + count > self._max_in_flight:
            raise QueueFullError(
                f"the service is at capacity ({self._max_in_flight} images in flight); "
                "retry shortly"
            )
        self._in_flight += count
        self._report_in_flight()
        try:
            yield
        finally:
            self._in_flight -= count
            self._report_in_flight()

    def _report_in_flight(self) -> None:
        if self._metrics is not None:
            self._metrics.images_in_flight.set(self._in_flight)

    async def run_in_pool(self, function: Callable[..., T], *args: object) -> T:
        """Runs blocking CPU work in the pipeline's thread pool, off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    def _prepare(self, data: bytes, keep_pixels: bool) -> _Prepared:
        """Decodes and resizes one upload (runs in the CPU pool).

        Full-size pixels are dropped straight away unless an overlay needs them: a queued
        image then costs S x S x 3 bytes instead of up to MAX_PIXELS x 3. Without an overlay
        a large JPEG is decoded straight at a reduced scale that still covers the model's
        input (`decode_image`'s `min_side`); the resize maps the same half-pixel grid.
        """
        size = self.metadata.size
        decoded = decode_image(data, self._max_pixels, min_side=None if keep_pixels else size)
        return _Prepared(
            width=decoded.width,
            height=decoded.height,
            pixels=decoded.pixels if keep_pixels else None,
            model_input=resize_for_model(decoded.pixels, size),
        )

    def _finish(
        self, item: _Prepared, outputs: dict[str, np.ndarray], options: AnalysisOptions
    ) -> Analysis:
        """Maps one image's model outputs to upload space and renders the overlay (CPU pool).

        Args:
            item: the decoded upload.
            outputs: the model's outputs for this image: `landmarks` [6, 2], `scores` [6],
                `class_map` [S, S], `candidate_points` [6, K, 2], `candidate_scores` [6, K].
            options: the request's choices.
        """
        width, height = item.width, item.height
        size = self.metadata.size
        points = model_to_image(outputs["landmarks"], width, height, size)  # [6, 2]
        scores = outputs["scores"].astype(np.float64)
        detected = scores >= self._threshold
        candidate_points = model_to_image(outputs["candidate_points"], width, height, size)
        candidate_scores = outputs["candidate_scores"]
        landmarks = []
        for index, spec in enumerate(self.metadata.landmarks):
            candidates = None
            if options.top_k > 0:
                # Slots past the last distinct peak carry probability 0: not candidates.
                candidates = tuple(
                    Candidate(
                        x=round(float(candidate_points[index, slot, 0]), 2),
                        y=round(float(candidate_points[index, slot, 1]), 2),
                        probability=round(float(candidate_scores[index, slot]), 4),
                    )
                    for slot in range(options.top_k)
                    if candidate_scores[index, slot] > 0
                )
            landmarks.append(
                LandmarkResult(
                    id=spec.id,
                    name=spec.name,
                    x=round(float(points[index, 0]), 2),
                    y=round(float(points[index, 1]), 2),
                    probability=round(float(scores[index]), 4),
                    detected=bool(detected[index]),
                    candidates=candidates,
                )
            )
        if not options.overlay or item.pixels is None:
            return Analysis(width, height, tuple(landmarks), None)
        rendered = render_overlay(
            item.pixels,
            outputs["class_map"],
            points,
            detected,
            self.metadata.palette,
            [spec.name for spec in self.metadata.landmarks],
        )
        return Analysis(
            width,
            height,
            tuple(landmarks),
            encode_overlay(rendered, options.overlay_format),
            OVERLAY_MEDIA_TYPES[options.overlay_format],
        )


def _raise_with_label(result: _Prepared | BaseException, label: str | None) -> _Prepared:
    """Returns a prepared upload, or raises its error naming which upload it was."""
    if isinstance(result, InputError) and label is not None:
        raise type(result)(f"{label}: {result.message}") from result
    if isinstance(result, BaseException):
        raise result
    return result
