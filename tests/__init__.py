"""Jimu's test suite; it mirrors the `engine` package."""
