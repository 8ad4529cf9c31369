"""Platform models on both databases: writes, reads, counters, timestamps, constraints."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from engine.store.models import App, AppVersion, Counter, Department, Form, RecordHistory, User
from engine.store.session import make_sessionmaker, prepare_database


@pytest.fixture
def sessions(migrated_engine: Engine) -> sessionmaker[Session]:
    prepare_database(migrated_engine)
    return make_sessionmaker(migrated_engine)


def test_app_with_a_version(sessions: sessionmaker[Session]) -> None:
    definition = {"format": "jimu.app/1", "key": "crm", "forms": [{"key": "合同", "fields": []}]}
    with sessions.begin() as session:
        app = App(key="crm", name={"zh": "客户管理", "en": "CRM"}, current_revision=1)
        session.add(app)
        session.flush()
        session.add(AppVersion(app_id=app.id, revision=1, definition=definition))
    with sessions() as session:
        stored = session.scalars(sa.select(App)).one()
        assert stored.name == {"zh": "客户管理", "en": "CRM"}
        version = session.scalars(sa.select(AppVersion).where(AppVersion.app_id == stored.id)).one()
        assert (version.revision, version.definition, version.created_by) == (1, definition, None)
        assert version.created_at.tzinfo is not None


def test_duplicate_revision_is_refused(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        app = App(key="crm", name={"zh": "客户管理"})
        session.add(app)
        session.flush()
        session.add(AppVersion(app_id=app.id, revision=1, definition={}))
    with pytest.raises(IntegrityError), sessions.begin() as session:
        session.add(AppVersion(app_id=app.id, revision=1, definition={}))
    with sessions() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(AppVersion)) == 1


def test_department_tree_with_a_user(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        root = Department(name="总公司")
        session.add(root)
        session.flush()
        sales = Department(name="销售部", parent_id=root.id, sort=2)
        session.add(sales)
        session.flush()
        boss = User(username="wang", display_name="王经理", department_id=sales.id)
        session.add(boss)
        session.flush()
        session.add(
            User(username="li", display_name="李四", department_id=sales.id, manager_id=boss.id)
        )
        sales.head_user_id = boss.id
    with sessions() as session:
        child = session.scalars(
            sa.select(Department).where(Department.parent_id.is_not(None))
        ).one()
        head = session.get(User, child.head_user_id)
        assert head is not None and head.display_name == "王经理"
        members = session.scalars(
            sa.select(User.username).where(User.department_id == child.id).order_by(User.username)
        ).all()
        assert members == ["li", "wang"]
        li = session.scalars(sa.select(User).where(User.username == "li")).one()
        assert (li.manager_id, li.is_active, li.password_hash) == (head.id, True, None)
        parent = session.get(Department, child.parent_id)
        assert parent is not None and (parent.parent_id, parent.sort) == (None, 0)


def test_foreign_keys_are_enforced(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(IntegrityError), sessions.begin() as session:
        session.add(User(username="ghost", display_name="幽灵", department_id=999))


def next_value(session: Session, key: str) -> int:
    updated = session.execute(
        sa.update(Counter)
        .where(Counter.key == key)
        .values(value=Counter.value + 1)
        .returning(Counter.value)
    ).scalar()
    if updated is None:
        session.add(Counter(key=key, value=1))
        session.flush()
        return 1
    return int(updated)


def test_counter_increments_inside_the_transaction(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        assert [next_value(session, "r1.serial") for _ in range(3)] == [1, 2, 3]
    with pytest.raises(RuntimeError), sessions.begin() as session:
        assert next_value(session, "r1.serial") == 4
        raise RuntimeError("the record insert failed")
    with sessions.begin() as session:
        assert next_value(session, "r1.serial") == 4
        assert next_value(session, "r2.serial") == 1


def test_timestamps_round_trip_in_utc_with_milliseconds(sessions: sessionmaker[Session]) -> None:
    shanghai = dt.timezone(dt.timedelta(hours=8))
    moment = dt.datetime(2025, 6, 30, 23, 59, 59, 123456, tzinfo=shanghai)
    with sessions.begin() as session:
        app = App(key="crm", name={"zh": "客户管理"}, created_at=moment, updated_at=moment)
        session.add(app)
        session.flush()
        form = Form(app_id=app.id, key="contract")
        session.add(form)
        session.flush()
        diff = {"amount": [None, "120.50"]}
        session.add(
            RecordHistory(
                app_id=app.id, form_id=form.id, record_id=1, version=1, channel="api", diff=diff
            )
        )
    expected = dt.datetime(2025, 6, 30, 15, 59, 59, 123000, tzinfo=dt.UTC)
    with sessions() as session:
        stored = session.scalars(sa.select(App)).one()
        assert stored.created_at == expected
        assert stored.created_at.utcoffset() == dt.timedelta(0)
        assert stored.created_at.microsecond == 123000
        history = session.scalars(sa.select(RecordHistory)).one()
        assert history.created_at.tzinfo is not None
        assert history.created_at.microsecond % 1000 == 0
        assert history.diff == {"amount": [None, "120.50"]}


def test_duplicate_username_writes_nothing(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        session.add(User(username="zhang", display_name="张三"))
    with pytest.raises(IntegrityError), sessions.begin() as session:
        session.add(Department(name="研发部"))
        session.flush()
        session.add(User(username="zhang", display_name="另一个张三"))
    with sessions() as session:
        assert session.scalars(sa.select(User.display_name)).all() == ["张三"]
        assert session.scalar(sa.select(sa.func.count()).select_from(Department)) == 0
