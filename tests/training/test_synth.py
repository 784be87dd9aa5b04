"""Tests of the synthetic data generator (`training.synth`)."""

from __future__ import annotations

import argparse
import io
import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image

from training.synth import SynthSummary, backgrounds, compose, generate_dataset
from training.synth.backgrounds import render_background, stray_sleeve
from training.synth.cli import add_synth_arguments, run_synth
from training.synth.compose import Sample, render_sample
from training.synth.figures import sample_hold
from training.synth.garments import ARM_STYLES, BODY, SLEEVE, Garment, Kind, Pose, build_top
from training.synth.geometry import signed_angle
from training.synth.warp import make_warp
from training.synth.writer import HEADER, LANDMARKS_FILE

COUNT = 40
SEED = 3  # this seed's first 40 images include rows the loader must drop
POINTS_PER_TYPE = {1: 6, 2: 4, 3: 8}


def _rows(data_dir: Path) -> list[list[str]]:
    lines = (data_dir / LANDMARKS_FILE).read_text().splitlines()
    return [line.split() for line in lines[2:]]


def _usable(fields: list[str]) -> bool:
    return fields[1] == "1" and fields[2] == "1" and all(v == "0" for v in fields[3::3])


def _files(data_dir: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(data_dir)): p.read_bytes()
        for p in sorted(data_dir.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SynthSummary]:
    out = tmp_path_factory.mktemp("synth")
    return out, generate_dataset(out, COUNT, SEED)


def test_annotation_file_has_count_line_exact_header_and_typed_rows(
    generated: tuple[Path, SynthSummary],
) -> None:
    data_dir, summary = generated
    lines = (data_dir / LANDMARKS_FILE).read_text().splitlines()
    assert lines[0] == str(COUNT)
    assert lines[1] == HEADER
    assert lines[1].split()[:4] == [
        "image_name",
        "clothes_type",
        "variation_type",
        "landmark_visibility_1",
    ]
    assert lines[1].split()[-1] == "landmark_location_y_8"
    rows = _rows(data_dir)
    assert len(rows) == COUNT == summary.total
    for fields in rows:
        k = POINTS_PER_TYPE[int(fields[1])]
        assert len(fields) == 3 + 3 * k
        assert 1 <= int(fields[2]) <= 5
        values = np.array(fields[3:], dtype=np.int64).reshape(k, 3)
        assert set(values[:, 0].tolist()) <= {0, 1, 2}
        assert values[:, 1:].min() >= 0 and values[:, 1:].max() <= 255


def test_every_listed_image_is_a_256_rgb_jpeg(generated: tuple[Path, SynthSummary]) -> None:
    data_dir, _ = generated
    for fields in _rows(data_dir):
        name = fields[0]
        assert name.startswith("img/") and name.endswith(".jpg")
        assert name.split("/")[1] in ("WOMEN", "MEN")
        assert name.split("/")[3].startswith("id_")
        with Image.open(data_dir / name) as image:
            assert image.format == "JPEG"
            assert image.size == (256, 256)
            assert image.mode == "RGB"


def test_usable_rows_are_inside_the_image_and_left_is_image_left(
    generated: tuple[Path, SynthSummary],
) -> None:
    data_dir, summary = generated
    usable = [fields for fields in _rows(data_dir) if _usable(fields)]
    assert len(usable) == summary.usable
    assert len(usable) >= COUNT * 0.7
    for fields in usable:
        assert "_back" not in fields[0]
        xy = np.array(fields[3:], dtype=np.int64).reshape(6, 3)[:, 1:]
        assert (xy > 0).all() and (xy < 255).all(), fields[0]
        x = xy[:, 0]
        assert x[0] < x[1], f"collar: {fields}"
        assert x[2] < x[3], f"sleeves: {fields}"
        assert x[4] < x[5], f"hem: {fields}"


def test_rows_the_loader_must_drop_are_present(generated: tuple[Path, SynthSummary]) -> None:
    data_dir, summary = generated
    dropped = [fields for fields in _rows(data_dir) if not _usable(fields)]
    assert dropped
    assert summary.usable + len(dropped) == COUNT
    assert summary.upper_body + summary.lower_body + summary.full_body == COUNT
    assert sum(summary.by_pose.values()) == COUNT
    assert sum(summary.by_garment.values()) == COUNT
    assert summary.elapsed_s > 0


def test_loader_reads_the_output_and_keeps_only_usable_rows(
    generated: tuple[Path, SynthSummary],
) -> None:
    annotations = pytest.importorskip("training.annotations")
    data_dir, summary = generated
    parsed = annotations.parse_landmarks_file(data_dir / LANDMARKS_FILE)
    assert len(parsed) == COUNT
    kept = annotations.load_all(data_dir)
    assert len(kept) == summary.usable < COUNT
    for row in kept:
        assert row.clothes_type == 1 and row.variation_type == 1
        assert row.points.shape == (6, 2)
        assert not row.visibility.any()


def test_same_seed_gives_identical_bytes_and_other_seed_differs(
    generated: tuple[Path, SynthSummary], tmp_path: Path
) -> None:
    data_dir, _ = generated
    again = tmp_path / "again"
    generate_dataset(again, COUNT, SEED)
    assert _files(again) == _files(data_dir)

    other = tmp_path / "other"
    generate_dataset(other, COUNT, SEED + 1)
    assert (other / LANDMARKS_FILE).read_text() != (data_dir / LANDMARKS_FILE).read_text()
    first_other = _rows(other)[0][0]
    first = _rows(data_dir)[0][0]
    assert (other / first_other).read_bytes() != (data_dir / first).read_bytes()


def test_two_workers_write_the_same_bytes_as_one(
    generated: tuple[Path, SynthSummary], tmp_path: Path
) -> None:
    data_dir, _ = generated
    parallel = tmp_path / "parallel"
    summary = generate_dataset(parallel, COUNT, SEED, workers=2)
    assert summary.total == COUNT
    assert _files(parallel) == _files(data_dir)


def test_cli_writes_a_data_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    add_synth_arguments(parser)
    args = parser.parse_args(["--out", str(tmp_path), "--count", "3", "--seed", "9"])
    assert run_synth(args) == 0
    assert (tmp_path / LANDMARKS_FILE).read_text().splitlines()[0] == "3"
    assert "wrote 3 images" in capsys.readouterr().out


def test_bad_arguments_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="count"):
        generate_dataset(tmp_path, -1, 0)
    with pytest.raises(ValueError, match="workers"):
        generate_dataset(tmp_path, 1, 0, workers=0)
    with pytest.raises(ValueError, match="backgrounds must name"):
        generate_dataset(tmp_path, 1, 0, backgrounds=("beach",))
    with pytest.raises(ValueError, match="backgrounds must name"):
        generate_dataset(tmp_path, 1, 0, backgrounds=())
    parser = argparse.ArgumentParser()
    add_synth_arguments(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["--out", str(tmp_path), "--count", "1", "--backgrounds", "room,beach"])


def test_warp_inverse_undoes_forward() -> None:
    warp = make_warp(0.4, 80.0, 1024.0, 0.1, (3e-4, -2e-4)).translated(120.0, 90.0)
    points = np.random.default_rng(0).uniform(-150, 150, size=(50, 2))
    np.testing.assert_allclose(warp.inverse(warp.forward(points)), points, atol=1e-6)
    # Monotonic in x: left stays left.
    row = np.stack([np.linspace(-200, 200, 41), np.zeros(41)], axis=1)
    assert np.all(np.diff(make_warp(0.5, 60.0, 1024.0, 0.0).forward(row)[:, 0]) > 0)


def test_first_image_decodes_to_a_garment_scene(generated: tuple[Path, SynthSummary]) -> None:
    data_dir, _ = generated
    name = _rows(data_dir)[0][0]
    pixels = np.asarray(Image.open(io.BytesIO((data_dir / name).read_bytes())))
    # Not a blank frame: a garment, a background and some texture.
    assert pixels.std() > 10


# --- Poses: bent arms, hands on hips / in pockets, garments held up by hand ----------------

POSE_SAMPLES = 240  # renders enough worn and held rows of every kind for the checks below


@pytest.fixture(scope="module")
def pose_samples() -> list[Sample]:
    return [render_sample(SEED, index) for index in range(POSE_SAMPLES)]


def _in_frame_and_ordered(sample: Sample) -> None:
    xy = sample.points
    assert (xy > 0).all() and (xy < 255).all(), (sample.pose, sample.arms, xy.tolist())
    x = xy[:, 0]
    assert x[0] < x[1] and x[2] < x[3] and x[4] < x[5], (sample.pose, sample.arms, xy.tolist())


def test_worn_rows_show_every_arm_style_with_landmarks_in_order(
    pose_samples: list[Sample],
) -> None:
    worn = [s for s in pose_samples if s.pose in ("worn", "turned")]
    styles = {style for s in worn for style in s.arms}
    assert styles == set(ARM_STYLES)
    bent = [s for s in worn if s.usable and {"front", "hip", "pocket"} & set(s.arms)]
    assert len(bent) >= 10
    for sample in bent:
        _in_frame_and_ordered(sample)


def test_held_rows_occur_with_landmarks_in_order(pose_samples: list[Sample]) -> None:
    held = [s for s in pose_samples if s.pose == "held" and s.usable]
    assert len(held) >= 20
    for sample in held:
        assert sample.arms == ()
        _in_frame_and_ordered(sample)


def _sleeve_union_contains(garment: Garment, point: np.ndarray) -> bool:
    for part in garment.parts:
        if part.layer == SLEEVE:
            poly = part.poly.astype(np.float32).reshape(-1, 1, 2)
            if cv2.pointPolygonTest(poly, (float(point[0]), float(point[1])), True) > -1e-4:
                return True
    return False


@pytest.mark.parametrize("kind", [Kind.LONG_SLEEVE, Kind.SWEATER, Kind.JACKET])
def test_a_bent_long_sleeve_ends_at_its_forearm_cuff(kind: Kind) -> None:
    bends = 0
    for index in range(120):
        garment = build_top(np.random.default_rng([SEED, index]), kind, Pose.WORN)
        for arm, landmark in zip(garment.arms, garment.landmarks[2:4], strict=True):
            # The sleeve landmark is the wrist, the end of the forearm...
            np.testing.assert_allclose(landmark, arm.wrist, atol=1e-9)
            # ... on the drawn sleeve, which ends there (just beyond it is no sleeve).
            assert _sleeve_union_contains(garment, landmark)
            assert not _sleeve_union_contains(garment, landmark + arm.fore_direction * 0.06)
            turn = abs(signed_angle(arm.direction, arm.fore_direction))
            if arm.style == "front":
                assert turn > math.radians(20)
                # Each sleeve end stays on its own side of the body's centre line.
                assert arm.side * landmark[0] >= 0.25 - 1e-9
            bends += turn > math.radians(45)
    assert bends >= 20


def test_tank_sleeve_landmark_is_the_outer_end_of_the_armhole() -> None:
    for index in range(60):
        for pose in (Pose.FLAT, Pose.WORN):
            garment = build_top(np.random.default_rng([SEED, index]), Kind.TANK, pose)
            assert garment.sleeve_length == 0
            for side, landmark in zip((-1, 1), garment.landmarks[2:4], strict=True):
                # The armhole facing runs from the strap end down the armhole.
                strap_end = garment.shoulder * np.array([side, 1.0])
                armhole = next(
                    s.pts
                    for s in garment.strokes
                    if s.layer == BODY and np.allclose(s.pts[0], strap_end)
                )
                # The armhole's lower end, the armhole point farthest out from the centre.
                np.testing.assert_allclose(landmark, armhole[-1], atol=1e-9)
                assert side * landmark[0] >= (side * armhole[:, 0]).max() - 1e-9


def test_held_garment_hangs_from_the_grips() -> None:
    for index in range(30):
        rng = np.random.default_rng([SEED, index])
        garment = build_top(rng, Kind.TSHIRT, Pose.HELD)
        hold = sample_hold(rng, garment)
        grips = np.stack(hold.grips)
        np.testing.assert_allclose(hold.gravity(grips), grips, atol=1e-9)
        moved = hold.gravity(garment.landmarks)
        # Cloth only falls, and nothing far below the hands moves.
        assert (moved[:, 0] == garment.landmarks[:, 0]).all()
        assert (moved[:, 1] >= garment.landmarks[:, 1]).all()
        far = garment.landmarks[:, 1] > grips[:, 1].max() + hold.fall
        np.testing.assert_allclose(moved[far], garment.landmarks[far])
        # Left hand on the left, right on the right, both on the shoulder line.
        assert grips[0, 0] < -garment.neck_half < garment.neck_half < grips[1, 0]


def test_pose_variety_keeps_rendering_deterministic() -> None:
    for index in (5, 17, 42):
        first, again = render_sample(SEED + 7, index), render_sample(SEED + 7, index)
        assert first.jpeg == again.jpeg and first.arms == again.arms
        np.testing.assert_array_equal(first.points, again.points)


def test_stray_sleeve_draws_a_sleeve_of_the_given_colour_and_maybe_a_hand() -> None:
    colour = np.array([200.0, 30.0, 40.0], np.float32)
    hands = 0
    for seed in range(12):
        canvas = np.full((256, 256, 3), 128, np.uint8)
        stray_sleeve(np.random.default_rng(seed), canvas, colour)
        again = np.full_like(canvas, 128)
        stray_sleeve(np.random.default_rng(seed), again, colour)
        np.testing.assert_array_equal(canvas, again)
        changed = (canvas != 128).any(axis=-1)
        fabric = (np.abs(canvas.astype(np.int16) - colour.astype(np.int16)) <= 2).all(axis=-1)
        if changed.sum() < 200:
            continue  # started off the frame and pointed away from it, or only grazes it
        # Most of what it draws is the fabric itself (the rest: shade, cuff, hand, edges).
        assert fabric.sum() >= 0.5 * changed.sum()
        # A hand is skin: red above green above blue, unlike this fabric's blue-free red.
        red, green, blue = (canvas[..., channel].astype(np.int16) for channel in range(3))
        hands += int((changed & ~fabric & (red > green) & (green > blue + 5)).sum() > 20)
    assert 0 < hands < 12


def test_cluttered_rooms_and_flat_lays_show_stray_sleeves(monkeypatch: pytest.MonkeyPatch) -> None:
    # Rooms and labs draw them among their clutter, textured flat lays on a quarter of images;
    # studio and gradient backdrops stay clean. Counted through the drawing function itself.
    calls: list[str] = []

    def counting(rng: np.random.Generator, img: np.ndarray, colour: np.ndarray) -> None:
        calls.append("sleeve")
        stray_sleeve(rng, img, colour)

    monkeypatch.setattr(backgrounds, "stray_sleeve", counting)

    styles = {
        "studio": np.array([1.0, 0, 0, 0, 0]),
        "room": np.array([0, 0, 0, 1.0, 0]),
        "texture": np.array([0, 0, 1.0, 0, 0]),
    }
    counts = {}
    for name, weights in styles.items():
        calls.clear()
        for seed in range(40):
            render_background(np.random.default_rng(seed), 64, weights=weights)
        counts[name] = len(calls)
    assert counts["studio"] == 0
    assert counts["room"] >= 20  # 3 to 9 clutter shapes an image, 15 % of them sleeves
    assert 3 <= counts["texture"] <= 30


def test_background_styles_can_be_limited_without_moving_the_landmarks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    used: list[str] = []

    def recording(*args: Any, **kwargs: Any) -> tuple[np.ndarray, float | None, str]:
        result = render_background(*args, **kwargs)
        used.append(result[2])
        return result

    monkeypatch.setattr(compose, "render_background", recording)
    for index in range(24):
        everywhere = render_sample(SEED, index)
        cluttered = render_sample(SEED, index, backgrounds=("room", "lab"))
        np.testing.assert_array_equal(everywhere.points, cluttered.points)
        assert (everywhere.kind, everywhere.pose) == (cluttered.kind, cluttered.pose)
    # Calls alternate: the default mix first, then the limited one.
    assert set(used[1::2]) == {"room", "lab"}
    assert {"studio", "texture"} <= set(used[0::2])


def test_cli_limits_the_backgrounds(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    add_synth_arguments(parser)
    args = parser.parse_args(
        ["--out", str(tmp_path), "--count", "2", "--seed", "9", "--backgrounds", "room, lab"]
    )
    assert args.backgrounds == ("room", "lab")
    assert run_synth(args) == 0
    default = tmp_path / "default"
    generate_dataset(default, 2, 9)
    assert _files(tmp_path / "img") != _files(default / "img")
