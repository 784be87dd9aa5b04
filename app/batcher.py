"""Micro-batching: concurrent requests' images share one model call.

    submit() ──put_nowait──> asyncio.Queue (bounded) ──> _run() collects up to MAX_BATCH_SIZE
       ^                                                  once the model is free
       │
       └──── per-image future <── results split ── predict(stacked batch) in the inference thread

The queue and the futures live on the event loop; the model call runs in a dedicated
single-thread executor, so the loop stays free and at most one model call runs at a time (the
model parallelises internally). While one batch runs, the next one gathers in the queue.

The batching rule. A batch is formed when the model becomes free, from everything queued by
then (as Triton's dynamic batcher does). If that is less than a full batch, it waits for more,
at most BATCH_WAIT_MS from the later of the model becoming free and its first image arriving,
but only for images that are likely to come:

- images announced (`expecting`): requests announce themselves as soon as they arrive, before
  their body is read, until their images are queued;
- shortly after the model becomes free (BATCH_WAIT_MS, and at most a quarter of the call that
  just ended), as many images as that call answered: most callers send their next image as
  soon as they have the last answer.

Without the second, a work-conserving batcher (Triton's and TF Serving's included) lets c
clients that each wait for their answer settle into two groups of c/2 taking turns: the group
queued during a call goes the moment it ends, before the group just answered can send again.
At c=2 that is batches of one, and a batch of one costs this CPU model about 1.5 times a batch
of two per image (BENCHMARKS.md). A lone request still never waits: nothing is announced,
and the one image it was answered with is its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from app.errors import InferenceError, ModelNotReadyError, QueueFullError, QueueTimeoutError

logger = logging.getLogger(__name__)

# A batch waits for the callers just answered at most this share of the last model call.
MAX_WAIT_SHARE_OF_CALL = 0.25

PredictFn = Callable[[np.ndarray], Mapping[str, np.ndarray]]
# One image's model outputs (the batch axis removed), and the future a caller waits on for them.
ImageOutputs = dict[str, np.ndarray]
OutputsFuture = asyncio.Future[ImageOutputs]


class BatchObserver(Protocol):
    """Receives the batcher's measurements (the metrics module implements it)."""

    def observe_queue_wait(self, seconds: float) -> None: ...

    def observe_batch(self, size: int, inference_seconds: float) -> None: ...


class _NullObserver:
    def observe_queue_wait(self, seconds: float) -> None:
        pass

    def observe_batch(self, size: int, inference_seconds: float) -> None:
        pass


@dataclass
class _Job:
    image: np.ndarray
    future: OutputsFuture
    enqueued_at: float = field(default_factory=time.monotonic)


class MicroBatcher:
    """Collects single images into batches for one model function.

    Args:
        predict: the model call, uint8 [N, S, S, 3] -> dict of arrays with N first; blocking.
        max_batch_size: most images per call.
        max_wait_s: longest the first image of a batch waits for company.
        queue_length: most images waiting; more are refused with QueueFullError.
        queue_timeout_s: longest a caller waits for its result before QueueTimeoutError.
        observer: receives queue-wait and batch measurements.
    """

    def __init__(
        self,
        predict: PredictFn,
        *,
        max_batch_size: int,
        max_wait_s: float,
        queue_length: int,
        queue_timeout_s: float,
        observer: BatchObserver | None = None,
    ) -> None:
        if max_batch_size < 1 or queue_length < 1:
            raise ValueError("max_batch_size and queue_length must be at least 1")
        self._predict = predict
        self._max_batch_size = max_batch_size
        self._max_wait_s = max_wait_s
        self._queue_length = queue_length
        self._queue_timeout_s = queue_timeout_s
        self._observer: BatchObserver = observer or _NullObserver()
        self._queue: asyncio.Queue[_Job] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._in_progress: list[_Job] = []
        self._expected = 0
        # When the last model call returned (time.monotonic()); a batch's wait starts there.
        self._model_free_at = 0.0
        # How long the last model call took; a batch never waits more than a share of it.
        self._last_call_s: float | None = None
        # Images the last call answered whose senders have not sent again yet (see above).
        self._returning = 0

    @property
    def queue_depth(self) -> int:
        """Images waiting for a model call (not counting the one running)."""
        return 0 if self._queue is None else self._queue.qsize()

    async def start(self) -> None:
        """Starts the worker task; call from the event loop that will submit."""
        if self._worker is not None:
            raise RuntimeError("the batcher is already running")
        self._queue = asyncio.Queue(maxsize=self._queue_length)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inference")
        self._worker = asyncio.create_task(self._run(), name="micro-batcher")

    async def stop(self) -> None:
        """Stops the worker; waiting callers get ModelNotReadyError."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        shutting_down = ModelNotReadyError("the service is shutting down")
        for job in self._in_progress:
            if not job.future.done():
                job.future.set_exception(shutting_down)
        self._in_progress = []
        if self._queue is not None:
            while not self._queue.empty():
                job = self._queue.get_nowait()
                if not job.future.done():
                    job.future.set_exception(shutting_down)
        if self._executor is not None:
            # Waits for a running model call to finish; in a thread, so the loop stays free.
            await asyncio.to_thread(self._executor.shutdown, wait=True)
            self._executor = None

    @contextlib.contextmanager
    def expecting(self, count: int) -> Iterator[None]:
        """Announces `count` images that the caller will `enqueue` before leaving the block.

        While announced images are outstanding, a forming batch waits for them (at most
        `max_wait_s`); without any, it does not wait at all. A request announces one image
        while its body arrives (the count is not known yet), then its real count while its
        uploads are decoded; the two blocks follow each other with no await between them.
        """
        self._expected += count
        try:
            yield
        finally:
            self._expected -= count

    def enqueue(self, image: np.ndarray) -> OutputsFuture:
        """Queues one image for the model without waiting (call `result` with the future).

        Args:
            image: uint8 [S, S, 3] model input.

        Returns:
            The future that receives this image's outputs.

        Raises:
            ModelNotReadyError: the batcher is not running.
            QueueFullError: `queue_length` images are already waiting.
        """
        if self._queue is None or self._worker is None:
            raise ModelNotReadyError("the model is not ready")
        job = _Job(image=image, future=asyncio.get_running_loop().create_future())
        try:
            self._queue.put_nowait(job)
        except asyncio.QueueFull:
            raise QueueFullError(
                f"the inference queue is full ({self._queue_length} images); retry shortly"
            ) from None
        self._returning = max(0, self._returning - 1)
        return job.future

    async def result(self, future: OutputsFuture) -> ImageOutputs:
        """Waits for an enqueued image's outputs (the batch axis removed).

        Raises:
            QueueTimeoutError: no result within `queue_timeout_s` of this call.
            InferenceError, ModelNotReadyError: the model call failed, or the batcher stopped.
        """
        try:
            # On timeout wait_for cancels the future, which tells the worker to skip the job.
            return await asyncio.wait_for(future, timeout=self._queue_timeout_s)
        except TimeoutError:
            raise QueueTimeoutError(
                f"no model result within {self._queue_timeout_s:g} s; the service is "
                "overloaded, retry later"
            ) from None

    async def submit(self, image: np.ndarray) -> ImageOutputs:
        """Queues one image and waits for its share of a batched model call.

        Args:
            image: uint8 [S, S, 3] model input.

        Returns:
            The model's outputs for this image (the batch axis removed).

        Raises:
            ModelNotReadyError: the batcher is not running.
            QueueFullError: `queue_length` images are already waiting.
            QueueTimeoutError: no result within `queue_timeout_s`.
            InferenceError: the model call failed.
        """
        return await self.result(self.enqueue(image))

    async def _collect_batch(self) -> list[_Job]:
        """Waits for a first job, then gathers more until the batch is full or time is up."""
        if self._queue is None:
            raise RuntimeError("the batcher has not been started")
        first = await self._queue.get()
        batch = [first]
        # Counted from when the model became free, or from the first job's arrival if that is
        # later: images that queued during the previous call go at once unless company is
        # already on its way, and then wait no longer than for a batch formed from scratch.
        deadline = max(first.enqueued_at, self._model_free_at) + self._max_wait_s
        while True:
            if len(batch) >= self._max_batch_size:
                # A job whose caller timed out or went away gives its slot back, so that live
                # jobs fill the batch instead of waiting out the deadline beside dead ones.
                batch = [job for job in batch if not job.future.done()]
                if len(batch) >= self._max_batch_size:
                    break
            try:
                job = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                if self._expected > 0:
                    until = deadline
                elif self._callers_returning():
                    until = min(deadline, self._model_free_at + self._returning_window_s())
                else:
                    # Nothing is on its way: waiting would add latency and no company.
                    break
                remaining = until - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    async with asyncio.timeout(remaining):
                        job = await self._queue.get()
                except TimeoutError:
                    break
            if not job.future.done():
                batch.append(job)
        return batch

    def _returning_window_s(self) -> float:
        """How long after the model frees a batch waits for the callers it just answered.

        max_wait, and at most a quarter of the last model call: this wait is a guess (the
        callers may not send again), and idling the model longer than a fraction of its own
        call on a guess cannot pay on a fast model (a GPU's calls take milliseconds).
        """
        if self._last_call_s is None:
            return self._max_wait_s
        return min(self._max_wait_s, MAX_WAIT_SHARE_OF_CALL * self._last_call_s)

    def _callers_returning(self) -> bool:
        """Whether senders the last call just answered may still send again in time."""
        window_open = time.monotonic() < self._model_free_at + self._returning_window_s()
        return self._returning > 0 and window_open

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._collect_batch()
            # Jobs whose caller timed out or went away are dropped here, before the model.
            jobs = [job for job in batch if not job.future.done()]
            if not jobs:
                continue
            now = time.monotonic()
            for job in jobs:
                self._observer.observe_queue_wait(now - job.enqueued_at)
            self._in_progress = jobs
            images = np.stack([job.image for job in jobs])
            started = time.perf_counter()
            try:
                outputs = await loop.run_in_executor(self._executor, self._predict, images)
            except Exception:
                self._model_free_at = time.monotonic()
                # A failing model call must fail these requests, not stop the worker for good.
                # The client gets a generic message; the details go to the log.
                logger.exception("model call failed for a batch of %d", len(jobs))
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(InferenceError("the model call failed"))
                self._in_progress = []
                continue
            # Not in a `finally`: on cancellation stop() still needs the list to fail them.
            self._in_progress = []
            self._model_free_at = time.monotonic()
            self._last_call_s = time.perf_counter() - started
            self._returning = len(jobs)
            self._observer.observe_batch(len(jobs), time.perf_counter() - started)
            for index, job in enumerate(jobs):
                if not job.future.done():
                    job.future.set_result({name: value[index] for name, value in outputs.items()})
