"""Sign-in throttling under concurrency: many wrong passwords for one username from one address
sent at once (threads, as several HTTP worker processes would) get exactly `MAX_FAILURES`
password checks, then 429 — on PostgreSQL too, where transactions do not serialise by
themselves."""

from __future__ import annotations

import threading
from collections import Counter

from sqlalchemy.engine import Engine

from engine.auth.directory import ensure_admin
from engine.auth.sessions import MAX_FAILURES, login
from engine.core.errors import ServiceError
from tests.store_fixtures import prepare_fresh

ATTEMPTS = 16


def test_concurrent_wrong_passwords_get_exactly_the_allowed_checks(store_engine: Engine) -> None:
    prepare_fresh(store_engine)
    with store_engine.begin() as conn:
        ensure_admin(conn, "right-password-123")
    start = threading.Barrier(ATTEMPTS)
    answers: Counter[int] = Counter()
    lock = threading.Lock()

    def attempt(i: int) -> None:
        start.wait()
        try:
            login(store_engine, "admin", f"wrong-{i}", ip="203.0.113.9", hours=1)
            status = 200
        except ServiceError as exc:
            status = exc.status
        with lock:
            answers[status] += 1

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(ATTEMPTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == {401: MAX_FAILURES, 429: ATTEMPTS - MAX_FAILURES}
