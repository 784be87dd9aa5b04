"""The assembled app in-process: nothing loads at import, lifespan loads or fails loudly."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI

from app.errors import ModelLoadError
from app.main import create_app
from app.settings import Settings
from tests.app.images import encode, random_rgb
from tests.app.live_server import REPO_ROOT, free_port, server_environment

T = TypeVar("T")


def run_in_process(
    app: FastAPI,
    scenario: Callable[[httpx.AsyncClient], Awaitable[T]],
    *,
    lifespan: bool,
) -> T:
    """Drives the app through httpx's ASGI transport; `lifespan` runs startup and shutdown
    around the scenario (the transport alone does not)."""

    async def main() -> T:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            if not lifespan:
                return await scenario(client)
            async with app.router.lifespan_context(app):
                return await scenario(client)

    return asyncio.run(main())


async def _nothing(client: httpx.AsyncClient) -> None:
    return None


def test_importing_app_main_loads_no_model_and_no_tensorflow() -> None:
    code = "import sys, app.main; print('tensorflow' in sys.modules, app.main.app.state.service)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=server_environment({"MODEL_DIR": "/nonexistent"}),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert result.stdout.split() == ["False", "None"]


def test_app_before_lifespan_is_alive_but_not_ready(tmp_path: Path) -> None:
    png = encode(random_rgb(8, 8), "PNG")

    async def scenario(client: httpx.AsyncClient) -> list[httpx.Response]:
        return [
            await client.get("/healthz"),
            await client.get("/readyz"),
            await client.get("/metadata"),
            await client.post("/landmarks", content=png, headers={"content-type": "image/png"}),
            await client.get("/metrics"),
        ]

    healthz, readyz, metadata, landmarks, metrics = run_in_process(
        create_app(Settings(MODEL_DIR=tmp_path)), scenario, lifespan=False
    )
    assert healthz.json() == {"status": "ok"}
    assert readyz.status_code == 503
    assert readyz.json() == {"detail": "the model is not loaded yet"}
    assert metadata.status_code == 503
    assert landmarks.status_code == 503
    assert metrics.status_code == 200


def test_create_app_twice_keeps_separate_metrics(tmp_path: Path) -> None:
    async def scenario(client: httpx.AsyncClient) -> str:
        await client.get("/healthz")
        await client.get("/healthz")
        return (await client.get("/metrics")).text

    first = create_app(Settings(MODEL_DIR=tmp_path))
    second = create_app(Settings(MODEL_DIR=tmp_path))
    assert 'route="/healthz",status="200"} 2.0' in run_in_process(first, scenario, lifespan=False)
    second_metrics = run_in_process(second, lambda client: client.get("/metrics"), lifespan=False)
    assert 'route="/healthz"' not in second_metrics.text


def test_lifespan_with_missing_model_dir_fails_startup_naming_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "models" / "garment_landmarks"
    app = create_app(Settings(MODEL_DIR=missing))
    expected = f"model directory {re.escape(str(missing))}.*does not exist"
    with pytest.raises(ModelLoadError, match=expected):
        run_in_process(app, _nothing, lifespan=True)


def test_lifespan_with_damaged_model_fails_startup(tiny_model_copy: Path) -> None:
    (tiny_model_copy / "metadata.json").unlink()
    app = create_app(Settings(MODEL_DIR=tiny_model_copy.parent))
    expected = f"{re.escape(str(tiny_model_copy / 'metadata.json'))} is missing"
    with pytest.raises(ModelLoadError, match=expected):
        run_in_process(app, _nothing, lifespan=True)


def test_lifespan_loads_model_then_serves_and_stops(tiny_model_dir: Path) -> None:
    png = encode(random_rgb(20, 30), "PNG")

    async def scenario(client: httpx.AsyncClient) -> tuple[httpx.Response, httpx.Response]:
        ready = await client.get("/readyz")
        answer = await client.post("/landmarks", content=png, headers={"content-type": "image/png"})
        return ready, answer

    app = create_app(Settings(MODEL_DIR=tiny_model_dir, OVERLAY_DEFAULT=False))
    ready, answer = run_in_process(app, scenario, lifespan=True)
    assert ready.json() == {"status": "ready"}
    assert answer.status_code == 200
    assert answer.json()["image"] == {"width": 30, "height": 20}
    assert answer.json()["overlay"] is None
    assert app.state.service is None  # shut down again


@pytest.mark.parametrize("flip_average", [True, False])
def test_flip_average_setting_chooses_the_models_signature(
    tiny_flip_model_dir: Path, tiny_model_dir: Path, flip_average: bool
) -> None:
    png = encode(random_rgb(256, 256), "PNG")

    async def scenario(client: httpx.AsyncClient) -> tuple[dict[str, Any], dict[str, Any]]:
        metadata = await client.get("/metadata")
        answer = await client.post("/landmarks", content=png, headers={"content-type": "image/png"})
        return metadata.json(), answer.json()

    def serve(settings: Settings) -> tuple[dict[str, Any], dict[str, Any]]:
        return run_in_process(create_app(settings), scenario, lifespan=True)

    metadata, answer = serve(
        Settings(MODEL_DIR=tiny_flip_model_dir, OVERLAY_DEFAULT=False, FLIP_AVERAGE=flip_average)
    )
    _, plain_answer = serve(Settings(MODEL_DIR=tiny_model_dir, OVERLAY_DEFAULT=False))
    assert metadata["flip_average"] is flip_average
    # What `probability` means follows the signature served.
    assert metadata["score"] == ("peak_x_mirror_agreement" if flip_average else "peak")
    # Same weights: switched off, the mirror-averaged export answers as the plain one does.
    assert (answer["landmarks"] == plain_answer["landmarks"]) is not flip_average


@pytest.mark.slow
@pytest.mark.parametrize(
    "command",
    [["-m", "uvicorn", "app.main:app", "--port", "0"], ["-m", "app"]],
    ids=["uvicorn", "python_m_app"],
)
def test_server_with_missing_model_dir_exits_naming_the_path(
    tmp_path: Path, command: list[str]
) -> None:
    missing = tmp_path / "no_such_model"
    result = subprocess.run(
        [sys.executable, *command],
        cwd=REPO_ROOT,
        env=server_environment({"MODEL_DIR": missing, "HOST": "127.0.0.1", "PORT": free_port()}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert f"model directory {missing}" in result.stderr
    assert "does not exist" in result.stderr


def test_image_buffers_are_kept_in_the_heap_on_glibc() -> None:
    # CI and the container run glibc; the call must take there (and only report False
    # elsewhere, never raise).
    import platform

    from app.service import keep_image_buffers_in_the_heap

    took = keep_image_buffers_in_the_heap()
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert took
