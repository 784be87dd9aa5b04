"""The micro-batcher, driven by a fake model function (fast and deterministic)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Mapping

import numpy as np
import pytest

from app.batcher import MicroBatcher
from app.errors import InferenceError, ModelNotReadyError, QueueFullError, QueueTimeoutError


class FakeModel:
    """Returns each image's first pixel as its 'landmarks', records every batch size."""

    def __init__(self, delay_s: float = 0.0, fail: bool = False) -> None:
        self.delay_s = delay_s
        self.fail = fail
        self.batch_sizes: list[int] = []
        self.threads: set[str] = set()
        self.release = threading.Event()
        self.release.set()

    def __call__(self, images: np.ndarray) -> Mapping[str, np.ndarray]:
        self.threads.add(threading.current_thread().name)
        self.release.wait(timeout=10)
        time.sleep(self.delay_s)
        self.batch_sizes.append(len(images))
        if self.fail:
            raise RuntimeError("model exploded")
        return {"marker": images[:, 0, 0, 0].astype(np.int64), "ones": np.ones((len(images), 2))}


class Observer:
    def __init__(self) -> None:
        self.waits: list[float] = []
        self.batches: list[tuple[int, float]] = []

    def observe_queue_wait(self, seconds: float) -> None:
        self.waits.append(seconds)

    def observe_batch(self, size: int, inference_seconds: float) -> None:
        self.batches.append((size, inference_seconds))


def image(marker: int) -> np.ndarray:
    return np.full((4, 4, 3), marker, dtype=np.uint8)


def make_batcher(model: FakeModel, **overrides: float) -> MicroBatcher:
    options: dict[str, float] = {
        "max_batch_size": 4,
        "max_wait_s": 0.05,
        "queue_length": 16,
        "queue_timeout_s": 5.0,
    }
    options.update(overrides)
    return MicroBatcher(
        model,
        max_batch_size=int(options["max_batch_size"]),
        max_wait_s=options["max_wait_s"],
        queue_length=int(options["queue_length"]),
        queue_timeout_s=options["queue_timeout_s"],
    )


@contextlib.asynccontextmanager
async def running(model: FakeModel, **overrides: float) -> AsyncIterator[MicroBatcher]:
    """A started batcher around `model` (see `make_batcher`), stopped on the way out."""
    batcher = make_batcher(model, **overrides)
    await batcher.start()
    try:
        yield batcher
    finally:
        await batcher.stop()


def test_submit_concurrent_images_share_model_calls_and_get_their_own_results() -> None:
    model = FakeModel()
    observer = Observer()

    async def scenario() -> list[dict[str, np.ndarray]]:
        batcher = MicroBatcher(
            model,
            max_batch_size=4,
            max_wait_s=0.05,
            queue_length=16,
            queue_timeout_s=5.0,
            observer=observer,
        )
        await batcher.start()
        try:
            return await asyncio.gather(*(batcher.submit(image(m)) for m in range(10)))
        finally:
            await batcher.stop()

    results = asyncio.run(scenario())
    assert [int(result["marker"]) for result in results] == list(range(10))
    assert results[0]["ones"].shape == (2,)  # the batch axis is removed
    assert model.batch_sizes == [4, 4, 2]
    assert [size for size, _ in observer.batches] == [4, 4, 2]
    assert len(observer.waits) == 10
    # The model runs in the batcher's own thread, never on the event loop's.
    assert model.threads == {next(iter(model.threads))}
    assert next(iter(model.threads)).startswith("inference")


def test_submit_lone_image_with_nothing_announced_does_not_wait() -> None:
    model = FakeModel()

    async def scenario() -> float:
        async with running(model, max_wait_s=0.5) as batcher:
            started = time.perf_counter()
            await batcher.submit(image(1))
            return time.perf_counter() - started

    elapsed = asyncio.run(scenario())
    assert model.batch_sizes == [1]
    # Nothing else is on its way, so the 0.5 s batch wait is not spent.
    assert elapsed < 0.25


def test_announced_image_joins_the_forming_batch() -> None:
    model = FakeModel()

    async def scenario() -> None:
        async with running(model, max_wait_s=0.5) as batcher:

            async def late_arrival() -> None:
                with batcher.expecting(1):
                    await asyncio.sleep(0.05)  # "decoding"
                    future = batcher.enqueue(image(2))
                await batcher.result(future)

            late = asyncio.create_task(late_arrival())
            await asyncio.sleep(0)  # the late image is announced before the first one queues
            await asyncio.gather(batcher.submit(image(1)), late)

    asyncio.run(scenario())
    assert model.batch_sizes == [2]


def test_announced_image_that_never_comes_delays_the_batch_at_most_max_wait() -> None:
    model = FakeModel()

    async def scenario() -> float:
        async with running(model, max_wait_s=0.1) as batcher:
            with batcher.expecting(1):
                started = time.perf_counter()
                await batcher.submit(image(1))
                return time.perf_counter() - started

    elapsed = asyncio.run(scenario())
    assert model.batch_sizes == [1]
    assert 0.08 <= elapsed < 1.0


def test_submit_when_queue_is_full_raises_queue_full() -> None:
    model = FakeModel()
    model.release.clear()  # hold the first batch inside the model

    async def scenario() -> None:
        batcher = make_batcher(model, max_batch_size=1, max_wait_s=0.0, queue_length=2)
        await batcher.start()
        try:
            first = asyncio.create_task(batcher.submit(image(0)))
            await asyncio.sleep(0.05)  # the worker takes it: now inside the model
            waiting = [asyncio.create_task(batcher.submit(image(m))) for m in (1, 2)]
            await asyncio.sleep(0.01)
            with pytest.raises(QueueFullError, match="queue is full"):
                await batcher.submit(image(3))
            model.release.set()
            await asyncio.gather(first, *waiting)
        finally:
            model.release.set()
            await batcher.stop()

    asyncio.run(scenario())
    assert model.batch_sizes == [1, 1, 1]


def test_submit_waiting_past_timeout_raises_and_is_skipped() -> None:
    model = FakeModel()
    model.release.clear()

    async def scenario() -> None:
        batcher = make_batcher(model, max_batch_size=1, max_wait_s=0.0, queue_timeout_s=0.1)
        await batcher.start()
        try:
            first = asyncio.create_task(batcher.submit(image(0)))
            await asyncio.sleep(0.02)
            with pytest.raises(QueueTimeoutError, match=r"no model result within 0\.1 s"):
                await batcher.submit(image(1))
            with pytest.raises(QueueTimeoutError):
                await first
            model.release.set()
            await asyncio.sleep(0.1)
        finally:
            model.release.set()
            await batcher.stop()

    asyncio.run(scenario())
    # The first image was already in the model; the timed-out second never reached it.
    assert model.batch_sizes == [1]


def test_submit_when_model_fails_raises_inference_error_and_keeps_serving() -> None:
    model = FakeModel(fail=True)

    async def scenario() -> int:
        batcher = make_batcher(model)
        await batcher.start()
        try:
            with pytest.raises(InferenceError, match="model call failed"):
                await batcher.submit(image(1))
            model.fail = False
            result = await batcher.submit(image(7))
            return int(result["marker"])
        finally:
            await batcher.stop()

    assert asyncio.run(scenario()) == 7


def test_stop_fails_waiting_callers_with_not_ready() -> None:
    model = FakeModel()
    model.release.clear()

    async def scenario() -> None:
        batcher = make_batcher(model, max_batch_size=1, max_wait_s=0.0)
        await batcher.start()
        running = asyncio.create_task(batcher.submit(image(0)))
        await asyncio.sleep(0.05)
        queued = asyncio.create_task(batcher.submit(image(1)))
        await asyncio.sleep(0.01)
        stopping = asyncio.create_task(batcher.stop())
        await asyncio.sleep(0.05)
        model.release.set()
        await stopping
        for task in (running, queued):
            with pytest.raises(ModelNotReadyError, match="shutting down"):
                await task

    asyncio.run(scenario())


def test_submit_before_start_raises_not_ready() -> None:
    async def scenario() -> None:
        with pytest.raises(ModelNotReadyError):
            await make_batcher(FakeModel()).submit(image(0))

    asyncio.run(scenario())


def test_images_queued_while_the_model_is_busy_go_together_when_it_frees() -> None:
    model = FakeModel()
    model.release.clear()  # the first call blocks until released

    async def scenario() -> None:
        async with running(model, max_batch_size=8, max_wait_s=0.1) as batcher:
            first = asyncio.create_task(batcher.submit(image(0)))
            await asyncio.sleep(0.05)  # the model is now busy with image 0
            rest = [asyncio.create_task(batcher.submit(image(m))) for m in range(1, 4)]
            await asyncio.sleep(0.05)
            started = time.perf_counter()
            model.release.set()
            await asyncio.gather(first, *rest)
            # The queued three went together, having waited at most max_wait for image 0's
            # caller to send again (it does not).
            assert time.perf_counter() - started < 0.5

    asyncio.run(scenario())
    assert model.batch_sizes == [1, 3]


def test_batch_formed_when_the_model_frees_waits_for_an_announced_image() -> None:
    # Image 1 queued during the previous call; image 2 is still arriving when the model frees.
    # Counted from image 1's arrival its wait would be over, and the two would take turns.
    model = FakeModel()
    model.release.clear()

    async def scenario() -> None:
        async with running(model, max_batch_size=8, max_wait_s=0.3) as batcher:
            first = asyncio.create_task(batcher.submit(image(0)))
            await asyncio.sleep(0.05)
            queued = asyncio.create_task(batcher.submit(image(1)))
            await asyncio.sleep(0.4)  # longer than max_wait: image 1 has waited its share

            async def arriving() -> None:
                with batcher.expecting(1):
                    model.release.set()  # the model frees while image 2 is on its way
                    await asyncio.sleep(0.05)
                    future = batcher.enqueue(image(2))
                await batcher.result(future)

            await asyncio.gather(first, queued, arriving())

    asyncio.run(scenario())
    assert model.batch_sizes == [1, 2]


def test_batch_waits_at_most_max_wait_after_the_model_frees_for_images_not_coming() -> None:
    model = FakeModel()
    model.release.clear()

    async def scenario() -> float:
        # The first call takes 0.35 s, so a quarter of it (0.09 s) is more than max_wait.
        async with running(model, max_batch_size=8, max_wait_s=0.06) as batcher:
            first = asyncio.create_task(batcher.submit(image(0)))
            await asyncio.sleep(0.05)
            queued = asyncio.create_task(batcher.submit(image(1)))
            with batcher.expecting(1):  # announced, never enqueued
                await asyncio.sleep(0.3)
                freed = time.perf_counter()
                model.release.set()
                await asyncio.gather(first, queued)
                return time.perf_counter() - freed

    elapsed = asyncio.run(scenario())
    assert model.batch_sizes == [1, 1]
    # The second batch waited its max_wait from the moment the model was free, not longer.
    assert 0.05 <= elapsed < 0.5


def test_callers_that_send_again_at_once_share_the_next_batch() -> None:
    # Two callers, each sending its next image as soon as it has its answer; the second starts
    # while the model is busy with the first. A batcher that sends whatever is queued the moment
    # the model frees keeps them apart for good: batches of one, taking turns.
    model = FakeModel(delay_s=0.03)

    async def scenario() -> None:
        async with running(model, max_batch_size=8, max_wait_s=0.05) as batcher:

            async def caller(marker: int, rounds: int) -> None:
                for _ in range(rounds):
                    await batcher.submit(image(marker))

            first = asyncio.create_task(caller(1, 6))
            await asyncio.sleep(0.01)  # the model is busy with caller 1's first image
            await asyncio.gather(first, caller(2, 6))

    asyncio.run(scenario())
    assert max(model.batch_sizes) == 2
    assert len(model.batch_sizes) <= 8  # against 12 batches of one


def test_a_request_long_after_the_last_batch_does_not_wait_for_its_callers() -> None:
    model = FakeModel()

    async def scenario() -> float:
        async with running(model, max_batch_size=8, max_wait_s=0.2) as batcher:
            await asyncio.gather(*(batcher.submit(image(m)) for m in range(3)))
            await asyncio.sleep(0.3)  # past the window in which its callers would return
            started = time.perf_counter()
            await batcher.submit(image(9))
            return time.perf_counter() - started

    elapsed = asyncio.run(scenario())
    assert model.batch_sizes == [3, 1]
    assert elapsed < 0.15


def test_wait_for_callers_just_answered_is_at_most_a_quarter_of_the_call() -> None:
    # A fast model (calls of 40 ms) and a long BATCH_WAIT_MS: idling the model for 0.5 s on
    # the guess that the callers just answered will send again would cost twelve calls.
    model = FakeModel(delay_s=0.04)
    model.release.clear()

    async def scenario() -> float:
        async with running(model, max_batch_size=8, max_wait_s=0.5) as batcher:
            answered = asyncio.create_task(batcher.submit(image(0)))
            await asyncio.sleep(0.02)
            queued = asyncio.create_task(batcher.submit(image(1)))
            await asyncio.sleep(0.02)
            model.release.set()
            await answered
            freed = time.perf_counter()
            await queued  # image 0's caller does not send again
            return time.perf_counter() - freed

    elapsed = asyncio.run(scenario())
    assert model.batch_sizes == [1, 1]
    # The second call (40 ms), after a wait of at most a quarter of the first (about 20 ms
    # with its blocked start), plus scheduling slack; never the 0.5 s of max_wait.
    assert elapsed < 0.25
