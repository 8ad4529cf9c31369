"""The `jimu` command line (Typer)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from engine.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from engine.core.context import ExecutionContext

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
    worker: Annotated[
        bool | None,
        typer.Option(
            help="Run the job worker in this process (default: $JIMU_JOB_WORKER, on); one "
            "process of all that share the database works at a time."
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=256,
            help="HTTP worker processes (default: $JIMU_WORKERS, else one per CPU core); "
            "1 serves in this process.",
        ),
    ] = None,
) -> None:
    """Apply pending migrations, then serve the HTTP API, with its docs at /docs."""
    from engine.api import server
    from engine.auth.credentials import admin_token

    settings = _settings(data_dir)
    if worker is not None:
        settings = settings.model_copy(update={"job_worker": worker})
    _prepare_database(settings)
    created = _ensure_admin(settings)
    _sweep_files(settings)
    token = admin_token(settings)
    typer.echo(f"Jimu running at http://{host}:{port}")
    typer.echo(f"API docs: http://{host}:{port}/docs")
    if created is not None and created.password is not None:
        typer.echo(
            f"已创建管理员 / created the administrator: admin  密码 / password: {created.password}"
        )
        typer.echo("  (只显示这一次，请登录后修改 / shown only once; change it after signing in)")
    elif created is not None:
        typer.echo(
            "已创建管理员 admin（密码来自 JIMU_ADMIN_PASSWORD）/ created admin with JIMU_ADMIN_PASSWORD"
        )
    typer.echo(
        f'Sign in: POST http://{host}:{port}/api/v1/auth/login {{"username": "admin", "password": …}}'
    )
    source = (
        "JIMU_ADMIN_TOKEN"
        if settings.admin_token is not None
        else str(settings.data_dir / "admin_token")
    )
    typer.echo(f"Admin token ({source}): {token}")
    typer.echo(f"Log in to the API with the header:  Authorization: Bearer {token}")
    count = server.worker_count(settings, workers)
    if count > 1:
        typer.echo(f"HTTP workers / 工作进程: {count}")
    # The one job worker of this server: a thread of this process, which with several HTTP
    # workers is their supervisor (engine.api.server).
    with _job_worker(settings, singleton=True, enabled=settings.job_worker):
        server.serve(settings, host=host, port=port, workers=count)


JOB_MODULES = ("engine.forms.jobs", "engine.rules.listeners")  # besides the built-in kinds


@contextmanager
def _job_worker(settings: Settings, *, singleton: bool, enabled: bool = True) -> Iterator[None]:
    """A job worker thread on its own engine while the block runs (engine.jobs.worker)."""
    if not enabled:
        yield
        return
    import threading

    from engine.jobs import SERVE_LEASE, Worker, load_kinds
    from engine.store import make_engine

    load_kinds((*JOB_MODULES, *settings.job_modules))
    engine = make_engine(settings)
    stop = threading.Event()
    worker = Worker(engine, settings, singleton=SERVE_LEASE if singleton else None)
    thread = threading.Thread(target=worker.run, args=(stop,), name="jimu-jobs", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)
        engine.dispose()


@app.command("worker")
def worker_command(
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Where the SQLite database and files live (default: $JIMU_DATA_DIR)."),
    ] = None,
    threads: Annotated[
        int, typer.Option(min=1, max=64, help="Worker loops in this process (PostgreSQL).")
    ] = 1,
) -> None:
    """Run due jobs until stopped (SIGTERM or Ctrl-C). On PostgreSQL each process and thread
    adds a worker; on SQLite it shares the one worker lease with `jimu serve`."""
    import signal
    import threading

    from engine.jobs import SERVE_LEASE, Worker, load_kinds
    from engine.store import make_engine

    settings = _settings(data_dir)
    _prepare_database(settings)
    load_kinds((*JOB_MODULES, *settings.job_modules))
    engine = make_engine(settings)
    postgres = engine.dialect.name == "postgresql"
    count = threads if postgres else 1
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    workers = [
        Worker(engine, settings, singleton=None if postgres else SERVE_LEASE) for _ in range(count)
    ]
    loops = [
        threading.Thread(target=one.run, args=(stop,), name=f"jimu-jobs-{i}", daemon=True)
        for i, one in enumerate(workers)
    ]
    typer.echo(f"Jimu job worker: {count} loop(s) on {engine.dialect.name}")
    for loop in loops:
        loop.start()
    while not stop.is_set():
        stop.wait(0.5)
    for loop in loops:
        loop.join()
    engine.dispose()


def _ensure_admin(settings: Settings) -> Any:
    from engine.auth.directory import ensure_admin
    from engine.store import make_engine

    engine = make_engine(settings)
    try:
        with engine.begin() as conn:
            password = (
                settings.admin_password.get_secret_value() if settings.admin_password else None
            )
            return ensure_admin(conn, password)
    finally:
        engine.dispose()


def _sweep_files(settings: Settings) -> None:
    """Remove uploads nothing references that are older than `JIMU_ORPHAN_FILE_HOURS` (engine.forms.orphans)."""
    import datetime as dt

    from engine.forms.orphans import sweep_orphan_files
    from engine.forms.uploads import size_text
    from engine.store import make_engine
    from engine.store.files import FileStore

    engine = make_engine(settings)
    try:
        store = FileStore(settings.data_dir / "files", settings.max_upload_bytes)
        result = sweep_orphan_files(
            engine, store, older_than=dt.timedelta(hours=settings.orphan_file_hours)
        )
    finally:
        engine.dispose()
    if result.files or result.blobs:
        freed = size_text(result.bytes) if result.bytes else "0 KB"
        typer.echo(
            f"已清理无引用的上传文件 / removed unreferenced uploads: {result.files} ({result.blobs} blobs, {freed})"
        )


def _settings(data_dir: Path | None) -> Settings:
    settings = Settings(data_dir=data_dir) if data_dir is not None else Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings


def _context(data_dir: Path | None, channel: str = "import") -> ExecutionContext:
    """The execution context of one command: no signed-in user (the command line acts as an
    administrator), on `channel`, now, in the organisation's time zone (`JIMU_TIMEZONE`)."""
    from engine.core.context import Actor, ExecutionContext

    return ExecutionContext.create(Actor(None, channel), _settings(data_dir).timezone)


app_commands = typer.Typer(help="Install, export and import apps.", no_args_is_help=True)
app.add_typer(app_commands, name="app")
DataDir = Annotated[
    Path | None,
    typer.Option(help="Where the SQLite database lives (default: $JIMU_DATA_DIR or ./data)."),
]


@contextmanager
def _database(data_dir: Path | None) -> Iterator[Engine]:
    """The migrated database of `data_dir`; a refused request exits 1 with its zh/en issues."""
    from engine.core.errors import ServiceError
    from engine.store import make_engine

    settings = _settings(data_dir)
    _prepare_database(settings)
    engine = make_engine(settings)
    try:
        yield engine
    except ServiceError as exc:
        typer.echo(f"{exc.code}: {exc.message_zh} / {exc.message_en}", err=True)
        for found in exc.issues[:50]:
            typer.echo(
                f"  {found.path or '<root>'}: {found.code}: {found.message_zh} / {found.message_en}",
                err=True,
            )
        if len(exc.issues) > 50:
            typer.echo(f"  … {len(exc.issues) - 50} more", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()


@app_commands.command("install")
def app_install(
    pack: Annotated[str, typer.Argument(help="A catalog pack, e.g. crm.")],
    sample_data: Annotated[
        bool, typer.Option("--sample-data", help="Also load the pack's sample records.")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Install a pack from apps_catalog/ as a new app."""
    from rich.progress import Progress, SpinnerColumn, TextColumn

    from engine import catalog

    with (
        _database(data_dir) as engine,
        Progress(SpinnerColumn(), TextColumn("{task.description}"), transient=True) as progress,
    ):
        progress.add_task(f"正在安装 {pack} / installing {pack}…", total=None)
        with engine.begin() as conn:
            installed = catalog.install(conn, pack, sample_data=sample_data, ctx=_context(data_dir))
    typer.echo(f"已安装 / installed: {installed.key} (revision {installed.revision})")


@app_commands.command("export")
def app_export(
    key: Annotated[str, typer.Argument(help="The app key.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the pack (JSON).")],
    data: Annotated[bool, typer.Option("--data", help="Include every live record.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Write an app's definition (and records with --data) as a pack file."""
    import json

    from engine.forms import apps

    with _database(data_dir) as engine, engine.connect() as conn:
        pack = apps.export_pack(conn, key, data=data, ctx=_context(data_dir, "api"))
    output.write_text(json.dumps(pack, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    records = sum(len(v) for v in (pack.get("data") or {}).values())
    typer.echo(f"已导出 / exported {key} -> {output} ({records} records)")


@app_commands.command("import")
def app_import(
    path: Annotated[Path, typer.Argument(help="A pack file written by `jimu app export`.")],
    upgrade: Annotated[
        bool, typer.Option("--upgrade", help="Publish over the installed app of the same key.")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Install (or, with --upgrade, publish over) an app from a pack file."""
    import json

    from rich.progress import Progress, SpinnerColumn, TextColumn

    from engine import apps

    try:
        pack = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        typer.echo(f"无法读取 / cannot read {path}: {exc}", err=True)
        raise typer.Exit(2) from None
    with (
        _database(data_dir) as engine,
        Progress(SpinnerColumn(), TextColumn("{task.description}"), transient=True) as progress,
    ):
        progress.add_task(f"正在导入 / importing {path.name}…", total=None)
        with engine.begin() as conn:
            done = apps.import_pack(
                conn, pack, mode="upgrade" if upgrade else "create", ctx=_context(data_dir)
            )
    installed, plan = done.app, done.plan
    typer.echo(
        f"已导入 / imported: {installed.key} (revision {installed.revision}, {len(plan.steps)} schema steps)"
    )


@app.command("expr")
def expr_command(
    formula: Annotated[
        str, typer.Argument(help='The formula, e.g. \'IF(amount > 100, "big", "small")\'.')
    ],
    record: Annotated[
        str, typer.Option(help='The record as JSON, e.g. \'{"amount": "120"}\'.')
    ] = "{}",
    schema: Annotated[
        str | None,
        typer.Option(help="Field types as JSON; inferred from the record when omitted."),
    ] = None,
    now: Annotated[
        str | None, typer.Option(help="The moment TODAY()/NOW() use (ISO 8601).")
    ] = None,
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
    if not isinstance(record_value, dict) or not (
        schema_value is None or isinstance(schema_value, dict)
    ):
        typer.echo("--record 和 --schema 必须是 JSON 对象 / must be JSON objects", err=True)
        raise typer.Exit(2)
    zone = tz or Settings().timezone
    try:
        result_type = expr.check(
            formula, schema_value if schema_value is not None else _inferred(record_value)
        )
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

    from engine.apps import app_json_schema

    typer.echo(json.dumps(app_json_schema(), ensure_ascii=False, indent=indent or None))


@app.command("openapi")
def openapi_command() -> None:
    """Print the HTTP API's OpenAPI document (builder_ui/openapi.json is this output; the UI's
    typed client is generated from it)."""
    typer.echo(openapi_json())


def openapi_json() -> str:
    """The OpenAPI document as the UI build reads it: stable key order, UTF-8, one trailing newline."""
    import json

    from engine.api.main import create_app

    return json.dumps(create_app().openapi(), ensure_ascii=False, indent=1, sort_keys=True)


user_commands = typer.Typer(help="Create users and import an org chart.", no_args_is_help=True)
app.add_typer(user_commands, name="user")


@user_commands.command("create")
def user_create(
    username: Annotated[str, typer.Argument(help="The sign-in name.")],
    name: Annotated[str, typer.Option("--name", help="Display name (default: the username).")] = "",
    password: Annotated[
        str | None,
        typer.Option(
            "--password",
            help="Initial password (asked for when omitted).",
            prompt=True,
            hide_input=True,
        ),
    ] = None,
    admin: Annotated[bool, typer.Option("--admin", help="Make the user an administrator.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Create a user who can sign in."""
    from engine.auth.directory import create_user

    with _database(data_dir) as engine, engine.begin() as conn:
        user = create_user(
            conn,
            {"username": username, "display_name": name or username, "is_admin": admin},
            password=password,
            actor_id=None,
        )
    typer.echo(
        f"已创建 / created user {user['username']} (id {user['id']}{', admin' if admin else ''})"
    )


@user_commands.command("import")
def user_import(
    path: Annotated[
        Path, typer.Argument(help="An org chart as xlsx or CSV (UTF-8 or GBK) with a header row.")
    ],
    data_dir: DataDir = None,
) -> None:
    """Import an org chart: columns username, display_name, department (a path such as
    销售部/销售一组), manager (a username), phone, email, is_head, password — or their Chinese
    names 用户名, 姓名, 部门, 上级, 手机, 邮箱, 是否负责人, 密码."""
    from engine.auth.directory import import_org_chart, org_chart_rows

    try:
        data = path.read_bytes()
    except OSError as exc:
        typer.echo(f"无法读取 / cannot read {path}: {exc}", err=True)
        raise typer.Exit(2) from None
    with _database(data_dir) as engine, engine.begin() as conn:
        counts = import_org_chart(conn, org_chart_rows(path.name, data), actor_id=None)
    typer.echo(
        f"已导入 / imported: {counts['created']} new, {counts['updated']} updated users, {counts['departments']} new departments"
    )


record_commands = typer.Typer(
    help="Export and import a form's records as xlsx or CSV.", no_args_is_help=True
)
app.add_typer(record_commands, name="records")


def _bar() -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
    )


@record_commands.command("export")
def records_export(
    key: Annotated[str, typer.Argument(help="The app key, e.g. crm.")],
    form: Annotated[str, typer.Argument(help="The form key, e.g. customer.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="The file to write (.xlsx or .csv).")
    ],
    filter: Annotated[
        str | None, typer.Option("--filter", help="A condition in the formula language.")
    ] = None,
    sort: Annotated[
        str | None, typer.Option("--sort", help="Keys, - for descending: -amount,title.")
    ] = None,
    fields: Annotated[
        str | None, typer.Option("--fields", help="Field keys to export, comma-separated.")
    ] = None,
    lang: Annotated[
        str, typer.Option("--lang", help="Header and label language: zh or en.")
    ] = "zh",
    data_dir: DataDir = None,
) -> None:
    """Export a form's records (every record: the command line acts as an administrator)."""
    from engine.auth.callers import auditor
    from engine.forms.service import open_form, system_caller
    from engine.forms.spreadsheet import Format, Language

    fmt: Format = "csv" if output.suffix.lower() == ".csv" else "xlsx"
    language: Language = "en" if lang == "en" else "zh"
    keys = [k.strip() for k in fields.split(",") if k.strip()] if fields else None
    with _database(data_dir) as engine:
        with engine.connect() as conn:
            caller = system_caller(via="cli", audit=auditor(None, None))
            service = open_form(_context(data_dir, "api"), conn, key, form, caller)
            total = service.export_count(filter)
            with _bar() as bar:
                task = bar.add_task(f"导出 / exporting {key}/{form}", total=total)
                result = service.export(
                    output,
                    fmt=fmt,
                    lang=language,
                    filter=filter,
                    sort=sort,
                    fields=keys,
                    progress=lambda done: bar.update(task, completed=done),
                )
        with engine.begin() as conn:
            service.audit_export(conn, result)
    typer.echo(f"已导出 / exported {result.rows} records -> {output}")


@record_commands.command("import")
def records_import(
    key: Annotated[str, typer.Argument(help="The app key, e.g. crm.")],
    form: Annotated[str, typer.Argument(help="The form key, e.g. customer.")],
    path: Annotated[
        Path, typer.Argument(help="An xlsx or CSV file whose first row names the fields.")
    ],
    partial: Annotated[
        bool, typer.Option("--partial", help="Write the good rows and report the bad ones.")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Create records from a spreadsheet through the record pipeline (all or nothing by default)."""
    from engine.auth.callers import auditor
    from engine.forms.service import open_form, system_caller
    from engine.forms.spreadsheet import detect_format, read_rows

    try:
        data = path.read_bytes()
    except OSError as exc:
        typer.echo(f"无法读取 / cannot read {path}: {exc}", err=True)
        raise typer.Exit(2) from None
    with _database(data_dir) as engine:
        rows = read_rows(data, detect_format(path.name, data), 1_000_000)
        with engine.begin() as conn, _bar() as bar:
            caller = system_caller(via="cli", audit=auditor(None, None))
            service = open_form(_context(data_dir), conn, key, form, caller)
            task = bar.add_task(f"导入 / importing {path.name}", total=len(rows) - 1)
            result = service.import_rows(
                rows,
                partial=partial,
                detail={"file": path.name, "rows": len(rows) - 1},
                progress=lambda done: bar.update(task, completed=done),
            )
    for issues in list(result.failed.values())[:50]:
        for found in issues:
            typer.echo(
                f"  {found.path}: {found.code}: {found.message_zh} / {found.message_en}", err=True
            )
    typer.echo(f"已导入 / imported {len(result.created)} records, {len(result.failed)} rows failed")
