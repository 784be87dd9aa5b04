"""Real photos in the generator: fabric (`synth --textures`), scenes (`--photo-backgrounds`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image

from tests.photos import write_photo_folder
from training.synth import compose
from training.synth.appearance import photo_fabric, render_fabric
from training.synth.cli import add_synth_arguments, run_synth
from training.synth.compose import render_sample
from training.synth.photo_backgrounds import (
    BACKGROUND_SHARE,
    background_bank,
    garment_free,
)
from training.synth.photo_textures import (
    TEXTURE_SHARE,
    TEXTURE_SIDE,
    centre_texture,
    texture_bank,
)

MAGENTA = (255, 0, 255)


def _framed_photo(width: int, height: int) -> np.ndarray:
    """uint8 [H, W, 3]: grey, with a magenta block over the middle half (the "garment")."""
    pixels = np.full((height, width, 3), 128, np.uint8)
    pixels[height // 4 : height - height // 4, width // 4 : width - width // 4] = MAGENTA
    return pixels


def _write_photos(folder: Path) -> None:
    folder.mkdir(parents=True)
    Image.fromarray(_framed_photo(640, 480)).save(folder / "a.jpg", quality=95)
    Image.fromarray(_framed_photo(300, 700)).save(folder / "b.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff not an image")
    (folder / "notes.txt").write_text("not a photo")


def test_the_texture_is_the_middle_of_the_photo_shrunk() -> None:
    texture = centre_texture(_framed_photo(1000, 600))
    assert texture.dtype == np.float32
    assert max(texture.shape[:2]) == TEXTURE_SIDE
    assert texture.shape[1] > texture.shape[0]  # the photo's aspect is kept
    # The middle 40% lies inside the magenta block: no grey frame in it.
    np.testing.assert_allclose(texture.reshape(-1, 3), np.tile(MAGENTA, (texture[..., 0].size, 1)))


def test_a_folder_becomes_a_bank_of_its_readable_photos(tmp_path: Path) -> None:
    _write_photos(tmp_path / "photos")
    bank = texture_bank(str(tmp_path / "photos"))
    assert len(bank) == 2  # the broken JPEG and the text file are skipped
    for texture in bank:
        assert np.abs(texture.reshape(-1, 3).mean(axis=0) - MAGENTA).max() < 6
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no readable photos"):
        texture_bank(str(tmp_path / "empty"))


def test_a_photo_fabric_repeats_its_texture_mirrored() -> None:
    texture = np.zeros((4, 8, 3), np.float32)
    texture[..., 0] = np.arange(8, dtype=np.float32)[None, :]  # red = texture column
    fabric = photo_fabric(np.random.default_rng(0), texture)
    assert fabric.pattern == "photo" and fabric.plain().photo is None
    fabric = type(fabric)(**{**fabric.__dict__, "period": 1.0, "angle": 0.0})
    # 8 texture pixels per garment unit; sample one pixel per texture pixel over 3 units.
    u = (np.arange(24, dtype=np.float32)[None, :] + 0.5) / 8.0
    v = np.zeros_like(u)
    out = render_fabric(fabric, u, v, px_per_unit=8.0, rng=np.random.default_rng(0))
    columns = out[0, :, 0].astype(int).tolist()
    assert columns == [*range(8), *range(7, -1, -1), *range(8)]  # ABBA: no seam


def _samples_changed(
    monkeypatch: pytest.MonkeyPatch, chooser: str, count: int, **real_photos: str
) -> int:
    """How many of `count` samples `compose.<chooser>` changed when given `real_photos`.

    Each sample rendered with and without them must keep its garment, pose and landmarks (the
    scene drawn after the choice may differ), and differ only when the chooser was called.
    """
    calls: list[None] = []
    original = getattr(compose, chooser)

    def recording(*args: Any, **kwargs: Any) -> Any:
        calls.append(None)
        return original(*args, **kwargs)

    monkeypatch.setattr(compose, chooser, recording)
    changed = 0
    for index in range(count):
        before = len(calls)
        drawn = render_sample(5, index)
        real = render_sample(5, index, **real_photos)
        np.testing.assert_array_equal(drawn.points, real.points)
        assert (drawn.kind, drawn.pose, drawn.plan) == (real.kind, real.pose, real.plan)
        if len(calls) > before:
            changed += 1
            assert drawn.jpeg != real.jpeg
        else:
            assert drawn.jpeg == real.jpeg
    return changed


def test_textures_change_a_share_of_fabrics_and_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_photos(tmp_path / "photos")
    folder = str(tmp_path / "photos")
    changed = _samples_changed(monkeypatch, "photo_fabric", 30, textures=folder)
    assert 0.5 * TEXTURE_SHARE * 30 <= changed <= 1.5 * TEXTURE_SHARE * 30
    # Deterministic: the same call renders the same bytes.
    again = render_sample(5, 0, textures=folder)
    assert again.jpeg == render_sample(5, 0, textures=folder).jpeg


def test_cli_takes_a_texture_folder_and_refuses_one_without_photos(tmp_path: Path) -> None:
    _write_photos(tmp_path / "photos")
    parser = argparse.ArgumentParser()
    add_synth_arguments(parser)
    args = parser.parse_args(
        ["--out", str(tmp_path / "out"), "--count", "2", "--textures", str(tmp_path / "photos")]
    )
    assert run_synth(args) == 0
    assert len(list((tmp_path / "out").rglob("*.jpg"))) == 2
    (tmp_path / "empty").mkdir()
    args = parser.parse_args(
        ["--out", str(tmp_path / "out2"), "--count", "2", "--textures", str(tmp_path / "empty")]
    )
    with pytest.raises(SystemExit, match="no readable photos"):
        run_synth(args)


def test_a_photo_background_paints_the_garment_over_from_its_surroundings() -> None:
    # A grey floor with a magenta "garment" whose six corners are its landmarks.
    pixels = np.full((256, 256, 3), 128, np.uint8)
    points = np.array(
        [[100, 60], [156, 60], [40, 110], [216, 110], [80, 200], [176, 200]], np.float32
    )
    cv2.fillConvexPoly(pixels, cv2.convexHull(points.astype(np.int32)), MAGENTA)
    painted = garment_free(pixels, points)
    assert painted.shape == (256, 256, 3) and painted.dtype == np.float32
    # No garment left: every pixel is the floor's grey.
    assert np.abs(painted - 128).max() < 8


def test_photo_backgrounds_replace_a_share_of_scenes_and_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_photo_folder(tmp_path / "labelled", 3, seed=1)
    bank = background_bank(str(tmp_path / "labelled"))
    assert len(bank) == 3 and all(b.shape == (256, 256, 3) for b in bank)
    folder = str(tmp_path / "labelled")
    changed = _samples_changed(monkeypatch, "photo_background", 30, photo_backgrounds=folder)
    assert 0.4 * BACKGROUND_SHARE * 30 <= changed <= 1.6 * BACKGROUND_SHARE * 30


def test_cli_refuses_a_background_folder_without_labels(tmp_path: Path) -> None:
    _write_photos(tmp_path / "photos")  # photos, but no labels file
    parser = argparse.ArgumentParser()
    add_synth_arguments(parser)
    args = parser.parse_args(
        [
            "--out",
            str(tmp_path / "out"),
            "--count",
            "1",
            "--photo-backgrounds",
            str(tmp_path / "photos"),
        ]
    )
    with pytest.raises(SystemExit, match="python -m training synth: error"):
        run_synth(args)
