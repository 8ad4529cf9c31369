"""A created record as a rule sees it, from its change event instead of reading it back (issue
14): what a rule reads of its triggering record (`RecordReads`, worked out when the rule is
compiled) and the values a `created` event already tells (`KnownRecord`).

A new record's event carries every value it was written with (`RecordChanged.changes`, the
create's history diff) and its id. For the stored field types of `EXACT_TYPES` the
diff's value is the value `Reader.get` reads back (both are the field's `write_json` of the
same typed value; `tests/rules/test_known_record.py` compares them on SQLite and PostgreSQL).
A relation to one record's diff value is `{"_id": n}` without the title the read adds: it
serves only reads of the id (`values.plain`: a `{"copy": …}` value). Everything else — a field
left empty (not in the diff), a default the database filled, a serial, people, departments,
files, subforms, relations to many, read-time fields (formulas, lookups, rollups, 创建人/修改人
…) and every system value but `_id` — is not known: a rule that reads one of
them reads the record as before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from engine.forms.changes import RecordChanged
from engine.forms.field_types.links import RelationField
from engine.forms.layout import FormLayout

logger = logging.getLogger(__name__)

# Stored field types whose create diff value is exactly what `Reader.get` reads back.
EXACT_TYPES = frozenset(
    {
        "text",
        "textarea",
        "rich_text",
        "email",
        "phone",
        "url",
        "number",
        "integer",
        "money",
        "percent",
        "rating",
        "select",
        "multiselect",
        "checkbox",
        "date",
        "datetime",
        "time",
        "address",
        "location",
    }
)


@dataclass(frozen=True)
class RecordReads:
    """What a rule reads of its triggering record: `values` as the record has them, `ids` only
    as the id a relation names (`values.plain` of the value)."""

    values: frozenset[str] = frozenset()
    ids: frozenset[str] = frozenset()

    def __or__(self, other: RecordReads) -> RecordReads:
        return RecordReads(self.values | other.values, self.ids | other.ids)


NOTHING = RecordReads()


class KnownRecord(Mapping[str, Any]):
    """The triggering record of a `created` event as far as the event tells it: `values` read
    as `Reader.get` reads them, `ids` the relations to one record whose id (only) is known.

    A rule is given one only when everything it reads is known (`serves`); a key asked for
    nonetheless — or any iteration — reads the whole record (`load`, once) and logs it, since a
    read made after the rule's own writes could see them."""

    def __init__(
        self,
        values: dict[str, Any],
        ids: dict[str, Any],
        load: Callable[[], Mapping[str, Any] | None],
    ) -> None:
        self._values = values
        self._ids = ids
        self._load = load
        self._read: Mapping[str, Any] | None = None
        self.loaded = False

    def serves(self, reads: RecordReads | None) -> bool:
        """Whether `reads` are all known (None: the rule may read anything)."""
        if reads is None:
            return False
        return reads.values <= self._values.keys() and reads.ids <= (
            self._values.keys() | self._ids.keys()
        )

    def _whole(self, key: str = "") -> Mapping[str, Any]:
        if not self.loaded:
            logger.warning(
                "a rule read %r of a new record, which its event does not tell: read it back",
                key or "every field",
                stack_info=True,
            )
            self._read = self._load() or {}
            self.loaded = True
        assert self._read is not None
        return self._read

    def __getitem__(self, key: str) -> Any:
        if key in self._values:
            return self._values[key]
        if key in self._ids and not self.loaded:
            return self._ids[key]
        return self._whole(key)[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._whole())

    def __len__(self) -> int:
        return len(self._whole())

    def __bool__(self) -> bool:
        return True  # a record read back has its `_id` at least: never empty


def known_record(
    form: FormLayout, event: RecordChanged, load: Callable[[], Mapping[str, Any] | None]
) -> KnownRecord:
    """What `event` (a `created` one of `form`) tells of the new record."""
    values: dict[str, Any] = {"_id": event.record_id}
    ids: dict[str, Any] = {}
    for key, pair in event.changes.items():
        field = form.fields.get(key)
        if field is None or not isinstance(pair, list | tuple) or len(pair) != 2:
            continue
        if field.spec.type in EXACT_TYPES:
            values[key] = pair[1]
        elif isinstance(field.spec, RelationField) and not field.spec.many:
            ids[key] = pair[1]
    return KnownRecord(values, ids, load)


__all__ = ["EXACT_TYPES", "NOTHING", "KnownRecord", "RecordReads", "known_record"]
