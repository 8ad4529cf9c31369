"""Input conversion of the record pipeline: a record's JSON input coerced by field type into
column values, subform rows and links (`Prepared`), with every issue; imported system values;
linked (data linkage) values converted like input; lone UTF-16 surrogates refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from engine.core.issues import Issue, format_path
from engine.core.sqltypes import INT64_MAX
from engine.forms.field_types.links import RelationField
from engine.forms.field_types.structure import SubformField
from engine.forms.field_types.values import coerce_id
from engine.forms.layout import Container, FieldLayout
from engine.forms.linkage import linked_fields
from engine.forms.messages import issue
from engine.forms.writing.defaults import Defaults

SYSTEM_WRITABLE_ON_IMPORT = (
    "_id",
    "_created_at",
    "_created_by",
    "_updated_at",
    "_updated_by",
    "_owner",
    "_version",
)


@dataclass
class Prepared:
    """One record's coerced values: columns by key, subform rows and links, and the issues."""

    values: dict[str, Any] = field(default_factory=dict)
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    links: dict[str, list[int]] = field(default_factory=dict)
    system: dict[str, Any] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)


class Converting(Defaults):
    """Turns record input into `Prepared` values (see the module docstring)."""

    def prepare(self, data: Any, *, creating: bool, preserve: bool = False) -> Prepared:
        """Coerce a record's input (JSON) by field type; collect every issue."""
        prepared = Prepared()
        if not isinstance(data, Mapping):
            prepared.issues.append(issue("", "expected_record"))
            return prepared
        simple = self._simple
        values = prepared.values
        for key, raw in data.items():
            coerce = simple.get(key)
            if coerce is not None and _no_surrogates(raw):
                value, found = coerce(raw)
                if found:
                    prepared.issues.extend(i.under(key) for i in found)
                values[key] = value
            else:
                self._prepare_key(key, raw, prepared, preserve)
        if creating:
            self._defaults(
                self.form,
                data if isinstance(data, Mapping) else {},
                prepared.values,
                prepared.issues,
            )
        return prepared

    def _prepare_key(self, key: Any, raw: Any, prepared: Prepared, preserve: bool) -> None:
        """One input key the fast path of `prepare` does not take, with every check."""
        if not isinstance(key, str):
            prepared.issues.append(issue("", "unknown_field", key=key))
            return
        if key.startswith("_"):
            if preserve and key in SYSTEM_WRITABLE_ON_IMPORT:
                self._system_value(key, raw, prepared)
            return  # other system keys are read-only and ignored (clients echo records back)
        found = self.form.fields.get(key)
        if found is None:
            prepared.issues.append(issue(key, "unknown_field", key=key))
            return
        if (
            raw is not None
            and (type(raw) is not str or not raw.isascii())
            and (bad := lone_surrogates(raw, (key,)))
        ):
            prepared.issues.extend(lone_surrogate_issue(path) for path in bad)
            return
        allowed = self._allowed[key]
        if allowed == "hidden":
            prepared.issues.append(issue(key, "unknown_field", key=key))  # as if it did not exist
            return
        if allowed == "read_only" and found.writable:
            prepared.issues.append(issue(key, "read_only_field"))
            return
        if not found.writable:
            # A computed value an export carries is a serial number (see Traits.portable).
            if (
                preserve
                and found.kind.traits.computed
                and found.kind.traits.portable
                and isinstance(raw, str)
            ):
                prepared.system["#serial:" + key] = raw  # an imported serial keeps its number
            return  # computed values are read-only; an echoed value is ignored
        self._coerce_into(
            self.form,
            found,
            raw,
            prepared.values,
            prepared.rows,
            prepared.links,
            prepared.issues,
            key,
        )

    @staticmethod
    def _system_value(key: str, raw: Any, prepared: Prepared) -> None:
        """An imported system value, checked so that it fits its column."""
        if raw is None or key in ("_created_at", "_updated_at"):
            prepared.system[key] = raw  # moments that do not parse fall back to now
            return
        if key == "_version":
            if isinstance(raw, int) and not isinstance(raw, bool) and 0 < raw <= INT64_MAX:
                prepared.system[key] = raw
            else:
                prepared.issues.append(issue(key, "expected_version"))
            return
        value, found = coerce_id(raw)  # _id and the people columns
        prepared.issues.extend(i.under(key) for i in found)
        prepared.system[key] = value

    def _coerce_into(
        self,
        container: Container,
        layout: FieldLayout,
        raw: Any,
        values: dict[str, Any],
        rows: dict[str, list[dict[str, Any]]],
        links: dict[str, list[int]],
        issues: list[Issue],
        path: str,
    ) -> None:
        spec = layout.spec
        if layout.source == "rows":
            rows[spec.key] = self._coerce_rows(layout, raw, issues, path)
            return
        if isinstance(spec, RelationField):
            ids = self._coerce_relation(spec, raw, issues, path)
            if spec.many:
                links[spec.key] = ids
            else:
                values[spec.key] = ids[0] if ids else None
            return
        if layout.kind.traits.is_file:
            values[spec.key] = self._coerce_files(raw, issues, path)
            return
        value, found = layout.coerce(raw)
        if found:
            issues.extend(i.under(path) for i in found)
        values[spec.key] = value

    def _coerce_relation(
        self, spec: RelationField, raw: Any, issues: list[Issue], path: str
    ) -> list[int]:
        if raw is None or raw == []:
            return []
        items = raw if spec.many else [raw]
        if spec.many and not isinstance(raw, list):
            issues.append(issue(path, "expected_list"))
            return []
        ids: list[int] = []
        for index, item in enumerate(items):
            candidate = item.get("_id") if isinstance(item, Mapping) else item
            value, found = coerce_id(candidate)
            where = f"{path}[{index}]" if spec.many else path
            issues.extend(i.under(where) for i in found)
            if value is not None and value not in ids:
                ids.append(value)
        return ids

    def _coerce_files(self, raw: Any, issues: list[Issue], path: str) -> list[int] | None:
        if raw is None or raw == []:
            return None
        if not isinstance(raw, list):
            issues.append(issue(path, "expected_list"))
            return None
        ids: list[int] = []
        for index, item in enumerate(raw):
            candidate = item.get("file_id") if isinstance(item, Mapping) else item
            value, found = coerce_id(candidate)
            issues.extend(i.under(f"{path}[{index}]") for i in found)
            if value is not None and value not in ids:
                ids.append(value)
        return ids

    def _coerce_rows(
        self, layout: FieldLayout, raw: Any, issues: list[Issue], path: str
    ) -> list[dict[str, Any]]:
        assert layout.rows is not None and isinstance(layout.spec, SubformField)
        if raw is None:
            raw = []
        if not isinstance(raw, list):
            issues.append(issue(path, "expected_list"))
            return []
        spec = layout.spec
        if spec.max is not None and len(raw) > spec.max:
            issues.append(issue(path, "too_many_rows", max=spec.max))
        if spec.min is not None and len(raw) < spec.min:
            issues.append(issue(path, "too_few_rows", min=spec.min))
        result: list[dict[str, Any]] = []
        for index, item in enumerate(raw):
            where = f"{path}[{index}]"
            if not isinstance(item, Mapping):
                issues.append(issue(where, "expected_object"))
                continue
            row: dict[str, Any] = {}
            row_links: dict[str, list[int]] = {}
            if "_id" in item and item["_id"] is not None:
                row_id, found = coerce_id(item["_id"])
                issues.extend(i.under(f"{where}._id") for i in found)
                row["_id"] = row_id
            for key, value in item.items():
                if key.startswith("_"):
                    continue
                sub = layout.rows.fields.get(key)
                if sub is None:
                    issues.append(issue(f"{where}.{key}", "unknown_field", key=key))
                    continue
                if not sub.writable:
                    continue
                self._coerce_into(
                    layout.rows, sub, value, row, {}, row_links, issues, f"{where}.{key}"
                )
            if "_id" not in row:
                self._defaults(layout.rows, item, row, issues, prefix=f"{where}.")
            row["#links"] = row_links
            result.append(row)
        return result

    def fill_linkage(
        self, conn: Connection, records: Sequence[Any], prepared: Sequence[Prepared]
    ) -> None:
        """Data linkage defaults of the fields each record leaves out (one query per linkage
        field for the batch; see `engine.forms.linkage`). A value that does not convert to the
        field's type leaves it empty rather than failing the record."""
        fields = linked_fields(self.form)
        if not fields:
            return
        wants = [
            {f.key for f in fields if isinstance(data, Mapping) and f.key not in data}
            for data in records
        ]
        found = self.linker.fill(conn, [one.values for one in prepared], wants)
        for one, filled in zip(prepared, found, strict=True):
            for key, raw in filled.items():
                values: dict[str, Any] = {}
                links: dict[str, list[int]] = {}
                problems: list[Issue] = []
                self._coerce_into(
                    self.form, self.form.fields[key], raw, values, {}, links, problems, key
                )
                one.values[key] = None if problems else values.get(key)


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _no_surrogates(raw: Any) -> bool:
    """A quick "certainly no lone surrogate" for common values (False: ask `lone_surrogates`)."""
    kind = type(raw)
    if kind is str:
        return raw.isascii() or _encodes(raw)
    if raw is None or kind is int or kind is float or kind is bool:
        return True
    if kind is list:
        return all(type(v) is str and (v.isascii() or _encodes(v)) for v in raw)
    return False


def lone_surrogates(value: Any, path: tuple[int | str, ...] = ()) -> list[tuple[int | str, ...]]:
    """Where JSON input holds text with a lone UTF-16 surrogate (``"\\ud800"``): valid JSON,
    but no database stores it, so it is refused like any other bad value."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return [path]
        return []
    found: list[tuple[int | str, ...]] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            found += lone_surrogates(key, path) + lone_surrogates(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += lone_surrogates(item, (*path, index))
    return found


def lone_surrogate_issue(path: Sequence[int | str]) -> Issue:
    return Issue(
        format_path(path),
        "invalid_character",
        "包含无效字符（不成对的 UTF-16 代理项，如 \\ud800）",
        "Contains an invalid character (an unpaired UTF-16 surrogate such as \\ud800)",
    )
