"""The load test of benchmarks/load_test.py at CI size, on a real uvicorn server.

300 requests from 32 concurrent clients against a queue of 8 images, so that the documented
overload answer (503 with Retry-After) occurs; `make load` runs the full 2,000 requests.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.load_test import LoadConfig, LoadReport, run_load_test

pytestmark = pytest.mark.slow

CI_LOAD = LoadConfig(requests=300, concurrency=32, warmup=150, queue_length=8, max_seconds=150)


@pytest.fixture(scope="module")
def load_report(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> LoadReport:
    report = run_load_test(tiny_model_dir, CI_LOAD, tmp_path_factory.mktemp("load"))
    print(report.summary())
    return report


def test_load_finishes_in_time_with_requests_accepted(load_report: LoadReport) -> None:
    assert not load_report.timed_out
    assert load_report.run.attempts == CI_LOAD.requests
    assert load_report.run.accepted >= CI_LOAD.requests // 4, load_report.summary()


def test_load_answers_only_200_or_documented_503(load_report: LoadReport) -> None:
    # Any other status, a 503 without Retry-After or with another detail, or a transport error
    # lands in `errors`.
    assert dict(load_report.warmup.errors) == {}
    assert dict(load_report.run.errors) == {}
    assert load_report.warmup.rejected + load_report.run.rejected > 0, "the queue never filled"


def test_load_answers_every_accepted_request_like_the_savedmodel(
    load_report: LoadReport,
) -> None:
    assert load_report.warmup.wrong_count == 0, load_report.warmup.wrong
    assert load_report.run.wrong_count == 0, load_report.run.wrong


def test_load_keeps_rss_within_ten_percent_of_warm_up(load_report: LoadReport) -> None:
    assert load_report.rss_growth <= 0.10, load_report.summary()


def test_load_leaves_the_server_ready_without_tracebacks(load_report: LoadReport) -> None:
    assert load_report.ready_after
    assert not load_report.traceback_in_log
    assert load_report.failures() == []
