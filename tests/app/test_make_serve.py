"""`make serve` listens on loopback unless told otherwise (the container sets 0.0.0.0 itself)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.app.live_server import REPO_ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")


def serve_command(*arguments: str, **environment: str) -> str:
    """The command `make serve` would run (`make -n`: printed, not run)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("LANDMARKS_")}
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", "serve", *arguments],
        cwd=REPO_ROOT,
        env={**env, **environment},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    # `-n` also prints the install recipe when .venv is missing or older than pyproject.toml.
    return result.stdout.strip().splitlines()[-1]


def test_make_serve_listens_on_loopback_by_default() -> None:
    assert serve_command().endswith("LANDMARKS_HOST='127.0.0.1' .venv/bin/python -m app")


@pytest.mark.parametrize(
    ("arguments", "environment"),
    [(("LANDMARKS_HOST=0.0.0.0",), {}), ((), {"LANDMARKS_HOST": "0.0.0.0"})],
    ids=["make_variable", "environment"],
)
def test_make_serve_host_can_be_chosen(
    arguments: tuple[str, ...], environment: dict[str, str]
) -> None:
    assert "LANDMARKS_HOST='0.0.0.0' " in serve_command(*arguments, **environment)
