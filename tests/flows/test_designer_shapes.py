"""The graphs the builder's flow designer compiles (builder_ui/test-support/flow-shapes.json,
kept equal to the designer's output by builder_ui/src/flows/shapes.test.ts) against the
server's checks: every shape the designer lets a user save validates on the stock CRM, and each
shape it flags before saving (`structureIssues`) is one the server would refuse, with that
server code — so the designer's own messages stand in for the server's, never hide a flow the
server takes."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tests.flows.fixtures import CATALOG
from tests.flows.test_flow_spec import issues

SHAPES: dict[str, Any] = json.loads(
    (
        Path(__file__).resolve().parents[2] / "builder_ui" / "test-support" / "flow-shapes.json"
    ).read_text(encoding="utf-8")
)

SERVER_CODE = {
    "choice_before_parallel": "split_and_join",
    "choice_ends_parallel_branch": "unbalanced_join",
    "empty_branches": "duplicate_edge",
}


def crm_with(graph: dict[str, Any]) -> dict[str, Any]:
    """The stock CRM whose one flow (on contracts, bound to them) has `graph`'s nodes and edges."""
    app: dict[str, Any] = json.loads(CATALOG.read_text(encoding="utf-8"))
    for form in app["forms"]:
        form.pop("flow", None)
        if form["key"] == "contract":
            form["flow"] = "designed"
    app["flows"] = [
        {
            "key": "designed",
            "name": {"zh": "设计器", "en": "Designed"},
            "form": "contract",
            "nodes": copy.deepcopy(graph["nodes"]),
            "edges": copy.deepcopy(graph["edges"]),
        }
    ]
    return app


@pytest.mark.parametrize("name", sorted(SHAPES["accepted"]))
def test_what_the_designer_saves_validates(name: str) -> None:
    assert issues(crm_with(SHAPES["accepted"][name])) == []


@pytest.mark.parametrize("name", sorted(SHAPES["refused"]))
def test_what_the_designer_flags_the_server_refuses(name: str) -> None:
    shape = SHAPES["refused"][name]
    codes = [code for _, code, _, _ in issues(crm_with(shape))]
    assert SERVER_CODE[shape["code"]] in codes, codes


def test_every_designer_check_has_its_server_code() -> None:
    assert {shape["code"] for shape in SHAPES["refused"].values()} == set(SERVER_CODE)
