"""A single select's `display` (auto, dropdown or buttons) is part of its spec: checked at
publish with a field-level error in both languages."""

from __future__ import annotations

from typing import Any

import pytest

from engine.core.issues import DefinitionError
from engine.forms import validate_app


def _app(display: Any) -> dict[str, Any]:
    field: dict[str, Any] = {"key": "level", "type": "select", "options": [{"value": "a"}]}
    if display is not None:
        field["display"] = display
    return {
        "format": "jimu.app/1",
        "key": "shop",
        "name": "Shop",
        "version": "1.0.0",
        "forms": [{"key": "order", "name": "Order", "fields": [field]}],
    }


@pytest.mark.parametrize("display", [None, "auto", "dropdown", "buttons"])
def test_display_choices_are_accepted(display: Any) -> None:
    spec = validate_app(_app(display))
    assert getattr(spec.forms[0].fields[0], "display", None) == display


@pytest.mark.parametrize("display", ["radio", 3, ""])
def test_other_displays_are_refused_at_the_field(display: Any) -> None:
    with pytest.raises(DefinitionError) as raised:
        validate_app(_app(display))
    [issue] = raised.value.issues
    assert issue.path == "forms[0].fields[0].display"
    assert issue.message_zh and issue.message_en
