"""Benchmarks: a protocol load generator, a baseline server and the harness that runs both."""
