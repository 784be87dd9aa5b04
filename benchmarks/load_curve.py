"""The service under load: throughput and latency against concurrency and MAX_BATCH_SIZE.

    python -m benchmarks.load_curve --model models/garment_landmarks [--out benchmarks/results]

Drives a real uvicorn server (bench_service's raw client: prebuilt requests on keep-alive
sockets, 640x480 JPEG uploads, the default PNG overlay unless `--overlay false`) at each
concurrency in `--concurrency` with the default MAX_BATCH_SIZE, then at `--batch-concurrency`
with each MAX_BATCH_SIZE in `--batch-sizes` (a server per size). Each point reports
images/s and the p50 / p99 latency of its requests, and the mean batch from /metrics.

The bare model beside it is the SavedModel alone in its own process, run the way an ideal
server with no overhead of its own would run it: batches of b = min(concurrency, batch size)
back to back, so images/s = b / call time, and a request waits for ceil(concurrency / b) calls
(its latency is the sum of that many consecutive call times). Writes `load_curve.txt`
and `load_curve.png` (two panels: against concurrency and against MAX_BATCH_SIZE) to `--out`.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from app.model_runtime import SIGNATURE_NAME, read_metadata, resolve_version_dir
from app.settings import Settings
from benchmarks import bench_service as bench
from benchmarks.harness import LiveServer, start_server, stop_server


@dataclass
class Point:
    """One measured configuration: service and bare model side by side."""

    concurrency: int
    batch_size: int
    service_rate: float
    service_p50_ms: float
    service_p99_ms: float
    mean_batch: float
    bare_rate: float
    bare_p50_ms: float
    bare_p99_ms: float

    def row(self) -> str:
        return (
            f"| {self.concurrency} | {self.batch_size} | {self.service_rate:.1f} | "
            f"{self.bare_rate:.1f} | {self.service_rate / self.bare_rate:.3f} | "
            f"{self.mean_batch:.1f} | {self.service_p50_ms:.0f} / {self.service_p99_ms:.0f} | "
            f"{self.bare_p50_ms:.0f} / {self.bare_p99_ms:.0f} |"
        )


HEADER = (
    "| concurrency | MAX_BATCH_SIZE | service img/s | bare img/s | service / bare | mean batch "
    "| service p50 / p99 ms | bare p50 / p99 ms |\n| ---: | ---: | ---: | ---: | ---: | ---: "
    "| ---: | ---: |"
)


def bare_point(
    bare: bench.BareModel, concurrency: int, batch_size: int, calls: int
) -> tuple[float, float, float]:
    """(images/s, p50 ms, p99 ms) of the ideal server described in the module docstring."""
    batch = min(concurrency, batch_size)
    durations = bare.ask(op="calls", batch=batch, calls=calls)["durations"]
    waits = math.ceil(concurrency / batch)
    # A request's latency: `waits` consecutive calls, taken from the measured sequence.
    latencies = [sum(durations[i : i + waits]) for i in range(len(durations) - waits + 1)]
    rate = batch / statistics.mean(durations)
    return (
        rate,
        bench.percentile_ms(latencies, 50),
        bench.percentile_ms(latencies, 99),
    )


def service_point(
    server: LiveServer,
    image_set: bench.ImageSet,
    overlay: bench.OverlayMode,
    concurrency: int,
    requests: int,
) -> tuple[float, float, float, float]:
    """(images/s, p50 ms, p99 ms, mean batch) of `requests` requests at `concurrency`."""
    block = bench.run_service_block(server, image_set, overlay, requests, concurrency, "raw")
    return (
        block.rate,
        bench.percentile_ms(block.latencies_s, 50),
        bench.percentile_ms(block.latencies_s, 99),
        block.mean_batch,
    )


def measure(
    args: argparse.Namespace, model_dir: Path, work: Path
) -> tuple[list[Point], list[Point]]:
    version_dir = resolve_version_dir(model_dir)
    metadata = read_metadata(version_dir)
    image_set = bench.build_image_set(640, 480)
    inputs = bench.model_inputs([image_set], metadata.size)
    bare = bench.BareModel(model_dir, inputs, 1, SIGNATURE_NAME, work)
    by_concurrency: list[Point] = []
    by_batch: list[Point] = []
    try:
        plan = [(c, args.default_batch_size) for c in args.concurrency]
        plan += [(args.batch_concurrency, b) for b in args.batch_sizes]
        servers: dict[int, LiveServer] = {}
        for index, (concurrency, batch_size) in enumerate(plan):
            if batch_size not in servers:
                for old in servers.values():
                    stop_server(old)
                servers = {
                    batch_size: start_server(
                        work / f"server_{batch_size}.log",
                        {
                            "MODEL_DIR": model_dir,
                            "MAX_BATCH_SIZE": batch_size,
                            "BATCH_WAIT_MS": args.batch_wait_ms,
                            "LOG_LEVEL": "warning",
                        },
                    )
                }
            requests = max(args.min_requests, args.requests_per_client * concurrency)
            rate, p50, p99, mean_batch = service_point(
                servers[batch_size], image_set, args.overlay, concurrency, requests
            )
            bare_calls = max(8, math.ceil(requests / min(concurrency, batch_size)))
            bare_rate, bare_p50, bare_p99 = bare_point(bare, concurrency, batch_size, bare_calls)
            point = Point(
                concurrency, batch_size, rate, p50, p99, mean_batch, bare_rate, bare_p50, bare_p99
            )
            (by_concurrency if index < len(args.concurrency) else by_batch).append(point)
            print(point.row(), flush=True)
        for old in servers.values():
            stop_server(old)
    finally:
        bare.close()
    return by_concurrency, by_batch


def plot(by_concurrency: list[Point], by_batch: list[Point], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 2, figsize=(10, 7), sharex="col")
    for column, (points, key, label) in enumerate(
        (
            (by_concurrency, "concurrency", "concurrent clients (MAX_BATCH_SIZE 8)"),
            (by_batch, "batch_size", f"MAX_BATCH_SIZE (concurrency {by_batch[0].concurrency})"),
        )
    ):
        xs = [getattr(point, key) for point in points]
        rate_axis, latency_axis = axes[0][column], axes[1][column]
        rate_axis.plot(xs, [p.service_rate for p in points], "o-", label="service")
        rate_axis.plot(xs, [p.bare_rate for p in points], "s--", label="bare model")
        rate_axis.set_ylabel("images / s")
        rate_axis.set_ylim(bottom=0)
        rate_axis.legend()
        for name, values, style in (
            ("service p50", [p.service_p50_ms for p in points], "o-"),
            ("service p99", [p.service_p99_ms for p in points], "o:"),
            ("bare p50", [p.bare_p50_ms for p in points], "s--"),
            ("bare p99", [p.bare_p99_ms for p in points], "s:"),
        ):
            latency_axis.plot(xs, values, style, label=name)
        latency_axis.set_ylabel("latency, ms")
        latency_axis.set_xscale("log", base=2)
        latency_axis.set_xticks(xs, [str(x) for x in xs])
        latency_axis.set_xlabel(label)
        latency_axis.legend(fontsize="small")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--overlay", choices=bench.OVERLAY_MODES, default="png")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32])
    parser.add_argument("--default-batch-size", type=int, default=bench.DEFAULT_BATCH_SIZE)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument("--batch-concurrency", type=int, default=16)
    parser.add_argument(
        "--batch-wait-ms",
        type=float,
        default=Settings.model_fields["BATCH_WAIT_MS"].default,
        help="the servers' BATCH_WAIT_MS (default: the service's default)",
    )
    parser.add_argument("--requests-per-client", type=int, default=8)
    parser.add_argument("--min-requests", type=int, default=48)
    args = parser.parse_args(argv)
    model_dir = args.model.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        by_concurrency, by_batch = measure(args, model_dir, Path(scratch))
    version_dir = resolve_version_dir(model_dir)
    title = (
        f"{version_dir.parent.name} version {version_dir.name}, 640x480 JPEG, "
        f"overlay {args.overlay}, 2 vCPUs"
    )
    command = " ".join(["python", "-m", "benchmarks.load_curve", *(argv or sys.argv[1:])])
    text = "\n".join(
        [
            f"{title}\n{command}\n",
            "Against concurrency:\n",
            HEADER,
            *(p.row() for p in by_concurrency),
            "\nAgainst MAX_BATCH_SIZE:\n",
            HEADER,
            *(p.row() for p in by_batch),
        ]
    )
    (args.out / "load_curve.txt").write_text(text + "\n", encoding="utf-8")
    plot(by_concurrency, by_batch, args.out / "load_curve.png", title)
    print(text)
    print(f"wrote {args.out / 'load_curve.txt'} and {args.out / 'load_curve.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
