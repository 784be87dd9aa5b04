"""The input pipeline and augmentation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from app.decoding import decode_image
from app.geometry import resize_for_model
from tests.inshop import write_inshop_dataset
from training.annotations import load_split
from training.augment import AugmentOptions, augment, flip_horizontal, random_similarity
from training.dataset import load_images, make_dataset
from training.labels import make_label_map
from training.landmarks import FLIP_PERMUTATION
from training.peaks import decode_landmarks

POINTS = np.array([[115, 59], [149, 60], [82, 153], [185, 150], [93, 198], [171, 197]], "f4")


def test_flipped_labels_are_flipped_labels_with_channels_swapped() -> None:
    image = tf.random.uniform((256, 256, 3), maxval=255.0)
    flipped_image, flipped_points = flip_horizontal(image, tf.constant(POINTS))
    label = make_label_map(POINTS).numpy()
    flipped_label = make_label_map(flipped_points).numpy()
    channel_order = [0] + [index + 1 for index in FLIP_PERMUTATION]
    expected = label[:, ::-1, :][..., channel_order]
    np.testing.assert_allclose(flipped_label, expected, atol=1e-6)
    np.testing.assert_array_equal(flipped_image.numpy(), image.numpy()[:, ::-1])
    # The left collar is still on the image's left after the flip.
    assert flipped_points[0, 0] < flipped_points[1, 0]


def test_similarity_transform_moves_points_with_pixels() -> None:
    image = np.zeros((256, 256, 3), np.float32)
    image[POINTS[2, 1].astype(int), POINTS[2, 0].astype(int)] = 255.0
    blurred = tf.nn.avg_pool2d(image[np.newaxis], 3, 1, "SAME")[0] * 9
    options = AugmentOptions(max_scale_change=0.1, max_rotation_degrees=10, max_shift_fraction=0.05)
    warped, moved = random_similarity(blurred, tf.constant(POINTS), options, tf.constant([3, 4]))
    peak = np.unravel_index(np.argmax(warped.numpy()[..., 0]), (256, 256))
    assert abs(peak[1] - moved[2, 0].numpy()) <= 1.0 and abs(peak[0] - moved[2, 1].numpy()) <= 1.0
    assert not np.allclose(moved.numpy(), POINTS)


def test_augment_keeps_points_inside_and_image_in_range() -> None:
    image = tf.random.uniform((256, 256, 3), maxval=255.0)
    for seed in range(10):
        out_image, out_points = augment(image, tf.constant(POINTS), tf.constant([seed, 7]))
        assert float(tf.reduce_min(out_image)) >= 0.0 and float(tf.reduce_max(out_image)) <= 255
        assert np.all((out_points.numpy() >= 2.0) & (out_points.numpy() <= 253.0))


def test_images_are_read_as_the_service_reads_uploads(tmp_path: Path) -> None:
    expected = write_inshop_dataset(tmp_path, 1, sizes=((512, 384),), extra_rows=False)[0]
    path = tmp_path / "img/WOMEN/Tees_Tanks/id_00000000/01_1_front.jpg"
    annotations = load_split(tmp_path, validation_fraction=0.0).train
    images, points = load_images(annotations, tmp_path)
    assert images.shape == (1, 256, 256, 3) and images.dtype == np.uint8
    # Exactly the model input the service makes of this file as an upload.
    decoded = decode_image(path.read_bytes(), 10**8, min_side=256)
    np.testing.assert_array_equal(images[0], resize_for_model(decoded.pixels))
    scale = np.array([256 / 512, 256 / 384])
    np.testing.assert_allclose(points[0], (expected + 0.5) * scale - 0.5, atol=1e-4)


def test_dataset_yields_images_and_label_maps(tmp_path: Path) -> None:
    write_inshop_dataset(tmp_path, 6)
    split = load_split(tmp_path, validation_fraction=0.0)
    dataset = make_dataset(split.train, tmp_path, batch_size=4, training=True, seed=1)
    images, labels = next(iter(dataset))
    assert images.shape == (4, 256, 256, 3) and images.dtype == tf.float32
    assert labels.shape == (4, 256, 256, 7)
    np.testing.assert_allclose(tf.reduce_sum(labels, -1).numpy(), 1.0, atol=1e-5)
    evaluation = make_dataset(split.train, tmp_path, batch_size=6, training=False)
    _, plain_labels = next(iter(evaluation))
    decoded, _ = decode_landmarks(plain_labels)
    np.testing.assert_allclose(decoded[0].numpy(), split.train[0].points, atol=1e-3)
