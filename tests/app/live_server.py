"""Real uvicorn processes serving `app.main:app`, for the tests that need a socket.

The servers are `benchmarks.harness`'s (the benchmarks start theirs the same way); this module
adds the settings the tests run them with.
"""

from __future__ import annotations

from benchmarks.harness import (
    REPO_ROOT,
    LiveServer,
    free_port,
    metric_samples,
    server_environment,
    start_server,
    stop_server,
    wait_until_ready,
)

MIB = 1024 * 1024

# Limits small enough that the over-limit tests send little data.
MAIN_SERVER_SETTINGS: dict[str, object] = {
    "MAX_UPLOAD_BYTES": 2 * MIB,
    "MAX_PIXELS": 4_000_000,
    "MAX_IMAGES_PER_REQUEST": 4,
    "MAX_BATCH_SIZE": 8,
    # Long enough that concurrent test requests reliably share a model call.
    "BATCH_WAIT_MS": 50,
    "QUEUE_LENGTH": 32,
    "LOG_LEVEL": "info",
}

API_KEY = "test-api-key"
KEYED_SERVER_SETTINGS: dict[str, object] = {
    "API_KEY": API_KEY,
    "QUEUE_LENGTH": 2,
    "MAX_IMAGES_PER_REQUEST": 2,
    "MAX_BATCH_SIZE": 2,
    "OVERLAY_DEFAULT": "false",
}


__all__ = [
    "API_KEY",
    "KEYED_SERVER_SETTINGS",
    "MAIN_SERVER_SETTINGS",
    "MIB",
    "REPO_ROOT",
    "LiveServer",
    "free_port",
    "metric_samples",
    "server_environment",
    "start_server",
    "stop_server",
    "wait_until_ready",
]
