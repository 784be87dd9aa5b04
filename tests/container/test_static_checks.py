"""hadolint and the Compose Specification schema, through scripts/check_containers.sh.

These tools come with the dev extra; a test is skipped only when its tool is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.container.conftest import REPO_ROOT

CHECK_SCRIPT = REPO_ROOT / "scripts" / "check_containers.sh"


def find_tool(name: str) -> str | None:
    """The tool beside this interpreter (the virtualenv), else on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.is_file() else shutil.which(name)


def require_tool(name: str) -> str:
    path = find_tool(name)
    if path is None:
        pytest.skip(f"{name} is not installed (it comes with the dev extra: make install)")
    return path


def test_check_script_passes_hadolint_and_compose_validation() -> None:
    require_tool("hadolint")
    require_tool("check-jsonschema")
    environment = {
        **os.environ,
        "VENV": str(Path(sys.executable).parent.parent),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    result = subprocess.run(
        ["bash", str(CHECK_SCRIPT)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "container checks passed" in result.stdout


def test_hadolint_reports_a_broken_dockerfile(tmp_path: Path) -> None:
    # Guards against a check that passes everything (a wrong path, an ignore-all config).
    hadolint = require_tool("hadolint")
    broken = tmp_path / "Dockerfile"
    broken.write_text("FROM python:latest\nRUN pip install fastapi\n", encoding="utf-8")
    result = subprocess.run([hadolint, str(broken)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # :latest tag
    assert "DL3042" in result.stdout  # pip cache


def test_compose_schema_rejects_a_misspelled_key(tmp_path: Path) -> None:
    check_jsonschema = require_tool("check-jsonschema")
    text = (REPO_ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    misspelled = tmp_path / "docker-compose.yml"
    misspelled.write_text(text.replace("start_period:", "start_perod:"), encoding="utf-8")
    result = subprocess.run(
        [check_jsonschema, "--builtin-schema", "vendor.compose-spec", str(misspelled)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "start_perod" in result.stdout
