"""Role definitions inside an app (DESIGN §11): per form, actions, data scope and field access.

```json
{"key": "sales_rep", "name": {"zh": "销售代表", "en": "Sales rep"},
 "forms": {"customer": {"actions": ["view", "create", "edit", "export"],
                        "scope": "own",
                        "fields": {"phone": "hidden", "level": "read_only"}}}}
```

`scope` is `all`, `own` (records whose `_owner` is the user), `department` (owned by someone
in one of the user's departments), `department_tree` (…or in their sub-departments), or
`{"expr": "<condition>"}`. Fields not listed are editable where the role may edit, and
read-only otherwise. A role with `builder: true` may also change the app's definition.
`links` lets the role manage the form's public links (外链), which then act with the rights
of their owner (see `engine.auth.links`); `builder` alone does not.
Who holds a role is data (platform `roles`/`role_members`), not part of the definition.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from engine.forms.common import Formula, Key, Label, Spec

Action = Literal["view", "create", "edit", "delete", "export", "import", "links"]
ACTIONS: tuple[Action, ...] = ("view", "create", "edit", "delete", "export", "import", "links")
ScopeName = Literal["all", "own", "department", "department_tree"]
FieldAccess = Literal["hidden", "read_only", "editable"]


class ExprScope(Spec):
    """Records for which a condition (a formula) is true."""

    expr: Formula


class FormPermission(Spec):
    """What a role may do with one form's records."""

    actions: list[Action] = Field(default_factory=list)
    scope: ScopeName | ExprScope = "all"
    fields: dict[Key, FieldAccess] = Field(default_factory=dict)


class RoleSpec(Spec):
    """A role of the app and its permissions per form key."""

    key: Key
    name: Label
    builder: bool = False
    forms: dict[Key, FormPermission] = Field(default_factory=dict)


__all__ = [
    "ACTIONS",
    "Action",
    "ExprScope",
    "FieldAccess",
    "FormPermission",
    "RoleSpec",
    "ScopeName",
]
