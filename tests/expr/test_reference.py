"""docs/expressions.md: the generated function reference is current and every example holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.expr import evaluate
from engine.expr.functions import FUNCTIONS
from engine.expr.reference import EXAMPLE_NOW, shown, updated

DOC = Path(__file__).resolve().parents[2] / "docs" / "expressions.md"
EXAMPLES = [(fn.name, formula, result) for fn in FUNCTIONS for formula, result in fn.examples]


def test_reference_is_current() -> None:
    document = DOC.read_text(encoding="utf-8")
    assert updated(document) == document, "run: python -m engine.expr.reference"


def test_every_function_is_documented_with_an_example() -> None:
    document = DOC.read_text(encoding="utf-8")
    for fn in FUNCTIONS:
        assert fn.examples, fn.name
        assert fn.summary_zh and fn.summary_en, fn.name
        assert f"`{fn.signature()}`" in document, fn.name


@pytest.mark.parametrize(
    ("name", "formula", "result"), EXAMPLES, ids=[f"{n}:{f}" for n, f, _ in EXAMPLES]
)
def test_documented_example(name: str, formula: str, result: str) -> None:
    assert shown(evaluate(formula, {}, {}, now=EXAMPLE_NOW)) == result
