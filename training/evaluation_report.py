"""What an evaluation measured, and how it is written down: report.json, report.md, the summary.

`training.evaluate` computes the figures; this module only holds and renders them, so the
report's layout can change without touching the measurement. report.json::

    model        name, version, architecture, width_multiplier, exported_at, path
    data         path, format ("inshop" or "photos"), labels_file, num_images, filters,
                 corruption
    evaluated_at ISO 8601 UTC
    metrics      `compute_metrics`: pixel error, NE, PCK, per landmark and overall
    detection    threshold, right_distance, precision, recall, detected_fraction,
                 right_fraction and the counts behind them
    by_kind      {kind: metrics plus its own `detection`}; {} when no photo has a kind
    images       one record per image: image_name, kind, width, height, points, truth,
                 visible, scores, normalized_distances (null where not visible)
    worst        rank, image_name, normalized_error, mean_pixel_error, overlay
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from training.annotations import FilterOptions
from training.corruptions import describe

INSHOP_FORMAT = "inshop"
PHOTOS_FORMAT = "photos"


@dataclasses.dataclass(frozen=True)
class WorstImage:
    """One of the images with the largest mean normalised error.

    Attributes:
        rank: 1 for the worst.
        image_name: path relative to the data directory (or the labels file's folder).
        normalized_error: the image's mean normalised distance over its visible landmarks.
        mean_pixel_error: the image's mean pixel error over its visible landmarks.
        overlay: the PNG written for it.
    """

    rank: int
    image_name: str
    normalized_error: float
    mean_pixel_error: float
    overlay: Path


@dataclasses.dataclass(frozen=True, eq=False)
class EvaluationReport:
    """What `evaluate_model` measured and wrote.

    Attributes:
        metrics: the `compute_metrics` dict over every image.
        detection: the `detection_metrics` dict over every image.
        by_kind: {kind: metrics dict with a `detection` entry}, kinds sorted; empty when no
            image has a kind.
        model: name, version, architecture, width_multiplier, exported_at, path.
        data_dir: the evaluated data directory, labels folder or labels file, as given.
        data_format: `INSHOP_FORMAT` or `PHOTOS_FORMAT`.
        labels_file: the landmarks file read.
        filters: the In-shop filter the rows passed; None for labelled photos (no filter).
        corruption: the `training.corruptions` name applied to every photo, or None.
        num_images: images evaluated (N).
        evaluated_at: ISO 8601 UTC time of the evaluation.
        image_names: [N] in file order.
        kinds: [N] each image's kind, "" where it has none.
        image_sizes: float64 [N, 2] (width, height) after EXIF rotation.
        truth_points: float64 [N, 6, 2] (x, y) annotated points in each image's pixels.
        visible: bool [N, 6], the landmarks that count.
        predicted_points: float64 [N, 6, 2] (x, y) predictions in each image's pixels.
        scores: float64 [N, 6] the signature's per-landmark probability.
        normalized_distances: float64 [N, 6] sqrt((dx / W)^2 + (dy / H)^2) per landmark.
        image_normalized_error: float64 [N] mean normalised distance per image (NaN: none
            visible).
        worst: the worst images, worst first.
        out_dir: where the report was written.
        report_json: `out_dir/report.json`.
        report_md: `out_dir/report.md`.
    """

    metrics: dict[str, Any]
    detection: dict[str, Any]
    by_kind: dict[str, dict[str, Any]]
    model: dict[str, Any]
    data_dir: Path
    data_format: str
    labels_file: Path
    filters: FilterOptions | None
    corruption: str | None
    num_images: int
    evaluated_at: str
    image_names: tuple[str, ...]
    kinds: tuple[str, ...]
    image_sizes: np.ndarray
    truth_points: np.ndarray
    visible: np.ndarray
    predicted_points: np.ndarray
    scores: np.ndarray
    normalized_distances: np.ndarray
    image_normalized_error: np.ndarray
    worst: tuple[WorstImage, ...]
    out_dir: Path
    report_json: Path
    report_md: Path

    def image_records(self) -> list[dict[str, Any]]:
        """report.json's `images`: what a later script needs to pick a threshold or re-score."""
        records = []
        for index, name in enumerate(self.image_names):
            seen = self.visible[index]
            records.append(
                {
                    "image_name": name,
                    "kind": self.kinds[index],
                    "width": int(self.image_sizes[index, 0]),
                    "height": int(self.image_sizes[index, 1]),
                    "points": self.predicted_points[index].tolist(),
                    "truth": self.truth_points[index].tolist(),
                    "visible": seen.tolist(),
                    "scores": self.scores[index].tolist(),
                    # null, not a number, where the landmark does not count.
                    "normalized_distances": [
                        float(distance) if counted else None
                        for distance, counted in zip(
                            self.normalized_distances[index], seen, strict=True
                        )
                    ],
                }
            )
        return records

    def to_json(self) -> dict[str, Any]:
        """The report.json document (layout in the module docstring)."""
        return {
            "model": self.model,
            "data": {
                "path": str(self.data_dir),
                "format": self.data_format,
                "labels_file": str(self.labels_file),
                "num_images": self.num_images,
                "filters": None if self.filters is None else dataclasses.asdict(self.filters),
                "corruption": self.corruption,
            },
            "evaluated_at": self.evaluated_at,
            "metrics": self.metrics,
            "detection": self.detection,
            "by_kind": self.by_kind,
            "images": self.image_records(),
            "worst": [
                {
                    "rank": item.rank,
                    "image_name": item.image_name,
                    "normalized_error": item.normalized_error,
                    "mean_pixel_error": item.mean_pixel_error,
                    "overlay": item.overlay.relative_to(self.out_dir).as_posix(),
                }
                for item in self.worst
            ],
        }


# === Text ===


def _number(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _pck_keys(metrics: Mapping[str, Any]) -> list[str]:
    # The thresholds are whatever the metrics were computed at, in their order.
    return list(metrics["pck"])


def _figure_cells(row: Mapping[str, Any], pck_keys: Sequence[str]) -> list[str]:
    """visible, mean px, NE, PCK per threshold of one landmark, kind or the overall figures."""
    return [
        str(row["num_visible"]),
        _number(row["mean_pixel_error"], 2),
        _number(row["normalized_error"], 4),
        *(_percent(row["pck"][key]) for key in pck_keys),
    ]


def _landmark_header(metrics: Mapping[str, Any]) -> list[str]:
    return ["landmark", "visible", "mean px", "NE", *(f"PCK@{k}" for k in _pck_keys(metrics))]


def _landmark_rows(metrics: Mapping[str, Any]) -> list[list[str]]:
    """One row per landmark and an overall row: name, visible, px, NE, PCK per threshold."""
    keys = _pck_keys(metrics)
    rows = [
        [f"{landmark['id']} {landmark['name']}", *_figure_cells(landmark, keys)]
        for landmark in metrics["per_landmark"]
    ]
    rows.append(["overall", *_figure_cells(metrics, keys)])
    return rows


def _kind_header(metrics: Mapping[str, Any]) -> list[str]:
    return [
        "kind",
        "images",
        *_landmark_header(metrics)[1:],
        "precision",
        "recall",
    ]


def _kind_rows(report: EvaluationReport) -> list[list[str]]:
    """One row per kind: images, the overall figures and detection precision and recall."""
    keys = _pck_keys(report.metrics)
    return [
        [
            kind,
            str(figures["num_images"]),
            *_figure_cells(figures, keys),
            _percent(figures["detection"]["precision"]),
            _percent(figures["detection"]["recall"]),
        ]
        for kind, figures in report.by_kind.items()
    ]


def _detection_line(detection: Mapping[str, Any]) -> str:
    return (
        f"detection at score >= {detection['threshold']:g}: "
        f"precision {_percent(detection['precision'])}, recall {_percent(detection['recall'])} "
        f"(detected {_percent(detection['detected_fraction'])}, "
        f"right {_percent(detection['right_fraction'])} of {detection['num_points']} points)"
    )


def _model_line(model: Mapping[str, Any]) -> str:
    width = model.get("width_multiplier")
    details = ", ".join(
        part
        for part in (
            str(model["architecture"]) if model.get("architecture") else "",
            f"width {width}" if width is not None else "",
        )
        if part
    )
    return f"{model['name']} version {model['version']}" + (f" ({details})" if details else "")


def _filter_line(options: FilterOptions) -> str:
    variations = (
        "any" if options.variation_types is None else ", ".join(map(str, options.variation_types))
    )
    visibility = "all six visible" if options.require_all_visible else "any visibility"
    clothes = ", ".join(map(str, options.clothes_types))
    return f"clothes type {clothes}; variation type {variations}; {visibility}"


def _corruption_line(corruption: str | None) -> str:
    return "none" if corruption is None else f"{corruption} ({describe(corruption)})"


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def format_markdown(report: EvaluationReport) -> str:
    """report.md: what was evaluated, a table per landmark with an overall row, detection
    precision and recall, a row per kind when photos have kinds, and the worst images."""
    metrics, detection = report.metrics, report.detection
    if report.data_format == PHOTOS_FORMAT:
        data_line = (
            f"- Data: `{report.data_dir}`, labelled photos (`{report.labels_file.name}`), "
            f"{report.num_images} images; every landmark counts as visible"
        )
    else:
        data_line = f"- Data: `{report.data_dir}`, In-shop layout, {report.num_images} images"
    lines = [
        "# Landmark evaluation",
        "",
        f"- Model: {_model_line(report.model)}, `{report.model['path']}`",
        data_line,
    ]
    if report.filters is not None:
        lines.append(f"- Filter: {_filter_line(report.filters)}")
    lines += [
        f"- Corruption: {_corruption_line(report.corruption)}",
        f"- Evaluated: {report.evaluated_at}",
        "",
    ]
    rows = _landmark_rows(metrics)
    rows[-1] = [f"**{cell}**" for cell in rows[-1]]  # the overall row
    lines += _markdown_table(_landmark_header(metrics), rows)
    lines += [
        "",
        f"Median pixel error: {_number(metrics['median_pixel_error'], 2)} px.",
        "",
        "Only visible landmarks count. Pixel errors are in each image's own pixels. NE divides "
        "dx by the image width and dy by its height, averages per landmark over the images "
        "where it is visible, then over landmarks (mean px is averaged the same way). PCK@t is "
        "the share of visible landmarks whose normalised distance is at most t; its overall "
        "figure pools all visible landmarks.",
        "",
        "## Detection",
        "",
        f"A landmark is *detected* when its score is at least {detection['threshold']:g} (the "
        "service's rule) and *right* when its normalised distance is below "
        f"{detection['right_distance']:g}. Precision: right among detected; recall: detected "
        "among right.",
        "",
        *_markdown_table(
            ["points", "detected", "right", "right and detected", "precision", "recall"],
            [
                [
                    str(detection["num_points"]),
                    f"{detection['num_detected']} ({_percent(detection['detected_fraction'])})",
                    f"{detection['num_right']} ({_percent(detection['right_fraction'])})",
                    str(detection["num_right_detected"]),
                    _percent(detection["precision"]),
                    _percent(detection["recall"]),
                ]
            ],
        ),
    ]
    if report.by_kind:
        lines += ["", "## By kind", "", *_markdown_table(_kind_header(metrics), _kind_rows(report))]
        unkinded = report.num_images - sum(f["num_images"] for f in report.by_kind.values())
        if unkinded:
            lines += ["", f"{unkinded} images have no kind; they count only in the overall rows."]
    if report.worst:
        lines += [
            "",
            f"## The {len(report.worst)} worst images",
            "",
            "Panels: ground truth (circles) and prediction (dots); predicted classes; classes "
            "over the photo.",
            "",
            "| rank | image | NE | mean px | overlay |",
            "|---:|---|---:|---:|---|",
        ]
        for item in report.worst:
            link = item.overlay.relative_to(report.out_dir).as_posix()
            lines.append(
                f"| {item.rank} | `{item.image_name}` | {item.normalized_error:.4f} | "
                f"{item.mean_pixel_error:.2f} | [{item.overlay.name}]({link}) |"
            )
    return "\n".join(lines) + "\n"


def _fixed_width(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows as terminal lines: the first column left-aligned, the others right-aligned."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return [
        "  ".join(
            [
                row[0].ljust(widths[0]),
                *(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)),
            ]
        )
        for row in rows
    ]


def format_summary(report: EvaluationReport) -> str:
    """The terminal summary: the landmark table, detection, a row per kind, the report's path."""
    metrics = report.metrics
    lines = [
        f"{_model_line(report.model)} on {report.data_dir}: {report.num_images} images"
        + ("" if report.corruption is None else f", corrupted: {report.corruption}"),
        *_fixed_width([_landmark_header(metrics), *_landmark_rows(metrics)]),
        f"median pixel error: {_number(metrics['median_pixel_error'], 2)} px",
        _detection_line(report.detection),
    ]
    if report.by_kind:
        lines += _fixed_width([_kind_header(metrics), *_kind_rows(report)])
    lines.append(f"report: {report.report_md}")
    return "\n".join(lines)
