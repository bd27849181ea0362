"""Factories and helpers for tests: nothing in xdsspy imports this package."""
