"""Jimu (积木): a metadata-driven no-code application builder."""

__version__ = "0.1.0"
