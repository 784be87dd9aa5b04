"""Fixtures and helpers for the container checks: the parsed Dockerfile and compose files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.container.dockerfile import Dockerfile, parse_dockerfile

REPO_ROOT = Path(__file__).resolve().parents[2]


def load_yaml(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        raise ValueError(f"{path} is not a YAML mapping")
    return document


def seconds(duration: str) -> float:
    """A compose duration such as `1m30s` or `40s`, in seconds."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration)
    if not parts or "".join(number + unit for number, unit in parts) != duration:
        raise ValueError(f"not a duration: {duration!r}")
    return sum(float(number) * units[unit] for number, unit in parts)


@pytest.fixture(scope="session")
def dockerfile() -> Dockerfile:
    return parse_dockerfile(REPO_ROOT / "Dockerfile")


@pytest.fixture(scope="session")
def compose_service() -> dict[str, Any]:
    """The `landmarks` service of docker-compose.yml."""
    service: dict[str, Any] = load_yaml(REPO_ROOT / "docker-compose.yml")["services"]["landmarks"]
    return service


@pytest.fixture(scope="session")
def gpu_service() -> dict[str, Any]:
    """The `landmarks` service of the GPU override, docker-compose.gpu.yml."""
    service: dict[str, Any] = load_yaml(REPO_ROOT / "docker-compose.gpu.yml")["services"][
        "landmarks"
    ]
    return service
