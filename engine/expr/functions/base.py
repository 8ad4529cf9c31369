"""What a function of the language is: its signature, type rule, documentation and Python code.

Each backend owns a table of emitters keyed by function name (``engine.expr.sql``,
``engine.expr.js``); a test proves every function here has one in every backend that its
``backends`` names.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from engine.expr.errors import TYPE_NAMES_ZH, ExprError
from engine.expr.types import BLANK, ExprType, Kind

if TYPE_CHECKING:
    from engine.expr import ast
    from engine.expr.runtime import EvalContext

ALL_BACKENDS = frozenset({"python", "sql", "js"})
ANY: tuple[Kind, ...] = ("number", "text", "boolean", "date", "datetime", "time")


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter: accepted kinds, and whether it is optional, repeats, or may be a list."""

    name: str
    kinds: tuple[Kind, ...]
    optional: bool = False
    repeat: bool = False
    list_ok: bool = False


Thunk = Callable[[Any, "EvalContext"], Any]


class Function:
    """A built-in function. Subclasses set the class attributes and implement ``python``.

    ``needs_ctx``: ``python(ctx, *args)`` receives the evaluation context (clock, time zone).
    ``lazy``: ``python_lazy(record, ctx, thunks)`` evaluates only the arguments it needs.
    """

    name: ClassVar[str]
    category: ClassVar[str]
    params: ClassVar[tuple[Param, ...]]
    returns: ClassVar[ExprType | None] = None
    lazy: ClassVar[bool] = False
    needs_ctx: ClassVar[bool] = False
    backends: ClassVar[frozenset[str]] = ALL_BACKENDS
    summary_zh: ClassVar[str] = ""
    summary_en: ClassVar[str] = ""
    examples: ClassVar[tuple[tuple[str, str], ...]] = ()  # (formula, result as text)

    # --- typing -------------------------------------------------------------------------
    def signature(self) -> str:
        parts = []
        for p in self.params:
            text = p.name + (", ..." if p.repeat else "")
            parts.append(f"[{text}]" if p.optional else text)
        return f"{self.name}({', '.join(parts)})"

    def arity_error(self, call: ast.Call, source: str) -> ExprError:
        required = sum(1 for p in self.params if not p.optional)
        most = "+" if any(p.repeat for p in self.params) else str(len(self.params))
        expected = (
            str(required) if most == str(required) else f"{required}–{most}".replace("–+", "+")
        )
        return ExprError(
            "arg_count", source, call.span, name=self.name, expected=expected, actual=len(call.args)
        )

    def param_for(self, index: int) -> Param | None:
        if index < len(self.params):
            return self.params[index]
        if self.params and self.params[-1].repeat:
            return self.params[-1]
        return None

    def check_arity(self, call: ast.Call, source: str) -> None:
        required = sum(1 for p in self.params if not p.optional)
        if len(call.args) < required or (
            len(call.args) > len(self.params) and not (self.params and self.params[-1].repeat)
        ):
            raise self.arity_error(call, source)

    def result_type(self, args: Sequence[ExprType], call: ast.Call, source: str) -> ExprType:
        """The result type given the (already accepted) argument types."""
        assert self.returns is not None, self.name
        return self.returns

    # --- evaluation ---------------------------------------------------------------------
    def python(self, *args: Any) -> Any:
        raise TypeError(f"{self.name} is lazy: call python_lazy")  # pragma: no cover

    def python_lazy(self, record: Any, ctx: EvalContext, thunks: Sequence[Thunk]) -> Any:
        raise TypeError(f"{self.name} is eager: call python")  # pragma: no cover

    def compile_python(self, args: Sequence[Thunk]) -> Thunk | None:
        """Optionally, a closure specialised for these compiled arguments (hot functions)."""
        return None


def type_label(t: ExprType, language: str) -> str:
    if language == "zh":
        base = TYPE_NAMES_ZH.get(t.kind, t.kind)
        return f"{base}列表" if t.is_list else base
    return t.name


def unify(name: str, types: Sequence[ExprType], call: ast.Call, source: str) -> ExprType:
    """The common type of several results (blank joins anything); a mismatch is a type error."""
    result = BLANK
    for t in types:
        if t.kind == "blank":
            continue
        if result.kind == "blank":
            result = ExprType(t.kind)
        elif result.kind != t.kind:
            raise ExprError(
                "branch_type",
                source,
                call.span,
                name=name,
                first_zh=type_label(result, "zh"),
                second_zh=type_label(t, "zh"),
                first_en=result.name,
                second_en=t.name,
            )
    return result
