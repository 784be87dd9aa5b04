"""Benchmarks and load tests; run them as `python -m benchmarks.<name>` from the repository root."""
