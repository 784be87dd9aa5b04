"""The serving flow with the real tiny model: decode -> resize -> batch -> map -> overlay."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np
import pytest
from PIL import Image

from app.batcher import MicroBatcher, PredictFn
from app.decoding import decode_image
from app.errors import CorruptImageError, InvalidParameterError, QueueFullError
from app.geometry import resize_for_model
from app.model_runtime import ModelRuntime
from app.pipeline import AnalysisOptions, LandmarkPipeline
from tests.app.images import encode, random_rgb

T = TypeVar("T")


def run_with_pipeline(
    runtime: ModelRuntime,
    scenario: Callable[[LandmarkPipeline], Awaitable[T]],
    *,
    threshold: float = 0.5,
    max_in_flight: int = 16,
    queue_length: int = 16,
    predict: PredictFn | None = None,
) -> T:
    async def main() -> T:
        batcher = MicroBatcher(
            predict or runtime.predict,
            max_batch_size=4,
            max_wait_s=0.01,
            queue_length=queue_length,
            queue_timeout_s=30,
        )
        await batcher.start()
        with ThreadPoolExecutor(max_workers=2) as pool:
            pipeline = LandmarkPipeline(
                runtime.metadata,
                batcher,
                pool,
                max_pixels=10_000_000,
                max_in_flight=max_in_flight,
                detection_threshold=threshold,
            )
            try:
                return await scenario(pipeline)
            finally:
                await batcher.stop()

    return asyncio.run(main())


def test_analyse_maps_model_outputs_to_upload_pixels(tiny_runtime: ModelRuntime) -> None:
    data = encode(random_rgb(300, 500, seed=5), "PNG")
    analysis = run_with_pipeline(
        tiny_runtime,
        lambda pipeline: pipeline.analyse(data, AnalysisOptions(top_k=3, overlay=False)),
    )
    # The same steps by hand, with the mapping written out.
    resized = resize_for_model(decode_image(data, 10_000_000).pixels)
    outputs = tiny_runtime.predict(resized[None])
    expected = (outputs["landmarks"][0] + 0.5) * np.array([500 / 256, 300 / 256]) - 0.5

    assert (analysis.width, analysis.height) == (500, 300)
    assert analysis.overlay_image is None
    assert [landmark.id for landmark in analysis.landmarks] == [1, 2, 3, 4, 5, 6]
    found = np.array([[landmark.x, landmark.y] for landmark in analysis.landmarks])
    np.testing.assert_allclose(found, expected, atol=0.006)
    for index, landmark in enumerate(analysis.landmarks):
        assert landmark.probability == pytest.approx(outputs["scores"][0, index], abs=6e-5)
        assert landmark.detected == (outputs["scores"][0, index] >= 0.5)
        assert landmark.candidates is not None and 1 <= len(landmark.candidates) <= 3
        probabilities = [candidate.probability for candidate in landmark.candidates]
        assert probabilities == sorted(probabilities, reverse=True)
        assert all(probability > 0 for probability in probabilities)


def test_analyse_threshold_decides_detected(tiny_runtime: ModelRuntime) -> None:
    data = encode(random_rgb(64, 64), "PNG")
    options = AnalysisOptions(top_k=0, overlay=False)
    everything = run_with_pipeline(
        tiny_runtime, lambda pipeline: pipeline.analyse(data, options), threshold=0.0
    )
    nothing = run_with_pipeline(
        tiny_runtime, lambda pipeline: pipeline.analyse(data, options), threshold=1.0
    )
    assert all(landmark.detected for landmark in everything.landmarks)
    assert not any(landmark.detected for landmark in nothing.landmarks)
    assert all(landmark.candidates is None for landmark in nothing.landmarks)


def test_analyse_renders_overlay_png_at_upload_size(tiny_runtime: ModelRuntime) -> None:
    data = encode(random_rgb(123, 321), "JPEG")
    analysis = run_with_pipeline(
        tiny_runtime, lambda pipeline: pipeline.analyse(data, AnalysisOptions(overlay=True))
    )
    assert analysis.overlay_image is not None
    assert Image.open(io.BytesIO(analysis.overlay_image)).size == (321, 123)


def test_analyse_many_returns_results_in_order(tiny_runtime: ModelRuntime) -> None:
    uploads = [encode(random_rgb(40 + 10 * index, 50, seed=index), "PNG") for index in range(5)]
    analyses = run_with_pipeline(
        tiny_runtime,
        lambda pipeline: pipeline.analyse_many(uploads, AnalysisOptions(overlay=False)),
    )
    assert [analysis.height for analysis in analyses] == [40, 50, 60, 70, 80]


def test_analyse_many_bad_image_names_its_index(tiny_runtime: ModelRuntime) -> None:
    good = encode(random_rgb(32, 32), "PNG")
    uploads = [good, good, good[:60]]
    with pytest.raises(CorruptImageError, match=r"^images\[2\]: the PNG data is truncated"):
        run_with_pipeline(
            tiny_runtime, lambda pipeline: pipeline.analyse_many(uploads, AnalysisOptions())
        )


def test_analyse_many_over_capacity_raises_queue_full(tiny_runtime: ModelRuntime) -> None:
    uploads = [encode(random_rgb(8, 8), "PNG")] * 3
    with pytest.raises(QueueFullError, match="at capacity"):
        run_with_pipeline(
            tiny_runtime,
            lambda pipeline: pipeline.analyse_many(uploads, AnalysisOptions()),
            max_in_flight=2,
        )


def test_check_options_rejects_top_k_beyond_the_model(tiny_runtime: ModelRuntime) -> None:
    async def scenario(pipeline: LandmarkPipeline) -> None:
        pipeline.check_options(AnalysisOptions(top_k=5))
        with pytest.raises(InvalidParameterError, match="between 0 and 5"):
            pipeline.check_options(AnalysisOptions(top_k=6))

    run_with_pipeline(tiny_runtime, scenario)


class RecordingModel:
    """The tiny model, keeping every batch of model inputs it was given."""

    def __init__(self, runtime: ModelRuntime) -> None:
        self.runtime = runtime
        self.inputs: list[np.ndarray] = []

    def __call__(self, images: np.ndarray) -> Mapping[str, np.ndarray]:
        self.inputs.append(images.copy())
        return self.runtime.predict(images)


def test_analyse_large_jpeg_without_overlay_feeds_the_model_the_same_picture(
    tiny_runtime: ModelRuntime,
) -> None:
    # Without an overlay the JPEG is decoded at 1/4 scale; the model must still see what the
    # full decode resized to 256 would give, and the answer must be in upload pixels.
    y, x = np.mgrid[0:1080, 0:1920]
    pixels = np.stack([x * 255 // 1920, y * 255 // 1080, (x // 240 % 2) * 200], -1)
    data = encode(pixels.astype(np.uint8), "JPEG", quality=95)
    model = RecordingModel(tiny_runtime)
    analysis = run_with_pipeline(
        tiny_runtime,
        lambda pipeline: pipeline.analyse(data, AnalysisOptions(overlay=False)),
        predict=model,
    )
    assert (analysis.width, analysis.height) == (1920, 1080)
    (fed,) = model.inputs
    expected = resize_for_model(decode_image(data, 10_000_000).pixels)
    assert fed.shape == (1, 256, 256, 3)
    assert np.abs(fed[0].astype(int) - expected.astype(int)).mean() < 2.0
    assert all(-0.5 <= landmark.x <= 1919.5 for landmark in analysis.landmarks)


def test_analyse_many_refused_by_the_model_queue_leaves_nothing_queued(
    tiny_runtime: ModelRuntime,
) -> None:
    uploads = [encode(random_rgb(16, 16, seed=index), "PNG") for index in range(3)]
    model = RecordingModel(tiny_runtime)

    async def scenario(pipeline: LandmarkPipeline) -> None:
        with pytest.raises(QueueFullError, match="inference queue is full"):
            await pipeline.analyse_many(uploads, AnalysisOptions(overlay=False))
        # The two images queued before the refusal were withdrawn: the model never runs them,
        # and the queue takes a new request at once.
        await asyncio.sleep(0.1)
        assert model.inputs == []
        (analysis,) = await pipeline.analyse_many(uploads[:1], AnalysisOptions(overlay=False))
        assert analysis.width == 16

    run_with_pipeline(tiny_runtime, scenario, queue_length=2, predict=model)
    assert [len(batch) for batch in model.inputs] == [1]
