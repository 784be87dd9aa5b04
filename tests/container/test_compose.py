"""docker-compose.yml, its GPU override and .env.example agree with the Dockerfile and settings.

Compose itself is not run here (no Docker engine); scripts/check_containers.sh validates the
files against the Compose Specification schema, and these tests check what a schema cannot:
that the files say the same things as the image and app/settings.py.
"""

from __future__ import annotations

import os
import re
from pathlib import PurePosixPath
from typing import Any

import pytest

from app.settings import Settings
from tests.container.conftest import REPO_ROOT, seconds
from tests.container.dockerfile import Dockerfile, exec_form, healthcheck_parts

COMPOSE_FILES = ("docker-compose.yml", "docker-compose.gpu.yml")
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error} ...
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}")
_DOCUMENTED = re.compile(r"^# ([A-Z][A-Z0-9_]*)=(.*)$")


def without_env_file(value: str) -> str:
    """A compose value as interpolated when neither the shell nor .env sets anything."""
    return _VARIABLE.sub(lambda match: match.group(3) or "", value)


def documented_values() -> dict[str, str]:
    """`# KEY=value` lines of .env.example."""
    lines = (REPO_ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    values: dict[str, str] = {}
    for line in lines:
        match = _DOCUMENTED.match(line)
        if match:
            assert match.group(1) not in values, f"{match.group(1)} is documented twice"
            values[match.group(1)] = match.group(2)
    return values


def test_compose_builds_the_cpu_image_from_the_runtime_stage(
    compose_service: dict[str, Any], dockerfile: Dockerfile
) -> None:
    build = compose_service["build"]
    assert build["context"] == "."
    assert build["target"] == dockerfile.final.name == "runtime"
    assert build["args"] == {"TF_EXTRA": "cpu"}
    assert compose_service["image"] == "garment-landmarks:cpu"


def test_gpu_override_builds_the_gpu_extra_and_reserves_an_nvidia_gpu(
    gpu_service: dict[str, Any],
) -> None:
    assert gpu_service["build"] == {"args": {"TF_EXTRA": "gpu"}}
    # A tag of its own, so the GPU build never overwrites the CPU image.
    assert gpu_service["image"] == "garment-landmarks:gpu"
    (device,) = gpu_service["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia"
    assert "gpu" in device["capabilities"]
    assert set(gpu_service) == {"image", "build", "deploy"}, "the override adds only the GPU"


def test_compose_publishes_the_port_the_image_listens_on(
    compose_service: dict[str, Any], dockerfile: Dockerfile
) -> None:
    (mapping,) = compose_service["ports"]
    host, _, container = without_env_file(mapping).rpartition(":")
    assert host == "8000"
    (expose,) = dockerfile.final.all("EXPOSE")
    assert (
        container
        == expose.arguments
        == dockerfile.final.env()["LANDMARKS_PORT"]
        == compose_service["environment"]["LANDMARKS_PORT"]
        == str(Settings.model_fields["PORT"].default)
    )


def test_compose_fixes_host_and_port_as_the_image_does(
    compose_service: dict[str, Any], dockerfile: Dockerfile
) -> None:
    environment = compose_service["environment"]
    # Everything else comes from .env through env_file; these two are fixed because the port
    # mapping and the healthcheck depend on them.
    assert set(environment) == {"LANDMARKS_HOST", "LANDMARKS_PORT"}
    image_env = dockerfile.final.env()
    assert environment == {key: image_env[key] for key in environment}


def test_compose_healthcheck_is_the_images_healthcheck(
    compose_service: dict[str, Any], dockerfile: Dockerfile
) -> None:
    instruction = dockerfile.final.last("HEALTHCHECK")
    assert instruction is not None
    options, _ = healthcheck_parts(instruction)
    healthcheck = compose_service["healthcheck"]
    assert healthcheck["test"] == ["CMD", *exec_form(instruction)]
    assert {key: str(value) for key, value in healthcheck.items() if key != "test"} == {
        key.replace("-", "_"): value for key, value in options.items()
    }


def test_compose_reads_an_optional_env_file(compose_service: dict[str, Any]) -> None:
    assert compose_service["env_file"] == [{"path": ".env", "required": False}]


def test_model_mount_is_read_only_beside_the_bundled_model(
    compose_service: dict[str, Any], dockerfile: Dockerfile
) -> None:
    (volume,) = compose_service["volumes"]
    source, target, mode = without_env_file(volume).split(":")
    assert (source, target, mode) == ("./models", "/models", "ro")
    # The bundled model is not under the mount, so the default keeps serving it whatever
    # MODEL_HOST_DIR holds.
    bundled = PurePosixPath(dockerfile.final.env()["LANDMARKS_MODEL_DIR"])
    assert not bundled.is_relative_to(target)


def test_compose_runs_hardened_with_a_writable_tmp(compose_service: dict[str, Any]) -> None:
    assert compose_service["init"] is True
    assert compose_service["restart"] == "unless-stopped"
    assert compose_service["read_only"] is True
    assert any(entry.split(":")[0] == "/tmp" for entry in compose_service["tmpfs"])
    assert compose_service["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in compose_service["security_opt"]


def test_compose_service_can_be_scaled(compose_service: dict[str, Any]) -> None:
    # A fixed container name would stop `docker compose up --scale landmarks=N`.
    assert "container_name" not in compose_service
    assert "deploy" not in compose_service or "replicas" not in compose_service["deploy"]


def test_stop_grace_period_outlasts_the_queue_timeout(compose_service: dict[str, Any]) -> None:
    # docker stop waits this long before SIGKILL; a request queued at SIGTERM gets up to
    # QUEUE_TIMEOUT_S to finish.
    grace = seconds(compose_service["stop_grace_period"])
    assert grace > Settings.model_fields["QUEUE_TIMEOUT_S"].default


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_compose_variables_have_defaults_and_are_documented(name: str) -> None:
    text = (REPO_ROOT / name).read_text(encoding="utf-8")
    variables = {match.group(1): match.group(2) for match in _VARIABLE.finditer(text)}
    without_default = sorted(key for key, operator in variables.items() if operator != ":-")
    assert not without_default, "compose must work without .env: give these a :- default"
    assert set(variables) <= set(documented_values()), "document them in .env.example"


def test_env_example_documents_every_setting_at_its_value_in_the_image(
    dockerfile: Dockerfile, monkeypatch: pytest.MonkeyPatch
) -> None:
    documented = {
        key: value for key, value in documented_values().items() if key.startswith("LANDMARKS_")
    }
    assert set(documented) == {f"LANDMARKS_{field}" for field in Settings.model_fields}
    for key in list(os.environ):
        if key.startswith("LANDMARKS_"):
            monkeypatch.delenv(key)
    image_env = {k: v for k, v in dockerfile.final.env().items() if k.startswith("LANDMARKS_")}
    for key, value in image_env.items():
        monkeypatch.setenv(key, value)
    in_image = Settings()
    # Uncommenting every line must change nothing: each shows the value in force.
    for key, value in documented.items():
        monkeypatch.setenv(key, value)
    assert Settings().model_dump() == in_image.model_dump()


def test_env_example_holds_only_comments() -> None:
    # Nothing is set by copying it; every KEY=value line is a commented-out example.
    lines = (REPO_ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    assert all(not line.strip() or line.startswith("#") for line in lines)
