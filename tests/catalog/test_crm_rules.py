"""The CRM pack's automation rules (issue 14 item 5) on the stock CRM with sample data, SQLite
and PostgreSQL, driven through the HTTP API as the demo users:

- installing with sample data fires no rule (no runs, no rule jobs, no rule notices);
- 商机 阶段 → 已签约 creates a 项目 with the customer, amount and owner as manager, in the save;
- a new 线索 without an owner goes to the 销售代表 in turn — its 负责人 field filled in too —, each
  told in their inbox;
- a follow-up stamps its opportunity's 最近跟进 (what the 7-day reminder reads);
- 客户等级 follows the signed contract total: C → B → A as contracts are signed, back to B
  when one is deleted or terminated; a contract moved to another customer re-sums both;
- the pack's rules publish again as they are, and a broken copy is refused at its path.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from engine.flows.models import Notification
from engine.jobs import Worker
from engine.rules.models import RuleRun
from engine.rules.runtime import JOB_KIND
from engine.settings import Settings
from engine.store.models import Job
from tests.auth.crm_org import API, installed_crm

RULE_KEYS = [
    "won_creates_project",
    "lead_round_robin",
    "followup_added_stamps_opportunity",
    "followup_deleted_stamps_opportunity",
    "contract_created_signed_total",
    "contract_updated_signed_total",
    "contract_deleted_signed_total",
    "customer_level_from_signed",
    "stale_opportunity_reminder",
]
REPS = ["rep_a1", "rep_a2", "rep_b1", "rep_b2"]  # the 销售代表 of sample_users.json, by id


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def crm(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    yield from installed_crm(request, tmp_path_factory)


def _work(engine: Engine) -> int:
    """Run every due job (rule runs and what they queue in turn)."""
    return Worker(engine, Settings(timezone="Asia/Shanghai")).drain()


def _records(client: TestClient, form: str, **params: Any) -> list[dict[str, Any]]:
    found = client.get(f"{API}/apps/crm/forms/{form}/records", params={"limit": 200, **params})
    assert found.status_code == 200, found.text
    items: list[dict[str, Any]] = found.json()["items"]
    return items


def _get(client: TestClient, form: str, record_id: int) -> dict[str, Any]:
    found = client.get(f"{API}/apps/crm/forms/{form}/records/{record_id}")
    assert found.status_code == 200, found.text
    record: dict[str, Any] = found.json()
    return record


def _create(client: TestClient, form: str, values: dict[str, Any]) -> dict[str, Any]:
    made = client.post(f"{API}/apps/crm/forms/{form}/records", json=values)
    assert made.status_code == 201, made.text
    record: dict[str, Any] = made.json()
    return record


def _update(client: TestClient, form: str, record_id: int, values: dict[str, Any]) -> None:
    version = _get(client, form, record_id)["_version"]
    changed = client.patch(
        f"{API}/apps/crm/forms/{form}/records/{record_id}", json={**values, "_version": version}
    )
    assert changed.status_code == 200, changed.text


def _delete(client: TestClient, form: str, record_id: int) -> None:
    gone = client.delete(f"{API}/apps/crm/forms/{form}/records/{record_id}")
    assert gone.status_code == 204, gone.text


def _id(value: Any) -> Any:
    return value["_id"] if isinstance(value, dict) and "_id" in value else value


def _user(value: Any) -> Any:
    return value["id"] if isinstance(value, dict) else value


def _runs(client: TestClient, rule: str) -> list[dict[str, Any]]:
    found = client.get(f"{API}/apps/crm/rules/{rule}/runs", params={"limit": 100})
    assert found.status_code == 200, found.text
    items: list[dict[str, Any]] = found.json()["items"]
    return items


def _rule_notices(client: TestClient) -> list[dict[str, Any]]:
    found = client.get(f"{API}/notifications", params={"limit": 200})
    assert found.status_code == 200, found.text
    return [n for n in found.json()["items"] if n["kind"] in ("assigned_record", "rule")]


def test_installing_with_sample_data_fires_no_rule(crm: dict[str, Any]) -> None:
    engine: Engine = crm["engine"]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(RuleRun)).scalar_one() == 0
        jobs = conn.execute(select(func.count()).where(Job.kind == JOB_KIND)).scalar_one()
        assert jobs == 0
        notices = conn.execute(
            select(func.count()).where(Notification.kind.in_(["assigned_record", "rule"]))
        ).scalar_one()
        assert notices == 0
    admin: TestClient = crm["clients"]["crm_admin"]
    state = admin.get(f"{API}/apps/crm/rules/state")
    assert state.status_code == 200, state.text
    rules = {r["key"]: r for r in state.json()["rules"]}
    assert list(rules) == RULE_KEYS
    assert all(r["enabled"] and r["last_run"] is None for r in rules.values())
    assert len(_records(admin, "project")) == 88  # the sample's: one per won deal
    assert _work(engine) == 0


def test_a_won_opportunity_creates_its_project_in_the_save(crm: dict[str, Any]) -> None:
    rep: TestClient = crm["clients"]["rep_a1"]
    open_deals = [d for d in _records(rep, "opportunity") if d["stage"] not in ("won", "lost")]
    deal = next(d for d in open_deals if d.get("amount") and d.get("owner"))
    before = {p["_id"] for p in _records(rep, "project")}
    _update(rep, "opportunity", deal["_id"], {"stage": "won"})
    # the rep sees it: the project belongs to whoever won the deal
    projects = [p for p in _records(rep, "project") if p["_id"] not in before]
    assert len(projects) == 1
    project = projects[0]
    assert project["name"] == deal["title"]
    assert _id(project["customer"]) == _id(deal["customer"])
    assert Decimal(str(project["amount"])) == Decimal(str(deal["amount"]))
    assert _user(project["manager"]) == _user(deal["owner"])
    assert project["status"] == "not_started"
    runs = _runs(crm["clients"]["crm_admin"], "won_creates_project")
    assert [(r["state"], r["record_id"]) for r in runs] == [("succeeded", deal["_id"])]
    assert runs[0]["actions"][0]["outcome"]["created"] == [project["_id"]]
    # another change of a won deal, or a deal that stays won, creates nothing more
    _update(rep, "opportunity", deal["_id"], {"win_rate": 1})
    lost = next(d for d in open_deals if d["_id"] != deal["_id"])
    _update(rep, "opportunity", lost["_id"], {"stage": "lost"})
    assert len(_records(rep, "project")) == len(before) + 1
    assert _work(crm["engine"]) == 0  # sync: nothing was queued


def test_new_leads_go_round_robin_to_the_reps_with_a_notice(crm: dict[str, Any]) -> None:
    director: TestClient = crm["clients"]["director"]
    before = {rep: len(_rule_notices(crm["clients"][rep])) for rep in REPS}
    made = [_create(director, "lead", {"name": f"轮询{i}", "company": "某公司"}) for i in range(5)]
    kept = _create(director, "lead", {"name": "自带负责人", "owner": crm["ids"]["rep_b2"]})
    assert _work(crm["engine"]) == 5  # the lead with an owner queued nothing
    admin: TestClient = crm["clients"]["crm_admin"]
    owners = [crm["names"][_user(_get(admin, "lead", m["_id"])["_owner"])] for m in made]
    assert owners == [*REPS, REPS[0]]
    # the lead's own 负责人 (what the lead list shows) is the rep too
    fields = [_get(admin, "lead", m["_id"]).get("owner") for m in made]
    assert [crm["names"][_user(f)] if f is not None else None for f in fields] == owners
    assert _user(_get(admin, "lead", kept["_id"])["owner"]) == crm["ids"]["rep_b2"]
    assert crm["names"][_user(_get(admin, "lead", kept["_id"])["_owner"])] == "director"
    for index, rep in enumerate(REPS):
        client: TestClient = crm["clients"][rep]
        notices = _rule_notices(client)
        wanted = 2 if index == 0 else 1
        assert len(notices) - before[rep] == wanted, rep
        assert notices[0]["kind"] == "assigned_record"
        assert notices[0]["record_id"] in {m["_id"] for m in made}
        # the rep now sees the lead given to them
        assert {made[index]["_id"]} <= {lead["_id"] for lead in _records(client, "lead")}
    runs = _runs(admin, "lead_round_robin")
    assert [r["state"] for r in runs] == ["succeeded"] * 5
    assert sorted(r["actions"][0]["outcome"]["turn"] for r in runs) == [1, 2, 3, 4, 5]


def test_a_follow_up_stamps_its_opportunity(crm: dict[str, Any]) -> None:
    rep: TestClient = crm["clients"]["rep_a2"]
    customer = _records(rep, "customer")[0]
    deal = _create(
        rep, "opportunity", {"title": "跟进测试商机", "customer": customer["_id"], "amount": 1000}
    )
    assert _get(rep, "opportunity", deal["_id"]).get("last_followup") is None
    note = _create(
        rep,
        "followup",
        {
            "customer": customer["_id"],
            "opportunity": deal["_id"],
            "method": "phone",
            "content": "电话沟通需求",
        },
    )
    _create(rep, "followup", {"customer": customer["_id"], "method": "visit", "content": "拜访"})
    assert _work(crm["engine"]) == 1  # the follow-up without an opportunity queued nothing
    stamped = _get(rep, "opportunity", deal["_id"])["last_followup"]
    assert stamped is not None
    assert dt.datetime.fromisoformat(stamped) == dt.datetime.fromisoformat(note["created"])
    _delete(crm["clients"]["director"], "followup", note["_id"])
    assert _work(crm["engine"]) == 1
    assert _get(rep, "opportunity", deal["_id"]).get("last_followup") is None


def _contract(client: TestClient, customer: int, price: int, **values: Any) -> dict[str, Any]:
    return _create(
        client,
        "contract",
        {
            "title": f"合同 {price}",
            "customer": customer,
            "start_date": "2026-12-01",
            "end_date": "2027-11-30",
            "items": [{"product": "软件许可", "qty": 1, "price": price}],
            **values,
        },
    )


def _approve(crm: dict[str, Any], contract: int) -> None:
    """Take a contract through the contract approval (100,000 and more: the director and the
    general manager countersign), after which it may be edited again."""
    for approver in ("director", "gm"):
        client: TestClient = crm["clients"][approver]
        tasks = client.get(f"{API}/tasks", params={"state": "open", "limit": 200}).json()["items"]
        task = next(t for t in tasks if t["record_id"] == contract)
        done = client.post(f"{API}/tasks/{task['id']}/act", json={"action": "approve"})
        assert done.status_code == 200, done.text


def test_the_customer_level_follows_signed_contracts(crm: dict[str, Any]) -> None:
    rep: TestClient = crm["clients"]["rep_b1"]
    engine: Engine = crm["engine"]
    customer = _create(rep, "customer", {"name": "等级测试客户"})["_id"]
    assert _get(rep, "customer", customer)["level"] == "C"

    def level() -> tuple[str, Decimal | None]:
        _work(engine)
        found = _get(rep, "customer", customer)
        amount = found.get("signed_amount")
        return found["level"], None if amount is None else Decimal(str(amount))

    draft = _contract(rep, customer, 900_000)  # not signed yet: no signing date
    assert level() == ("C", None)
    _approve(crm, draft["_id"])  # a new contract is in approval, where it cannot be edited
    _contract(rep, customer, 150_000, signed_date="2026-12-02")
    assert level() == ("C", Decimal(150_000))
    _contract(rep, customer, 100_000, signed_date="2026-12-03")
    assert level() == ("B", Decimal(250_000))
    _update(rep, "contract", draft["_id"], {"signed_date": "2026-12-04"})
    assert level() == ("A", Decimal(1_150_000))
    _delete(crm["clients"]["director"], "contract", draft["_id"])
    assert level() == ("B", Decimal(250_000))
    third = _contract(rep, customer, 800_000, signed_date="2026-12-05")
    assert level() == ("A", Decimal(1_050_000))
    _approve(crm, third["_id"])
    _update(rep, "contract", third["_id"], {"status": "terminated"})
    assert level() == ("B", Decimal(250_000))
    admin: TestClient = crm["clients"]["crm_admin"]
    assert {r["state"] for r in _runs(admin, "customer_level_from_signed")} == {"succeeded"}
    assert {r["state"] for r in _runs(admin, "contract_deleted_signed_total")} == {"succeeded"}


def test_a_contract_moved_to_another_customer_re_sums_both(crm: dict[str, Any]) -> None:
    rep: TestClient = crm["clients"]["rep_b1"]
    engine: Engine = crm["engine"]
    first = _create(rep, "customer", {"name": "搬出客户"})["_id"]
    second = _create(rep, "customer", {"name": "搬入客户"})["_id"]

    def level(customer: int) -> tuple[str, Decimal | None]:
        found = _get(rep, "customer", customer)
        amount = found.get("signed_amount")
        return found["level"], None if amount is None else Decimal(str(amount))

    _contract(rep, first, 250_000, signed_date="2026-12-02")
    moved = _contract(rep, first, 1_000_000, signed_date="2026-12-03")
    _work(engine)
    assert (level(first), level(second)) == (("A", Decimal(1_250_000)), ("C", None))
    _approve(crm, moved["_id"])
    _update(rep, "contract", moved["_id"], {"customer": second})
    _work(engine)
    # the old customer drops to B, the new one rises to A
    assert (level(first), level(second)) == (("B", Decimal(250_000)), ("A", Decimal(1_000_000)))
    admin: TestClient = crm["clients"]["crm_admin"]
    run = next(
        r for r in _runs(admin, "contract_updated_signed_total") if r["record_id"] == moved["_id"]
    )
    outcome = run["actions"][0]["outcome"]
    assert (outcome["updated"], outcome["updated_old"]) == ([second], [first])
    # a change that keeps the customer updates it alone
    _update(rep, "contract", moved["_id"], {"title": "改名合同"})
    _work(engine)
    latest = _runs(admin, "contract_updated_signed_total")[0]
    assert latest["actions"][0]["outcome"]["updated"] == [second]
    assert "updated_old" not in latest["actions"][0]["outcome"]
    assert (level(first), level(second)) == (("B", Decimal(250_000)), ("A", Decimal(1_000_000)))


def test_the_pack_rules_publish_again_and_a_broken_copy_is_refused(crm: dict[str, Any]) -> None:
    admin: TestClient = crm["clients"]["crm_admin"]
    live = admin.get(f"{API}/apps/crm").json()
    rules = live["rules"]
    assert [r["key"] for r in rules] == RULE_KEYS
    broken = [dict(r) for r in rules]
    broken[0] = {**broken[0], "when": 'stage = "won" AND OLD(phase) <> "won"'}
    refused = admin.put(
        f"{API}/apps/crm/rules", json={"_revision": live["_revision"], "rules": broken}
    )
    assert refused.status_code == 422, refused.text
    paths = [i["path"] for i in refused.json()["error"]["issues"]]
    assert any(p.startswith("rules[0].when") for p in paths), paths
    again = admin.put(
        f"{API}/apps/crm/rules", json={"_revision": live["_revision"], "rules": rules}
    )
    assert again.status_code == 200, again.text
    assert again.json()["rules"] == rules


def test_open_opportunities_without_follow_up_for_7_days_remind_their_owners(
    crm: dict[str, Any],
) -> None:
    """The daily schedule: at its moment every open 商机 whose last follow-up (or, with none,
    its creation) is 7 or more days old reminds its owner once; a fresh one reminds nobody."""
    from zoneinfo import ZoneInfo

    from engine.rules import timing
    from tests.rules.time_fixtures import jobs, make_due, worker

    engine: Engine = crm["engine"]
    admin: TestClient = crm["clients"]["crm_admin"]
    customer = _records(admin, "customer", limit=1)[0]["_id"]
    fresh = _create(
        admin, "opportunity", {"title": "刚建的商机", "stage": "initial", "customer": customer}
    )
    ten_days_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
    stale = _create(
        admin,
        "opportunity",
        {
            "title": "十天没跟进的商机",
            "stage": "proposal",
            "customer": customer,
            "owner": crm["ids"]["rep_a1"],
            "last_followup": ten_days_ago.isoformat(timespec="seconds"),
        },
    )
    [job] = [
        j
        for j in jobs(engine, timing.SCHEDULE_KIND)
        if j.key.startswith("rule:crm:stale_opportunity_reminder@")
    ]
    assert job.run_at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%H:%M") == "09:00"
    with engine.connect() as conn:
        before = {
            n.id for n in conn.execute(select(Notification).where(Notification.kind == "rule"))
        }
    make_due(engine, job.id)
    worker(engine).drain()

    zone = ZoneInfo("Asia/Shanghai")
    today = dt.datetime.now(zone).date()
    expected = set()
    stale_ids = set()
    for record in _records(admin, "opportunity", limit=500):
        if record["stage"] in ("won", "lost"):
            continue
        since = dt.datetime.fromisoformat(record.get("last_followup") or record["_created_at"])
        if (today - since.astimezone(zone).date()).days < 7:
            continue
        stale_ids.add(record["_id"])
        if record.get("owner"):
            expected.add((_user(record["owner"]), f"商机「{record['title']}」已 7 天没有跟进"))
    assert stale["_id"] in stale_ids and fresh["_id"] not in stale_ids
    assert (crm["ids"]["rep_a1"], "商机「十天没跟进的商机」已 7 天没有跟进") in expected
    with engine.connect() as conn:
        sent = {
            (n.user_id, n.data["title"])
            for n in conn.execute(select(Notification).where(Notification.kind == "rule"))
            if n.id not in before
        }
    assert sent == expected
    runs = _runs(admin, "stale_opportunity_reminder")
    assert {r["event"]["record_id"] for r in runs} == stale_ids
    assert len(runs) == len(stale_ids)
