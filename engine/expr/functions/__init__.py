"""The function library: one registry of every built-in function, filled from each family."""

from __future__ import annotations

from engine.core.registry import Registry
from engine.expr.functions.base import ALL_BACKENDS, Function, Param

FUNCTIONS: Registry[Function] = Registry("expression function")


def _register_builtins() -> None:
    import importlib

    for family in ("logic", "maths", "texts", "dates", "people"):
        module = importlib.import_module(f"engine.expr.functions.{family}")
        for fn in module.FUNCTIONS:
            FUNCTIONS.register(fn.name, fn)


_register_builtins()

__all__ = ["ALL_BACKENDS", "FUNCTIONS", "Function", "Param"]
