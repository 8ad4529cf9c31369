"""The `jimu` command line (Typer)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from engine.api.main import create_app
from engine.settings import Settings

app = typer.Typer(
    name="jimu",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def main() -> None:
    """Jimu (积木): a no-code application builder."""


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port to listen on.")] = 8000,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Where the SQLite database and files live (default: $JIMU_DATA_DIR or ./data)."
        ),
    ] = None,
) -> None:
    """Apply pending migrations, then serve the HTTP API, with its docs at /docs."""
    settings = Settings(data_dir=data_dir) if data_dir is not None else Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    _prepare_database(settings)
    typer.echo(f"Jimu running at http://{host}:{port}")
    typer.echo(f"API docs: http://{host}:{port}/docs")
    uvicorn.run(create_app(settings), host=host, port=port)


@app.command("expr")
def expr_command(
    formula: Annotated[str, typer.Argument(help="The formula, e.g. 'IF(amount > 100, \"big\", \"small\")'.")],
    record: Annotated[str, typer.Option(help="The record as JSON, e.g. '{\"amount\": \"120\"}'.")] = "{}",
    schema: Annotated[
        str | None,
        typer.Option(help="Field types as JSON; inferred from the record when omitted."),
    ] = None,
    now: Annotated[str | None, typer.Option(help="The moment TODAY()/NOW() use (ISO 8601).")] = None,
    tz: Annotated[str | None, typer.Option(help="Time zone (default: $JIMU_TIMEZONE).")] = None,
    show_type: Annotated[bool, typer.Option("--type", help="Also print the result type.")] = False,
) -> None:
    """Evaluate a formula on a record and print its value as JSON (or the error)."""
    import datetime as dt
    import json

    from engine import expr

    try:
        record_value = json.loads(record)
        schema_value = json.loads(schema) if schema is not None else None
        moment = dt.datetime.fromisoformat(now.replace("Z", "+00:00")) if now else None
    except ValueError as exc:
        typer.echo(f"输入无效 / invalid input: {exc}", err=True)
        raise typer.Exit(2) from None
    if not isinstance(record_value, dict) or not (schema_value is None or isinstance(schema_value, dict)):
        typer.echo("--record 和 --schema 必须是 JSON 对象 / must be JSON objects", err=True)
        raise typer.Exit(2)
    zone = tz or Settings().timezone
    try:
        result_type = expr.check(formula, schema_value if schema_value is not None else _inferred(record_value))
        value = expr.evaluate(formula, record_value, schema_value, now=moment, tz=zone)
    except expr.ExprError as exc:
        where = f" (line {exc.line}, column {exc.column})" if exc.span else ""
        typer.echo(f"{exc.code}: {exc.message_zh}\n{exc.code}: {exc.message_en}{where}", err=True)
        if exc.snippet:
            typer.echo(exc.snippet, err=True)
        raise typer.Exit(1) from None
    except ValueError as exc:
        typer.echo(f"字段结构不正确 / invalid schema: {exc}", err=True)
        raise typer.Exit(2) from None
    output = json.dumps(expr.encode(value), ensure_ascii=False)
    typer.echo(f"{output}\t{result_type.name}" if show_type else output)


def _prepare_database(settings: Settings) -> None:
    from engine.store import make_engine, prepare_database

    engine = make_engine(settings)
    try:
        prepare_database(engine)
    finally:
        engine.dispose()


def _inferred(record: dict[str, object]) -> dict[str, object]:
    from engine.expr.types import infer_schema

    return infer_schema(record)


@app.command("schema")
def schema_command(
    indent: Annotated[int, typer.Option(help="Spaces per indentation level (0: one line).")] = 2,
) -> None:
    """Print the JSON Schema of the app definition format (jimu.app/1)."""
    import json

    from engine.forms import app_json_schema

    typer.echo(json.dumps(app_json_schema(), ensure_ascii=False, indent=indent or None))
