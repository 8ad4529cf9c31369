"""The result shape of a report run (DESIGN §10, README "Reports"): typed models and the cells.

```json
{"columns": [{"key": "_owner", "kind": "dimension", "label": "负责人", "type": "user"},
             {"key": "total", "kind": "measure", "label": "金额（合计）", "agg": "sum"}],
 "rows": [[{"value": 7, "label": "张三"}, "125000.00"]],
 "totals": [], "previous": null, "periods": null}
```

A dimension cell is `{value, label}`: `value` in record-JSON form (an option's value, a date
"2024-06-01" — a bucket's first day —, `{"id", "name"}` for people fields and the bare id for
`_owner`, `_created_by` and `_updated_by`, `{"_id", "title"}` for relations), the thing filters and click-through use; a blank is `{"value": null, "label":
"(空)"}`. In `totals` a dimension rolled up is `{"value": null, "label": "合计", "total":
true}`. Measure cells: counts are numbers; sum, min and max decimal strings at the field's
scale (integer fields: numbers; dates: record-JSON dates); averages and formula measures
decimal strings at 10 places; a measure without any value is null.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class ReportColumn(BaseModel):
    """One column of the result: a dimension (by its field, and bucket) or a measure."""

    key: str = Field(
        description="The dimension's field (`signed_date:month` when bucketed) or the measure's key"
    )
    kind: Literal["dimension", "measure"]
    label: str
    type: str = Field(
        description="Dimension: the value kind (user, record, date, text, …); measure: its aggregate"
    )
    field: str | None = None
    bucket: str | None = None


class ReportResult(BaseModel):
    """A report's answer: columns, one row per group (cells aligned with the columns), the
    pivot's subtotal and total rows, and for a KPI over periods the previous period's values."""

    columns: list[ReportColumn]
    rows: list[list[Any]]
    totals: list[list[Any]] = Field(default_factory=list)
    previous: dict[str, Any] | None = Field(
        default=None, description="KPI: each measure's value in the previous period"
    )
    periods: dict[str, list[str]] | None = Field(
        default=None, description="KPI: the current and previous periods' first and last days"
    )


class RunBody(BaseModel):
    """`POST …/reports/{report}/run`: runtime conditions (a dashboard's global filters) ANDed to
    the report's own filter."""

    filters: list[str] = Field(default_factory=list, max_length=20)


__all__ = ["ReportColumn", "ReportResult", "RunBody"]
