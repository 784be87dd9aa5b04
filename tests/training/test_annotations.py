"""The In-shop annotation reader: format, filters, splits and errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.inshop import HEADER, write_inshop_dataset
from training.annotations import (
    AnnotationError,
    FilterOptions,
    MissingImagesError,
    load_split,
    parse_landmarks_file,
    select,
)


def test_parse_reads_rows_of_every_clothes_type(tmp_path: Path) -> None:
    write_inshop_dataset(tmp_path, 5)
    rows = parse_landmarks_file(tmp_path / "list_landmarks_inshop.txt")
    assert len(rows) == 9
    assert [r.points.shape[0] for r in rows[5:7]] == [4, 8]
    assert rows[0].points.dtype == np.float32


def test_select_applies_the_seed_filter(tmp_path: Path) -> None:
    expected = write_inshop_dataset(tmp_path, 5)
    rows = select(parse_landmarks_file(tmp_path / "list_landmarks_inshop.txt"), FilterOptions())
    assert len(rows) == 5
    np.testing.assert_array_equal(rows[2].points, expected[2])


def test_select_keeps_other_poses_and_hidden_points_when_asked(tmp_path: Path) -> None:
    write_inshop_dataset(tmp_path, 5)
    rows = parse_landmarks_file(tmp_path / "list_landmarks_inshop.txt")
    relaxed = FilterOptions(variation_types=None, require_all_visible=False)
    assert len(select(rows, relaxed)) == 7


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("2\n" + HEADER + "\nimg/a.jpg 1 1 0 1 1\n", "needs 21 fields"),
        ("1\n" + HEADER + "\nimg/a.jpg 4 1 0 1 1\n", "clothes_type 4"),
        ("1\n" + HEADER + "\nimg/a.jpg 1 x " + "0 1 1 " * 6 + "\n", "variation_type is 'x'"),
        ("7\n" + HEADER + "\nimg/a.jpg 1 1 " + "0 1 1 " * 6 + "\n", "row count says 7"),
        ("1\n" + HEADER + "\nimg/a.jpg 1 1 " + "5 1 1 " * 6 + "\n", "visibility"),
        ("x\n" + HEADER + "\n", "row count is 'x'"),
    ],
)
def test_parse_names_file_line_and_problem(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "list_landmarks_inshop.txt"
    path.write_text(body)
    with pytest.raises(AnnotationError, match=message) as raised:
        parse_landmarks_file(path)
    assert str(path) in str(raised.value)


def test_parse_error_names_the_line_number(tmp_path: Path) -> None:
    path = tmp_path / "list_landmarks_inshop.txt"
    good = "img/a.jpg 1 1 " + "0 1 1 " * 6
    path.write_text(f"3\n{HEADER}\n{good}\n{good}\nimg/c.jpg 1 1 0 1\n")
    with pytest.raises(AnnotationError) as raised:
        parse_landmarks_file(path)
    assert raised.value.line_number == 5


def test_load_split_reports_missing_images(tmp_path: Path) -> None:
    write_inshop_dataset(tmp_path, 4)
    (tmp_path / "img/WOMEN/Tees_Tanks/id_00000002/01_1_front.jpg").unlink()
    with pytest.raises(MissingImagesError, match="id_00000002"):
        load_split(tmp_path)


def test_load_split_is_seeded_and_uses_the_fraction(tmp_path: Path) -> None:
    write_inshop_dataset(tmp_path, 10)
    first, second = load_split(tmp_path, seed=3), load_split(tmp_path, seed=3)
    assert len(first.validation) == 2 and len(first.train) == 8
    assert [a.image_name for a in first.validation] == [a.image_name for a in second.validation]


def test_load_split_follows_the_partition_file(tmp_path: Path) -> None:
    write_inshop_dataset(tmp_path, 4)
    names = [f"img/WOMEN/Tees_Tanks/id_{i:08d}/01_1_front.jpg" for i in range(4)]
    statuses = ["train", "query", "train", "gallery"]
    lines = [f"{n} id_{i:08d} {s}" for i, (n, s) in enumerate(zip(names, statuses, strict=True))]
    (tmp_path / "list_eval_partition.txt").write_text(
        "4\nimage_name item_id evaluation_status\n" + "\n".join(lines) + "\n"
    )
    split = load_split(tmp_path)
    assert [a.image_name for a in split.train] == [names[0], names[2]]
    assert [a.image_name for a in split.validation] == [names[1], names[3]]
    assert split.source == "partition file"
