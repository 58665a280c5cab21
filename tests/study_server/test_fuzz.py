"""A seeded, bounded fuzz of every route of the study server, on SQLite and PostgreSQL.

Every rule in `app.url_map` is hit with valid and mutated path values (random, long, unicode, NUL,
CR/LF, other control characters, bad percent-escapes), mutated query strings and cookies, form and
JSON bodies of the wrong type, shape or size, and unknown methods; the trial API also gets valid,
replayed and conflicting answers. Every reply must be < 500, carry no traceback, and be a JSON error
(under /api/) or an HTML page (elsewhere) when it is a 4xx; a 4xx must change no study data; and at
the end the responses table must hold exactly the answers the server acknowledged with a 201.
"""

from __future__ import annotations

import json
import random
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pytest
from sqlalchemy import Engine, func, select
from werkzeug.routing import Rule

from study_server.admin import create_admin
from study_server.db import make_engine
from study_server.importer import import_stimulus_set
from study_server.models import Participant, Stimulus, TrialList, db
from study_server.models import Response as TrialResponse

from .conftest import OPEN
from .helpers import enter, start

SEED = 20261126
REQUESTS = 2500
"""Fuzzed requests per backend (plus the setup and a final sweep of every rule)."""

ADMIN = ("fuzzadmin", "correct horse battery staple")
CLASSES = (13, 14, 17)
N_TRIALS = 6
N_STARTED = 12
"""Participants who can answer trials from the start (each has N_TRIALS to give)."""
EXTRA_METHODS = ("PUT", "DELETE", "PATCH", "TRACE", "PROPFIND", "BREW", "OPTIONS", "HEAD")
QUERY_KEYS = (
    "next",
    "label",
    "PROLIFIC_PID",
    "STUDY_ID",
    "SESSION_ID",
    "assignmentId",
    "hitId",
    "workerId",
    "turkSubmitTo",
    "page",
)
ODD = (
    "",
    " ",
    ".",
    "..",
    "../../etc/passwd",
    "..\\..\\windows",
    "'; DROP TABLE responses; --",
    "<script>alert(1)</script>",
    "{{7*7}}",
    "%s%n",
    "İ",
    "ǅ",
    "ß",
    "\u202egnp.exe",
    "\ufeff",
    "\ufffd",
    "\u0301",
    "😀",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "中文字符",
    "Ω≈ç√∫",
    "ASSIGNMENT_ID_NOT_AVAILABLE",
    "-0",
    "1e400",
    "1" + "0" * 400,
    "NaN",
)
RAW_PERCENT = ("%ff%fe", "%ed%a0%80", "%c0%af", "%00", "%0d%0a", "%zz", "%", "%2e%2e", "%2f", "%25%30%30")
CONTENT_TYPES = (
    None,
    "application/json",
    "application/json; charset=utf-16",
    "application/json; charset=latin-1",
    "text/json",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "multipart/form-data; boundary=zzz",
    "application/octet-stream",
    "a/b;;;=;",
)
WEIRD_VALUES: tuple[Any, ...] = (
    None,
    True,
    False,
    "0",
    "13",
    "",
    "\x00",
    "x" * 300,
    [],
    [0],
    {},
    {"a": [1]},
    0.5,
    -0.0,
    13.0,
    5e-324,
    1e308,
    -1e308,
    float("nan"),
    float("inf"),
    float("-inf"),
    10**400,
    -(10**400),
    2**31,
    2**31 - 1,
    -(2**31),
    2**63,
    2**64,
    -1,
    0,
)
RAW_LITERALS = (
    "1" + "0" * 400,
    "-" + "9" * 500,
    "1" + "0" * 5000,
    "-0",
    "-0.0",
    "1e400",
    "-1e400",
    "1e308",
    "NaN",
    "Infinity",
    "-Infinity",
    "0x10",
    "+1",
    "01",
    ".5",
    "1.",
    '"\\u0000"',
    '"\\ud800"',
    "nul",
    "[" * 50,
)
TRACEBACK = (b"Traceback (most recent call last)", b'File "/')


@dataclass
class Req:
    """One fuzzed request, kept whole so a failure names exactly what was sent."""

    method: str
    path: str
    query: str = ""
    cookie: str = ""
    content_type: str | None = None
    data: bytes | None = None
    note: str = ""

    def describe(self) -> str:
        body = None if self.data is None else self.data[:300]
        size = 0 if self.data is None else len(self.data)
        return (
            f"{self.method} {self.path[:300]!r} query={self.query[:300]!r} cookie={self.cookie[:200]!r} "
            f"content_type={self.content_type!r} body[{size}]={body!r} ({self.note})"
        )


@dataclass
class State:
    """What the fuzz knows: valid ids, and the answers the server acknowledged (the oracle)."""

    pids: list[str]
    started: list[str]
    stimulus_ids: list[str]
    static_files: list[str]
    admin_cookie: str
    known_pids: set[str] = field(default_factory=set)
    acked: dict[tuple[str, int], tuple[int | None, float | None]] = field(default_factory=dict)
    sent: int = 0


# ---------------------------------------------------------------- the fuzzer

TRIAL_PATH = re.compile(r"/api/p/([^/]+)/responses")
ARG = re.compile(r"<(?:([^:<>]+):)?([^<>]+)>")
CONTROL_KINDS = (3, 4, 5)


def _insert(rng: random.Random, text: str, piece: str) -> str:
    at = rng.randint(0, len(text))
    return text[:at] + piece + text[at:]


def _json_text(body: Any) -> str:
    return json.dumps(body)  # NaN and Infinity come out as the non-standard literals, on purpose


class Fuzzer:
    """Builds fuzzed requests from one seeded RNG. About a third of the requests carry control
    characters (the guard turns those away at once); the rest reach the views with other damage."""

    def __init__(self, seed: int, state: State, rules: list[Rule]) -> None:
        self.rng = random.Random(seed)
        self.state = state
        self.rules = rules
        self.controls = True

    # -- text

    def text(self, valid: str) -> str:
        """A plausible-but-wrong variant of `valid` (sometimes `valid` itself)."""
        rng = self.rng
        kind = rng.randrange(11)
        while not self.controls and kind in CONTROL_KINDS:
            kind = rng.randrange(11)
        if kind == 0:
            return valid
        if kind == 1:
            alphabet = string.ascii_letters + string.digits + "-_.~!$&'()*+,;=:@/?#[]"
            return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40)))
        if kind == 2:
            return valid + rng.choice("aZ9-") * rng.randint(200, 3000)
        if kind == 3:
            return _insert(rng, valid, "\x00")
        if kind == 4:
            return _insert(rng, valid, rng.choice(["\r\n", "\r\nSet-Cookie: evil=1", "\n", "\r"]))
        if kind == 5:
            return _insert(rng, valid, chr(rng.choice([*range(1, 32), 127])))
        if kind == 6:
            return "".join(rng.choice(ODD[10:20]) for _ in range(rng.randint(1, 6)))
        if kind == 7:
            return rng.choice(ODD)
        if kind == 8:
            return rng.choice([valid.upper(), valid[:-1], valid + valid, valid[::-1]])
        if kind == 9:
            return str(rng.choice([-1, 0, 7, 2**31, 2**63, 10**30, -(10**40)]))
        return _insert(rng, valid, rng.choice(ODD))

    def segment(self, text: str) -> str:
        """Percent-encode one path segment; now and then add a raw (possibly invalid) escape."""
        seg = quote(text, safe="")
        if self.rng.random() < 0.1:
            raw = [r for r in RAW_PERCENT if self.controls or r not in ("%00", "%0d%0a")]
            seg = _insert(self.rng, seg, self.rng.choice(raw))
        return seg

    def valid_arg(self, name: str) -> str:
        rng, state = self.rng, self.state
        if name == "public_id":
            return rng.choice(state.pids)
        if name == "slug":
            return rng.choice(["tiny", "tinyp", "tinym"])
        if name == "stimulus_id":
            return rng.choice(state.stimulus_ids)
        if name == "class_id":
            return str(rng.choice(CLASSES))
        if name == "fmt":
            return rng.choice(["csv", "json"])
        if name == "filename":
            return rng.choice(state.static_files)
        return "x"  # a rule added later: fuzzed all the same

    def path(self, rule: Rule, *, valid: bool) -> str:
        def fill(m: re.Match[str]) -> str:
            value = self.valid_arg(m.group(2))
            if valid or self.rng.random() < 0.4:
                return quote(value, safe="")
            return self.segment(self.text(value))

        return ARG.sub(fill, rule.rule)

    def query(self) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.35:
            return ""
        if roll < 0.45:
            junk = ["%zz", "=&=&", "a=%", "&&&", "a" * 3000, "%ff=%fe"]
            return rng.choice([*junk, "next=%0d%0aX:1", "a=%00"] if self.controls else junk)
        if roll < 0.55:  # a complete, valid-looking platform entry
            hexid = "".join(rng.choice("0123456789abcdef") for _ in range(24))
            worker = "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(14))
            pairs = [
                ("PROLIFIC_PID", hexid),
                ("STUDY_ID", hexid[::-1]),
                ("SESSION_ID", hexid),
                ("assignmentId", worker[::-1]),
                ("hitId", worker[:10]),
                ("workerId", worker),
                ("turkSubmitTo", "https://workersandbox.mturk.com"),
            ]
            pairs = [(k, self.text(v) if rng.random() < 0.3 else v) for k, v in pairs]
        else:
            pairs = [
                (rng.choice(QUERY_KEYS) if rng.random() < 0.8 else self.text("k"), self.text("/admin/"))
                for _ in range(rng.randint(1, 4))
            ]
        return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)

    def cookie(self, *, admin: bool) -> str:
        rng, state = self.rng, self.state
        parts = [state.admin_cookie] if admin else []
        roll = rng.random()
        if roll < 0.4:
            pass
        elif roll < 0.55:
            parts.append(f"study_{rng.choice(['tiny', 'tinyp', 'tinym'])}={rng.choice(state.pids)}")
        elif roll < 0.65 and self.controls:
            parts.append('study_tiny="ab\\000cd"')  # an octal escape: NUL after unquoting
        elif roll < 0.75:
            parts.append("session=" + rng.choice(["garbage", "e30.x.y", "." * 50, "a" * 3000]))
        else:  # what a real server hands over: UTF-8 bytes read as latin-1, no CR/LF (they end a header)
            value = self.text(rng.choice(state.pids)).replace("\r", "").replace("\n", "")
            names = ["study_tiny", "study_tinyp", "session", *(["x\x01y"] if self.controls else [])]
            parts.append(f"{rng.choice(names)}={value.encode('utf-8').decode('latin-1')}")
        return "; ".join(parts)

    def body(self) -> tuple[bytes | None, str | None, str]:
        rng = self.rng
        kind = rng.randrange(9)
        if kind == 0:
            return None, None, "no body"
        if kind == 1:  # the consent and login forms, mutated
            fields = rng.choice([{"agree": "yes"}, {"username": ADMIN[0], "password": "wrong password"}])
            pairs = [(k if rng.random() < 0.8 else self.text(k), self.text(v)) for k, v in fields.items()]
            data = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs).encode()
            return data, "application/x-www-form-urlencoded", "form"
        if kind == 2:
            data = _json_text({"trial_index": 0, "response": 13}).encode()
            return data, rng.choice(CONTENT_TYPES), "json, any content type"
        if kind == 3:
            text = rng.choice(["{", "[1,", "nul", "\x00", '{"a":1}garbage', "\ufeff{}", "NaN", "1e999", ""])
            return text.encode(), "application/json", "malformed json"
        if kind == 4:
            data = bytes(rng.randrange(256) for _ in range(rng.randint(1, 400)))
            return data, rng.choice(CONTENT_TYPES), "random bytes"
        if kind == 5:
            n = rng.randint(500, 6000)
            opener = rng.choice(["[", '{"a":', "[{"])
            return (opener * n).encode()[:16_000], "application/json", f"{n} nested"
        if kind == 6:  # over MAX_CONTENT_LENGTH (64 KiB)
            ct = rng.choice(["application/json", "application/x-www-form-urlencoded", "text/plain"])
            return b'{"pad":"' + b"x" * 70_000 + b'"}', ct, "huge body"
        if kind == 7:
            data = (
                f'--zzz\r\nContent-Disposition: form-data; name="{self.text("agree")}"\r\n\r\n'
                f"{self.text('yes')}\r\n--zzz--\r\n"
            ).encode()
            return data, "multipart/form-data; boundary=zzz", "multipart"
        return b"agree=yes", rng.choice(CONTENT_TYPES), "form body, any content type"

    # -- the trial API

    def trial(self) -> tuple[str, bytes, str]:
        """(public id, body, note): valid new answers, replays, conflicts, and damaged answers."""
        rng, state = self.rng, self.state
        roll = rng.random()
        if roll < 0.15 and state.acked:
            (pid, idx), (resp, rt) = rng.choice(sorted(state.acked.items(), key=str))
            return pid, _json_text({"trial_index": idx, "response": resp, "rt_ms": rt}).encode(), "replay"
        if roll < 0.25 and state.acked:
            (pid, idx), (resp, _rt) = rng.choice(sorted(state.acked.items(), key=str))
            other = rng.choice([c for c in (*CLASSES, None) if c != resp])
            return pid, _json_text({"trial_index": idx, "response": other, "rt_ms": 5}).encode(), "conflict"
        pid = rng.choice(state.started if rng.random() < 0.85 else state.pids)
        body: dict[str, Any] = {
            "trial_index": rng.randrange(N_TRIALS),
            "response": rng.choice([*CLASSES, *CLASSES, None]),
            "rt_ms": rng.choice([rng.uniform(0, 5000), rng.randint(0, 5000)]),
        }
        if rng.random() < 0.35:
            return pid, _json_text(body).encode(), "valid answer"
        kind = rng.randrange(5)
        if kind == 0:
            body[rng.choice(list(body))] = rng.choice(WEIRD_VALUES)
            return pid, _json_text(body).encode(), "weird value"
        if kind == 1:
            name = rng.choice(list(body))
            text = _json_text({**body, name: "@@"}).replace('"@@"', rng.choice(RAW_LITERALS))
            return pid, text.encode(), "raw literal"
        if kind == 2:
            if rng.random() < 0.5:
                del body[rng.choice(list(body))]
            else:
                body[self.text("stimulus_id")] = self.text(rng.choice(state.stimulus_ids))
            return pid, _json_text(body).encode(), "missing or extra field"
        if kind == 3:
            wrapped = rng.choice([[body], [[body]], "body", 7, None, {"data": body}])
            return pid, _json_text(wrapped).encode(), "not an object"
        text = _json_text(body)
        text = text[: rng.randrange(len(text))] + rng.choice(["", "}", ",", "\x00", "]]]", '"'])
        return pid, text.encode(), "truncated"

    # -- whole requests

    def request(self) -> Req:
        """One fuzzed request."""
        rng = self.rng
        self.controls = rng.random() < 0.3
        if rng.random() < 0.35:  # the trial API carries the data; give it the most traffic
            pid, data, note = self.trial()
            ct = "application/json" if rng.random() < 0.93 else rng.choice(CONTENT_TYPES)
            method = "POST" if rng.random() < 0.95 else rng.choice(EXTRA_METHODS)
            req = Req(method, f"/api/p/{quote(pid, safe='')}/responses", "", "", ct, data, note)
            if rng.random() < 0.2:
                req.query = self.query()
            if rng.random() < 0.15:
                req.cookie = self.cookie(admin=False)
            return req
        if rng.random() < 0.05:  # no rule at all
            prefix = rng.choice(["/", "/api/", "/admin/", "/p/", "/s/", "/static/"])
            path = prefix + self.segment(self.text("nowhere"))
            return Req(rng.choice(["GET", "POST", *EXTRA_METHODS]), path, self.query(), note="no rule")
        rule = rng.choice(self.rules)
        admin = rule.rule.startswith("/admin") and rng.random() < 0.6 and rule.endpoint != "admin.logout"
        allowed = sorted((rule.methods or {"GET"}) - {"OPTIONS"})
        method = rng.choice(allowed) if rng.random() < 0.85 else rng.choice(EXTRA_METHODS)
        req = Req(method, self.path(rule, valid=rng.random() < 0.4), self.query())
        req.cookie = self.cookie(admin=admin)
        if method not in ("GET", "HEAD") or rng.random() < 0.1:
            req.data, req.content_type, req.note = self.body()
        req.note = f"{rule.endpoint}{', admin' if admin else ''}, {req.note}"
        return req

    def sweep(self) -> list[Req]:
        """Every rule with valid values and each of its methods, logged in and out; logging out last."""
        plan = []
        for rule in self.rules:
            for method in sorted(rule.methods or ()):
                for admin in (False, True):
                    req = Req(method, self.path(rule, valid=True), note=f"sweep {rule.endpoint}")
                    req.cookie = self.state.admin_cookie if admin else ""
                    plan.append(req)
        return sorted(plan, key=lambda req: req.note == "sweep admin.logout")


# ---------------------------------------------------------------- the oracle


def fingerprint(engine: Engine) -> tuple[int, ...]:
    """Row counts of every study-data table (admin sessions and the login-failure log may change), the
    lists' assignment counters and the completion codes handed out. A status change adds an event row."""
    tables = [t for t in db.metadata.sorted_tables if not t.name.startswith("admin_")]
    counts = [select(func.count()).select_from(t).scalar_subquery() for t in tables]
    assigned = select(func.coalesce(func.sum(TrialList.n_assigned), 0)).scalar_subquery()
    codes = select(func.count(Participant.completion_code)).scalar_subquery()
    query = select(*counts, assigned, codes)
    with engine.connect() as conn:
        return tuple(conn.execute(query).one())


def check_reply(req: Req, resp: Any) -> None:
    where = req.describe()
    assert resp.status_code < 500, f"{resp.status_code} for {where}"
    body = resp.get_data()
    assert not any(t in body for t in TRACEBACK), f"traceback in the reply to {where}"
    if resp.status_code < 400 or req.method == "HEAD":
        return
    if unquote(req.path, errors="replace").startswith("/api/"):
        assert resp.is_json, f"{resp.status_code} not JSON for {where}"
        payload = resp.get_json(silent=True)
        assert isinstance(payload, dict) and payload.get("error"), f"no 'error' for {where}: {body[:200]!r}"
    else:
        assert resp.mimetype == "text/html" and b"<html" in body, f"{resp.status_code} not HTML for {where}"


def send(client: Any, req: Req) -> Any:
    headers = {"Cookie": req.cookie} if req.cookie else {}
    try:
        return client.open(
            req.path,
            method=req.method,
            query_string=req.query,
            headers=headers,
            data=req.data,
            content_type=req.content_type,
        )
    except Exception as exc:  # TESTING propagates what would be a 500
        raise AssertionError(f"{type(exc).__name__}: {exc!s:.300} for {req.describe()}") from exc


def check_trial_reply(state: State, pid: str, req: Req, resp: Any) -> None:
    """201: a new answer, never one already acknowledged; 200: the stored answer, unchanged."""
    where = req.describe()
    if req.method != "POST":
        return  # OPTIONS is a 200 without a body; every other method a 405
    if resp.status_code == 201:
        body = json.loads(req.data or b"")
        key = (pid, body["trial_index"])
        assert key not in state.acked, f"stored twice: {where}"
        rt = body.get("rt_ms")
        state.acked[key] = (body.get("response"), None if rt is None else float(rt))
    elif resp.status_code == 200:
        body = json.loads(req.data or b"")
        stored = state.acked.get((pid, body["trial_index"]))
        assert stored is not None, f"200 for an answer never acknowledged: {where}"
        assert (resp.json["response"], resp.json["rt_ms"]) == stored, f"replay changed the row: {where}"
        assert body.get("response") == stored[0], f"a different answer was accepted: {where}"
    elif req.note in ("replay", "conflict"):
        error = str((resp.get_json(silent=True) or {}).get("error"))
        if resp.status_code == 415 or "control characters" in error:
            return  # turned away for its content type, cookie or query before the answer was read
        expected = 200 if req.note == "replay" else 409
        assert resp.status_code == expected, f"{req.note} got {resp.status_code} ({error}): {where}"


# ---------------------------------------------------------------- the fuzz


def setup_state(app: Any, small_set: Path) -> State:
    """Three studies (link, Prolific, MTurk), an admin, and participants in each early status."""
    with app.app_context():
        import_stimulus_set(db.session, small_set, slug="tinyp", recruiter="prolific", config=OPEN)
        import_stimulus_set(db.session, small_set, slug="tinym", recruiter="mturk", config=OPEN)
        create_admin(*ADMIN)
        db.session.remove()
    c = app.test_client()
    allocated = enter(c)
    c = app.test_client()
    consented = enter(c)
    assert c.post(f"/p/{consented}/consent", data={"agree": "yes"}).status_code == 302
    started = []
    for _ in range(N_STARTED):
        c = app.test_client()
        pid = enter(c)
        start(c, pid)
        started.append(pid)
    login = app.test_client(use_cookies=False).post(
        "/admin/login", data={"username": ADMIN[0], "password": ADMIN[1]}
    )
    assert login.status_code == 302, login.data[:300]
    cookie = "; ".join(h.split(";", 1)[0] for h in login.headers.getlist("Set-Cookie"))
    admin_index = app.test_client(use_cookies=False).get("/admin/", headers={"Cookie": cookie})
    assert admin_index.status_code == 200, "the admin cookie does not log in"
    with app.app_context():
        stimulus_ids = sorted(db.session.scalars(select(Stimulus.stimulus_id)).unique())[:6]
        db.session.remove()
    static = Path(app.static_folder or "")
    files = sorted(str(p.relative_to(static)) for p in static.rglob("*") if p.is_file())
    pids = [allocated, consented, *started]
    return State(pids, started, stimulus_ids, files, cookie, known_pids=set(pids))


def test_fuzz_every_route(app, small_set):
    state = setup_state(app, small_set)
    rules = sorted(app.url_map.iter_rules(), key=lambda r: r.rule)
    fuzzer = Fuzzer(SEED, state, rules)
    client = app.test_client(use_cookies=False)
    engine = make_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        before = [fingerprint(engine)]

        def run(req: Req) -> None:
            resp = send(client, req)
            state.sent += 1
            resp.get_data()  # read it all (cached), then close: static files come back as open files
            resp.close()
            check_reply(req, resp)
            after = fingerprint(engine)
            if 400 <= resp.status_code < 500:
                assert after == before[0], f"{resp.status_code} changed the data: {req.describe()}"
            before[0] = after
            trial = TRIAL_PATH.fullmatch(unquote(req.path, errors="replace"))
            if trial is not None:
                check_trial_reply(state, trial.group(1), req, resp)
            if 300 <= resp.status_code < 400:
                for pid in re.findall(r"/p/([^/?#]+)/", resp.headers.get("Location", "")):
                    if pid not in state.known_pids:
                        state.known_pids.add(pid)
                        state.pids.append(pid)

        for _ in range(REQUESTS):
            run(fuzzer.request())  # one at a time: replays and conflicts need the answers so far
        for req in fuzzer.sweep():
            run(req)
        assert state.sent >= REQUESTS
        with app.app_context():
            rows = db.session.execute(
                select(
                    Participant.public_id,
                    TrialResponse.trial_index,
                    TrialResponse.response,
                    TrialResponse.rt_ms,
                ).join(Participant, TrialResponse.participant_id == Participant.id)
            ).all()
            in_db = set(db.session.scalars(select(Participant.public_id)))
            db.session.remove()
        stored = {(pid, idx): (resp, rt) for pid, idx, resp, rt in rows}
        assert len(stored) == len(rows), "a trial is stored twice"
        assert stored == state.acked, "the responses differ from the acknowledged 201s"
        assert len(state.acked) >= 10, "the fuzz stored too few valid answers to mean anything"
        assert in_db <= state.known_pids, (
            f"participants nobody was sent to: {sorted(in_db - state.known_pids)}"
        )
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("path", "cookie"),
    [
        ("/p/ab%00cd/", ""),
        ("/s/ti%00ny/", ""),
        ("/s/tiny/img/%00", ""),
        ("/api/p/ab%00cd/responses", ""),
        ("/s/tiny/", 'study_tiny="ab\\000cd"'),
        ("/admin/login?next=/admin/%0d%0aSet-Cookie:x=1", ""),
        ("/s/tiny/?label=a%00b", ""),
    ],
)
def test_control_characters_are_a_400_with_a_message(app, path, cookie):
    client = app.test_client(use_cookies=False)
    method = "POST" if "/api/" in path else "GET"
    resp = client.open(path, method=method, headers={"Cookie": cookie} if cookie else {}, json={})
    assert resp.status_code == 400
    if path.startswith("/api/"):
        assert "control characters" in resp.json["error"]
    else:
        assert resp.mimetype == "text/html" and b"control characters" in resp.data


def test_form_values_may_hold_line_breaks_but_not_nul(app):
    client = app.test_client()
    multiline = client.post("/s/tiny/", data={"agree": "yes\r\n\tno"})  # the consent form
    assert multiline.status_code == 200 and b"Please tick the box" in multiline.data  # not a 400
    nul = client.post("/s/tiny/", data={"agree": "yes\x00"})
    assert nul.status_code == 400
    login = client.post("/admin/login", data={"username": "ada\x00", "password": "x" * 9})
    assert login.status_code == 400 and b"control characters" in login.data


def test_cookies_of_other_apps_are_left_alone(app):
    """A cookie the app never reads (set by another app on the domain) does not lock anyone out."""
    client = app.test_client(use_cookies=False)
    resp = client.get("/s/tiny/", headers={"Cookie": 'other_app="a\\011b\\000c"; x\x01y=1'})
    assert resp.status_code == 200 and b"consent-submit" in resp.data


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[" * 1000 + "]" * 1000, "nested too deeply"),  # 2 KB of brackets: a RecursionError before
        ('{"a":' * 1500 + "1" + "}" * 1500, "nested too deeply"),
        ('{"trial_index": 0, "response": 13, "rt_ms": 1' + "0" * 400 + "}", "between"),  # OverflowError
        ('{"trial_index": 0, "response": 13, "rt_ms": -1' + "0" * 400 + "}", "between"),
        ('{"trial_index": 0, "response": 13, "rt_ms": 1e308}', "between"),
        ('{"trial_index": 0, "response": 13, "rt_ms": NaN}', "finite number"),
        ('{"trial_index": 0, "response": 13, "rt_ms": -Infinity}', "finite number"),
        ('{"trial_index": 0, "response": 13, "rt_ms": "12"}', "finite number"),
        ('{"trial_index": 1' + "0" * 400 + ', "response": 13}', "out of range"),
        ('{"trial_index": 0, "response": 1' + "0" * 400 + "}", "out of range"),
        ('{"trial_index": 0, "response": -9223372036854775809}', "out of range"),
        ('{"trial_index": -0.0, "response": 13}', "integer"),
        ('{"trial_index": 0, "response": NaN}', "integer"),
    ],
)
def test_extreme_bodies_are_a_400_and_write_nothing(app, text, words):
    client = app.test_client()
    pid = enter(client)
    start(client, pid)
    resp = client.post(f"/api/p/{pid}/responses", data=text, content_type="application/json")
    assert resp.status_code == 400 and words in resp.json["error"], resp.json
    with app.app_context():
        assert db.session.scalar(select(func.count(TrialResponse.id))) == 0


def test_minus_zero_rt_is_stored_as_zero(app):
    client = app.test_client()
    pid = enter(client)
    start(client, pid)
    body = '{"trial_index": 0, "response": 13, "rt_ms": -0.0}'
    resp = client.post(f"/api/p/{pid}/responses", data=body, content_type="application/json")
    assert resp.status_code == 201 and resp.json["rt_ms"] == 0.0
    with app.app_context():
        rt = db.session.scalar(select(TrialResponse.rt_ms))
    assert rt == 0.0 and str(rt) == "0.0"
