"""The `tf.data` input pipeline: labelled images -> (image, label map) batches.

    files -> decoded and resized as the service does (once, into memory; points scaled)
        -> shuffle -> augment (training only) -> label maps -> [mix streams] -> batch -> prefetch

Images are decoded by the service's own code (`app.decoding`, `app.geometry` through
`training.photo_labels.model_input`), so the network trains on the pixels an upload becomes.
They are held in memory (uint8, 192 KiB each); the per-step work is augmentation and label
construction, both vectorised graph ops.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from app.errors import InputError
from app.geometry import image_to_model
from training.annotations import Annotation
from training.augment import AugmentOptions, augment
from training.labels import LabelProfile, make_label_map
from training.landmarks import IMAGE_SIZE, NUM_LANDMARKS
from training.photo_labels import model_input


def load_images(annotations: Sequence[Annotation], data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Reads annotated image files as the service reads uploads, resized for the model.

    Args:
        annotations: the samples; `points` in each file's own pixels.
        data_dir: the folder their image names are relative to.

    Returns:
        uint8 [N, 256, 256, 3] (`training.photo_labels.model_input`: the service's decoding
        and resizing) and float32 [N, 6, 2] points in that 256x256 space.
    """
    images = np.empty((len(annotations), IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    points = np.empty((len(annotations), NUM_LANDMARKS, 2), dtype=np.float32)
    for index, annotation in enumerate(annotations):
        path = data_dir / annotation.image_name
        try:
            images[index], width, height = model_input(path)
        except InputError as error:
            raise ValueError(f"{path}: {error.message}") from error
        points[index] = image_to_model(annotation.points, width, height)
    return images, points


@dataclasses.dataclass(frozen=True)
class Samples:
    """Labelled images in memory, ready for the model.

    Attributes:
        images: uint8 [N, 256, 256, 3].
        points: float32 [N, 6, 2] in the 256x256 space.
    """

    images: np.ndarray
    points: np.ndarray

    def __len__(self) -> int:
        return len(self.images)


def file_samples(annotations: Sequence[Annotation], data_dir: Path) -> Samples:
    """Every annotated image file, read once, up front, by `load_images` (192 KiB each)."""
    if not annotations:
        raise ValueError(f"no samples to read in {data_dir}")
    return Samples(*load_images(annotations, data_dir))


def array_samples(images: np.ndarray, points: np.ndarray) -> Samples:
    """Images already in memory (`training.photo_labels.PhotoSet`) as `Samples`."""
    if len(images) == 0:
        raise ValueError("cannot build a dataset from zero samples")
    return Samples(np.ascontiguousarray(images, dtype=np.uint8), points.astype(np.float32))


def _sample_dataset(samples: Samples, shuffle: bool, seed: int) -> tf.data.Dataset:
    """(uint8 [256, 256, 3], float32 [6, 2]) per sample, optionally in a shuffled order.

    The images stay in the NumPy arrays and are looked up by index: a dataset built from the
    arrays themselves would embed them in the graph (refused past 2 GB) and keep a second
    copy in a full-size shuffle buffer. Only indices are shuffled.
    """
    count = len(samples)
    indices = tf.data.Dataset.range(count)
    if shuffle:
        indices = indices.shuffle(count, seed=seed, reshuffle_each_iteration=True)

    def lookup(index: np.int64) -> tuple[np.ndarray, np.ndarray]:
        return samples.images[index], samples.points[index]

    def fetch(index: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        image, points = tf.numpy_function(lookup, [index], (tf.uint8, tf.float32), stateful=False)
        image.set_shape((IMAGE_SIZE, IMAGE_SIZE, 3))
        points.set_shape((NUM_LANDMARKS, 2))
        return image, points

    return indices.map(fetch, num_parallel_calls=tf.data.AUTOTUNE)


def labelled_stream(
    samples: Samples,
    *,
    training: bool,
    profile: LabelProfile = LabelProfile(),
    augment_options: AugmentOptions | None = AugmentOptions(),
    seed: int = 0,
) -> tf.data.Dataset:
    """Samples -> (float32 [256, 256, 3] image, float32 [256, 256, 7] label map), unbatched.

    Training shuffles (every epoch anew) and augments.
    """

    def to_float(image: tf.Tensor, sample_points: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return tf.cast(image, tf.float32), sample_points

    dataset = _sample_dataset(samples, training, seed).map(
        to_float, num_parallel_calls=tf.data.AUTOTUNE
    )
    if training and augment_options is not None:
        options = augment_options
        seeds = tf.data.Dataset.random(seed=seed).batch(2)
        dataset = tf.data.Dataset.zip((dataset, seeds)).map(
            lambda sample, sample_seed: augment(sample[0], sample[1], sample_seed, options),
            num_parallel_calls=tf.data.AUTOTUNE,
        )

    def to_labels(image: tf.Tensor, sample_points: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return image, make_label_map(sample_points, profile)

    return dataset.map(to_labels, num_parallel_calls=tf.data.AUTOTUNE)


def mix_streams(
    streams: Sequence[tf.data.Dataset], weights: Sequence[float], seed: int = 0
) -> tf.data.Dataset:
    """Draws each sample from one of several endless streams with the given probabilities.

    Every stream is repeated, so a small set of real photos can make up a fixed share of every
    batch however many synthetic images there are (the result is endless: train with
    `steps_per_epoch`).
    """
    if len(streams) != len(weights) or not streams:
        raise ValueError("need one weight per stream, and at least one stream")
    if len(streams) == 1:
        return streams[0].repeat()
    total = float(sum(weights))
    return tf.data.Dataset.sample_from_datasets(
        [stream.repeat() for stream in streams],
        weights=[weight / total for weight in weights],
        seed=seed,
    )


def batched(dataset: tf.data.Dataset, batch_size: int) -> tf.data.Dataset:
    """Batches (keeping a short last batch) and prefetches."""
    return dataset.batch(batch_size, drop_remainder=False).prefetch(tf.data.AUTOTUNE)


def make_dataset(
    annotations: Sequence[Annotation],
    data_dir: Path,
    batch_size: int,
    *,
    training: bool,
    profile: LabelProfile = LabelProfile(),
    augment_options: AugmentOptions | None = AugmentOptions(),
    seed: int = 0,
) -> tf.data.Dataset:
    """Builds the input pipeline for one split of an In-shop data directory.

    Args:
        annotations: the samples (six visible landmarks each).
        data_dir: the folder the annotations' image names are relative to.
        batch_size: global batch size.
        training: shuffle and augment when true.
        profile: label map profile.
        augment_options: augmentation ranges; None turns augmentation off.
        seed: seeds shuffling and augmentation.

    Returns:
        A dataset of (float32 [B, 256, 256, 3] images in 0..255,
        float32 [B, 256, 256, 7] label maps).
    """
    stream = labelled_stream(
        file_samples(annotations, data_dir),
        training=training,
        profile=profile,
        augment_options=augment_options,
        seed=seed,
    )
    return batched(stream, batch_size)
