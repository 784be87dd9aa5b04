"""Fixtures for the service tests: tiny exported models and real uvicorn servers.

Models are exported to a temporary `models/<name>/<version>` once per session:

- `tiny_model_dir`: the real U-Net at width 1/8 with random weights.
- `tiny_flip_model_dir`: the same weights exported with `flip_average` (two signatures).
- `oracle_model_dir`: a hand-set one-layer model whose answers are known (tests/app/exports.py),
  which checks coordinate mapping end to end.

Servers are session-scoped uvicorn subprocesses (tests/app/live_server.py), started on first use.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.model_runtime import ModelRuntime
from tests.app.exports import export_oracle, export_tiny_unet
from tests.app.live_server import (
    KEYED_SERVER_SETTINGS,
    MAIN_SERVER_SETTINGS,
    LiveServer,
    start_server,
    stop_server,
)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`models/tiny_unet` holding version 1."""
    root = tmp_path_factory.mktemp("models") / "tiny_unet"
    export_tiny_unet(root / "1", "tiny_unet")
    return root


@pytest.fixture(scope="session")
def tiny_flip_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`models/tiny_unet_flip` holding version 1, exported with `flip_average`."""
    root = tmp_path_factory.mktemp("models") / "tiny_unet_flip"
    export_tiny_unet(root / "1", "tiny_unet_flip", flip_average=True)
    return root


@pytest.fixture(scope="session")
def oracle_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`models/oracle`: version 2 is the oracle; version 1 is junk and `latest` is not a
    version, so serving it checks that the highest integer version is picked."""
    root = tmp_path_factory.mktemp("models") / "oracle"
    export_oracle(root / "2", "oracle")
    (root / "1").mkdir()
    (root / "1" / "saved_model.pb").write_bytes(b"not a model")
    (root / "latest").mkdir()
    return root


@pytest.fixture(scope="session")
def tiny_runtime(tiny_model_dir: Path) -> ModelRuntime:
    """The tiny model loaded in this process, as the service loads it."""
    return ModelRuntime.load(tiny_model_dir)


@pytest.fixture
def tiny_model_copy(tiny_model_dir: Path, tmp_path: Path) -> Path:
    """A scratch copy of the tiny model's version directory, for a test that damages it."""
    target = tmp_path / "model" / "1"
    shutil.copytree(tiny_model_dir / "1", target)
    return target


@pytest.fixture(scope="session")
def server(
    oracle_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The oracle model behind a real server, no API key, overlay on by default."""
    log_path = tmp_path_factory.mktemp("logs") / "server.log"
    live = start_server(log_path, {"MODEL_DIR": oracle_model_dir, **MAIN_SERVER_SETTINGS})
    yield live
    stop_server(live)


@pytest.fixture(scope="session")
def client(server: LiveServer) -> Iterator[httpx.Client]:
    """An HTTP client for `server`."""
    with server.client() as http:
        yield http


@pytest.fixture(scope="session")
def keyed_server(
    tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The tiny U-Net behind a real server with an API key, a two-image queue and no overlay
    by default."""
    log_path = tmp_path_factory.mktemp("logs") / "keyed_server.log"
    live = start_server(log_path, {"MODEL_DIR": tiny_model_dir, **KEYED_SERVER_SETTINGS})
    yield live
    stop_server(live)
