"""`python -m app.predict` against the API's own answers, on real servers and real image files.

The local runs use the oracle model with the `server` fixture's settings, so each JSON line must
equal what that server answers for the same file; the `--url` runs ask `keyed_server` (the tiny
U-Net behind an API key). Most runs call `main()` in this process (TensorFlow is imported once);
two run the command as a real subprocess.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from app.predict import UsageError, find_images, main, overlay_paths
from tests.app.exports import LANDMARK_NAMES
from tests.app.images import encode, landmark_scene, png_declaring, random_rgb
from tests.app.live_server import (
    API_KEY,
    MAIN_SERVER_SETTINGS,
    MIB,
    REPO_ROOT,
    LiveServer,
    server_environment,
)

pytestmark = pytest.mark.slow

EXAMPLE_PHOTOS = sorted((REPO_ROOT / "examples" / "photos").glob("*.jpg"))
# Model-space centres of the scene's coloured blocks (the oracle finds each one).
SCENE_CENTRES = [(60, 50), (190, 50), (40, 130), (215, 130), (80, 220), (175, 220)]
SUBPROCESS_TIMEOUT_S = 300


@dataclass(frozen=True)
class Run:
    """One run of the command."""

    status: int
    stdout: str
    stderr: str

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines()]


# Runs the command in this process: predict(*args) -> Run.
Predict = Callable[..., Run]


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of real files: the repository's example JPEGs, and below `more/` a PNG scene the
    oracle finds all six landmarks in, a noise JPEG and an EXIF-rotated JPEG."""
    root = tmp_path_factory.mktemp("photos")
    for photo in EXAMPLE_PHOTOS:
        shutil.copy(photo, root / photo.name)
    more = root / "more"
    more.mkdir()
    scene, _ = landmark_scene(512, 768, SCENE_CENTRES)
    (more / "scene.png").write_bytes(encode(scene, "PNG"))
    (more / "noise.jpg").write_bytes(encode(random_rgb(333, 517, seed=3), "JPEG", quality=90))
    exif = Image.Exif()
    exif[0x0112] = 6  # the viewer turns the stored 300 x 200 image upright: 200 x 300
    rotated = Image.fromarray(random_rgb(200, 300, seed=4))
    rotated.save(more / "rotated.jpg", quality=90, exif=exif.tobytes())
    return root


@pytest.fixture(scope="module")
def photo_files(photos: Path) -> list[Path]:
    """The photos in the order a folder walk lists them."""
    return sorted(path for path in photos.rglob("*") if path.is_file())


def api_body(http: httpx.Client, path: Path, **params: object) -> dict[str, Any]:
    """What POST /landmarks answers for the file (multipart, as a browser sends it)."""
    response = http.post(
        "/landmarks",
        files={"image": (path.name, path.read_bytes())},
        params={"overlay": "false", **params},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def api_detail(http: httpx.Client, data: bytes) -> str:
    """The API's error message for the bytes sent as a raw body."""
    response = http.post(
        "/landmarks", content=data, headers={"content-type": "application/octet-stream"}
    )
    assert response.status_code >= 400, response.text
    detail: str = response.json()["detail"]
    return detail


@pytest.fixture(scope="module")
def api_answers(client: httpx.Client, photo_files: list[Path]) -> dict[Path, dict[str, Any]]:
    """The oracle server's answers for every photo, with `top_k=2`."""
    return {path: api_body(client, path, top_k=2) for path in photo_files}


@pytest.fixture
def predict(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], oracle_model_dir: Path
) -> Iterator[Predict]:
    """Runs `main()` in this process with the `server` fixture's settings in the environment."""
    for key in list(os.environ):
        if key.startswith("LANDMARKS_"):
            monkeypatch.delenv(key)
    for key, value in {"MODEL_DIR": oracle_model_dir, **MAIN_SERVER_SETTINGS}.items():
        monkeypatch.setenv(f"LANDMARKS_{key}", str(value))
    # The run sets process-wide state as the service does at startup (PIL's pixel limit, the
    # `app` logger); put it back for the tests that follow.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)
    app_logger = logging.getLogger("app")
    monkeypatch.setattr(app_logger, "handlers", list(app_logger.handlers))
    monkeypatch.setattr(app_logger, "level", app_logger.level)

    def run(*args: object) -> Run:
        status = main([str(arg) for arg in args])
        captured = capsys.readouterr()
        return Run(status, captured.out, captured.err)

    yield run


def run_subprocess(*args: object) -> Run:
    """`python -m app.predict ARGS` with the `server` fixture's settings (no MODEL_DIR)."""
    completed = subprocess.run(
        [sys.executable, "-m", "app.predict", *(str(arg) for arg in args)],
        cwd=REPO_ROOT,
        env=server_environment(MAIN_SERVER_SETTINGS),
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
        check=False,
    )
    return Run(completed.returncode, completed.stdout, completed.stderr)


def without_file(line: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in line.items() if key != "file"}


# === (1) JSON lines equal the API's answers ===


def test_json_lines_equal_the_api_answers(
    oracle_model_dir: Path,
    photos: Path,
    photo_files: list[Path],
    api_answers: dict[Path, dict[str, Any]],
) -> None:
    run = run_subprocess(photos, "--model", oracle_model_dir, "--top-k", 2)

    assert run.status == 0, run.stderr
    lines = run.lines()
    assert [Path(line["file"]) for line in lines] == photo_files  # walked recursively, in order
    for line in lines:
        # Everything the API says: model, image size, every landmark's point, probability,
        # detected and candidates, and the null overlay of an `overlay=false` request.
        assert without_file(line) == api_answers[Path(line["file"])], line["file"]
    scene = next(line for line in lines if line["file"].endswith("scene.png"))
    assert all(landmark["detected"] for landmark in scene["landmarks"])
    rotated = next(line for line in lines if line["file"].endswith("rotated.jpg"))
    assert rotated["image"] == {"width": 200, "height": 300}  # after EXIF rotation


def test_globs_and_file_lists_give_the_same_lines(
    predict: Predict, photos: Path, api_answers: dict[Path, dict[str, Any]]
) -> None:
    listed = photos / "more" / "scene.png"
    run = predict(f"{photos}/*.jpg", listed, f"{photos}/**/scene.png", "--top-k", 2)

    assert run.status == 0, run.stderr
    lines = run.lines()
    # Each file once, in the order the inputs name them.
    expected = [*(photos / photo.name for photo in EXAMPLE_PHOTOS), listed]
    assert [Path(line["file"]) for line in lines] == expected
    for line in lines:
        assert without_file(line) == api_answers[Path(line["file"])]


def test_unet_lines_equal_the_api_answers(
    predict: Predict,
    keyed_server: LiveServer,
    tiny_model_dir: Path,
    photos: Path,
    photo_files: list[Path],
) -> None:
    # The real U-Net graph (random weights): the oracle's answers are exact by construction,
    # this one's only as exact as the same model called alike in both places.
    run = predict(photos, "--model", tiny_model_dir, "--top-k", 5)

    assert run.status == 0, run.stderr
    with keyed_server.client(headers={"X-API-Key": API_KEY}) as http:
        for line, path in zip(run.lines(), photo_files, strict=True):
            assert without_file(line) == api_body(http, path, top_k=5), path


# === (2) Bad files ===


def test_bad_files_are_reported_with_the_api_message_and_skipped(
    predict: Predict, client: httpx.Client, tmp_path: Path
) -> None:
    good = tmp_path / "good.jpg"
    shutil.copy(EXAMPLE_PHOTOS[0], good)
    truncated = encode(random_rgb(64, 64), "PNG")[:100]
    bad_files = {
        "notes.jpg": b"this is not an image",
        "truncated.png": truncated,
        "huge.png": png_declaring(3000, 2000),  # 6 megapixels: over MAX_PIXELS
        "heavy.png": encode(random_rgb(1000, 1000), "PNG"),  # over MAX_UPLOAD_BYTES
    }
    (tmp_path / "bad").mkdir()
    for name, data in bad_files.items():
        (tmp_path / "bad" / name).write_bytes(data)
    (tmp_path / "bad" / "empty.jpg").write_bytes(b"")
    assert len(bad_files["heavy.png"]) > 2 * MIB

    run = predict(tmp_path)

    assert run.status == 1
    assert [Path(line["file"]) for line in run.lines()] == [good]
    assert without_file(run.lines()[0]) == api_body(client, good)
    expected_messages = {name: api_detail(client, data) for name, data in bad_files.items()}
    assert expected_messages["notes.jpg"] == (
        "the upload is not a recognised image; send JPEG, PNG, WebP or BMP"
    )
    for name, message in expected_messages.items():
        assert f"{tmp_path / 'bad' / name}: {message}\n" in run.stderr
    assert f"{tmp_path / 'bad' / 'empty.jpg'}: the image is empty (0 bytes)\n" in run.stderr
    assert "5 of 6 files failed" in run.stderr
    assert "Traceback" not in run.stderr


# === (3) CSV ===


def test_csv_has_a_column_per_landmark_value_and_a_row_per_file(
    predict: Predict,
    photos: Path,
    photo_files: list[Path],
    api_answers: dict[Path, dict[str, Any]],
    tmp_path: Path,
) -> None:
    output = tmp_path / "landmarks.csv"
    run = predict(photos, "--output", output, "--progress")  # CSV from the suffix

    assert run.status == 0, run.stderr
    assert run.stdout == ""
    assert f"{len(photo_files)}/{len(photo_files)} images" in run.stderr  # the progress bar
    with output.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    expected_header = ["file", "width", "height"]
    for name in LANDMARK_NAMES:
        expected_header += [f"{name}_x", f"{name}_y", f"{name}_probability", f"{name}_detected"]
    assert rows[0] == expected_header
    assert [Path(row[0]) for row in rows[1:]] == photo_files
    for row in rows[1:]:
        body = api_answers[Path(row[0])]
        expected = [row[0], str(body["image"]["width"]), str(body["image"]["height"])]
        for landmark in body["landmarks"]:
            expected += [
                str(landmark["x"]),
                str(landmark["y"]),
                str(landmark["probability"]),
                "true" if landmark["detected"] else "false",
            ]
        assert row == expected


# === (4) Overlays ===


def test_overlay_dir_gets_the_api_overlay_at_the_upload_size(
    predict: Predict, client: httpx.Client, photos: Path, photo_files: list[Path], tmp_path: Path
) -> None:
    overlays = tmp_path / "overlays"
    run = predict(photos, "--overlay-dir", overlays, "--embed-overlay")

    assert run.status == 0, run.stderr
    for line, path in zip(run.lines(), photo_files, strict=True):
        target = overlays / path.relative_to(photos).with_suffix(".png")  # mirrors the tree
        written = target.read_bytes()
        with Image.open(io.BytesIO(written)) as image:
            assert image.format == "PNG"
            assert image.size == (line["image"]["width"], line["image"]["height"])
        assert base64.b64decode(line["overlay"]) == written
        assert line["overlay_media_type"] == "image/png"
        assert without_file(line) == api_body(client, path, overlay="true")


def test_overlay_dir_in_jpeg_keeps_the_lines_free_of_base64(
    predict: Predict,
    photos: Path,
    photo_files: list[Path],
    api_answers: dict[Path, dict[str, Any]],
    tmp_path: Path,
) -> None:
    overlays = tmp_path / "overlays"
    run = predict(photos, "--overlay-dir", overlays, "--overlay-format", "jpeg", "--top-k", 2)

    assert run.status == 0, run.stderr
    for line, path in zip(run.lines(), photo_files, strict=True):
        # The body of an `overlay=false` request: the overlay went to the file only.
        assert without_file(line) == api_answers[path]
        with Image.open(overlays / path.relative_to(photos).with_suffix(".jpg")) as image:
            assert image.format == "JPEG"
            assert image.size == (line["image"]["width"], line["image"]["height"])
            image.load()


def test_overlay_paths_never_collide_nor_overwrite_an_input(tmp_path: Path) -> None:
    files = [tmp_path / "a.jpg", tmp_path / "a.png", tmp_path / "sub" / "b.jpg"]
    targets = overlay_paths(files, tmp_path / "out", "png")
    assert targets == [
        tmp_path / "out" / "a.jpg.png",
        tmp_path / "out" / "a.png.png",
        tmp_path / "out" / "sub" / "b.png",
    ]
    # An overlay folder that is the photos' own folder: the PNG photo keeps its name.
    assert overlay_paths([tmp_path / "c.png"], tmp_path, "png") == [tmp_path / "c.png.png"]


# === (5) Against a running server ===


def test_url_mode_gets_the_servers_answers(
    keyed_server: LiveServer,
    photos: Path,
    photo_files: list[Path],
    tmp_path: Path,
    predict: Predict,
) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(encode(random_rgb(64, 64), "JPEG")[:300])
    run = predict(
        photos, broken, "--url", keyed_server.base_url, "--api-key", API_KEY, "--top-k", 3
    )

    with keyed_server.client(headers={"X-API-Key": API_KEY}) as http:
        expected = {path: api_body(http, path, top_k=3) for path in photo_files}
        broken_message = api_detail(http, broken.read_bytes())
    assert run.status == 1
    lines = run.lines()
    assert [Path(line["file"]) for line in lines] == photo_files
    for line in lines:
        assert line["model"] == {"name": "tiny_unet", "version": 1}
        assert without_file(line) == expected[Path(line["file"])]
    assert broken_message == "the JPEG data is truncated or corrupt and cannot be decoded"
    assert f"{broken}: {broken_message}\n" in run.stderr


def test_url_mode_overlays_are_written_per_file(
    keyed_server: LiveServer,
    photos: Path,
    photo_files: list[Path],
    tmp_path: Path,
    predict: Predict,
) -> None:
    overlays = tmp_path / "overlays"
    run = predict(
        photos, "--url", keyed_server.base_url, "--api-key", API_KEY, "--overlay-dir", overlays
    )

    assert run.status == 0, run.stderr
    for line, path in zip(run.lines(), photo_files, strict=True):
        assert line["overlay"] is None
        with Image.open(overlays / path.relative_to(photos).with_suffix(".png")) as image:
            assert image.format == "PNG"
            assert image.size == (line["image"]["width"], line["image"]["height"])


def test_url_mode_with_a_wrong_key_is_a_usage_error(
    keyed_server: LiveServer, photos: Path, predict: Predict
) -> None:
    run = predict(photos, "--url", keyed_server.base_url, "--api-key", "wrong")

    assert run.status == 2
    assert run.stdout == ""
    assert "error: invalid API key" in run.stderr


def test_url_mode_without_a_server_is_a_usage_error(photos: Path, predict: Predict) -> None:
    from tests.app.live_server import free_port

    run = predict(photos, "--url", f"http://127.0.0.1:{free_port()}")

    assert run.status == 2
    assert "cannot reach http://127.0.0.1:" in run.stderr
    assert "Traceback" not in run.stderr


# === (6) Usage errors ===


def test_no_matching_files_exits_2_with_a_clear_message(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here", encoding="utf-8")

    run = run_subprocess(tmp_path / "empty")
    assert run.status == 2
    assert run.stdout == ""
    assert "error:" in run.stderr and "holds no image files" in run.stderr
    assert "Traceback" not in run.stderr

    run = run_subprocess(f"{tmp_path}/*.jpg")
    assert run.status == 2
    assert f"{tmp_path}/*.jpg: the pattern matched no files" in run.stderr


def test_find_images_refuses_an_input_that_matches_nothing(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"x")
    assert find_images([str(tmp_path), str(tmp_path / "a.jpg")]) == [tmp_path / "a.jpg"]
    with pytest.raises(UsageError, match="no such file or folder"):
        find_images([str(tmp_path / "a.jpg"), str(tmp_path / "missing.jpg")])


def test_missing_model_dir_exits_2_without_a_traceback(
    predict: Predict, photos: Path, tmp_path: Path
) -> None:
    run = predict(photos, "--model", tmp_path / "missing")

    assert run.status == 2
    assert run.stdout == ""
    assert f"error: model directory {tmp_path / 'missing'}" in run.stderr
    assert "does not exist" in run.stderr
    assert "Traceback" not in run.stderr


def test_damaged_model_exits_2_without_a_traceback(
    predict: Predict, photos: Path, tiny_model_copy: Path
) -> None:
    (tiny_model_copy / "saved_model.pb").write_bytes(b"not a model")
    run = predict(photos, "--model", tiny_model_copy)

    assert run.status == 2
    assert f"error: could not load the SavedModel in {tiny_model_copy}" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--top-k", "9"], "top_k must be between 0 and 5 (the model's top_k), got 9"),
        (["--format", "csv", "--top-k", "1"], "--top-k needs --format jsonl"),
        (["--api-key", "k"], "--api-key goes with --url"),
    ],
)
def test_option_errors_exit_2(
    predict: Predict, photos: Path, args: list[str], message: str
) -> None:
    run = predict(photos, *args)

    assert run.status == 2
    assert f"error: {message}" in run.stderr
    assert run.stdout == ""


def test_lines_are_compact_json_with_the_file_first(predict: Predict, photos: Path) -> None:
    run = predict(photos / "more" / "scene.png")

    assert run.status == 0, run.stderr
    (line,) = run.stdout.splitlines()
    assert line.startswith(f'{{"file":"{photos / "more" / "scene.png"}","model":')
    points = np.array([[mark["x"], mark["y"]] for mark in json.loads(line)["landmarks"]])
    assert points.shape == (6, 2)
