"""Issue and DefinitionError (engine.core.issues): the §12 issue shape, paths under a prefix."""

from __future__ import annotations

from engine.core.issues import DefinitionError, Issue


def test_to_dict_follows_the_language_and_omits_absent_positions() -> None:
    found = Issue("forms[0].key", "invalid_key", "标识无效", "Invalid key")
    assert found.to_dict() == {"path": "forms[0].key", "code": "invalid_key", "message": "标识无效"}
    assert found.to_dict("en-US")["message"] == "Invalid key"
    with_position = Issue("expr", "unknown_field", "未知字段 x", "Unknown field x", 1, 7)
    assert with_position.to_dict("en") == {
        "path": "expr",
        "code": "unknown_field",
        "message": "Unknown field x",
        "line": 1,
        "column": 7,
    }


def test_under_prefixes_paths() -> None:
    assert Issue("target", "c", "", "").under("fields[3]").path == "fields[3].target"
    assert Issue("[2].value", "c", "", "").under("options").path == "options[2].value"
    assert Issue("", "c", "", "").under("forms[0]").path == "forms[0]"
    assert Issue("key", "c", "", "").under("").path == "key"


def test_definition_error_carries_every_issue() -> None:
    issues = [Issue(f"forms[{i}].key", "duplicate_form", "重复", "Duplicate") for i in range(7)]
    error = DefinitionError(issues)
    assert error.issues == issues
    assert "7 problem(s)" in str(error) and "(+2 more)" in str(error)
    assert error.to_dicts("en")[0] == {
        "path": "forms[0].key",
        "code": "duplicate_form",
        "message": "Duplicate",
    }
