"""Every built-in field type, registered in `FIELD_TYPES` group by group (DESIGN §4's order)."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from engine.forms.field_types.base import (
    FIELD_TYPES,
    TRAIT_NAMES,
    FieldType,
    Scope,
    Traits,
    register,
)

GROUPS = (
    "text",
    "number",
    "choice",
    "time",
    "people",
    "place",
    "files",
    "computed",
    "links",
    "structure",
)

GROUP_TITLES = {
    "text": ("文本", "Text"),
    "number": ("数字", "Numbers"),
    "choice": ("选项", "Choices"),
    "time": ("日期时间", "Dates and times"),
    "people": ("成员与部门", "People"),
    "place": ("地点", "Places"),
    "files": ("文件", "Files"),
    "computed": ("自动计算", "Computed"),
    "links": ("关联", "Links"),
    "structure": ("布局与子表单", "Structure"),
}

for _group in GROUPS:
    import_module(f"engine.forms.field_types.{_group}")


def palette() -> list[dict[str, Any]]:
    """Every field type by group, as the builder's palette shows it: names, titles, defaults,
    and the type's traits (`Traits`), which the UI reads instead of keeping its own lists."""
    return [
        {
            "group": group,
            "title": {"zh": GROUP_TITLES[group][0], "en": GROUP_TITLES[group][1]},
            "types": [
                {
                    "type": kind.name,
                    "title": {"zh": kind.title[0], "en": kind.title[1]},
                    "example": {"type": kind.name, **kind.example},
                    "titleable": kind.titleable,
                    "traits": kind.traits.json(),
                }
                for kind in FIELD_TYPES
                if kind.group == group
            ],
        }
        for group in GROUPS
    ]


__all__ = [
    "FIELD_TYPES",
    "GROUPS",
    "GROUP_TITLES",
    "TRAIT_NAMES",
    "FieldType",
    "Scope",
    "Traits",
    "palette",
    "register",
]
