"""The forms engine never imports the engines above it, nor the app assembly that composes them."""

from __future__ import annotations

import subprocess
import sys

ABOVE = ("engine.apps", "engine.flows", "engine.rules", "engine.reports")


def test_forms_imports_no_engine_above_it() -> None:
    code = (
        "import sys, engine.forms, engine.forms.apps, engine.forms.records, engine.forms.query\n"
        f"print(sorted(m for m in sys.modules if m.startswith({ABOVE!r})))"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert found == "[]"


def test_the_assembly_registers_every_engine_part() -> None:
    code = "import engine.apps as a; print(','.join(a.PART_NAMES))"
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert found == "flows,rules,reports,dashboards"
