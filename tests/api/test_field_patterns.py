"""Field `pattern`s (issue 10, finding 9), on SQLite and PostgreSQL: `(a+)+$` made Python's
backtracking `re` run 9.2 s on one create; patterns now run on RE2 (linear time), and patterns
RE2 cannot run are refused at publish with an issue at the field's `pattern`."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from engine.forms.patterns import matches, re2_syntax
from tests.api.records_client import API


def app_with(pattern: str) -> dict[str, Any]:
    return {
        "format": "jimu.app/1",
        "key": "codes",
        "name": "编码",
        "version": "1",
        "forms": [
            {
                "key": "code",
                "name": "编码",
                "fields": [{"key": "value", "type": "text", "pattern": pattern}],
            }
        ],
    }


def test_a_catastrophic_pattern_answers_at_once(client: TestClient) -> None:
    assert client.post(f"{API}/apps", json=app_with("(a+)+$")).status_code == 201
    records = f"{API}/apps/codes/forms/code/records"
    # 2^40 backtracking steps for Python's re; RE2 answers in one pass.
    refused = client.post(
        records, json={"value": "a" * 40 + "!"}, headers={"Accept-Language": "en"}
    )
    assert refused.status_code == 422, refused.text
    assert [(i["path"], i["code"]) for i in refused.json()["error"]["issues"]] == [
        ("value", "pattern")
    ]
    long_refused = client.post(records, json={"value": "a" * 999 + "b"})
    assert long_refused.status_code == 422
    accepted = client.post(
        records, json={"value": "a" * 1000}
    )  # a text field holds 1,000 characters
    assert accepted.status_code == 201, accepted.text
    assert client.get(records, params={"limit": 0}).json()["total"] == 1


@pytest.mark.parametrize(
    ("pattern", "language", "words"),
    [
        (r"(a)\1", "zh-CN", "不支持反向引用"),
        (r"(?=a)a", "en", "lookarounds such as (?=…) are not supported"),
        (r"(?<!x)a", "en", "Unsupported regular expression"),
    ],
)
def test_patterns_re2_cannot_run_are_refused_at_publish(
    client: TestClient, pattern: str, language: str, words: str
) -> None:
    response = client.post(
        f"{API}/apps", json=app_with(pattern), headers={"Accept-Language": language}
    )
    assert response.status_code == 422, response.text
    issues = response.json()["error"]["issues"]
    assert [(i["path"], i["code"]) for i in issues] == [
        ("forms[0].fields[0].pattern", "unsupported_pattern")
    ]
    assert words in issues[0]["message"]
    assert client.get(f"{API}/apps").json() == []


def test_a_pattern_that_is_no_regular_expression_is_still_invalid(client: TestClient) -> None:
    response = client.post(f"{API}/apps", json=app_with("^(1"))
    assert response.status_code == 422
    assert [i["code"] for i in response.json()["error"]["issues"]] == ["invalid_pattern"]


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        (r"[\u4e00-\u9fa5]+", "积木", True),  # the escapes builders copy from Python/JavaScript
        (r"[\u4e00-\u9fa5]+", "jimu", False),
        (r"\\u4e00", "\\u4e00", True),  # an escaped backslash stays a backslash
        (r"^1[3-9]\d{9}$", "13812345678", True),
        (r"\d+", "１２", False),  # ASCII digits, as in the browser
        (r"\U0001F600+", "😀😀", True),
        (r"HT-\d{4}", "HT-2024", True),
        (r"HT-\d{4}", "xHT-2024", False),  # the whole value must match
    ],
)
def test_pattern_syntax(pattern: str, text: str, expected: bool) -> None:
    assert matches(pattern, text) is expected


def test_unicode_escapes_become_re2_escapes() -> None:
    assert re2_syntax(r"[\u4e00-\u9fa5]\d\\u12") == r"[\x{4e00}-\x{9fa5}]\d\\u12"
