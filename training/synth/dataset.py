"""`generate_dataset`: renders N images into the In-shop layout, optionally in parallel.

Image i is rendered from `numpy.random.default_rng([seed, i])` alone, so the output (image
bytes and annotation file) is identical for any number of workers.
"""

from __future__ import annotations

import collections
import dataclasses
import multiprocessing
import time
from pathlib import Path

import cv2

from training.synth.backgrounds import check_styles
from training.synth.compose import render_sample
from training.synth.photo_backgrounds import background_bank
from training.synth.photo_textures import texture_bank
from training.synth.writer import annotation_row, image_name, write_image, write_landmarks_file


@dataclasses.dataclass(frozen=True)
class SynthSummary:
    """What `generate_dataset` wrote.

    Attributes:
        out_dir: the data directory.
        total: rows (= images) written.
        usable: rows the default loader keeps (upper body, variation 1, all six visible).
        upper_body, lower_body, full_body: rows by clothes_type 1, 2, 3.
        hard_pose: rows with variation_type 2 or 3.
        zoom_in: rows with variation_type 4 or 5.
        occluded: rows with at least one occluded landmark (visibility 1).
        truncated: rows with at least one landmark cut off by the frame (visibility 2).
        by_garment: rows per garment kind ("tshirt", "shirt", ...).
        by_pose: rows per presentation ("flat", "hanging", "worn", "turned", "held").
        elapsed_s: wall-clock seconds.
    """

    out_dir: Path
    total: int
    usable: int
    upper_body: int
    lower_body: int
    full_body: int
    hard_pose: int
    zoom_in: int
    occluded: int
    truncated: int
    by_garment: dict[str, int]
    by_pose: dict[str, int]
    elapsed_s: float

    @property
    def images_per_second(self) -> float:
        """Throughput of the run."""
        return self.total / self.elapsed_s if self.elapsed_s > 0 else float("inf")

    def describe(self) -> str:
        """A few human-readable lines."""
        garments = ", ".join(f"{k} {v}" for k, v in sorted(self.by_garment.items()))
        poses = ", ".join(f"{k} {v}" for k, v in sorted(self.by_pose.items()))
        return (
            f"wrote {self.total} images to {self.out_dir} in {self.elapsed_s:.1f} s "
            f"({self.images_per_second:.1f} images/s)\n"
            f"usable rows: {self.usable}; upper/lower/full body: "
            f"{self.upper_body}/{self.lower_body}/{self.full_body}; hard pose: "
            f"{self.hard_pose}; zoom-in: {self.zoom_in}; with occluded landmarks: "
            f"{self.occluded}; with truncated landmarks: {self.truncated}\n"
            f"garments: {garments}\nposes: {poses}"
        )


@dataclasses.dataclass(frozen=True)
class _Row:
    """What a worker reports about one written image."""

    line: str
    clothes_type: int
    variation_type: int
    occluded: bool
    truncated: bool
    usable: bool
    kind: str
    pose: str


def _render_one(
    out_dir: Path,
    seed: int,
    index: int,
    backgrounds: tuple[str, ...] | None,
    textures: str | None,
    photo_backgrounds: str | None,
) -> _Row:
    sample = render_sample(seed, index, backgrounds, textures, photo_backgrounds)
    name = image_name(index, sample.category, sample.view)
    write_image(out_dir, name, sample.jpeg)
    return _Row(
        line=annotation_row(
            name, sample.clothes_type, sample.variation_type, sample.visibility, sample.points
        ),
        clothes_type=sample.clothes_type,
        variation_type=sample.variation_type,
        occluded=bool((sample.visibility == 1).any()),
        truncated=bool((sample.visibility == 2).any()),
        usable=sample.usable,
        kind=sample.kind,
        pose=sample.pose,
    )


def _render_task(
    task: tuple[Path, int, int, tuple[str, ...] | None, str | None, str | None],
) -> _Row:
    return _render_one(*task)


def _init_worker() -> None:
    # Each worker is one process on one core; OpenCV's own thread pool would oversubscribe.
    cv2.setNumThreads(1)


def generate_dataset(
    out_dir: Path,
    count: int,
    seed: int,
    *,
    workers: int = 1,
    backgrounds: tuple[str, ...] | None = None,
    textures: Path | None = None,
    photo_backgrounds: Path | None = None,
) -> SynthSummary:
    """Renders `count` synthetic garment photos with landmarks into `out_dir`.

    Args:
        out_dir: data directory to create or fill (existing files of the same names are
            overwritten; others are left alone).
        count: number of images.
        seed: data-set seed; the same (seed, count) gives byte-identical output.
        workers: processes to render with (1 renders in this process).
        backgrounds: only these background styles (`backgrounds.STYLES`); None: all of them.
            The same seed then gives the same garments, poses and landmark positions in other
            scenes.
        textures: a folder of real photos whose central parts become the fabric of a share of
            garments (`photo_textures`); None: drawn fabrics only.
        photo_backgrounds: a labelled photo folder whose photos, garment painted over, become
            a share of the backgrounds (`photo_backgrounds`); None: drawn backgrounds only.

    Returns:
        Row counts and timing.

    Raises:
        ValueError: `count` is negative, `workers` is below 1, or `backgrounds` names no
            style or an unknown one.
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if backgrounds is not None:
        check_styles(backgrounds)
    start = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    # Read the folders here first, so that a bad one fails before any worker starts.
    fabric_folder = scene_folder = None
    if textures is not None:
        texture_bank(str(textures))
        fabric_folder = str(textures)
    if photo_backgrounds is not None:
        background_bank(str(photo_backgrounds))
        scene_folder = str(photo_backgrounds)
    tasks = [
        (out_dir, seed, index, backgrounds, fabric_folder, scene_folder) for index in range(count)
    ]
    if workers == 1 or count < 2:
        previous = cv2.getNumThreads()
        cv2.setNumThreads(1)
        try:
            rows = [_render_task(task) for task in tasks]
        finally:
            cv2.setNumThreads(previous)
    else:
        # "spawn": workers start clean, without whatever the caller has loaded (TensorFlow
        # threads do not survive a fork safely).
        context = multiprocessing.get_context("spawn")
        chunk = max(1, min(32, count // (workers * 4)))
        with context.Pool(workers, initializer=_init_worker) as pool:
            rows = pool.map(_render_task, tasks, chunksize=chunk)
    write_landmarks_file(out_dir, [row.line for row in rows])
    return SynthSummary(
        out_dir=out_dir,
        total=len(rows),
        usable=sum(row.usable for row in rows),
        upper_body=sum(row.clothes_type == 1 for row in rows),
        lower_body=sum(row.clothes_type == 2 for row in rows),
        full_body=sum(row.clothes_type == 3 for row in rows),
        hard_pose=sum(row.variation_type in (2, 3) for row in rows),
        zoom_in=sum(row.variation_type in (4, 5) for row in rows),
        occluded=sum(row.occluded for row in rows),
        truncated=sum(row.truncated for row in rows),
        by_garment=dict(collections.Counter(row.kind for row in rows)),
        by_pose=dict(collections.Counter(row.pose for row in rows)),
        elapsed_s=time.perf_counter() - start,
    )
