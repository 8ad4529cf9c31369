"""Issue 10 finding 3 on the stock CRM, SQLite and PostgreSQL: a member's records filter could
keep the database busy for minutes (≈ 95 s of CPU from one request). Every statement now runs
under the time limit of its kind of work: past it the answer is a 422 `query_timeout`, the
connection stays healthy, and an export is held to its own limit, not to a list's."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.auth.crm_org import API, installed_crm

TERM = 'LEN(SUBSTITUTE(REPT(name, 5000), "a", "bc"))'
SLOW = "SUM(" + ", ".join([TERM] * 85) + ") > 0"  # about 4 KB, far over 5 s on 240 customers
MEDIUM = "SUM(" + ", ".join([TERM] * 5) + ") > 0"  # far longer than 0.05 s, far shorter than 120 s
CUSTOMERS = f"{API}/apps/crm/forms/customer/records"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def crm(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    yield from installed_crm(request, tmp_path_factory)


@contextmanager
def limits(crm: dict[str, Any], **seconds: float) -> Iterator[None]:
    """The app's statement limits changed (`interactive=0.05`) for the block."""
    state = crm["app"].state
    original = state.settings
    state.settings = original.model_copy(
        update={f"statement_timeout_{k}": v for k, v in seconds.items()}
    )
    try:
        yield
    finally:
        state.settings = original


@pytest.mark.parametrize(
    ("language", "words"), [("zh-CN", "秒仍未完成"), ("en", "did not finish within 0.05 s")]
)
def test_a_slow_member_filter_is_a_422_and_the_connection_stays_healthy(
    crm: dict[str, Any], language: str, words: str
) -> None:
    rep = crm["clients"]["rep_a1"]
    with limits(crm, interactive=0.05):
        response = rep.get(
            CUSTOMERS, params={"filter": SLOW, "limit": 1}, headers={"Accept-Language": language}
        )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "query_timeout"
    assert words in error["message"]
    assert [(i["path"], i["code"]) for i in error["issues"]] == [("filter", "query_timeout")]
    for _ in range(3):  # every pooled connection is usable, with no limit left over
        page = rep.get(CUSTOMERS, params={"limit": 1, "filter": 'name <> "x"'})
        assert page.status_code == 200, page.text
        assert page.json()["total"] > 0


def test_the_default_interactive_limit_stops_the_reported_attack(crm: dict[str, Any]) -> None:
    """No setting changed: the 5 s limit answers instead of running the filter to its end."""
    response = crm["clients"]["admin"].get(CUSTOMERS, params={"filter": SLOW, "limit": 0})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "query_timeout"


def test_an_export_is_held_to_its_own_limit_not_a_lists(crm: dict[str, Any]) -> None:
    admin = crm["clients"]["admin"]
    params = {"filter": MEDIUM, "format": "csv", "fields": "name"}
    with limits(crm, interactive=0.05):
        listed = admin.get(CUSTOMERS, params={"filter": MEDIUM, "limit": 1})
        exported = admin.get(f"{CUSTOMERS}/export", params=params)
    assert listed.status_code == 422 and listed.json()["error"]["code"] == "query_timeout"
    assert exported.status_code == 200, exported.text
    assert len(exported.text.splitlines()) > 100  # every customer with a name
    with limits(crm, export=0.05):
        cut = admin.get(f"{CUSTOMERS}/export", params=params, headers={"Accept-Language": "en"})
    assert cut.status_code == 422, cut.text
    assert cut.json()["error"]["code"] == "query_timeout"
