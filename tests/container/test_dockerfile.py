"""The Dockerfile, read statically: what the image runs, holds and installs.

No Docker engine is needed; the requirements stage's script is run here exactly as the build
would run it, on the repository's pyproject.toml.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path, PurePosixPath

import pytest

from app.settings import Settings
from tests.container.conftest import REPO_ROOT
from tests.container.dockerfile import Dockerfile, exec_form, healthcheck_parts

BUNDLED_MODEL = "models/garment_landmarks/"


def copy_sources(dockerfile: Dockerfile, stage_name: str | None = None) -> dict[str, str]:
    """{source: destination} of the COPY instructions that read the build context."""
    stage = dockerfile.stage(stage_name) if stage_name else dockerfile.final
    copies: dict[str, str] = {}
    for instruction in stage.all("COPY"):
        words = instruction.arguments.split()
        if any(word.startswith("--from=") for word in words):
            continue
        *sources, destination = [word for word in words if not word.startswith("--")]
        copies.update(dict.fromkeys(sources, destination))
    return copies


def test_image_runs_python_module_app_as_its_only_process(dockerfile: Dockerfile) -> None:
    assert dockerfile.final.last("ENTRYPOINT") is None
    cmd = dockerfile.final.last("CMD")
    assert cmd is not None
    # Exec form: python is PID 1's child under tini (compose `init: true`) and gets SIGTERM.
    assert exec_form(cmd) == ["python", "-m", "app"]


def test_image_env_sets_python_runtime_flags(dockerfile: Dockerfile) -> None:
    env = dockerfile.final.env()
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["PYTHONUNBUFFERED"] == "1"


def test_image_env_holds_only_valid_settings(
    dockerfile: Dockerfile, monkeypatch: pytest.MonkeyPatch
) -> None:
    landmarks_env = {
        key: value for key, value in dockerfile.final.env().items() if key.startswith("LANDMARKS_")
    }
    unknown = {key.removeprefix("LANDMARKS_") for key in landmarks_env} - set(Settings.model_fields)
    assert not unknown, f"ENV sets settings that app/settings.py does not have: {unknown}"
    for key in list(os.environ):
        if key.startswith("LANDMARKS_"):
            monkeypatch.delenv(key)
    for key, value in landmarks_env.items():
        monkeypatch.setenv(key, value)
    served = Settings().model_dump(include={"HOST", "PORT"})
    # The image keeps the documented default port and listens on every interface.
    assert served == {"HOST": "0.0.0.0", "PORT": Settings.model_fields["PORT"].default}


def test_image_serves_the_bundled_model_by_default(dockerfile: Dockerfile) -> None:
    workdir = PurePosixPath(dockerfile.final.workdir())
    model_dir = PurePosixPath(dockerfile.final.env()["LANDMARKS_MODEL_DIR"])
    copied_to = copy_sources(dockerfile)[BUNDLED_MODEL]
    assert workdir / copied_to == model_dir
    # Without the ENV line the settings default, relative to WORKDIR, finds the same place.
    assert workdir / str(Settings.model_fields["MODEL_DIR"].default) == model_dir


def test_image_copies_only_the_app_and_the_bundled_model(dockerfile: Dockerfile) -> None:
    assert set(copy_sources(dockerfile)) == {"app/", BUNDLED_MODEL}
    assert set(copy_sources(dockerfile, "requirements")) == {"pyproject.toml"}


def test_dockerignore_lets_in_only_what_the_dockerfile_copies(dockerfile: Dockerfile) -> None:
    lines = (REPO_ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert patterns[0] == "*", "the context should be an allow-list"
    allowed = {pattern[1:].rstrip("/") for pattern in patterns if pattern.startswith("!")}
    copied = set(copy_sources(dockerfile)) | set(copy_sources(dockerfile, "requirements"))
    assert allowed == {source.rstrip("/") for source in copied}


def test_image_runs_as_a_fixed_unprivileged_user(dockerfile: Dockerfile) -> None:
    user = dockerfile.final.last("USER")
    assert user is not None
    uid, _, gid = user.arguments.partition(":")
    assert uid.isdigit() and gid.isdigit(), "numeric, so Kubernetes runAsNonRoot can verify it"
    assert int(uid) >= 1000 and int(gid) >= 1000
    # The account must exist in the image with those ids, not only be named in USER.
    runs = " ".join(run.arguments for run in dockerfile.final.all("RUN"))
    assert f"groupadd --system --gid {gid}" in runs and f"useradd --system --uid {uid}" in runs
    # USER comes after every RUN, so nothing at build time runs as the service user and
    # nothing at run time runs as root.
    assert all(run.line < user.line for run in dockerfile.final.all("RUN"))


def test_base_image_is_a_pinned_python_311_slim(dockerfile: Dockerfile) -> None:
    image = dockerfile.global_args["PYTHON_IMAGE"]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?", image), image
    assert all(stage.base == "${PYTHON_IMAGE}" for stage in dockerfile.stages)
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["requires-python"] == ">=3.11"


def test_healthcheck_asks_readyz_with_python_only(dockerfile: Dockerfile) -> None:
    healthcheck = dockerfile.final.last("HEALTHCHECK")
    assert healthcheck is not None
    options, _ = healthcheck_parts(healthcheck)
    assert set(options) == {"interval", "timeout", "start-period", "retries"}
    command = exec_form(healthcheck)
    assert command[:2] == ["python", "-c"]
    assert "/readyz" in command[2] and "LANDMARKS_PORT" in command[2]


def run_requirements_stage(
    dockerfile: Dockerfile, tf_extra: str, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    """Runs the requirements stage's RUN in a copy of its build directory."""
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (run,) = dockerfile.stage("requirements").all("RUN")
    environment = {
        **os.environ,
        "TF_EXTRA": tf_extra,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    return subprocess.run(
        ["/bin/sh", "-c", run.shell_script()],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("tf_extra", "tensorflow"),
    [("cpu", "tensorflow-cpu==2.21.*"), ("gpu", "tensorflow[and-cuda]==2.21.*")],
)
def test_requirements_stage_lists_base_dependencies_and_one_tensorflow(
    dockerfile: Dockerfile, tmp_path: Path, tf_extra: str, tensorflow: str
) -> None:
    result = run_requirements_stage(dockerfile, tf_extra, tmp_path)
    assert result.returncode == 0, result.stderr
    requirements = (tmp_path / "requirements.txt").read_text(encoding="utf-8").splitlines()
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert requirements == [*project["dependencies"], tensorflow]
    # Training and development packages stay out of the image.
    extras = project["optional-dependencies"]
    excluded = {*extras["train"], *extras["dev"]}
    assert not excluded & set(requirements)


def test_requirements_stage_refuses_other_extras(dockerfile: Dockerfile, tmp_path: Path) -> None:
    result = run_requirements_stage(dockerfile, "train", tmp_path)
    assert result.returncode != 0
    assert "TF_EXTRA must be cpu or gpu, not 'train'" in result.stderr


def test_tf_extra_build_argument_defaults_to_cpu_in_every_stage(dockerfile: Dockerfile) -> None:
    for stage in dockerfile.stages:
        assert [arg.arguments for arg in stage.all("ARG")] == ["TF_EXTRA=cpu"], stage.name


def test_wheels_stage_builds_the_source_only_requirement_and_runtime_uses_it(
    dockerfile: Dockerfile, tmp_path: Path
) -> None:
    assert run_requirements_stage(dockerfile, "cpu", tmp_path).returncode == 0
    (run,) = dockerfile.stage("wheels").all("RUN")
    script = run.shell_script()
    # The stage's own selection, run on the real requirements list: exactly the pinned fpng-py.
    selection = re.search(r'"\$\((grep [^)]*)\)"', script)
    assert selection is not None, script
    chosen = subprocess.run(
        ["/bin/sh", "-c", selection.group(1)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    ).stdout.split()
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert chosen == [dep for dep in project["dependencies"] if dep.startswith("fpng-py")]
    assert "g++" in script and "--wheel-dir /wheels" in script
    # The compiler stays in the thrown-away stage; the runtime installs from its wheels.
    runtime_runs = " ".join(instruction.arguments for instruction in dockerfile.final.all("RUN"))
    assert "g++" not in runtime_runs and "--find-links /tmp/wheels" in runtime_runs
    copies = [instruction.arguments for instruction in dockerfile.final.all("COPY")]
    assert "--from=wheels /wheels /tmp/wheels" in copies
