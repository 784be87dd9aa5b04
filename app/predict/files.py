"""Which files a run answers, where their overlays go, and reading them within the upload limit."""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from pathlib import Path

from app.errors import (
    EmptyInputError,
    PayloadTooLargeError,
)
from app.predict.errors import FileError, UsageError

# What a folder walk picks up (case-insensitive). Files named explicitly or matched by a glob
# are taken whatever their name: the bytes are sniffed, as the API does.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".webp", ".bmp"})
OVERLAY_SUFFIXES: dict[str, str] = {"png": ".png", "jpeg": ".jpg"}
_GLOB_CHARACTERS = frozenset("*?[")


def find_images(inputs: Sequence[str]) -> list[Path]:
    """Expands the command line's inputs into image files, in order, each once.

    Args:
        inputs: folders (walked recursively for files with an image suffix, sorted), glob
            patterns (`**` spans folders; every matching file, sorted) or file paths.

    Raises:
        UsageError: an input matches no file.
    """
    found: dict[Path, None] = {}
    for item in inputs:
        matches = _expand(item)
        if not matches:
            raise UsageError(f"{item}: {_why_nothing_matched(item)}")
        found.update(dict.fromkeys(matches))
    return list(found)


def _expand(item: str) -> list[Path]:
    path = Path(item)
    if path.is_dir():
        return sorted(
            child
            for child in path.rglob("*")
            if child.suffix.lower() in IMAGE_SUFFIXES and child.is_file()
        )
    if path.is_file():
        return [path]
    if _GLOB_CHARACTERS & set(item):
        return sorted(
            Path(match) for match in glob.glob(item, recursive=True) if Path(match).is_file()
        )
    return []


def _why_nothing_matched(item: str) -> str:
    if Path(item).is_dir():
        suffixes = ", ".join(sorted(IMAGE_SUFFIXES))
        return f"the folder holds no image files (looked for {suffixes}, recursively)"
    if _GLOB_CHARACTERS & set(item):
        return "the pattern matched no files"
    return "no such file or folder"


def overlay_paths(files: Sequence[Path], overlay_dir: Path, overlay_format: str) -> list[Path]:
    """Where each file's overlay goes: its path below the inputs' common folder, in `overlay_dir`.

    The suffix becomes the overlay's (`.png` or `.jpg`); where that would give two inputs the
    same overlay, or name an input itself, the input's whole name is kept and the overlay's
    suffix appended instead (`a.png` -> `a.png.png`), so no overlay overwrites another or a photo.
    """
    suffix = OVERLAY_SUFFIXES[overlay_format]
    absolute = [Path(os.path.abspath(path)) for path in files]
    root = Path(os.path.commonpath([path.parent for path in absolute]))
    relative = [path.relative_to(root) for path in absolute]
    plain = [overlay_dir / path.with_suffix(suffix) for path in relative]
    counts: dict[Path, int] = {}
    for target in plain:
        key = Path(os.path.abspath(target))
        counts[key] = counts.get(key, 0) + 1
    inputs = set(absolute)
    targets = []
    for path, target in zip(relative, plain, strict=True):
        key = Path(os.path.abspath(target))
        if counts[key] > 1 or key in inputs:
            target = overlay_dir / path.with_name(path.name + suffix)
        targets.append(target)
    return targets


def read_image_file(path: Path, max_bytes: int) -> bytes:
    """Reads one image file, refusing it as the API refuses such an upload.

    Raises:
        PayloadTooLargeError: over MAX_UPLOAD_BYTES (checked before reading it).
        EmptyInputError: 0 bytes.
        FileError: the file cannot be read.
    """
    try:
        size = path.stat().st_size
        if size > max_bytes:
            # The API's words for a raw upload over the limit (app/uploads.py), so that local
            # and --url runs report such a file alike.
            raise PayloadTooLargeError(
                f"the request body is {size} bytes; the limit is {max_bytes} bytes"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise FileError(f"cannot read the file: {exc.strerror or exc}") from exc
    if not data:
        # decode_image's words for the same case; checked here too so that --url mode does not
        # send an empty body (the API's message for that speaks of multipart fields).
        raise EmptyInputError("the image is empty (0 bytes)")
    return data
