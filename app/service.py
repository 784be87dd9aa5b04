"""Starts and stops everything behind the routes: model, executors, batcher, pipeline.

`main.py`'s lifespan calls `start_service` before the server accepts requests and
`Service.aclose` after it stops accepting them.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cv2

from app.batcher import MicroBatcher
from app.decoding import configure_pil
from app.metrics import ServiceMetrics
from app.model_runtime import ModelRuntime
from app.pipeline import LandmarkPipeline
from app.settings import Settings

logger = logging.getLogger(__name__)

_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


# glibc mallopt parameters (malloc.h) and the values the service sets.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024  # glibc's largest on 64-bit
_TRIM_THRESHOLD_BYTES = 128 * 1024 * 1024


def keep_image_buffers_in_the_heap() -> bool:
    """Makes glibc serve image-sized allocations from its heap instead of fresh mmaps.

    By default glibc maps every block over 128 KiB to fresh pages and unmaps it when freed, so
    every decoded photo, resized copy, blended overlay and encoded response (a megabyte or so
    each, several per request) costs page faults and kernel zeroing; with the heap, rendering
    and encoding an overlay take less than half the CPU (BENCHMARKS.md). Freed blocks are
    reused instead; memory above the trim threshold still goes back to the system.

    Returns:
        Whether the allocator took the settings (False off glibc, e.g. macOS or musl).
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(
        mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES)
        and mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD_BYTES)
    )


def configure_logging(level: str) -> None:
    """Gives the `app` loggers a level and, unless something else configured logging, a handler.

    Uvicorn configures only its own loggers; without a handler our INFO lines (device, model,
    readiness) would be dropped.
    """
    app_logger = logging.getLogger("app")
    app_logger.setLevel(level)
    if not app_logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(_LOG_FORMAT))
        app_logger.addHandler(handler)


@dataclass
class Service:
    """The running service's parts; exists only while the model is loaded and warmed up."""

    runtime: ModelRuntime
    batcher: MicroBatcher
    pipeline: LandmarkPipeline
    cpu_pool: ThreadPoolExecutor

    async def aclose(self) -> None:
        """Stops the batcher (failing waiting requests with 503) and the CPU pool."""
        await self.batcher.stop()
        await asyncio.to_thread(self.cpu_pool.shutdown, wait=True)


async def start_service(settings: Settings, metrics: ServiceMetrics) -> Service:
    """Loads and warms up the model, then starts the batcher and the pipeline.

    Raises:
        ModelLoadError: the model directory is missing, broken or off-contract.
    """
    configure_pil(settings.MAX_PIXELS)
    if not keep_image_buffers_in_the_heap():
        logger.info("not glibc: large buffers keep the allocator's defaults")
    # One OpenCV thread per call: requests already run side by side in the CPU pool, and the
    # model's own threads use every core; OpenCV's inner threads would only add hand-offs
    # (the overlay's blend took about twice the CPU time with them).
    cv2.setNumThreads(1)
    logger.info("loading model from %s", settings.MODEL_DIR)
    # Loading and warm-up take seconds of blocking TensorFlow work: keep it off the loop.
    runtime = await asyncio.to_thread(ModelRuntime.load, settings.MODEL_DIR, settings.FLIP_AVERAGE)
    warm_up_seconds = await asyncio.to_thread(runtime.warm_up)
    metadata = runtime.metadata
    logger.info(
        "model %s version %s (%s%s) loaded from %s on %s; warm-up took %.2f s",
        metadata.name,
        metadata.version,
        metadata.architecture,
        ", mirror-averaged" if runtime.flip_average else "",
        runtime.version_dir,
        runtime.device,
        warm_up_seconds,
    )
    batcher = MicroBatcher(
        runtime.predict,
        max_batch_size=settings.MAX_BATCH_SIZE,
        max_wait_s=settings.BATCH_WAIT_MS / 1000.0,
        queue_length=settings.QUEUE_LENGTH,
        queue_timeout_s=settings.QUEUE_TIMEOUT_S,
        observer=metrics,
    )
    await batcher.start()
    cpu_pool = ThreadPoolExecutor(
        max_workers=settings.WORKERS_THREADS, thread_name_prefix="cpu-work"
    )
    pipeline = LandmarkPipeline(
        metadata,
        batcher,
        cpu_pool,
        max_pixels=settings.MAX_PIXELS,
        max_in_flight=settings.QUEUE_LENGTH,
        detection_threshold=settings.DETECTION_THRESHOLD,
        metrics=metrics,
    )
    metrics.model_info.info(
        {
            "name": metadata.name,
            "version": str(metadata.version),
            "architecture": metadata.architecture,
            "device": runtime.device,
        }
    )
    return Service(runtime=runtime, batcher=batcher, pipeline=pipeline, cpu_pool=cpu_pool)
