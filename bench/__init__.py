"""Benchmarks: they print figures beside floors from the same run, and fail on errors."""
