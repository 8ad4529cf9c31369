"""The flow node types (issue 13): a registry of one class per `type`, each with its typed
settings, the edges it accepts and its own checks against the app.

A node in a definition is `{"id", "type", "name"?, ...settings}`. The settings of a type are
a closed Pydantic model (unknown properties are refused: the shapes are fixed by DESIGN §8 and
issue 13, and a typo in `mode` or `on_reject` must not pass silently):

- `start`, `end`, `exclusive`, `parallel`: no settings;
- `approve`: `assignees` (non-empty), `mode` any|all|sequential, `pass_ratio` (only with all),
  `on_reject` end|initiator, `fields` (field key -> hidden|read_only|edit; `read` = read_only);
- `handle`: `assignees`, `mode` any|all, `fields`; `cc`: `assignees`, `fields`;
- `approve` and `handle` also take DESIGN §8's `deadline`: `{"after": "P2D" (days, hours,
  minutes), "then": remind|auto_approve|auto_reject|escalate}` (typed here; run by the runtime).

Assignees are `{"user"}`, `{"role"}` (a role of the app), `{"dept_head": N}`, `{"manager": N}`
or `{"field"}` (a member field of the flow's form). Users are not checked at publish: the
directory changes after publishing, and a user missing or deactivated at run time falls back to
the flow's admin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, ValidationError

from engine.core.issues import Issue
from engine.core.registry import Registry
from engine.forms.common import Key, Spec
from engine.forms.field_types.base import FIELD_TYPES
from engine.forms.spec import AppSpec

Access = Literal["hidden", "read_only", "edit", "read"]
"""A node's access to one field (`read` is DESIGN's spelling of `read_only`)."""


class UserAssignee(Spec):
    """A named user of the directory."""

    user: Annotated[str, Field(min_length=1, max_length=150)]


class RoleAssignee(Spec):
    """Every member of a role of the app."""

    role: Key


class DeptHeadAssignee(Spec):
    """The head of the initiator's department (1), of its parent (2), …"""

    dept_head: Annotated[int, Field(ge=1, le=20)]


class ManagerAssignee(Spec):
    """The initiator's manager (1), the manager's manager (2), …"""

    manager: Annotated[int, Field(ge=1, le=20)]


class FieldAssignee(Spec):
    """The user(s) in a member field of the flow's form."""

    field: Key


Assignee = UserAssignee | RoleAssignee | DeptHeadAssignee | ManagerAssignee | FieldAssignee
Assignees = Annotated[list[Assignee], Field(min_length=1, max_length=50)]


class Deadline(Spec):
    """When a task is overdue (an ISO 8601 duration after it opens) and what happens then."""

    after: Annotated[
        str, Field(pattern=r"^P(\d{1,3}D|(\d{1,3}D)?T(\d{1,3}H|(\d{1,3}H)?\d{1,4}M))$")
    ]
    then: Literal["remind", "auto_approve", "auto_reject", "escalate"] = "remind"


class NoSettings(Spec):
    """A node type without settings."""


class CcSettings(Spec):
    """Who is copied, and what they see."""

    assignees: Assignees
    fields: dict[Key, Access] = Field(default_factory=dict)


class HandleSettings(CcSettings):
    """Who handles the task (any one of them, or all), and their field access."""

    mode: Literal["any", "all"] = "any"
    deadline: Deadline | None = None


class ApproveSettings(CcSettings):
    """Who approves, how their votes combine, and where a rejection goes."""

    mode: Literal["any", "all", "sequential"] = "any"
    pass_ratio: Annotated[float, Field(gt=0, le=1)] | None = None
    on_reject: Literal["end", "initiator"] = "end"
    deadline: Deadline | None = None


@dataclass(frozen=True)
class NodeContext:
    """What a node type checks its settings against: the app, the flow's form, the path."""

    app: AppSpec
    form: str
    path: str

    def roles(self) -> set[str]:
        return {role.key for role in self.app.roles}

    def member_fields(self) -> set[str]:
        for form in self.app.forms:
            if form.key == self.form:
                return {f.key for f in form.fields if _people(f.type) == "user"}
        return set()


def _people(field_type: str) -> str | None:
    found = FIELD_TYPES.get(field_type)
    return found.traits.people if found is not None else None


class NodeType:
    """One node type: its settings model, the edges it accepts and its own checks.

    `incoming`/`outgoing`: whether edges may enter/leave it; `branches`: how several outgoing
    edges are taken (`None`: at most one outgoing edge; `exclusive`: the first edge whose
    condition holds, else the default; `parallel`: all of them).
    """

    name: ClassVar[str]
    label: ClassVar[tuple[str, str]]
    settings: ClassVar[type[Spec]] = NoSettings
    incoming: ClassVar[bool] = True
    outgoing: ClassVar[bool] = True
    branches: ClassVar[Literal["exclusive", "parallel"] | None] = None

    def check(self, settings: Any, ctx: NodeContext) -> list[Issue]:
        """The issues of valid-shaped `settings` against the app (none by default)."""
        return []


NODE_TYPES: Registry[NodeType] = Registry("node type")


def _assignee_issues(assignees: list[Any], ctx: NodeContext) -> list[Issue]:
    issues: list[Issue] = []
    for a, entry in enumerate(assignees):
        at = f"{ctx.path}.assignees[{a}]"
        if isinstance(entry, RoleAssignee) and entry.role not in ctx.roles():
            issues.append(
                Issue(
                    f"{at}.role",
                    "unknown_role",
                    f"角色 {entry.role} 不存在",
                    f"Role {entry.role} does not exist",
                )
            )
        if isinstance(entry, FieldAssignee) and entry.field not in ctx.member_fields():
            issues.append(
                Issue(
                    f"{at}.field",
                    "not_member_field",
                    f"字段 {entry.field} 不是表单 {ctx.form} 的成员字段",
                    f"Field {entry.field} is not a member field of form {ctx.form}",
                )
            )
    return issues


class _Start(NodeType):
    name, label, incoming = "start", ("开始", "Start"), False


class _End(NodeType):
    name, label, outgoing = "end", ("结束", "End"), False


class _Exclusive(NodeType):
    name, label, branches = "exclusive", ("条件分支", "Exclusive gateway"), "exclusive"


class _Parallel(NodeType):
    name, label, branches = "parallel", ("并行", "Parallel gateway"), "parallel"


class _Cc(NodeType):
    name, label, settings = "cc", ("抄送", "Carbon copy"), CcSettings

    def check(self, settings: Any, ctx: NodeContext) -> list[Issue]:
        return _assignee_issues(settings.assignees, ctx)


class _Handle(_Cc):
    name, label, settings = "handle", ("办理", "Handle"), HandleSettings


class _Approve(_Cc):
    name, label, settings = "approve", ("审批", "Approve"), ApproveSettings

    def check(self, settings: Any, ctx: NodeContext) -> list[Issue]:
        issues = super().check(settings, ctx)
        if settings.pass_ratio is not None and settings.mode != "all":
            issues.append(
                Issue(
                    f"{ctx.path}.pass_ratio",
                    "pass_ratio_mode",
                    "通过比例只能用于会签（mode 为 all）",
                    "pass_ratio is allowed only with mode all",
                )
            )
        return issues


for _type in (_Start, _End, _Approve, _Handle, _Cc, _Exclusive, _Parallel):
    NODE_TYPES.register(_type.name, _type())


def node_settings(node_type: str, data: dict[str, Any], path: str) -> tuple[Any, list[Issue]]:
    """The typed settings of a node of `node_type` from its properties `data`, or the issues
    (at `path` + the property) when the type is unknown or they do not fit its model."""
    found = NODE_TYPES.get(node_type)
    if found is None:
        expected = ", ".join(NODE_TYPES.names())
        return None, [
            Issue(
                f"{path}.type",
                "unknown_node_type",
                f"未知的节点类型 {node_type}（可用：{expected}）",
                f"Unknown node type {node_type} (expected one of: {expected})",
            )
        ]
    try:
        return found.settings.model_validate(data), []
    except ValidationError as exc:
        from engine.forms.compile import issue_of_error

        found_issues: list[Issue] = []
        for error in exc.errors():
            one = issue_of_error(error, data).under(path)
            if all((i.path, i.code) != (one.path, one.code) for i in found_issues):
                found_issues.append(one)  # a union reports each member's error at one path
        return None, found_issues


def access(value: str) -> str:
    """A field access as the runtime reads it (`read` -> `read_only`)."""
    return "read_only" if value == "read" else value


__all__ = [
    "NODE_TYPES",
    "ApproveSettings",
    "Assignee",
    "CcSettings",
    "Deadline",
    "DeptHeadAssignee",
    "FieldAssignee",
    "HandleSettings",
    "ManagerAssignee",
    "NoSettings",
    "NodeContext",
    "NodeType",
    "RoleAssignee",
    "UserAssignee",
    "access",
    "node_settings",
]
