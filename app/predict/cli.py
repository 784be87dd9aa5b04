"""The run (files in, records out, at most a window in flight) and its command line."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections import deque
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from PIL import Image
from pydantic import ValidationError

from app.errors import LandmarkServiceError
from app.overlay import OverlayFormat
from app.pipeline import AnalysisOptions
from app.predict.answerers import Answer, Answerer, LocalAnswerer, Outcome, RemoteAnswerer
from app.predict.errors import FileError, UsageError
from app.predict.files import find_images, overlay_paths, read_image_file
from app.predict.output import Progress, RecordWriter
from app.service import configure_logging
from app.settings import Settings

PROG = "python -m app.predict"
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

# === The run ===


@dataclasses.dataclass(frozen=True)
class RunPlan:
    """The parsed command line."""

    files: list[Path]
    options: AnalysisOptions
    output_format: str
    output: Path | None
    overlay_targets: list[Path] | None
    embed_overlay: bool
    progress: bool


async def run(
    answerer: Answerer,
    plan: RunPlan,
    stream: TextIO,
    stderr: TextIO,
    *,
    records_on_terminal: bool = False,
) -> int:
    """Answers every file of the plan and writes the records to `stream` in input order.

    Args:
        answerer: local or remote.
        plan: the files and options.
        stream: where the records go.
        stderr: where failures and the progress bar go.
        records_on_terminal: `stream` is the terminal the bar is drawn on, so the bar is
            cleared around each record.

    Returns:
        EXIT_OK, or EXIT_FAILED when some file could not be answered.

    Raises:
        UsageError: from the answerer (a key or query value the server refuses).
    """
    keep_overlay = plan.overlay_targets is not None
    writer = RecordWriter(stream, plan.output_format, answerer.landmark_names)
    progress = Progress(len(plan.files), stderr, plan.progress)
    header = writer.header()
    if header is not None:
        writer.write(header)
    progress.start()

    async def answer_one(index: int) -> Outcome:
        path = plan.files[index]
        try:
            data = await asyncio.to_thread(read_image_file, path, answerer.max_upload_bytes)
            answer = await answerer.answer(
                data, plan.options, embed=plan.embed_overlay, keep_overlay=keep_overlay
            )
            # Formatting (a megabyte of base64 with --embed-overlay) and the overlay file
            # are blocking work: off the loop.
            return await asyncio.to_thread(_finish, writer, plan, index, answer)
        except (FileError, LandmarkServiceError) as exc:
            message = exc.message if isinstance(exc, LandmarkServiceError) else str(exc)
            return Outcome(path, error=message)

    failures = 0

    def consume(outcome: Outcome) -> None:
        nonlocal failures
        if outcome.error is not None:
            failures += 1
            with progress.suspended():
                print(f"{outcome.path}: {outcome.error}", file=stderr, flush=True)
        elif outcome.record is not None:
            if records_on_terminal:
                with progress.suspended():
                    writer.write(outcome.record)
            else:
                writer.write(outcome.record)
        progress.advance(failed=outcome.error is not None)

    try:
        await _in_order(len(plan.files), answer_one, answerer.window, consume)
    finally:
        progress.close()
    if failures:
        print(
            f"{failures} of {len(plan.files)} files failed; the others were answered",
            file=stderr,
        )
        return EXIT_FAILED
    return EXIT_OK


def _finish(writer: RecordWriter, plan: RunPlan, index: int, answer: Answer) -> Outcome:
    """Writes the overlay file, if any, and formats the record (in a worker thread)."""
    path = plan.files[index]
    if plan.overlay_targets is not None:
        if answer.overlay_image is None:
            raise FileError("the answer carries no overlay")
        target = plan.overlay_targets[index]
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(answer.overlay_image)
        except OSError as exc:
            raise FileError(f"cannot write the overlay {target}: {exc.strerror or exc}") from exc
    return Outcome(path, record=writer.record(path, answer.body))


async def _in_order(
    count: int,
    work: Callable[[int], Coroutine[Any, Any, Outcome]],
    window: int,
    consume: Callable[[Outcome], None],
) -> None:
    """Runs `work(0..count-1)` with at most `window` in flight, consuming results in order.

    In order, so that the output lines follow the inputs; the window bounds the decoded photos
    held at once, while keeping enough in flight for the batcher to fill its batches.
    """
    pending: deque[asyncio.Task[Outcome]] = deque()
    try:
        for index in range(count):
            pending.append(asyncio.create_task(work(index)))
            if len(pending) >= window:
                consume(await pending.popleft())
        while pending:
            consume(await pending.popleft())
    finally:
        # A fatal error or an interrupt: the files still in flight are abandoned.
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


# === The command line ===

_DESCRIPTION = """\
Finds the six garment landmarks in image files with the service's model and settings, without
a server; or, with --url, asks a running server. Prints one JSON line per image: the body POST
/landmarks returns for that file with the same query options (overlay=false unless
--embed-overlay), plus the file's path in "file". Or CSV rows with --format csv.
"""

_EPILOG = """\
Settings: the service's LANDMARKS_* environment variables apply as they do to the server
(MODEL_DIR, FLIP_AVERAGE, DETECTION_THRESHOLD, MAX_PIXELS, MAX_UPLOAD_BYTES, MAX_BATCH_SIZE,
BATCH_WAIT_MS, QUEUE_LENGTH, QUEUE_TIMEOUT_S, WORKERS_THREADS, LOG_LEVEL), so the answers equal
the API's. With --url the server's own settings apply.

Bad files are reported on stderr as "<file>: <the API's error message>" and skipped.

Overlays: --overlay-dir DIR writes each file's overlay (the API's overlay image) at its path
below the inputs' common folder, inside DIR, with the suffix .png or .jpg.

Exit status: 0 all files answered; 1 some file failed; 2 usage error (bad options, an input
that matches no file, an unusable model directory, an unreachable server or a refused key).

Examples:
  python -m app.predict examples/photos > landmarks.jsonl
  python -m app.predict 'photos/**/*.jpg' --format csv --output landmarks.csv
  python -m app.predict examples/photos --overlay-dir overlays --overlay-format jpeg
  python -m app.predict examples/photos --url http://localhost:8000 --api-key "$KEY"
"""


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="image files, folders (searched recursively for .jpg, .jpeg, .png, .webp and "
        ".bmp files) or glob patterns (quoted; ** spans folders)",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--model",
        type=Path,
        metavar="DIR",
        help="models/<name> (its highest version) or models/<name>/<version> "
        "(default: LANDMARKS_MODEL_DIR, else models/garment_landmarks)",
    )
    source.add_argument(
        "--url",
        help="ask the server at URL (e.g. http://localhost:8000) instead of loading the model",
    )
    parser.add_argument(
        "--api-key",
        metavar="KEY",
        help="with --url: the server's key, sent as X-API-Key (default: LANDMARKS_API_KEY)",
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="FILE",
        help="write the records to FILE (.jsonl or .csv) instead of stdout",
    )
    parser.add_argument(
        "--format",
        choices=("jsonl", "csv"),
        help="jsonl: the API's JSON body per line; csv: file, width, height, then x, y, "
        "probability, detected per landmark (default: csv when FILE ends in .csv, else jsonl)",
    )
    parser.add_argument(
        "--top-k",
        type=_non_negative_int,
        default=0,
        metavar="N",
        help="the API's top_k: also list up to N candidate peaks per landmark (jsonl only; "
        "default 0)",
    )
    parser.add_argument(
        "--overlay-dir",
        type=Path,
        metavar="DIR",
        help="write each file's overlay image into DIR",
    )
    parser.add_argument(
        "--overlay-format",
        choices=("png", "jpeg"),
        default="png",
        help="the API's overlay_format: the overlay's encoding (default png)",
    )
    parser.add_argument(
        "--embed-overlay",
        action="store_true",
        help="keep the base64 overlay in each JSON line, as the API's overlay=true",
    )
    parser.add_argument(
        "--concurrency",
        type=_positive_int,
        metavar="N",
        help="images in flight at once (default: 2 x MAX_BATCH_SIZE, at most QUEUE_LENGTH; "
        "with --url the server's)",
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a progress bar on stderr (default: when stderr is a terminal)",
    )
    return parser


def make_plan(args: argparse.Namespace, stderr: TextIO) -> RunPlan:
    """Checks the options against each other and finds the files.

    Raises:
        UsageError: contradictory options, an input that matches nothing, or an output or
            overlay folder that cannot be written.
    """
    if args.api_key is not None and args.url is None:
        raise UsageError("--api-key goes with --url")
    output: Path | None = args.output
    output_format: str = args.format or (
        "csv" if output is not None and output.suffix.lower() == ".csv" else "jsonl"
    )
    if output_format == "csv" and args.top_k > 0:
        raise UsageError("--top-k needs --format jsonl: CSV has no columns for candidates")
    if output_format == "csv" and args.embed_overlay:
        raise UsageError("--embed-overlay needs --format jsonl")
    if output is not None and not output.parent.is_dir():
        raise UsageError(f"--output {output}: the folder {output.parent} does not exist")
    files = find_images(args.inputs)
    overlay_targets = None
    if args.overlay_dir is not None:
        try:
            args.overlay_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"--overlay-dir {args.overlay_dir}: {exc.strerror or exc}") from exc
        overlay_targets = overlay_paths(files, args.overlay_dir, args.overlay_format)
    overlay_format: OverlayFormat = args.overlay_format
    return RunPlan(
        files=files,
        options=AnalysisOptions(
            top_k=args.top_k,
            overlay=args.embed_overlay or overlay_targets is not None,
            overlay_format=overlay_format,
        ),
        output_format=output_format,
        output=output,
        overlay_targets=overlay_targets,
        embed_overlay=args.embed_overlay,
        progress=_is_terminal(stderr) if args.progress is None else args.progress,
    )


def load_settings(model_dir: Path | None) -> Settings:
    """The service's settings from the environment, MODEL_DIR replaced by --model if given.

    Raises:
        UsageError: a LANDMARKS_* variable is invalid.
    """
    try:
        return Settings() if model_dir is None else Settings(MODEL_DIR=model_dir)
    except ValidationError as exc:
        problems = "; ".join(
            f"LANDMARKS_{'.'.join(str(part) for part in error['loc']) or 'settings'}: "
            f"{error['msg']}"
            for error in exc.errors()
        )
        raise UsageError(f"invalid settings: {problems}") from exc


def _base_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"--url {url}: expected http://host:port or https://host:port")
    return url.rstrip("/")


def _api_key(args: argparse.Namespace) -> str | None:
    key: str | None = args.api_key
    if key is None:
        # The server's own variable, so that a client beside it needs no flag.
        key = os.environ.get("LANDMARKS_API_KEY", "").strip() or None
    return key


async def _main(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    plan = make_plan(args, stderr)
    answerer: LocalAnswerer | RemoteAnswerer
    if args.url is not None:
        answerer = await RemoteAnswerer.connect(
            _base_url(args.url), _api_key(args), args.concurrency
        )
    else:
        settings = load_settings(args.model)
        configure_logging(settings.LOG_LEVEL)
        answerer = await LocalAnswerer.start(settings, args.concurrency)
    try:
        answerer.check_options(plan.options)
        # Opened only now, so that a run that cannot start leaves an existing file alone.
        with _open_output(plan.output, stdout) as stream:
            return await run(
                answerer,
                plan,
                stream,
                stderr,
                records_on_terminal=plan.output is None and _is_terminal(stdout),
            )
    finally:
        await answerer.aclose()


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command; returns its exit status.

    Args:
        argv: the arguments (default: sys.argv[1:]).
    """
    args = build_parser().parse_args(argv)  # exits 2 itself on a malformed command line
    stdout, stderr = sys.stdout, sys.stderr
    try:
        with warnings.catch_warnings():
            # PIL warns about a header over its pixel limit before `decode_image` refuses the
            # file with the API's message; the warning would only repeat that on stderr.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return asyncio.run(_main(args, stdout, stderr))
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`| head`): nothing left to write to. Point stdout at devnull
        # so that the interpreter's final flush does not fail a second time.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILED


@contextmanager
def _open_output(path: Path | None, stdout: TextIO) -> Iterator[TextIO]:
    if path is None:
        yield stdout
        return
    try:
        stream = path.open("w", encoding="utf-8", newline="")
    except OSError as exc:
        raise UsageError(f"--output {path}: {exc.strerror or exc}") from exc
    with stream:
        yield stream


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
