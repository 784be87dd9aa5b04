"""What the benchmarks share: a real server on loopback, and untrained models to serve.

Run the benchmarks that use it as modules from the repository root, so that `benchmarks`,
`app` and `training` import without path edits:

    python -m benchmarks.bench_service
    python -m benchmarks.load_test
    python -m benchmarks.load_curve --model models/garment_landmarks

The tests start their servers with the same functions (tests/app/live_server.py).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

REPO_ROOT = Path(__file__).resolve().parents[1]
SERVER_START_TIMEOUT_S = 180.0


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


# === Untrained models ===


def export_untrained(version_dir: Path, architecture: str, width_multiplier: float) -> Path:
    """A network of the real architecture with seeded random weights, exported for serving.

    Noise answers, but the real graph and so the real cost: what a benchmark of the service's
    own overhead needs when no trained model is named.
    """
    import keras

    from training.export import base_metadata, export_saved_model
    from training.model import build_model

    keras.utils.set_random_seed(0)
    model = build_model(architecture, width_multiplier=width_multiplier)
    name = version_dir.parent.name
    metadata = base_metadata(name, int(version_dir.name), architecture, width_multiplier)
    return export_saved_model(model, version_dir, metadata, top_k=5)


@contextlib.contextmanager
def model_directory(
    model: Path | None, architecture: str, width_multiplier: float
) -> Iterator[Path]:
    """`model` itself, or an untrained export (`export_untrained`) in a temporary directory.

    The export runs in a subprocess, so that the calling benchmark stays free of TensorFlow.
    """
    if model is not None:
        yield model
        return
    with tempfile.TemporaryDirectory(prefix="bench-model-") as scratch:
        root = Path(scratch) / f"{architecture}_untrained"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.harness",
                "export",
                str(root / "1"),
                architecture,
                str(width_multiplier),
            ],
            check=True,
            cwd=REPO_ROOT,
            env=server_environment({}),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        yield root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Exports an untrained model (export_untrained).")
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export")
    export.add_argument("version_dir", type=Path)
    export.add_argument("architecture")
    export.add_argument("width_multiplier", type=float)
    args = parser.parse_args(argv)
    export_untrained(args.version_dir, args.architecture, args.width_multiplier)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
