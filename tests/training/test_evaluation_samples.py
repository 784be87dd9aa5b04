"""The images an evaluation scores (`training.evaluation_samples`)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from training.evaluation_samples import ImageReadError, model_to_image_points, read_image_rgb


def test_model_to_image_points_uses_pixel_centres() -> None:
    points = np.array([[[127.5, 127.5], [0.0, 0.0], [255.0, 255.0]]])

    mapped = model_to_image_points(points, np.array([[512.0, 128.0]]))

    # The centre stays the centre; pixel 0 of 256 covers pixels 0 and 1 of 512, centre 0.5.
    np.testing.assert_allclose(mapped[0, 0], [255.5, 63.5])
    np.testing.assert_allclose(mapped[0, 1], [0.5, -0.25])
    np.testing.assert_allclose(mapped[0, 2], [510.5, 127.25])


@pytest.mark.parametrize("content", [b"", b"not an image"])
def test_read_image_rgb_undecodable_file_raises(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageReadError, match=r"broken\.jpg"):
        read_image_rgb(path)


def test_read_image_rgb_grey_image_becomes_rgb(tmp_path: Path) -> None:
    path = tmp_path / "grey.png"
    cv2.imwrite(str(path), np.full((30, 40), 77, dtype=np.uint8))

    image = read_image_rgb(path)

    assert image.shape == (30, 40, 3)
    assert image.dtype == np.uint8
    assert np.all(image == 77)
