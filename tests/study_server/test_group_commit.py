"""The save path's building blocks: group commit, the SQLite write gate, and counters that stay equal
to the stored answers under concurrent saves."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, event, func, insert, select, text
from sqlalchemy.exc import OperationalError

from study_server.db import configure_engine, write_transaction
from study_server.group_commit import GroupCommitter
from study_server.models import Participant, db
from study_server.models import Response as TrialResponse

from .helpers import enter, start, trial_labels

META = MetaData()
ROWS = Table("rows", META, Column("id", Integer, primary_key=True), Column("value", Integer))


@pytest.fixture
def engine(tmp_path: Path):
    eng = configure_engine(create_engine(f"sqlite:///{tmp_path / 'g.sqlite3'}"))
    META.create_all(eng)
    yield eng
    eng.dispose()


def _commits(engine) -> list[int]:
    seen: list[int] = []
    event.listen(engine, "commit", lambda _conn: seen.append(1))
    return seen


def _run_all(committer: GroupCommitter, jobs) -> list[object]:
    """Start every job in its own thread; the first one holds the lead long enough for the rest to queue."""
    out: list[object] = [None] * len(jobs)

    def go(i: int) -> None:
        try:
            out[i] = committer.run(jobs[i])
        except Exception as exc:  # recorded per job
            out[i] = exc

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(jobs))]
    threads[0].start()
    time.sleep(0.05)  # job 0 is now writing; the others queue behind it
    for t in threads[1:]:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return out


def _insert(value: int, pause: float = 0.0):
    def job(conn):
        if pause:
            time.sleep(pause)
        return conn.execute(insert(ROWS).values(value=value).returning(ROWS.c.id)).scalar()

    return job


def test_concurrent_jobs_share_commits_and_each_gets_its_own_result(engine):
    commits = _commits(engine)
    committer = GroupCommitter(engine)
    jobs = [_insert(0, pause=0.3)] + [_insert(i) for i in range(1, 20)]
    ids = _run_all(committer, jobs)
    assert all(isinstance(i, int) for i in ids) and len(set(ids)) == 20
    with engine.connect() as conn:
        stored = dict(conn.execute(select(ROWS.c.id, ROWS.c.value)).all())
    assert stored == {ids[i]: i for i in range(20)}  # every thread got the id of its own row
    assert len(commits) <= 3  # 20 answers, 2 or 3 disk flushes (one per batch)


def test_a_refused_job_fails_alone_and_a_database_error_fails_its_whole_batch(engine):
    committer = GroupCommitter(engine)

    def refuse(_conn):
        raise ValueError("409: not started")

    def broken(conn):
        conn.execute(text("INSERT INTO no_such_table VALUES (1)"))

    out = _run_all(committer, [_insert(0, pause=0.3), refuse, _insert(2)])
    assert isinstance(out[1], ValueError) and isinstance(out[0], int) and isinstance(out[2], int)
    out = _run_all(committer, [_insert(10, pause=0.3), _insert(11), broken, _insert(13)])
    assert isinstance(out[0], int)  # the first batch held only job 0
    assert all(isinstance(o, OperationalError) for o in out[1:])  # one batch: all failed, none stored
    with engine.connect() as conn:
        values = sorted(conn.scalars(select(ROWS.c.value)))
    assert values == [0, 2, 10]


def test_write_gate_excludes_writers_of_other_processes(engine, tmp_path):
    probe = (
        "import fcntl, os, sys\n"
        "fd = os.open(sys.argv[1], os.O_RDWR)\n"
        "try:\n    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\nexcept BlockingIOError:\n    sys.exit(3)\n"
    )
    lock_file = str(tmp_path / "g.sqlite3-writelock")
    with write_transaction(engine) as conn:
        conn.execute(insert(ROWS).values(value=1))
        held = subprocess.run([sys.executable, "-c", probe, lock_file], check=False)
    free = subprocess.run([sys.executable, "-c", probe, lock_file], check=False)
    assert (held.returncode, free.returncode) == (3, 0)


def test_counters_equal_the_stored_answers_under_concurrent_saves_and_replays(app, client):
    pid = enter(client)
    start(client, pid)
    labels = [label for _sid, label, _catch in trial_labels(app, pid)]
    barrier = threading.Barrier(12)

    def post(i: int) -> None:
        barrier.wait(timeout=30)
        trial = i % len(labels)
        app.test_client().post(
            f"/api/p/{pid}/responses", json={"trial_index": trial, "response": labels[trial]}
        )

    threads = [threading.Thread(target=post, args=(i,)) for i in range(12)]  # each trial twice
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    with app.app_context():
        p = db.session.scalars(select(Participant).where(Participant.public_id == pid)).one()
        n = db.session.scalar(
            select(func.count(TrialResponse.id)).where(TrialResponse.participant_id == p.id)
        )
        assert p.n_answered == n == len(labels) and p.n_catch_failed == 0
        assert p.status == "completed"
        assert [e.status for e in p.events].count("completed") == 1
        db.session.remove()
