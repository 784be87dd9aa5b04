"""The image's start command and healthcheck, run outside a container against a tiny model.

What the container would run is read from the Dockerfile (CMD, ENV, HEALTHCHECK) and run here
as it stands, with `python` being this interpreter. Only three settings differ from the
image: LANDMARKS_MODEL_DIR names a tiny model exported by the test (the bundled model may not
exist in a checkout), LANDMARKS_PORT a free port, and LANDMARKS_HOST is 127.0.0.1 because a
test server has no business on the machine's other interfaces (in the container 0.0.0.0 only
reaches the container's own network namespace). The working directory mirrors the image's
WORKDIR: it holds `app/` and `models/`, and nothing else from the repository.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.container.conftest import REPO_ROOT, seconds
from tests.container.dockerfile import Dockerfile, exec_form

READY_TIMEOUT_S = 240.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def as_local_command(command: list[str]) -> list[str]:
    """The image's exec-form command with its `python` replaced by this interpreter."""
    assert command[0] == "python", f"expected the image to start python, got {command}"
    return [sys.executable, *command[1:]]


def png_bytes(width: int = 64, height: int = 48) -> bytes:
    pixels = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stand-in for the image's WORKDIR: `app/` plus a tiny exported model under models/."""
    from training.export import base_metadata, export_saved_model
    from training.model import build_model

    root = tmp_path_factory.mktemp("workdir")
    (root / "app").symlink_to(REPO_ROOT / "app", target_is_directory=True)
    model = build_model("unet", width_multiplier=0.125)
    export_saved_model(
        model, root / "models" / "tiny" / "1", base_metadata("tiny", 1, "unet", 0.125)
    )
    return root


@pytest.fixture(scope="module")
def container_env(dockerfile: Dockerfile, workdir: Path) -> dict[str, str]:
    """This machine's environment, minus any LANDMARKS_*, plus the image's ENV."""
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("LANDMARKS_")
    }
    environment.update(dockerfile.final.env())
    environment.update(
        LANDMARKS_MODEL_DIR=str(workdir / "models" / "tiny"),
        LANDMARKS_PORT=str(free_port()),
        LANDMARKS_HOST="127.0.0.1",
    )
    return environment


def run_healthcheck(
    dockerfile: Dockerfile, workdir: Path, environment: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    instruction = dockerfile.final.last("HEALTHCHECK")
    assert instruction is not None
    return subprocess.run(
        as_local_command(exec_form(instruction)),
        cwd=workdir,
        env=environment,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.fixture(scope="module")
def server(
    dockerfile: Dockerfile, workdir: Path, container_env: dict[str, str]
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The image's CMD, started as the container would start it; yields (base URL, process)."""
    cmd = dockerfile.final.last("CMD")
    assert cmd is not None
    log_path = workdir / "server.log"
    base_url = f"http://127.0.0.1:{container_env['LANDMARKS_PORT']}"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            as_local_command(exec_form(cmd)),
            cwd=workdir,
            env=container_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        with httpx.Client(base_url=base_url, timeout=5.0) as client:
            while True:
                if process.poll() is not None:
                    pytest.fail(f"server exited with {process.returncode}:\n{tail(log_path)}")
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"/readyz not 200 after {READY_TIMEOUT_S}s:\n{tail(log_path)}")
                time.sleep(0.5)
        yield base_url, process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


def tail(path: Path, characters: int = 4000) -> str:
    return path.read_text(encoding="utf-8", errors="replace")[-characters:]


@pytest.mark.slow
def test_healthcheck_fails_while_nothing_listens(
    dockerfile: Dockerfile, workdir: Path, container_env: dict[str, str]
) -> None:
    # As while the model loads: nothing answers on the port. Docker counts exit 1 as unhealthy
    # and reserves other non-zero codes, so the failure must be exactly 1.
    closed_port = {**container_env, "LANDMARKS_PORT": str(free_port())}
    result = run_healthcheck(dockerfile, workdir, closed_port)
    assert result.returncode == 1, result.stderr


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_image_command_serves_readyz_and_six_landmarks(
    server: tuple[str, subprocess.Popen[bytes]],
    dockerfile: Dockerfile,
    workdir: Path,
    container_env: dict[str, str],
) -> None:
    base_url, _ = server
    # The image's HEALTHCHECK (and so compose's, which tests/container/test_compose.py keeps
    # equal) passes against the ready server.
    result = run_healthcheck(dockerfile, workdir, container_env)
    assert result.returncode == 0, result.stderr

    with httpx.Client(base_url=base_url, timeout=60.0) as client:
        response = client.post(
            "/landmarks", files={"image": ("shirt.png", png_bytes(), "image/png")}
        )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert [landmark["id"] for landmark in body["landmarks"]] == [1, 2, 3, 4, 5, 6]
    assert body["model"] == {"name": "tiny", "version": 1}


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_image_command_stops_on_sigterm_within_the_grace_period(
    server: tuple[str, subprocess.Popen[bytes]], compose_service: dict[str, Any]
) -> None:
    # Runs last in this module: it stops the shared server. tini (compose `init: true`)
    # forwards docker stop's SIGTERM; compose waits stop_grace_period before SIGKILL.
    _, process = server
    process.send_signal(signal.SIGTERM)
    grace = seconds(compose_service["stop_grace_period"])
    returncode = process.wait(timeout=grace)
    # uvicorn shuts down cleanly, then exits 0 or re-raises the signal it caught.
    assert returncode in (0, -signal.SIGTERM)
