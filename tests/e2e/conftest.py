"""End-to-end fixtures: a real Jimu server (`jimu serve` in a process of its own, forked from
one that imported the engine once: tests/e2e/forked_serve.py; on a temporary data directory)
and Debian's Chromium driven by Playwright.

Servers start from session templates (`ServerTemplates`): the first test that needs, say, an
empty Jimu or one with the CRM installed has a server made once — migrations, the administrator,
the install through the API — and stopped; every such server after that starts on a copy of
that data directory, in the same state without redoing the work. The end of the session prints
how many servers started and how long they took.

Playwright never downloads a browser here: it launches /usr/bin/chromium (`JIMU_E2E_CHROMIUM`
overrides), installed by scripts/test.sh with fonts-noto-cjk so Chinese renders in the
screenshots each test saves under test-artifacts/e2e/<test>/.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request
import uuid
from collections import deque
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, Literal

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Locator,
    Page,
    Playwright,
    Request,
    expect,
    sync_playwright,
)
from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.engine import make_url

from engine.store.models import Job, utcnow
from engine.store.session import engine_for_url
from tests.e2e import forked_serve

ROOT = Path(__file__).resolve().parents[2]
BUILDER_UI = ROOT / "builder_ui"
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
STEP_SHOTS = os.environ.get("JIMU_E2E_SHOTS") == "1"  # every `shot` step saved (see `shot`)
CHROMIUM = os.environ.get("JIMU_E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ADMIN_PASSWORD = "E2e-Admin-2026"
# Two shared cores run the server, Chromium and other work at once: wait up to 15 s for what a
# test expects to see (Playwright's default is 5 s), so a slow moment is not a failure.
expect.set_options(timeout=15_000)
SAMPLE_PASSWORD = "Jimu@2026"
# Every browser context asks for reduced motion, which the UI honours by turning antd's motion
# off (builder_ui/src/components/reducedMotion.ts). With motion on, a dialog or popover that
# opens under load can sit paused in its first frame (scaled to a fifth, transparent) long
# enough for Playwright to find it "stable" and click where its button is at that scale: the
# click lands beside the button once the zoom runs, and nothing happens (docs/decisions.md).
REDUCED_MOTION: Literal["reduce"] = "reduce"


STARTS: list[float] = []
"""Seconds each `start_server` of this session took until the server answered (the summary)."""


@dataclass
class Server:
    """A running Jimu server."""

    url: str
    data_dir: Path
    process: BaseProcess

    @property
    def api(self) -> str:
        return f"{self.url}/api/v1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def ensure_ui_built() -> None:
    """Build builder_ui/dist when it is missing (scripts/test.sh builds it before the tests)."""
    if (BUILDER_UI / "dist" / "index.html").is_file():
        return
    npm = shutil.which("npm")
    assert npm, "npm is needed to build the UI (or run ./scripts/test.sh)"
    if not (BUILDER_UI / "node_modules").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=BUILDER_UI, check=True)
    subprocess.run([npm, "run", "build"], cwd=BUILDER_UI, check=True)


def start_server(data_dir: Path, database_url: str | None = None) -> Server:
    ensure_ui_built()
    port = _free_port()
    env = {**os.environ, "JIMU_DATA_DIR": str(data_dir), "JIMU_ADMIN_PASSWORD": ADMIN_PASSWORD}
    # One HTTP worker, serving in the server's own process: a browser test sends one request
    # at a time, a supervisor with a worker per core costs three interpreters per start, and a
    # forked server is daemonic, which may not start worker processes (forked_serve.start).
    # Several workers are tested in tests/api/test_workers.py.
    env["JIMU_WORKERS"] = "1"
    env.pop("JIMU_ADMIN_TOKEN", None)
    if database_url:
        env["JIMU_DATABASE_URL"] = database_url
    else:
        env.pop("JIMU_DATABASE_URL", None)
    process = forked_serve.start(
        ["serve", "--host", "127.0.0.1", "--port", str(port)],
        env,
        ROOT,
        data_dir / "server.log",
    )
    url = f"http://127.0.0.1:{port}"
    began = time.monotonic()
    deadline = began + 120  # a loaded machine (two cores, several suites at once) is slow
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/v1/health", timeout=2) as response:
                if response.status == 200:
                    STARTS.append(time.monotonic() - began)
                    return Server(url, data_dir, process)
        except OSError:
            pass
        if not process.is_alive() or time.monotonic() > deadline:
            kill_server(process)
            raise RuntimeError(f"Jimu did not start:\n{(data_dir / 'server.log').read_text()}")
        time.sleep(0.05)


def kill_server(process: BaseProcess) -> None:
    """Kill a server and any process it started (its process group)."""
    if process.pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    process.join()


def stop_server(server: Server) -> None:
    server.process.terminate()
    server.process.join(timeout=10)
    if server.process.exitcode is None:
        kill_server(server.process)


RETIRED: list[Server] = []
"""Servers told to stop whose exit nobody waits for yet (`retire_server`)."""


def retire_server(server: Server) -> None:
    """Tell a server of one test to stop and go on: the next test need not wait for its
    shutdown. The end of the session waits for every retired server (`reap_retired`)."""
    server.process.terminate()
    RETIRED.append(server)


def reap_retired() -> None:
    """Wait for the retired servers to exit (killing one that takes over 10 s)."""
    while RETIRED:
        stop_server(RETIRED.pop())


def install_crm(server: Server, *, sample_data: bool) -> None:
    """Install the stock CRM through the API (with its sample data when `sample_data`)."""
    api_call(server, "POST", "/catalog/crm/install", {"sample_data": sample_data})


TEMPLATES: dict[str, Callable[[Server], None]] = {
    "empty": lambda server: None,
    "crm": lambda server: install_crm(server, sample_data=True),
    "crm-no-samples": lambda server: install_crm(server, sample_data=False),
}
"""What each session template holds: done to a new server on a copy of the empty template."""

NOT_COPIED = {"server.log", "admin_token"}
"""Files of a template's data directory a copy starts without: its own log, and its own admin
token (the server makes a new one). The `-writequeue` lock files are made per server too."""


def jobs_settled(data_dir: Path, timeout: float = 60) -> None:
    """Wait until the server on `data_dir` has no job running or due (what its set-up queued is
    done), so that a template is not stopped in the middle of one."""
    engine = engine_for_url(f"sqlite:///{data_dir / 'jimu.db'}")
    busy = (
        select(func.count())
        .select_from(Job)
        .where(or_(Job.state == "running", and_(Job.state == "queued", Job.run_at <= utcnow())))
    )
    deadline = time.monotonic() + timeout
    try:
        while True:
            with engine.connect() as conn:
                if not conn.execute(busy).scalar_one():
                    return
            assert time.monotonic() < deadline, f"jobs still due in {data_dir} after {timeout} s"
            time.sleep(0.1)
    finally:
        engine.dispose()


class ServerTemplates:
    """Data directories made once per session (`TEMPLATES`) and servers started on copies.

    A template is made by a real `jimu serve` (on a copy of the empty template, the empty one on
    a new directory), set up through the API, then stopped; its copies start in that state. A
    copy shares nothing with its template: SQLite keeps no paths, the files folder is copied,
    the server picks its own port and admin token, and no job lease is left behind (a stopped
    server gives its lease up; any still recorded is cleared, so a copy's job worker starts at
    once). Cron jobs the template queued stay queued, as on a restarted server."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.made: dict[str, Path] = {}

    def directory(self, name: str) -> Path:
        """The data directory of template `name`, made on first use."""
        if name not in self.made:
            folder = self.root / name
            shutil.rmtree(folder, ignore_errors=True)  # what a failed attempt left
            if name == "empty":
                folder.mkdir()
                server = start_server(folder)
            else:
                server = self.start("empty", folder)
            try:
                TEMPLATES[name](server)
                jobs_settled(folder)
            finally:
                stop_server(server)
            engine = engine_for_url(f"sqlite:///{folder / 'jimu.db'}")
            try:
                with engine.begin() as conn:
                    conn.execute(text("DELETE FROM job_leases"))
            finally:
                engine.dispose()
            self.made[name] = folder
        return self.made[name]

    def start(self, name: str, data_dir: Path, database_url: str | None = None) -> Server:
        """A server on a copy of template `name` in `data_dir` (made or empty)."""
        template = self.directory(name)
        data_dir.mkdir(parents=True, exist_ok=True)
        for entry in template.iterdir():
            if entry.name in NOT_COPIED or entry.name.endswith("-writequeue"):
                continue
            if entry.is_dir():
                shutil.copytree(entry, data_dir / entry.name)
            else:
                shutil.copy2(entry, data_dir / entry.name)
        return start_server(data_dir, database_url)


def admin_token(server: Server) -> str:
    return (server.data_dir / "admin_token").read_text(encoding="utf-8").strip()


def api_call(
    server: Server, method: str, path: str, body: object = None, token: str | None = None
) -> Any:
    """Call the API (as the admin token unless `token`): set-up steps and cross-checks that are
    not what a test is about."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{server.api}{path}",
        data=data,
        method=method,
        headers={
            "Authorization": f"Bearer {token or admin_token(server)}",
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


def user_token(server: Server, username: str, password: str = SAMPLE_PASSWORD) -> str:
    """A Bearer session token of `username` (signs in through the API)."""
    request = urllib.request.Request(
        f"{server.api}/auth/login",
        data=json.dumps({"username": username, "password": password}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        token: str = json.loads(response.read())["token"]
        return token


def records(server: Server, form: str, token: str | None = None, **params: str) -> Any:
    """`GET /apps/crm/forms/{form}/records` with query parameters."""
    query = urllib.parse.urlencode(params)
    return api_call(server, "GET", f"/apps/crm/forms/{form}/records?{query}", token=token)


def column_texts(grid: Locator, header: str) -> list[str]:
    """The texts of the grid column whose header reads `header`, top to bottom."""
    texts: list[str] = grid.evaluate(
        """(grid, header) => {
            const heads = [...grid.querySelectorAll("thead th")];
            const index = heads.findIndex((th) => th.innerText.trim() === header);
            if (index < 0) throw new Error("no column " + header);
            return [...grid.querySelectorAll("tbody tr.ant-table-row")].map((tr) => tr.children[index].innerText.trim());
        }""",
        header,
    )
    return texts


def select_option(page: Page, trigger: Locator, text: str) -> None:
    """Open an antd Select and pick the option showing `text` in *its* dropdown, once the
    dropdown has finished opening. (Any visible dropdown with such an option used to do: under
    load a click could land on an option that was still animating, or in another dropdown
    listing the same field.)"""
    trigger.click()
    combobox = trigger.get_by_role("combobox")
    expect(combobox).to_have_attribute("aria-expanded", "true")
    listbox = combobox.get_attribute("aria-controls")
    assert listbox, "an open antd Select names its list in aria-controls"
    dropdown = page.locator(f".ant-select-dropdown:has([id='{listbox}'])")
    dropdown.evaluate(OPENED)
    dropdown.locator(".ant-select-item-option").filter(has_text=text).first.click()


OPENED = """(dropdown) => new Promise((resolve) => {
    let last = "";
    let still = 0;
    const tick = () => {
        const r = dropdown.getBoundingClientRect();
        const now = `${r.x},${r.y},${r.width},${r.height}`;
        const moving = /-(enter|appear|leave)/.test(dropdown.className);
        still = now === last && !moving ? still + 1 : 0;
        last = now;
        if (still >= 5) resolve(true);
        else requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
})"""
"""Resolves once a dropdown has finished its opening animation and holds still for five frames."""


def settle(page: Page) -> None:
    """Wait until nothing on the page moves any more (a dialog's opening animation, a resize):
    no antd enter/appear animation is running and positions hold for ten frames in a row. On a
    loaded machine an animation can start a frame late, so two equal frames are not enough."""
    page.wait_for_function(
        """() => new Promise((resolve) => {
            const moving = () => document.querySelector("[class*='-enter'], [class*='-appear'], [class*='-leave']") !== null;
            const snap = () => [...document.querySelectorAll("[data-testid]")].map((e) => { const r = e.getBoundingClientRect(); return `${r.x},${r.y},${r.width}`; }).join(";");
            let last = snap();
            let still = 0;
            const tick = () => {
                const now = snap();
                still = now === last && !moving() ? still + 1 : 0;
                last = now;
                if (still >= 10) resolve(true);
                else requestAnimationFrame(tick);
            };
            requestAnimationFrame(tick);
        })"""
    )


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), (
        f"{CHROMIUM} is missing: apt-get install chromium (scripts/test.sh does)"
    )
    browser = playwright.chromium.launch(
        headless=True, executable_path=CHROMIUM, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def server_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerTemplates]:
    """The session's server templates (`ServerTemplates.start(name, data_dir)`); at its end,
    every retired server has exited."""
    yield ServerTemplates(tmp_path_factory.mktemp("templates"))
    reap_retired()


@pytest.fixture
def fresh_server(
    server_templates: ServerTemplates, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Server]:
    """A new Jimu on an empty SQLite database (only the administrator exists); a test marked
    `@pytest.mark.server_template("crm")` gets it with the CRM and its sample data installed
    (`"crm-no-samples"`: without sample data), as `POST /catalog/crm/install` leaves it."""
    marker = request.node.get_closest_marker("server_template")
    name: str = marker.args[0] if marker else "empty"
    server = server_templates.start(name, tmp_path)
    yield server
    retire_server(server)


@pytest.fixture(scope="session")
def crm_server(
    server_templates: ServerTemplates, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """One Jimu for the session with the CRM and its sample data installed (through the API)."""
    server = server_templates.start("crm", tmp_path_factory.mktemp("crm"))
    yield server
    stop_server(server)


@pytest.fixture
def postgres_server(postgres_url: str, tmp_path: Path) -> Iterator[Server]:
    """A new Jimu on a database of its own on the test PostgreSQL server."""
    name = f"jimu_e2e_{uuid.uuid4().hex[:10]}"
    admin = engine_for_url(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    server = start_server(tmp_path, url)
    yield server
    stop_server(server)
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


Shot = Callable[[Page, str], None]


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Shot:
    """`shot(page, "step")` saves test-artifacts/e2e/<test>/<nn>-step.png (full page) when
    ``JIMU_E2E_SHOTS=1``. Off by default: a full-page screenshot costs the browser ~0.5 s of
    CPU, ~217 of them a run on two cores the suite keeps busy; a failing test saves each open
    page's screenshot anyway (`_failure_report`)."""
    folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    count = 0

    def take(page: Page, name: str) -> None:
        nonlocal count
        count += 1
        if STEP_SHOTS:
            folder.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(folder / f"{count:02d}-{name}.png"), full_page=True)

    return take


def new_page(
    browser: Browser, server: Server, *, width: int = 1280, height: int = 800, lang: str = "zh-CN"
) -> Page:
    context = browser.new_context(
        viewport={"width": width, "height": height},
        base_url=server.url,
        locale=lang,
        reduced_motion=REDUCED_MOTION,
    )
    context.set_default_timeout(15_000)
    watch(context)
    return context.new_page()


TRAFFIC_KEPT = 40
"""Requests and console lines kept per browser context for a failing test's report."""


def watch(context: BrowserContext) -> None:
    """Keep the context's last requests (method, path, status, milliseconds) and console
    errors, so that a failing test reports what the browser asked and was told: a race seen
    once in CI is found from its report, not from a rerun."""
    lines: deque[str] = deque(maxlen=TRAFFIC_KEPT)
    began: dict[Request, float] = {}

    def path(request: Request) -> str:
        parts = urllib.parse.urlsplit(request.url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def stamp() -> str:
        return time.strftime("%H:%M:%S") + f".{int(time.time() * 1000) % 1000:03d}"

    def finished(request: Request) -> None:
        if request.resource_type not in ("fetch", "xhr"):
            return
        response = request.response()
        took = (time.monotonic() - began.pop(request, time.monotonic())) * 1000
        status = response.status if response else "-"
        lines.append(f"{stamp()} {request.method} {path(request)} -> {status} ({took:.0f} ms)")

    def failed(request: Request) -> None:
        began.pop(request, None)
        lines.append(f"{stamp()} {request.method} {path(request)} FAILED {request.failure}")

    def console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            lines.append(f"{stamp()} console.{message.type}: {message.text[:300]}")

    context.on("request", lambda request: began.__setitem__(request, time.monotonic()))
    context.on("requestfinished", finished)
    context.on("requestfailed", failed)
    context.on("console", console)
    context.on("weberror", lambda error: lines.append(f"{stamp()} page error: {error.error}"))

    def closed(gone: BrowserContext) -> None:
        _TRAFFIC.pop(gone, None)

    context.on("close", closed)
    _TRAFFIC[context] = lines


_TRAFFIC: dict[BrowserContext, deque[str]] = {}


def _failure_report(item: pytest.Item) -> str:
    """Each open page (its address, a screenshot saved beside the test's shots, the watched
    traffic) and the end of each server's log, for a test that failed."""
    parts: list[str] = []
    folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", item.name)
    servers = [v for v in getattr(item, "funcargs", {}).values() if isinstance(v, Server)]
    for n, (context, lines) in enumerate(list(_TRAFFIC.items())):
        try:
            pages = context.pages
        except Exception:  # a context closed by the test
            continue
        # Pages other tests left open on other servers say nothing about this failure.
        if servers and not any(p.url.startswith(s.url + "/") for p in pages for s in servers):
            continue
        for m, page in enumerate(pages):
            shot_path = folder / f"failure-{n}-{m}.png"
            try:
                folder.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(shot_path), full_page=True)
                saved = str(shot_path.relative_to(ROOT))
            except Exception as error:  # the page may be gone or hung
                saved = f"no screenshot ({error.__class__.__name__})"
            parts.append(f"page {n}.{m}: {page.url} — {saved}")
        parts.extend(f"  {line}" for line in lines)
    for name, value in getattr(item, "funcargs", {}).items():
        if isinstance(value, Server):
            log = value.data_dir / "server.log"
            text = log.read_text(errors="replace") if log.exists() else ""
            # The UI's own files say nothing about a race; the API calls and errors do.
            tail = [line for line in text.splitlines() if "GET /assets/" not in line][-30:]
            parts.append(f"server {name} ({value.url}), last lines of server.log:")
            parts.extend(f"  {line}" for line in tail)
    return "\n".join(parts)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call" and report.failed:
        report.sections.append(("browser and server at the failure", _failure_report(item)))
    return report


def login(page: Page, username: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登 录").or_(page.get_by_role("button", name="登录")).click()
    page.wait_for_url(re.compile(r"^(?!.*/login).*$"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "server_template(name): the state `fresh_server` starts in (a key of TEMPLATES)",
    )


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Under pytest-xdist, hand this worker's server starts to the controller's summary."""
    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        output["e2e_starts"] = STARTS


def pytest_testnodedown(node: Any, error: object) -> None:
    """(xdist controller) Add a finished worker's server starts to the summary."""
    STARTS.extend(getattr(node, "workeroutput", {}).get("e2e_starts", []))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """How many Jimu servers the session started and the seconds until they answered."""
    if STARTS:
        terminalreporter.write_line(
            f"e2e: {len(STARTS)} Jimu servers started, {sum(STARTS):.1f} s until they answered"
        )
