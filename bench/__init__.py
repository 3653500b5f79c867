"""Benchmarks and reliability drills for regieflow (see docs/PERFORMANCE.md and docs/RELIABILITY.md)."""
