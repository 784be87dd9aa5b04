"""Real uvicorn processes serving `app.main:app`, for the tests that need a socket."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVER_START_TIMEOUT_S = 180.0
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


@dataclass
class LiveServer:
    """A uvicorn subprocess; its stdout and stderr go to `log_path`."""

    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=60.0, **kwargs)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def server_environment(settings: dict[str, object]) -> dict[str, str]:
    """This process's environment without any LANDMARKS_* leaking in, plus `settings`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("LANDMARKS_")}
    env.update({f"LANDMARKS_{key}": str(value) for key, value in settings.items()})
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start_server(log_path: Path, settings: dict[str, object]) -> LiveServer:
    """Starts `python -m uvicorn app.main:app` and waits until /readyz answers 200."""
    port = free_port()
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "app.main:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
            ],
            cwd=REPO_ROOT,
            env=server_environment(settings),
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(f"http://127.0.0.1:{port}", process, log_path)
    wait_until_ready(server)
    return server


def wait_until_ready(server: LiveServer) -> None:
    """Polls `/readyz` until 200; stops the server and raises with its log otherwise."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited with {server.process.returncode}:\n{server.log()}")
        try:
            if httpx.get(f"{server.base_url}/readyz", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    stop_server(server)
    raise RuntimeError(f"server not ready in {SERVER_START_TIMEOUT_S} s:\n{server.log()}")


def stop_server(server: LiveServer) -> None:
    """SIGTERM (uvicorn shuts down gracefully), then SIGKILL if it hangs."""
    server.process.terminate()
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=10)


def metric_samples(http: httpx.Client) -> dict[str, float]:
    """GET /metrics as {'name{label="value",...}': value}, labels sorted by name."""
    samples = {}
    for family in text_string_to_metric_families(http.get("/metrics").text):
        for sample in family.samples:
            labels = ",".join(f'{key}="{value}"' for key, value in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}"] = sample.value
    return samples
