"""Benchmarks: runnable as `python -m bench.<name>`; results are reported, not asserted."""
