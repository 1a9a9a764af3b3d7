"""Benchmarks that print figures with their settings (speed targets live here, not in tests)."""
