"""Evaluate formulas with the JavaScript backend in one long-lived Node process.

:class:`NodeEvaluator` compiles a formula with :func:`engine.expr.to_js`, sends it with the
record (in the API's JSON form, as :func:`engine.expr.runtime.encode` writes values) to
``builder_ui/test-support/formula_server.mjs`` over stdin, and decodes the JSON result back into the
Python value of the formula's type, so results compare directly with
:func:`engine.expr.evaluate`::

    with NodeEvaluator() as node:
        node.evaluate("SUM(items.qty)", record, schema, now=now, tz="Asia/Shanghai")

For pytest, the session fixture ``node_evaluator`` lives in tests/expr/fixtures.py.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import threading
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any

from engine.expr import check, to_js
from engine.expr.runtime import DEFAULT_TZ, decode, encode
from engine.expr.types import infer_schema

ROOT = Path(__file__).resolve().parents[2]
BUILDER_UI = ROOT / "builder_ui"
SERVER = BUILDER_UI / "test-support" / "formula_server.mjs"
SAFE_INTEGER = 2**53


class NodeError(RuntimeError):
    """The Node process failed, or a compiled formula threw in JavaScript."""


def ensure_node_modules() -> None:
    """Install builder_ui's npm dependencies (``npm ci``) if they are missing."""
    if (BUILDER_UI / "node_modules" / "decimal.js").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise NodeError("npm is not installed; cannot install builder_ui dependencies")
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"], cwd=BUILDER_UI, check=True, capture_output=True
    )


def record_json(value: Any) -> Any:
    """A record (Python values or already JSON) in the API's JSON form.

    Leaves go through :func:`engine.expr.runtime.encode`; naive datetimes are taken as UTC
    (as the Python backend reads them) and integers beyond 2^53 are sent as text so that
    JavaScript reads them exactly.
    """
    if isinstance(value, Mapping):
        return {str(k): record_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [record_json(v) for v in value]
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > SAFE_INTEGER:
        return str(value)
    if isinstance(value, (Decimal, dt.date, dt.time)):
        return encode(value)
    return value


def now_json(now: dt.datetime | None) -> str | None:
    """``now`` as the ISO UTC text the JS context takes (naive means UTC)."""
    if now is None:
        return None
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    result: str = encode(now)
    return result


class NodeEvaluator:
    """One Node process evaluating compiled formulas; thread-safe, reusable, closeable."""

    def __init__(self, node: str | None = None) -> None:
        executable = node or shutil.which("node")
        if executable is None:
            raise NodeError("node is not installed")
        ensure_node_modules()
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = subprocess.Popen(
            [executable, str(SERVER)],
            cwd=BUILDER_UI,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            bufsize=1,
        )

    def request(self, message: Mapping[str, Any]) -> Any:
        """Send one request to the server; return its ``value`` or raise NodeError."""
        line = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
        with self._lock:
            process = self._process
            if process is None or process.stdin is None or process.stdout is None:
                raise NodeError("the Node evaluator is closed")
            process.stdin.write(line + "\n")
            process.stdin.flush()
            reply_line = process.stdout.readline()
        if not reply_line:
            raise NodeError(f"the Node process exited (code {process.poll()})")
        reply = json.loads(reply_line)
        if "error" in reply:
            raise NodeError(reply["error"])
        return reply["value"]

    def evaluate_json(
        self,
        source: str,
        record: Mapping[str, Any],
        schema: Mapping[str, Any] | None = None,
        *,
        now: dt.datetime | None = None,
        tz: str = DEFAULT_TZ,
        user: int | None = None,
        departments: tuple[int, ...] = (),
    ) -> Any:
        """The formula's result in JSON form (as :func:`engine.expr.runtime.encode` writes it)."""
        if schema is None:
            schema = infer_schema(record)
        kind = check(source, schema).kind
        message = {
            "src": to_js(source, schema),
            "record": record_json(record),
            "now": now_json(now),
            "tz": tz,
            "kind": kind,
            "user": user,
            "departments": list(departments),
        }
        return self.request(message)

    def evaluate(
        self,
        source: str,
        record: Mapping[str, Any],
        schema: Mapping[str, Any] | None = None,
        *,
        now: dt.datetime | None = None,
        tz: str = DEFAULT_TZ,
        user: int | None = None,
        departments: tuple[int, ...] = (),
    ) -> Any:
        """Evaluate like :func:`engine.expr.evaluate`, but in Node; returns the Python value."""
        if schema is None:
            schema = infer_schema(record)
        value = self.evaluate_json(
            source, record, schema, now=now, tz=tz, user=user, departments=departments
        )
        return decode(value, check(source, schema))

    def close(self) -> None:
        """Stop the Node process (idempotent)."""
        with self._lock:
            process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def __enter__(self) -> NodeEvaluator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_process", None) is not None:
            self.close()
