"""One field of every stored and system field type, for tests that must cover each type's
record JSON (tests/forms/test_raw_record_json.py, tests/rules/test_known_record.py): the list
ends with a relation to a `customer` form, which the using test defines."""

from __future__ import annotations

from typing import Any


def every_stored_field(options: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The fields, fresh dicts each call (tests add to them); `options` for the select ones."""
    return [
        {"key": "title", "type": "text"},
        {"key": "note", "type": "textarea"},
        {"key": "rich", "type": "rich_text"},
        {"key": "email", "type": "email"},
        {"key": "phone", "type": "phone"},
        {"key": "site", "type": "url"},
        {"key": "qty", "type": "number", "precision": 3},
        {"key": "whole", "type": "number", "precision": 0},
        {"key": "fine", "type": "number", "precision": 10},
        {"key": "count", "type": "integer"},
        {"key": "price", "type": "money", "precision": 2},
        {"key": "ratio", "type": "percent", "precision": 2},
        {"key": "stars", "type": "rating"},
        {"key": "level", "type": "select", "options": options},
        {"key": "tags", "type": "multiselect", "options": options},
        {"key": "done", "type": "checkbox"},
        {"key": "day", "type": "date"},
        {"key": "when", "type": "datetime"},
        {"key": "at", "type": "time"},
        {"key": "person", "type": "user"},
        {"key": "people", "type": "users"},
        {"key": "dept", "type": "department"},
        {"key": "depts", "type": "departments"},
        {"key": "addr", "type": "address"},
        {"key": "loc", "type": "location"},
        {"key": "files", "type": "attachment"},
        {"key": "pics", "type": "image"},
        {"key": "sign", "type": "signature"},
        {"key": "no", "type": "serial", "pattern": "NO-{0000}"},
        {"key": "made_by", "type": "created_by"},
        {"key": "made_at", "type": "created_at"},
        {"key": "changed_by", "type": "updated_by"},
        {"key": "changed_at", "type": "updated_at"},
        {"key": "customer", "type": "relation", "target": "customer"},
    ]
