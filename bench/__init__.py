"""Benchmarks of the suite (`make bench`): figures for docs/benchmarks.md, not tests."""
