"""Formula evaluation speed: Jimu's Python backend vs asteval vs hand-written Python.

One run measures, on the same pre-generated records, evaluations per second of
  - Jimu: the compiled closure of a checked formula (``compile_formula(...).run``), both with
    strict reads (every value coerced, the default) and trusted reads (values already typed
    by the store, as the record pipeline calls it),
  - asteval 1.x, hardened (minimal=True plus the conditional expressions and list
    comprehensions these formulas need, no numpy, read-only builtins) and pre-parsed, with a
    ROUND helper as Jimu has,
  - a hand-written Python function with the same blank and Decimal semantics,
and prints ratios. Usage: ``python bench/expr_bench.py [--records N] [--seconds S]``.
Also ``--sql-rows N`` runs the 1M-row filter comparison (see bench/expr_sql_bench.py).
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from asteval import Interpreter

from engine.expr import EvalContext, compile_formula, evaluate

ZERO = Decimal(0)
THOUSAND = Decimal(1000)
RATE = Decimal("0.9")
Q10 = Decimal("1e-10")
CENT = Decimal("0.01")

SCHEMA = {
    "amount": {"type": "money", "precision": 2},
    "name": "text",
    "city": "text",
    "code": "text",
    "items": {
        "type": "subform",
        "fields": {"qty": "integer", "price": {"type": "money", "precision": 2}},
    },
}


def make_records(n: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    cities = ["上海", "北京", "深圳", None]
    records = []
    for i in range(n):
        items = [
            {
                "qty": Decimal(rng.randint(1, 20)),
                "price": None if rng.random() < 0.1 else Decimal(rng.randint(100, 99999)) / 100,
            }
            for _ in range(rng.randint(0, 8))
        ]
        records.append(
            {
                "amount": None if rng.random() < 0.05 else Decimal(rng.randint(0, 500000)) / 100,
                "name": f"客户{i}",
                "city": rng.choice(cities),
                "code": f"C{i:05d}",
                "items": items,
            }
        )
    return records


# --- hand-written equivalents (same blank and Decimal semantics) ---------------------------
def hand_if(r: dict[str, Any], ctx: Any = None) -> Any:
    a = r.get("amount")
    if a is not None and a > THOUSAND:
        return (a * RATE).quantize(Q10, ROUND_HALF_UP)
    return a


def hand_sum(r: dict[str, Any], ctx: Any = None) -> Any:
    total = ZERO
    for row in r.get("items") or ():
        total += (row.get("qty") or ZERO) * (row.get("price") or ZERO)
    return total.quantize(CENT, ROUND_HALF_UP)


def hand_text(r: dict[str, Any], ctx: Any = None) -> Any:
    text = (r.get("name") or "") + "-" + (r.get("city") or "") + "-" + (r.get("code") or "")
    return text or None


# --- asteval -------------------------------------------------------------------------------
def round_half_up(x: Decimal, places: int) -> Decimal:
    return x.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)


def asteval_runner(source: str) -> Callable[[dict[str, Any], Any], Any]:
    interp = Interpreter(
        minimal=True,
        use_numpy=False,
        builtins_readonly=True,
        config={"ifexp": True, "listcomp": True},
    )
    interp.symtable.update(rate=RATE, ROUND=round_half_up, ZERO=ZERO)
    node = interp.parse(source)
    symtable = interp.symtable
    run = interp.run

    def evaluate_one(record: dict[str, Any], ctx: Any = None) -> Any:
        symtable.update(record)
        return run(node)

    return evaluate_one


CASES = [
    (
        "IF on a number",
        "IF(amount > 1000, amount * 0.9, amount)",
        "(amount * rate if (amount is not None and amount > 1000) else amount)",
        hand_if,
    ),
    (
        "SUM/ROUND over a subform",
        "ROUND(SUM(items.qty * items.price), 2)",
        "ROUND(sum([(row['qty'] or ZERO) * (row['price'] or ZERO) for row in items], ZERO), 2)",
        hand_sum,
    ),
    (
        "text concatenation",
        'name & "-" & city & "-" & code',
        "(name or '') + '-' + (city or '') + '-' + (code or '')",
        hand_text,
    ),
]


def rates(
    contenders: list[Callable[[dict[str, Any], Any], Any]],
    records: list[dict[str, Any]],
    ctx: EvalContext,
    seconds: float,
) -> list[float]:
    """Evaluations per second of each contender: the best of interleaved passes.

    Contenders take turns, one pass over the records each, until ``seconds`` have passed, so
    every ratio compares passes made under the same machine conditions. All are called the
    same way, ``fn(record, ctx)``.
    """
    best = [0.0] * len(contenders)
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or not all(best):
        for index, fn in enumerate(contenders):
            start = time.perf_counter()
            for record in records:
                fn(record, ctx)
            best[index] = max(best[index], len(records) / (time.perf_counter() - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    records = make_records(args.records)
    ctx = EvalContext.create()
    print(
        f"{args.records} records, best of interleaved passes over {args.seconds:.1f} s per formula\n"
    )
    header = ("formula", "reads", "jimu/s", "asteval/s", "hand/s", "vs asteval", "vs hand")
    print("{:26} {:8} {:>11} {:>11} {:>11} {:>11} {:>8}".format(*header))
    for title, formula, asteval_source, hand in CASES:
        ast_run = asteval_runner(asteval_source)
        strict = compile_formula(formula, SCHEMA).run
        trusted = compile_formula(formula, SCHEMA, trusted=True).run
        for record in records[:200]:  # all contenders agree before they are timed
            expected = hand(record)
            assert strict(record, ctx) == expected, (formula, record)
            assert trusted(record, ctx) == expected, (formula, record)
            assert ast_run(record, ctx) == expected, (asteval_source, record)
            assert evaluate(formula, record, SCHEMA) == expected
        measured = rates([strict, trusted, ast_run, hand], records, ctx, args.seconds)
        other, manual = measured[2], measured[3]
        for reads, jimu in zip(("strict", "trusted"), measured[:2], strict=True):
            print(
                f"{title:26} {reads:8} {jimu:11,.0f} {other:11,.0f}"
                f" {manual:11,.0f} {jimu / other:10.1f}x {jimu / manual:7.2f}x"
            )


if __name__ == "__main__":
    main()
