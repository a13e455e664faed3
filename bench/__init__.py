"""Benchmarks: they print figures and assert nothing (see bench/__main__.py)."""
