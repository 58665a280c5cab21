"""kill -9 the server while answers stream in: every acknowledged answer survives, exactly once.

A real server runs in a subprocess. Client threads post trial answers for many participants as fast as
they can, retrying whatever got no reply (connection refused or cut) or a 503, like the page's runner
does. The server is SIGKILLed twice mid-stream and restarted. Afterwards every answer has been
acknowledged (201, or 200 for a retry whose first attempt was stored before the kill), and the database
holds each one exactly once with the values sent; every participant completed exactly once.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from study_server.models import Participant, Response, StatusEvent, db

from .conftest import CLASS_IDS, SECRET
from .helpers import enter, start, trial_labels
from .live_server import LiveServer

pytestmark = pytest.mark.slow

N_PARTICIPANTS = 32
N_CLIENTS = 4
KILLS = 2
DEADLINE_S = 15.0
"""The clients give up after this long (a failure: some answer was never acknowledged)."""


@dataclass
class Answer:
    pid: str
    trial_index: int
    response: int
    rt_ms: float
    status: int | None = None
    """The status that acknowledged it (200/201), or the unexpected one that ended its retries."""
    reply: Any = None


class Clients:
    """Threads that post answers and retry until each is acknowledged; counts what they saw."""

    def __init__(self, url: str, answers: list[list[Answer]]) -> None:
        self.url = url
        self.queues = answers
        self.lock = threading.Lock()
        self.acked = 0
        self.no_reply = 0
        self.busy = 0
        self.stop_at = time.monotonic() + DEADLINE_S
        self.threads = [threading.Thread(target=self._run, args=(q,), daemon=True) for q in answers]

    def _post(self, a: Answer) -> tuple[int, Any] | None:
        body = json.dumps({"trial_index": a.trial_index, "response": a.response, "rt_ms": a.rt_ms}).encode()
        req = urllib.request.Request(
            f"{self.url}/api/p/{a.pid}/responses",
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            with exc:
                raw = exc.read()
            try:
                return exc.code, json.loads(raw)
            except ValueError:
                return exc.code, raw[:300]
        except (OSError, http.client.HTTPException):  # refused, reset, cut off mid-reply, timed out
            return None

    def _run(self, queue: list[Answer]) -> None:
        for a in queue:
            while time.monotonic() < self.stop_at:
                got = self._post(a)
                if got is None or got[0] == 503:
                    with self.lock:
                        if got is None:
                            self.no_reply += 1
                        else:
                            self.busy += 1
                    time.sleep(0.02)
                    continue
                a.status, a.reply = got
                if a.status in (200, 201):
                    with self.lock:
                        self.acked += 1
                break
            if a.status not in (200, 201):
                return  # an unexpected answer or the deadline: the assertions will say which

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def join(self) -> None:
        for t in self.threads:
            t.join(timeout=DEADLINE_S + 15)


def make_answers(app: Any, pids: list[str], rng: random.Random) -> list[Answer]:
    """Per participant, every trial in order: catch trials answered right (no screening out), the
    rest with any class; each with its own rt so a stored row can be told from any other."""
    answers = []
    for pid in pids:
        for i, (_sid, label, catch) in enumerate(trial_labels(app, pid)):
            response = label if catch else rng.choice(CLASS_IDS)
            answers.append(Answer(pid, i, response, round(rng.uniform(150, 3000), 3)))
    return answers


def test_acknowledged_answers_survive_kill_9(app, tmp_path: Path):
    rng = random.Random(9)
    pids = []
    for _ in range(N_PARTICIPANTS):
        client = app.test_client()
        pid = enter(client)
        start(client, pid)
        pids.append(pid)
    answers = make_answers(app, pids, rng)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()  # the server owns the database now; reconnect only to check

    server = LiveServer(app.config["DATABASE_URL"], SECRET, tmp_path / "inst", tmp_path / "server.log")
    server.start()
    by_client: list[list[Answer]] = [[] for _ in range(N_CLIENTS)]
    for k, pid in enumerate(pids):  # each client owns some participants and answers them in order
        by_client[k % N_CLIENTS].extend(a for a in answers if a.pid == pid)
    clients = Clients(server.url, by_client)
    kills_at = []
    try:
        clients.start()
        for n in range(1, KILLS + 1):
            target = len(answers) * n // (KILLS + 1)
            while clients.acked < target and time.monotonic() < clients.stop_at:
                time.sleep(0.002)
            kills_at.append(clients.acked)
            server.kill()  # SIGKILL: no shutdown, in-flight requests and transactions just stop
            time.sleep(0.2)
            server.start()
        clients.join()
    finally:
        server.kill()

    assert all(0 < k < len(answers) for k in kills_at), f"the kills missed the stream: {kills_at}"
    assert clients.no_reply > 0, "the clients never noticed the server die"
    bad = [a for a in answers if a.status not in (200, 201)]
    assert not bad, f"{len(bad)} answers never acknowledged, e.g. {bad[:3]} (log: {server.log})"
    for a in answers:
        assert a.reply["trial_index"] == a.trial_index and a.reply["response"] == a.response, a
        assert a.reply["rt_ms"] == a.rt_ms, f"the reply names another row than the one sent: {a}"
        assert a.reply["created"] is (a.status == 201), a

    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            assert db.session.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        rows = db.session.execute(
            select(Participant.public_id, Response.trial_index, Response.response, Response.rt_ms).join(
                Participant, Response.participant_id == Participant.id
            )
        ).all()
        statuses = dict(db.session.execute(select(Participant.public_id, Participant.status)).all())
        completions = dict(
            db.session.execute(
                select(Participant.public_id, func.count(StatusEvent.id))
                .join(StatusEvent, StatusEvent.participant_id == Participant.id)
                .where(StatusEvent.status == "completed")
                .group_by(Participant.public_id)
            ).all()
        )
        db.session.remove()
    sent = {(a.pid, a.trial_index): (a.response, a.rt_ms) for a in answers}
    stored = {(pid, i): (resp, rt) for pid, i, resp, rt in rows}
    assert len(rows) == len(stored) == len(sent), f"{len(rows)} rows for {len(sent)} answers"
    assert stored == sent, "a stored answer differs from the one sent"
    assert all(statuses[pid] == "completed" for pid in pids), statuses
    assert all(completions.get(pid) == 1 for pid in pids), f"completions per participant: {completions}"
