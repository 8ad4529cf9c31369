"""Flow engine throughput (issue 13, item 6): the CRM's 合同审批 run to the end `--n` times,
alternating the two branches (30,000: the sales director alone; 80,000: director and general
manager countersign), every step committed in its own transaction, on SQLite and PostgreSQL.

Contenders, each run in the same process on the same database, one after the other:

- **SpiffWorkflow 3.2** running the equivalent BPMN 2.0 process (bench/contract_approval.bpmn)
  the way a server would between requests: starting an instance runs the engine to its first
  user tasks, serialises the workflow with `BpmnWorkflowSerializer` and INSERTs it; each
  approval then reads the row, deserialises it, completes one ready user task, runs the
  engine, serialises and UPDATEs the row, in one transaction. The share of time spent in
  `serialize_json`/`deserialize_json` is reported.
- **Jimu** on the stock CRM pack (its own `contract_approval`, demo users and sample data): the
  sales rep creates the contract with its line item through the record service (which starts
  the instance in that transaction), then each approval is `engine.flows.runtime.act` as the
  assignee (what `POST /tasks/{id}/act` runs), each in its own transaction.
- **Jimu, engine only**: the same, except that the contracts are saved beforehand (unmeasured,
  without starting flows) and the first step is `engine.flows.runtime.start` on one of them —
  the flow engine alone, as SpiffWorkflow stores no record either.

A *step* is one committed transaction: the start, and each approval (2 steps on the small
branch, 3 on the large one). Printed per contender and database: instances/s, steps/s, ms per
step, and the ratio of every other contender to SpiffWorkflow.

SpiffWorkflow is a bench-only dependency (the optional extra `bench`):

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python bench/flow_bench.py [--n 2000] [--db sqlite|postgresql|both] [--warmup 20]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_databases import add_database_option, each_database

BPMN = Path(__file__).resolve().parent / "contract_approval.bpmn"
SMALL, LARGE = 30_000, 80_000  # below and above the 50,000 threshold
TIMEZONE = "Asia/Shanghai"


def amount_of(index: int) -> int:
    """The contract amount of instance `index`: the branches alternate."""
    return SMALL if index % 2 == 0 else LARGE


class Contender(Protocol):
    """One flow engine under test. `setup` gets the database URL (empty database) and prepares
    whatever it needs there; `run` starts one contract approval for `amount` and acts on every
    task until the instance ends, committing each step, and returns the steps committed;
    `teardown` releases the database. `extra` reports contender-specific measurements."""

    name: str

    def setup(self, url: str) -> None: ...

    def run(self, amount: int) -> int: ...

    def teardown(self) -> None: ...

    def extra(self) -> dict[str, float]: ...


@dataclass
class SpiffWorkflowContender:
    """SpiffWorkflow 3.2 on bench/contract_approval.bpmn with its serializer, storing one row per
    instance (`spiff_workflow`: id, state JSON, done) and committing one transaction per step
    through the bare database driver on one open connection — its best case: no ORM, no pool.
    SQLite runs with the journal settings Jimu uses (WAL, synchronous=NORMAL)."""

    name: str = "SpiffWorkflow 3.2"
    spec: Any = None
    serializer: Any = None
    connection: Any = None  # the driver's (DBAPI) connection, via SQLAlchemy's URL parsing
    mark: str = "?"  # the driver's parameter marker
    serialising: float = 0.0  # seconds in serialize_json + deserialize_json since reset()

    def setup(self, url: str) -> None:
        from SpiffWorkflow.bpmn.parser import BpmnParser
        from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer

        parser = BpmnParser()
        parser.add_bpmn_file(str(BPMN))
        self.spec = parser.get_spec("contract_approval")
        self.serializer = BpmnWorkflowSerializer()
        engine = create_engine(url, poolclass=NullPool)
        self.mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self.connection = engine.raw_connection()  # the driver's connection, kept open
        cursor = self.connection.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        key = "INTEGER PRIMARY KEY" if engine.dialect.name == "sqlite" else "SERIAL PRIMARY KEY"
        cursor.execute("DROP TABLE IF EXISTS spiff_workflow")
        cursor.execute(
            f"CREATE TABLE spiff_workflow (id {key}, state TEXT NOT NULL, done INTEGER NOT NULL)"
        )
        self.connection.commit()

    def reset(self) -> None:
        self.serialising = 0.0

    def _dump(self, workflow: Any) -> str:
        began = time.perf_counter()
        state: str = self.serializer.serialize_json(workflow)
        self.serialising += time.perf_counter() - began
        return state

    def _load(self, state: str) -> Any:
        began = time.perf_counter()
        workflow = self.serializer.deserialize_json(state)
        self.serialising += time.perf_counter() - began
        return workflow

    def run(self, amount: int) -> int:
        from SpiffWorkflow.bpmn import BpmnWorkflow
        from SpiffWorkflow.util.task import TaskState

        m, db = self.mark, self.connection
        cursor = db.cursor()
        # step 1, submitting: the engine runs to the first user tasks; the instance is stored
        workflow = BpmnWorkflow(self.spec)
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update({"amount": amount, "initiator": "rep_a1"})
        workflow.do_engine_steps()
        done = workflow.is_completed()
        cursor.execute(
            f"INSERT INTO spiff_workflow (state, done) VALUES ({m}, {m}) RETURNING id",
            (self._dump(workflow), int(done)),
        )
        instance = cursor.fetchone()[0]
        db.commit()
        steps = 1
        while not done:  # each approval is a request of its own: load, act, store, commit
            cursor.execute(f"SELECT state FROM spiff_workflow WHERE id = {m}", (instance,))
            workflow = self._load(cursor.fetchone()[0])
            task = workflow.get_next_task(state=TaskState.READY, manual=True)
            task.data.update({"approved": True, "approver": task.task_spec.name})
            task.run()
            workflow.do_engine_steps()
            done = workflow.is_completed()
            cursor.execute(
                f"UPDATE spiff_workflow SET state = {m}, done = {m} WHERE id = {m}",
                (self._dump(workflow), int(done), instance),
            )
            db.commit()
            steps += 1
        return steps

    def teardown(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def extra(self) -> dict[str, float]:
        return {"serialising": self.serialising}


@dataclass
class JimuContender:
    """Jimu's flow runtime on the stock CRM pack (installed with its sample organisation and
    data, so the contract form's 合同审批 `contract_approval` is bound and the demo users hold
    their roles). `run` is what the product commits, one transaction per step:

    - the submission: the sales rep `rep_a1` creates a contract with one line item through the
      record service opened as that member (`engine.auth.callers.open_as`, what
      `POST …/records` does); the flow listener starts the instance in that transaction and
      routes it on the contract amount, a rollup of the lines;
    - each approval: the open task of the instance is read, then `engine.flows.runtime.act`
      approves it as its assignee (the same call as `POST /tasks/{id}/act`), and the
      transaction commits.

    The engine is Jimu's own (`engine_for_url`: on SQLite WAL, `BEGIN IMMEDIATE`, the write
    queue), with its pool, as `jimu serve` runs it."""

    name: str = "Jimu"
    engine: Any = None
    customer: int = 0
    form_id: int = 0
    principals: dict[str, Any] = field(default_factory=dict)
    made: int = 0
    open_task: Any = None

    def setup(self, url: str) -> None:
        from sqlalchemy import bindparam, select

        from engine import catalog
        from engine.auth.principal import Principal
        from engine.core.context import Actor, ExecutionContext
        from engine.flows import listeners
        from engine.flows.models import FlowInstance, FlowTask
        from engine.store import engine_for_url, prepare_database
        from engine.store.models import App, Form, User

        self.engine = engine_for_url(url)
        prepare_database(self.engine)
        listeners.register()
        with self.engine.begin() as conn:
            if conn.execute(select(App.id).where(App.key == "crm")).first() is None:
                catalog.install(  # once per database: the contenders after the first reuse it
                    conn, "crm", sample_data=True, ctx=ExecutionContext.create(Actor(), TIMEZONE)
                )
            users = {row.username: row.id for row in conn.execute(select(User.username, User.id))}
            self.form_id = int(
                conn.execute(select(Form.id).where(Form.key == "contract")).scalar_one()
            )
        self.principals = {
            name: Principal(user_id, name, False, "session") for name, user_id in users.items()
        }
        with self.engine.begin() as conn:
            service = self._open(conn, "rep_a1", "customer")
            self.customer = int(service.list(limit=1).items[0]["_id"])
        # what the approver's inbox shows: the instance's open task (one statement, built once)
        self.open_task = (
            select(FlowTask.id, FlowTask.assignee_id)
            .join(FlowInstance, FlowInstance.id == FlowTask.instance_id)
            .where(
                FlowInstance.form_id == self.form_id,
                FlowInstance.record_id == bindparam("record"),
                FlowTask.state == "open",
            )
            .order_by(FlowTask.id)
            .limit(1)
        )

    def _open(self, conn: Any, username: str, form: str) -> Any:
        from engine.auth.callers import open_as

        principal = self.principals[username]
        return open_as(self._ctx(principal), conn, principal, "crm", form, writes=True)

    def _ctx(self, principal: Any) -> Any:
        from engine.core.context import ExecutionContext

        return ExecutionContext.create(principal.actor(), TIMEZONE)

    def run(self, amount: int) -> int:
        from engine.flows import runtime

        record_id = self.submit(amount)
        steps = 1
        names = {p.user_id: p for p in self.principals.values()}
        state = runtime.RUNNING
        while state == runtime.RUNNING:  # each approval: the approver's open task, acted on
            with self.engine.begin() as conn:
                task = conn.execute(self.open_task, {"record": record_id}).first()
                if task is None:
                    break
                principal = names[task.assignee_id]
                done = runtime.act(conn, self._ctx(principal), int(task.id), "approve")
            steps += 1
            state = done.state
        if state != "approved":
            raise RuntimeError(f"contract {record_id} ended {state}")
        return steps

    def contract(self, amount: int) -> dict[str, Any]:
        """A new contract of `amount` (one line item) as the sales rep submits it."""
        self.made += 1
        return {
            "title": f"合同 {self.made}",
            "customer": self.customer,
            "start_date": "2026-12-01",
            "end_date": "2027-11-30",
            "items": [{"product": "软件", "qty": 2, "price": str(amount // 2)}],
        }

    def submit(self, amount: int) -> int:
        """Step 1, committed: the sales rep's create, which starts the instance."""
        with self.engine.begin() as conn:
            [record_id] = self._open(conn, "rep_a1", "contract").create_many(
                [self.contract(amount)]
            )
        return int(record_id)

    def teardown(self) -> None:
        if self.engine is not None:
            self.engine.dispose()
            self.engine = None

    def extra(self) -> dict[str, float]:
        return {}


@dataclass
class JimuEngineContender(JimuContender):
    """Jimu's flow engine alone: `setup` saves `count` contracts of each amount beforehand
    through the record service with record events off (a sample-data load: no flow starts,
    nothing measured), and step 1 is `engine.flows.runtime.start` on the next saved contract
    of that amount as the sales rep, committed — what the create's flow listener runs, without
    the record write. The approvals are `JimuContender`'s."""

    name: str = "Jimu, engine only"
    count: int = 0
    saved: dict[int, list[int]] = field(default_factory=dict)

    def setup(self, url: str) -> None:
        import dataclasses

        super().setup(url)
        principal = self.principals["rep_a1"]
        for amount in (SMALL, LARGE):
            ids: list[int] = []
            while len(ids) < self.count:
                batch = [self.contract(amount) for _ in range(min(200, self.count - len(ids)))]
                ctx = dataclasses.replace(self._ctx(principal), record_events=False)
                from engine.auth.callers import open_as

                with self.engine.begin() as conn:
                    service = open_as(ctx, conn, principal, "crm", "contract", writes=True)
                    ids.extend(int(i) for i in service.create_many(batch))
            self.saved[amount] = ids[::-1]  # popped from the end: creation order

    def submit(self, amount: int) -> int:
        from engine.flows import runtime

        record_id = self.saved[amount].pop()
        principal = self.principals["rep_a1"]
        with self.engine.begin() as conn:
            started = runtime.start(
                conn,
                self._ctx(principal),
                app_key="crm",
                form_key="contract",
                record_id=record_id,
                initiator_id=principal.user_id,
                record_version=1,
            )
        if started is None:
            raise RuntimeError("the contract form has no runnable flow")
        return record_id


@dataclass
class Result:
    """What one contender did on one database."""

    contender: str
    instances: int
    steps: int
    seconds: float
    extra: dict[str, float]

    @property
    def instances_per_second(self) -> float:
        return self.instances / self.seconds

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds

    @property
    def ms_per_step(self) -> float:
        return 1000 * self.seconds / self.steps


def measure(contender: Contender, url: str, n: int, warmup: int) -> Result:
    """`warmup` unmeasured instances, then `n` measured ones, alternating the branches."""
    contender.setup(url)
    try:
        for i in range(warmup):
            contender.run(amount_of(i))
        reset = getattr(contender, "reset", None)
        if reset is not None:
            reset()
        steps = 0
        began = time.perf_counter()
        for i in range(n):
            steps += contender.run(amount_of(i))
        seconds = time.perf_counter() - began
        return Result(contender.name, n, steps, seconds, contender.extra())
    finally:
        contender.teardown()


def report(database: str, result: Result) -> None:
    line = (
        f"{database:<11} {result.contender:<18} {result.instances:>6} instances"
        f"  {result.instances_per_second:8.1f} inst/s  {result.steps_per_second:8.1f} steps/s"
        f"  {result.ms_per_step:6.2f} ms/step"
    )
    if "serialising" in result.extra:
        line += f"  (de)serialising {100 * result.extra['serialising'] / result.seconds:4.1f}%"
    print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="measured instances per contender")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured instances first")
    add_database_option(parser)
    args = parser.parse_args()
    for database, url in each_database(args.db, "flow_bench.db"):
        per_amount = (args.n + args.warmup + 1) // 2 + 1  # the branches alternate
        contenders: list[Contender] = [
            SpiffWorkflowContender(),
            JimuContender(),
            JimuEngineContender(count=per_amount),
        ]
        results: list[Result] = []
        for contender in contenders:
            results.append(measure(contender, url, args.n, args.warmup))
            report(database, results[-1])
        baseline = results[0] if results and results[0].contender.startswith("Spiff") else None
        for result in results:
            if baseline is not None and result is not baseline:
                print(
                    f"{database:<11} {result.contender} / {baseline.contender}:"
                    f" {result.instances_per_second / baseline.instances_per_second:.2f}×"
                    " instances/s",
                    flush=True,
                )


if __name__ == "__main__":
    main()
