"""The evaluation budget: how much work one request may make the Python backend do.

Per-value limits (a text over ``MAX_TEXT`` code points is blank, a TEXT format over
``MAX_FORMAT`` is blank) bound every single value, and keep DESIGN §6's rule that functions
never raise. A caller who writes the formula *and* the record (``POST /expr/check``) could still
chain many capped values, or run one over a long list, so such evaluations are *metered*: each
function call, ``&``, and list costs one unit plus the code points of text (and the elements of
lists) it produces, and past the budget the whole evaluation stops with :class:`BudgetExceeded`
— a 4xx for the request, never a partial value.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_BUDGET = 5_000_000
"""Units one metered evaluation may spend: about 5 MB of text, far beyond any real formula."""


class BudgetExceeded(Exception):
    """A metered evaluation spent its whole budget; the caller answers 422 ``budget_exceeded``."""

    code = "budget_exceeded"

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.message_zh = f"公式计算量过大（超过 {limit:,} 个单位：产生的文本字符、函数调用和列表元素），已停止计算"
        self.message_en = (
            f"The formula does too much work (over {limit:,} units of text produced, function calls"
            " and list elements); evaluation stopped"
        )
        super().__init__(self.message_en)


@dataclass(slots=True)
class Budget:
    """The units left to one metered evaluation (shared by every node of it)."""

    limit: int
    used: int = 0

    def charge(self, cost: int) -> None:
        """Spend ``cost`` units; raise :class:`BudgetExceeded` once past the limit."""
        self.used += cost
        if self.used > self.limit:
            raise BudgetExceeded(self.limit)
