"""The metered evaluation budget (engine.expr.budget, issue 10 finding 3): every call, `&` and
list charges its evaluation; past the budget the evaluation stops with BudgetExceeded, while an
unmetered evaluation of the same formula still gives its value."""

from __future__ import annotations

import pytest

from engine.expr import BudgetExceeded, evaluate

SCHEMA = {"s": "text", "items": {"type": "subform", "fields": {"name": "text", "qty": "number"}}}


@pytest.mark.parametrize(
    ("formula", "record", "cost"),
    [
        ("LEN(REPT(s, 1000))", {"s": "ab"}, 2 + 2000),  # LEN and REPT: 1 each, + 2,000 code points
        ("s & 'x'", {"s": "ab"}, 1 + 3),
        (
            "TEXTJOIN(',', TRUE, items.name)",
            {"items": [{"name": "a"}, {"name": "b"}]},
            1 + 3 + 1 + 2 + 2,
        ),
    ],
)
def test_each_evaluation_is_charged_for_its_work(
    formula: str, record: dict[str, object], cost: int
) -> None:
    assert evaluate(formula, record, SCHEMA, budget=cost) is not None
    with pytest.raises(BudgetExceeded) as raised:
        evaluate(formula, record, SCHEMA, budget=cost - 1)
    assert raised.value.code == "budget_exceeded"
    assert raised.value.limit == cost - 1


def test_unmetered_evaluations_are_never_stopped() -> None:
    formula = " + ".join(["LEN(REPT(s, 99999))"] * 60)
    assert str(evaluate(formula, {"s": "a"}, SCHEMA)) == str(60 * 99999)
    with pytest.raises(BudgetExceeded):
        evaluate(formula, {"s": "a"}, SCHEMA, budget=5_000_000)


def test_only_the_chosen_branch_is_charged() -> None:
    formula = "IF(s = 'a', 'cheap', REPT('x', 99999))"
    assert evaluate(formula, {"s": "a"}, SCHEMA, budget=100) == "cheap"
    with pytest.raises(BudgetExceeded):
        evaluate(formula, {"s": "b"}, SCHEMA, budget=100)
