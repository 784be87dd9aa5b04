"""Fixtures for the robustness tests: one tiny exported model for every server they start.

Most servers are started by their own module (tests/robustness/servers.py) with the settings
that module needs: small limits so over-limit inputs stay small, a short upload timeout for the
slow-client tests. The server with an API key is shared here by the security tests and the
schema fuzzing, which need the same one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.app.exports import export_tiny_unet
from tests.app.live_server import API_KEY, MIB
from tests.robustness.servers import ProcessServer, running_server


@pytest.fixture(scope="session")
def robust_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`models/tiny_unet` holding version 1: the real U-Net at width 1/8, random weights."""
    root = tmp_path_factory.mktemp("robust_models") / "tiny_unet"
    export_tiny_unet(root / "1", "tiny_unet")
    return root


@pytest.fixture(scope="session")
def keyed_server(
    robust_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProcessServer]:
    """A server with an API key, shared by the security tests and the schema fuzzing."""
    root = tmp_path_factory.mktemp("keyed_server")
    settings: dict[str, object] = {
        "MODEL_DIR": robust_model_dir,
        "API_KEY": API_KEY,
        "MAX_UPLOAD_BYTES": MIB,
        "MAX_PIXELS": 4_000_000,
        "MAX_IMAGES_PER_REQUEST": 4,
        "OVERLAY_DEFAULT": "false",
        "LOG_LEVEL": "warning",
    }
    with running_server(root, settings) as live:
        yield live
