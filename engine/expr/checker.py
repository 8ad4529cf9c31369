"""Type checking: resolve references against a schema, type every node, insert conversions.

The checked tree is what backends compile. Implicit conversions are made explicit here, once,
so no backend repeats them: a non-text operand of ``&`` or a text parameter is wrapped in
``TEXT(x)``, and a datetime given to a date (or time) parameter in ``DATEVALUE(x)``
(``TIMEVALUE(x)``), both in the organisation's time zone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from engine.expr import ast, numbers
from engine.expr.errors import ExprError, did_you_mean
from engine.expr.functions import FUNCTIONS, Function
from engine.expr.functions.base import type_label
from engine.expr.types import (
    BLANK,
    BOOLEAN,
    DATE,
    ID_KINDS,
    NUMBER,
    RECORD,
    TEXT,
    ExprType,
    FieldInfo,
    normalize_schema,
)

ORDERED_KINDS = frozenset({"number", "text", "date", "datetime", "time"})
LIST_OPS = frozenset({"+", "-", "*", "/", "^", "&"})


class Checker:
    """Checks one formula against one schema; use :func:`check_tree`."""

    def __init__(self, source: str, schema: Mapping[str, FieldInfo]) -> None:
        self.source = source
        self.schema = schema
        # Values of constant numeric sub-trees (by node id), to report overflow such as
        # 9^9^9^9 when the formula is defined instead of silently yielding blank later.
        self.constants: dict[int, Decimal] = {}

    # --- helpers ------------------------------------------------------------------------
    def error(self, code: str, node: ast.Node, **params: Any) -> ExprError:
        return ExprError(code, self.source, node.span, **params)

    def typed(self, node: ast.Node, t: ExprType, **changes: Any) -> ast.Node:
        return dataclasses.replace(node, type=t, **changes)

    def convert(self, node: ast.Node, function: str, t: ExprType) -> ast.Node:
        return ast.Call(node.span, t, function, (node,))

    def to_text(self, node: ast.Node) -> ast.Node:
        assert node.type is not None
        if node.type.kind in ("text", "blank"):
            return node
        if node.type.is_list:
            return ast.Call(node.span, TEXT.as_list(node.type.source or ""), "TEXT", (node,))
        return self.convert(node, "TEXT", TEXT)

    def no_list(self, node: ast.Node, what: str | None = None) -> None:
        assert node.type is not None
        if node.type.is_list:
            label = what or self.source[node.span.offset : node.span.offset + node.span.length]
            raise self.error("list_not_allowed", node, what=label, what_en=label)

    def condition(self, node: ast.Node, where_zh: str, where_en: str) -> None:
        assert node.type is not None
        self.no_list(node)
        if node.type.kind not in ("boolean", "blank"):
            raise self.error(
                "condition_type",
                node,
                where=where_zh,
                where_en=where_en,
                actual_zh=type_label(node.type, "zh"),
                actual_en=node.type.name,
                example="x <> 0" if node.type.kind == "number" else "NOT(ISBLANK(x))",
            )

    # --- dispatch -----------------------------------------------------------------------
    def check(self, node: ast.Node) -> ast.Node:
        if isinstance(node, ast.NumberLit):
            checked = self.typed(node, NUMBER)
            value = numbers.norm(node.value)
            if value is not None:
                self.constants[id(checked)] = value
            return checked
        if isinstance(node, ast.TextLit):
            return self.typed(node, TEXT)
        if isinstance(node, ast.BoolLit):
            return self.typed(node, BOOLEAN)
        if isinstance(node, ast.BlankLit):
            return self.typed(node, BLANK)
        if isinstance(node, ast.Ref):
            return self.ref(node)
        if isinstance(node, ast.Unary):
            return self.unary(node)
        if isinstance(node, ast.Binary):
            return self.binary(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        raise TypeError(f"unknown node {node!r}")  # pragma: no cover

    # --- references ---------------------------------------------------------------------
    def lookup(
        self, fields: Mapping[str, FieldInfo], name: str, braced: bool, node: ast.Ref
    ) -> FieldInfo:
        if name in fields:
            return fields[name]
        if braced:
            matches = [f for f in fields.values() if name in f.labels]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise self.error("ambiguous_field", node, name=name)
        candidates = list(fields) + [label for f in fields.values() for label in f.labels]
        hint_zh, hint_en = did_you_mean(name, candidates)
        raise self.error("unknown_field", node, name=name, hint_zh=hint_zh, hint_en=hint_en)

    def ref(self, node: ast.Ref) -> ast.Node:
        fields = self.schema
        path: list[str] = []
        list_source: str | None = None
        info: FieldInfo | None = None
        for index, (name, braced) in enumerate(zip(node.names, node.braced, strict=True)):
            if info is not None and not info.is_container:
                raise self.error("not_a_relation", node, name=info.key)
            info = self.lookup(fields, name, braced, node)
            path.append(info.key)
            if info.is_container:
                if info.many:
                    if list_source is not None:
                        raise self.error("not_a_relation", node, name=info.key)
                    list_source = ".".join(path)
                fields = info.fields
            elif index + 1 < len(node.names):
                raise self.error("not_a_relation", node, name=info.key)
        assert info is not None
        if info.field_type == "relation":
            # A relation alone is its record's id (a to-many relation: a list of ids).
            t = RECORD.as_list(list_source) if list_source is not None else RECORD
            return self.typed(node, t, path=tuple(path), field_type=info.field_type, scale=None)
        if info.is_container:
            example = next(iter(info.fields), "name")
            raise self.error("needs_subfield", node, name=info.key, example=example)
        if info.kind is None:
            raise self.error("unsupported_field_type", node, name=info.key, type=info.field_type)
        t = ExprType(info.kind)
        if info.is_list:
            if list_source is not None:
                raise self.error("not_a_relation", node, name=info.key)
            t = t.as_list(".".join(path))
        elif list_source is not None:
            t = t.as_list(list_source)
        return self.typed(node, t, path=tuple(path), field_type=info.field_type, scale=info.scale)

    # --- operators ----------------------------------------------------------------------
    def unary(self, node: ast.Unary) -> ast.Node:
        operand = self.check(node.operand)
        assert operand.type is not None
        if node.op == "NOT":
            self.condition(operand, "NOT ", "NOT")
            return self.typed(node, BOOLEAN, operand=operand)
        if operand.type.kind not in ("number", "blank"):
            raise self.error(
                "unary_type",
                node,
                op=node.op,
                operand_zh=type_label(operand.type, "zh"),
                operand_en=operand.type.name,
            )
        t = NUMBER.as_list(operand.type.source or "") if operand.type.is_list else NUMBER
        return self.fold(self.typed(node, t, operand=operand), operand)

    def operand_error(self, node: ast.Binary, left: ExprType, right: ExprType) -> ExprError:
        return self.error(
            "operand_type",
            node,
            op=node.op,
            left_zh=type_label(left, "zh"),
            right_zh=type_label(right, "zh"),
            left_en=left.name,
            right_en=right.name,
        )

    def binary(self, node: ast.Binary) -> ast.Node:
        left = self.check(node.left)
        right = self.check(node.right)
        lt, rt = left.type, right.type
        assert lt is not None and rt is not None
        op = node.op
        if op in ("AND", "OR"):
            self.condition(left, f"{op} ", op)
            self.condition(right, f"{op} ", op)
            return self.typed(node, BOOLEAN, left=left, right=right)
        source: str | None = None
        if lt.is_list or rt.is_list:
            if op not in LIST_OPS:
                self.no_list(left if lt.is_list else right)
            if lt.is_list and rt.is_list and lt.source != rt.source:
                raise self.error("list_mismatch", node, left=lt.source, right=rt.source)
            source = lt.source if lt.is_list else rt.source
        lk, rk = lt.kind, rt.kind
        if op == "&":
            if lk in ID_KINDS or rk in ID_KINDS:
                raise self.operand_error(node, lt, rt)
            result = TEXT
            left, right = self.to_text(left), self.to_text(right)
        elif op in ast.COMPARISON_OPS:
            # Ids compare by id: with the same kind of id, or with a number.
            by_id = {lk, rk} <= {"number", *ID_KINDS} and len({lk, rk} & set(ID_KINDS)) == 1
            if lk != rk and "blank" not in (lk, rk) and not by_id:
                raise self.operand_error(node, lt, rt)
            if op not in ("=", "<>") and lk not in ORDERED_KINDS | {"blank"}:
                raise self.operand_error(node, lt, rt)
            result = BOOLEAN
        else:
            result = self.arithmetic(node, lt, rt)
        t = result.as_list(source) if source is not None else result
        typed = self.typed(node, t, left=left, right=right)
        return self.fold(typed, left, right) if result == NUMBER and op != "/" else typed

    def fold(self, node: ast.Node, *operands: ast.Node) -> ast.Node:
        """Record a constant result; a constant that overflows is a definition error."""
        values = [self.constants.get(id(o)) for o in operands]
        if any(v is None for v in values):
            return node
        if isinstance(node, ast.Unary):
            unary = {"-": numbers.neg, "+": lambda a: a, "%": numbers.percent}[node.op]
            result = unary(values[0])
        else:
            assert isinstance(node, ast.Binary)
            base, exponent = values[0], values[1]
            assert base is not None and exponent is not None
            if node.op == "^" and (
                (base.is_zero() and exponent < 0)
                or (base < 0 and exponent != exponent.to_integral_value())
            ):
                return node  # undefined, not out of range: blank at run time like 1/0
            binary = {"+": numbers.add, "-": numbers.sub, "*": numbers.mul, "^": numbers.power}
            result = binary[node.op](base, exponent)
        if result is None:
            raise self.error("number_overflow", node)
        self.constants[id(node)] = result
        return node

    def arithmetic(self, node: ast.Binary, lt: ExprType, rt: ExprType) -> ExprType:
        lk = "number" if lt.kind == "blank" else lt.kind
        rk = "number" if rt.kind == "blank" else rt.kind
        if lk == rk == "number":
            return NUMBER
        if node.op == "+" and {lk, rk} == {"date", "number"}:
            return DATE
        if node.op == "-" and lk == "date" and rk == "number":
            return DATE
        if node.op == "-" and lk == rk == "date":
            return NUMBER
        raise self.operand_error(node, lt, rt)

    # --- calls --------------------------------------------------------------------------
    def call(self, node: ast.Call) -> ast.Node:
        fn = FUNCTIONS.get(node.name)
        if fn is None and node.name == "OLD":  # rule conditions replace OLD() before checking
            raise self.error("old_outside_rule", node)
        if fn is None:
            hint_zh, hint_en = did_you_mean(node.name, FUNCTIONS.names())
            raise self.error(
                "unknown_function", node, name=node.name, hint_zh=hint_zh, hint_en=hint_en
            )
        fn.check_arity(node, self.source)
        args = [self.check(a) for a in node.args]
        args = [self.argument(fn, node, i, a) for i, a in enumerate(args)]
        types = [a.type for a in args]
        result = fn.result_type(types, node, self.source)  # type: ignore[arg-type]
        return self.typed(node, result, args=tuple(args))

    def argument(self, fn: Function, call: ast.Call, index: int, arg: ast.Node) -> ast.Node:
        param = fn.param_for(index)
        assert param is not None and arg.type is not None
        t = arg.type
        if t.is_list and not param.list_ok:
            self.no_list(arg)
        if t.kind == "blank" or t.kind in param.kinds:
            return arg
        if t.kind in ID_KINDS:
            pass  # an id is never converted (to text, a date...): it is the wrong argument
        elif param.kinds == ("boolean",):
            self.condition(
                arg, f"{fn.name} 的参数 {param.name} ", f"Argument {param.name} of {fn.name}"
            )
        if "text" in param.kinds and t.kind not in ID_KINDS:
            return self.to_text(arg)
        if t.kind == "datetime" and not t.is_list:
            if "date" in param.kinds:
                return self.convert(arg, "DATEVALUE", DATE)
            if "time" in param.kinds:
                return self.convert(arg, "TIMEVALUE", ExprType("time"))
        expected = [ExprType(k) for k in param.kinds]
        raise self.error(
            "arg_type",
            arg,
            name=fn.name,
            index=index + 1,
            param=param.name,
            expected_zh="或".join(type_label(e, "zh") for e in expected),
            expected_en=" or ".join(e.name for e in expected),
            actual_zh=type_label(t, "zh"),
            actual_en=t.name,
        )


def check_tree(
    tree: ast.Node, source: str, schema: Mapping[str, Any] | Mapping[str, FieldInfo] | None
) -> ast.Node:
    """Type-check a parsed tree; return the typed tree or raise ExprError."""
    fields = _fields(schema)
    return Checker(source, fields).check(tree)


def _fields(schema: Mapping[str, Any] | None) -> Mapping[str, FieldInfo]:
    if schema and all(isinstance(v, FieldInfo) for v in schema.values()):
        return schema
    return normalize_schema(schema)
