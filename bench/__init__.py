"""Benchmarks: scripts that measure, beside a baseline measured in the same run; see
docs/benchmarks.md. ``harness`` holds what they share."""
