"""Prometheus metrics, in a registry per app so that tests can build several apps side by side."""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    generate_latest,
)

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_BATCH_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64, 128)


class ServiceMetrics:
    """The service's metrics; also the batcher's `BatchObserver`."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "landmarks_http_requests",
            "HTTP requests by route template, method and status code.",
            ("route", "method", "status"),
            registry=self.registry,
        )
        self.request_latency = Histogram(
            "landmarks_http_request_duration_seconds",
            "Time from request start to the end of the response, by route template.",
            ("route",),
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queue_wait = Histogram(
            "landmarks_queue_wait_seconds",
            "Time an image waited in the batching queue before its model call started.",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.inference_time = Histogram(
            "landmarks_inference_seconds",
            "Duration of one batched model call.",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "landmarks_batch_size",
            "Images per model call actually achieved by the micro-batcher.",
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.images_in_flight = Gauge(
            "landmarks_images_in_flight",
            "Images admitted and not yet answered (decoding, queued or in the model).",
            registry=self.registry,
        )
        self.ready = Gauge(
            "landmarks_model_ready",
            "1 when the model is loaded and warmed up, else 0.",
            registry=self.registry,
        )
        self.model_info = Info("landmarks_model", "The model being served.", registry=self.registry)

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """Counts one finished HTTP request."""
        self.requests.labels(route=route, method=method, status=str(status)).inc()
        self.request_latency.labels(route=route).observe(seconds)

    def observe_queue_wait(self, seconds: float) -> None:
        """Records how long one image waited before its model call (BatchObserver)."""
        self.queue_wait.observe(seconds)

    def observe_batch(self, size: int, inference_seconds: float) -> None:
        """Records one model call's batch size and duration (BatchObserver)."""
        self.batch_size.observe(size)
        self.inference_time.observe(inference_seconds)

    def render(self) -> bytes:
        """The registry in Prometheus text exposition format."""
        return generate_latest(self.registry)
