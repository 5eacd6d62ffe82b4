"""Helpers the tests and benchmarks share (servers to start and stop, traffic to send them, …)."""
