"""References into forms from the other engines' parts of a definition (flows, rules, reports).

A flow, rule or report names a form, fields of it and conditions over its records. This module
is what those engines check such references with, against the forms of the same definition,
so every engine reports a missing form or field, or a condition that does not type-check, with
the same codes and zh/en messages as the forms engine (`unknown_form`, `unknown_field`, the
formula codes), at their own definition paths. It also gives a reference's identity for a
plan (`field_ref`: form, field and type as published).
"""

from __future__ import annotations

from typing import Any

from engine.core.issues import Issue
from engine.forms.checks import _formula_issues
from engine.forms.field_types.structure import SubformField
from engine.forms.messages import issue
from engine.forms.schema import SYSTEM_ENTRIES, form_schemas
from engine.forms.spec import AppSpec, FormSpec

SYSTEM_FIELDS = frozenset(SYSTEM_ENTRIES)
"""System fields every form has (`_id`, `_owner`, …): a part may name them like fields."""


class FormRefs:
    """The forms of one app as the other engines' checks see them (built once per check)."""

    def __init__(self, app: AppSpec) -> None:
        self.app = app
        self.forms: dict[str, FormSpec] = {}
        for form in app.forms:
            self.forms.setdefault(form.key, form)
        self._schemas: dict[str, dict[str, Any]] | None = None

    def form_issues(self, key: str | None, path: str) -> list[Issue]:
        """`unknown_form` at `path` when `key` names no form (nothing when it is None)."""
        if key is None or key in self.forms:
            return []
        return [issue(path, "unknown_form", key=key)]

    def field_issues(
        self, form: str | None, key: str, path: str, *, system: bool = True
    ) -> list[Issue]:
        """`unknown_field` at `path` when `form` has no field `key` (system fields count when
        `system`); nothing when the form itself is unknown (reported at its own path)."""
        found = self.forms.get(form or "")
        if found is None:
            return []
        if key in {f.key for f in found.fields} or (system and key in SYSTEM_FIELDS):
            return []
        return [issue(path, "unknown_field", key=key)]

    def condition_issues(
        self, form: str | None, source: str, path: str, *, boolean: bool = True
    ) -> list[Issue]:
        """The issues of a formula over `form`'s records (a condition unless not `boolean`)."""
        if form not in self.forms:
            return []
        if self._schemas is None:
            self._schemas = form_schemas(self.app)
        return _formula_issues(source, self._schemas.get(form or "", {}), path, set(), boolean)

    def field_ref(self, form: str, key: str) -> dict[str, Any]:
        """A field reference as a plan stores it: form, field and the field's type now."""
        spec = self.forms.get(form)
        kind = "system" if key in SYSTEM_FIELDS else None
        if spec is not None:
            for f in spec.fields:
                if f.key == key:
                    kind = f.type
        return {"form": form, "field": key, "type": kind}

    def subforms(self, form: str) -> dict[str, SubformField]:
        """The subform fields of `form` by key."""
        spec = self.forms.get(form)
        if spec is None:
            return {}
        return {f.key: f for f in spec.fields if isinstance(f, SubformField)}


def duplicate_keys(keys: list[str], where: str, what: tuple[str, str]) -> list[Issue]:
    """`duplicate_key` at `where[i].key` for every key seen before (what: zh and en names)."""
    seen: set[str] = set()
    found: list[Issue] = []
    for index, key in enumerate(keys):
        if key in seen:
            found.append(
                Issue(
                    f"{where}[{index}].key",
                    "duplicate_key",
                    f"{what[0]}标识 {key} 重复",
                    f"Duplicate {what[1]} key {key}",
                )
            )
        seen.add(key)
    return found


__all__ = ["SYSTEM_FIELDS", "FormRefs", "duplicate_keys"]
