"""`python -m training synth --out DIR --count N --seed S [--workers W] [--backgrounds A,B]
[--textures DIR] [--photo-backgrounds DIR]`."""

from __future__ import annotations

import argparse
from pathlib import Path


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _styles(text: str) -> tuple[str, ...]:
    from training.synth.backgrounds import check_styles

    try:
        return check_styles(tuple(part.strip() for part in text.split(",") if part.strip()))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def add_synth_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `python -m training synth`."""
    parser.add_argument("--out", type=Path, required=True, help="data directory (In-shop layout)")
    parser.add_argument("--count", type=_non_negative, required=True, help="number of images")
    parser.add_argument("--seed", type=int, default=0, help="data-set seed (default 0)")
    parser.add_argument(
        "--workers", type=_positive, default=1, help="rendering processes (default 1)"
    )
    parser.add_argument(
        "--backgrounds",
        type=_styles,
        default=None,
        help=(
            "only these background styles, comma-separated: studio, gradient, texture, room, "
            "lab (e.g. room,lab for a set of cluttered scenes; default: all, mixed per pose)"
        ),
    )
    parser.add_argument(
        "--textures",
        type=Path,
        help="a folder of real garment photos (labels not needed): the middle of each becomes "
        "the fabric of a share of the garments instead of a drawn pattern",
    )
    parser.add_argument(
        "--photo-backgrounds",
        type=Path,
        help="a labelled photo folder (labels.csv or landmarks.csv): each photo with its "
        "garment painted over becomes the background of a share of the samples",
    )


def run_synth(args: argparse.Namespace) -> int:
    """Handler of `python -m training synth`: generates the data set and prints a summary."""
    from training.synth import generate_dataset

    try:
        summary = generate_dataset(
            args.out,
            args.count,
            args.seed,
            workers=args.workers,
            backgrounds=args.backgrounds,
            textures=args.textures,
            photo_backgrounds=args.photo_backgrounds,
        )
    except (ValueError, OSError) as error:  # a bad count or folder: a message, not a traceback
        raise SystemExit(f"python -m training synth: error: {error}") from None
    print(summary.describe())
    return 0
