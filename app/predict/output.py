"""What a run writes: one JSON line or CSV row per file, in input order, and progress on stderr."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO


class RecordWriter:
    """Formats answers as JSON lines or CSV rows and writes them to the output."""

    def __init__(self, stream: TextIO, output_format: str, landmark_names: Sequence[str]) -> None:
        self._stream = stream
        self._format = output_format
        self._names = tuple(landmark_names)

    def header(self) -> str | None:
        """The CSV header line (JSON lines have none)."""
        if self._format != "csv":
            return None
        columns = ["file", "width", "height"]
        for name in self._names:
            columns += [f"{name}_x", f"{name}_y", f"{name}_probability", f"{name}_detected"]
        return _csv_line(columns)

    def record(self, path: Path, body: dict[str, Any]) -> str:
        """One file's line, newline included."""
        if self._format == "csv":
            by_name = {landmark["name"]: landmark for landmark in body["landmarks"]}
            row: list[object] = [str(path), body["image"]["width"], body["image"]["height"]]
            for name in self._names:
                landmark = by_name[name]
                detected = "true" if landmark["detected"] else "false"
                row += [landmark["x"], landmark["y"], landmark["probability"], detected]
            return _csv_line(row)
        line = {"file": str(path), **body}
        return json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n"

    def write(self, text: str) -> None:
        """Writes and flushes, so that a reader of a pipe sees each file as it is answered."""
        self._stream.write(text)
        self._stream.flush()


def _csv_line(values: Sequence[object]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()


class Progress:
    """A one-line progress bar on stderr, redrawn in place (tqdm is not a dependency)."""

    _WIDTH = 24
    _REDRAW_S = 0.1

    def __init__(self, total: int, stream: TextIO, enabled: bool) -> None:
        self._total = total
        self._stream = stream
        self._enabled = enabled
        self._done = 0
        self._failed = 0
        self._started = time.monotonic()
        self._drawn_at = 0.0
        self._shown = 0

    def start(self) -> None:
        """Shows the empty bar, so that a slow first batch does not look like a hang."""
        self._draw(time.monotonic())

    def advance(self, failed: bool) -> None:
        """Counts one finished file."""
        self._done += 1
        self._failed += int(failed)
        now = time.monotonic()
        # Redrawing on every file would cost more than a small image's answer.
        if now - self._drawn_at >= self._REDRAW_S or self._done == self._total:
            self._draw(now)

    @contextmanager
    def suspended(self) -> Iterator[None]:
        """Clears the bar while something else is printed to the terminal, then redraws it."""
        if not self._enabled or not self._shown:
            yield
            return
        self._stream.write("\r" + " " * self._shown + "\r")
        self._shown = 0
        try:
            yield
        finally:
            self._draw(time.monotonic())

    def close(self) -> None:
        """Ends the bar's line."""
        if self._enabled and self._shown:
            self._stream.write("\n")
            self._stream.flush()
            self._shown = 0

    def _draw(self, now: float) -> None:
        if not self._enabled:
            return
        self._drawn_at = now
        fraction = self._done / self._total if self._total else 1.0
        filled = round(fraction * self._WIDTH)
        elapsed = now - self._started
        rate = self._done / elapsed if elapsed > 0 else 0.0
        text = f"[{'#' * filled}{'.' * (self._WIDTH - filled)}] {self._done}/{self._total} images"
        if self._failed:
            text += f", {self._failed} failed"
        if rate > 0:
            remaining = (self._total - self._done) / rate
            text += f", {rate:.1f}/s, {remaining:.0f} s left"
        # Pad over the previous text: it may have been longer.
        self._stream.write("\r" + text.ljust(self._shown))
        self._stream.flush()
        self._shown = len(text)
