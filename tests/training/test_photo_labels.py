"""Labelled photo folders (CSV form): reading, the service's decoding, and clear errors."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from app.decoding import decode_image
from app.geometry import image_to_model, resize_for_model
from tests.photos import write_photo_folder
from training import photo_labels


def test_reads_rows_and_turns_photos_into_the_services_model_inputs(tmp_path: Path) -> None:
    points = write_photo_folder(tmp_path, 4, rotated=True)
    photo_set = photo_labels.load_photo_set(tmp_path)
    assert photo_set.images.shape == (4, 256, 256, 3) and photo_set.images.dtype == np.uint8
    assert [p.kind for p in photo_set.photos] == ["a", "b", "c", "a"]
    for index, photo in enumerate(photo_set.photos):
        data = (tmp_path / photo.image).read_bytes()
        # Exactly what the service feeds the model for this upload.
        decoded = decode_image(data, 10**8, min_side=256)
        np.testing.assert_array_equal(photo_set.images[index], resize_for_model(decoded.pixels))
        expected = image_to_model(points[index], photo.width, photo.height)
        np.testing.assert_allclose(photo_set.points[index], expected, atol=1e-4)
    # The EXIF-rotated JPEG is stored 520 wide and 400 high, and viewed 400 x 520 as labelled.
    assert (photo_set.photos[0].width, photo_set.photos[0].height) == (400, 520)
    np.testing.assert_array_equal(photo_set.sizes[1], [640, 480])


def test_finds_labels_csv_and_accepts_the_file_itself(tmp_path: Path) -> None:
    write_photo_folder(tmp_path, 2, file_name="labels.csv")
    assert photo_labels.is_photo_folder(tmp_path)
    assert photo_labels.find_labels_file(tmp_path / "labels.csv") == tmp_path / "labels.csv"
    folder, photos = photo_labels.read_labels(tmp_path / "labels.csv")
    assert folder == tmp_path and len(photos) == 2
    assert not photo_labels.is_photo_folder(tmp_path / "images")


def _rewrite(path: Path, change: dict[str, str], drop: str | None = None) -> None:
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    fields = [name for name in rows[0] if name != drop]
    rows[0].update(change)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


@pytest.mark.parametrize(
    ("change", "drop", "message"),
    [
        ({}, "y4", "missing column.*y4"),
        ({"x3": "left"}, None, r"landmarks.csv:2: x3 is 'left'"),
        ({"x1": "5000"}, None, "landmarks.csv:2: a landmark lies outside"),
        ({"width": "0"}, None, "positive integers"),
        ({"y2": "inf"}, None, "y2 is 'inf', not a finite number"),
        ({"image": ""}, None, "landmarks.csv:2: the image column is empty"),
    ],
)
def test_bad_rows_name_the_file_line_and_problem(
    tmp_path: Path, change: dict[str, str], drop: str | None, message: str
) -> None:
    write_photo_folder(tmp_path, 2)
    _rewrite(tmp_path / "landmarks.csv", change, drop)
    with pytest.raises(photo_labels.PhotoLabelsError, match=message):
        photo_labels.load_photo_set(tmp_path)


def test_a_size_that_disagrees_with_the_photo_is_refused(tmp_path: Path) -> None:
    write_photo_folder(tmp_path, 2)
    _rewrite(tmp_path / "landmarks.csv", {"width": "410"})
    with pytest.raises(photo_labels.PhotoLabelsError, match="400x520 after EXIF rotation"):
        photo_labels.load_photo_set(tmp_path)


def test_a_missing_or_broken_photo_is_named(tmp_path: Path) -> None:
    write_photo_folder(tmp_path, 2)
    (tmp_path / "images" / "001.png").write_bytes(b"not an image")
    with pytest.raises(photo_labels.PhotoLabelsError, match=r"001.png: the upload is not"):
        photo_labels.load_photo_set(tmp_path)
    (tmp_path / "images" / "001.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"001\.png"):
        photo_labels.load_photo_set(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"no landmarks\.csv or labels\.csv"):
        photo_labels.read_labels(tmp_path / "images")
