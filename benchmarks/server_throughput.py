"""Answers saved per second, and save latency, of our study server against psiTurk 3.3.1 (issue 16).

    python benchmarks/server_throughput.py [--participants 16] [--trials 100] [--rounds 3]
        [--setups psiturk,ours-sqlite,ours-pg] [--skip-psiturk] [--pace SECONDS] [--max-seconds 120]
        [--our-gunicorn-args='-w 2 -k gthread --threads 8'] [--postgres URL] [--settle-seconds 20]

Each setup is a real server on loopback, started afresh with an empty database for every round:

- psiturk: psiTurk 3.3.1 from PyPI in a virtual environment of its own (made on first use, by default
  in ~/.cache/study-bench/psiturk-venv), its example project (`psiturk-setup-example`) served by
  `psiturk-server` (gunicorn with gevent workers, 5 by default: psiTurk's `threads = auto` on 2 cores)
  on a SQLite file. Client flow as psiturk.js does it: GET /exp, GET /sync/<uid>, then per trial
  PUT /sync/<uid> with the whole, growing data blob.
- ours-sqlite, ours-pg: `gunicorn <--our-gunicorn-args> 'study_server:create_app()'` run from the
  repository root, so the repository's gunicorn.conf.py applies (the README's deployment), on a SQLite file,
  or on a fresh schema of the PostgreSQL server at --postgres (default $STUDY_TEST_POSTGRES_URL).
  Client flow: POST /s/<slug>/?label=ID (the consent form), POST start, then per trial POST
  /api/p/<token>/responses.

One asyncio load generator (benchmarks/loadgen.py) drives all of them: N participants enter at once
(the setup phase), then each answers T trials (the save phase), closed loop by default, or every
--pace seconds with jitter. Rounds interleave the setups (psiturk, ours-sqlite, ours-pg, psiturk, ...)
so that machine noise hits all of them, and before each round the script waits (up to --settle-seconds)
until the machine is idle, so no round pays for the one before it. After each round the database is
read back: every acknowledged answer must be stored once with the values sent. Prints per setup the
saves/s (median over rounds), p50/p99 save latency (all rounds pooled), server CPU ms per save (the
server's process tree from /proc; for PostgreSQL also its backends), errors, the check counts, and
ours/psiTurk saves/s.
A measurement, not a test: the exit code is 0 whenever it ran.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shlex
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from loadgen import NO_ANSWER, Client, PhaseStats, RequestFailed, percentile, run_saves, run_setup

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SETUPS = ("psiturk", "ours-sqlite", "ours-pg")
SLUG = "bench"
CLASS_IDS = (13, 14, 17)
SECRET = "benchmark-secret-" + "x" * 32
PSITURK = "psiturk==3.3.1"
PSITURK_PINS = ("pyOpenSSL==23.2.0", "cryptography==41.0.7")
"""psiTurk 3.3.1 pins pyOpenSSL~=22.0 but no resolver run finds a working set; this second step does."""
DEFAULT_PSITURK_VENV = Path.home() / ".cache" / "study-bench" / "psiturk-venv"
WARMUP_PARTICIPANTS = 8
LOG_PATTERNS = (
    "Traceback",
    "database is locked",
    "WORKER TIMEOUT",
    "[ERROR]",
    "[CRITICAL]",
    "OperationalError",
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--participants", "-n", type=int, default=16, help="simultaneous participants N")
    parser.add_argument("--trials", "-t", type=int, default=100, help="answers per participant T")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per setup, interleaved")
    parser.add_argument("--setups", default=",".join(SETUPS), help=f"comma-separated, of {', '.join(SETUPS)}")
    parser.add_argument("--skip-psiturk", action="store_true", help="measure only our server")
    parser.add_argument(
        "--pace", type=float, default=0.0, help="seconds between a participant's answers (0: closed loop)"
    )
    parser.add_argument("--jitter", type=float, default=0.5, help="pace x uniform(1-jitter, 1+jitter)")
    parser.add_argument("--max-seconds", type=float, default=120.0, help="bound of one round's load")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds before a request counts as lost")
    parser.add_argument(
        "--our-gunicorn-args",
        default="",
        help="gunicorn options on top of the repository's gunicorn.conf.py, the documented deployment "
        "(write --our-gunicorn-args='-w 4 -k sync' to try another)",
    )
    parser.add_argument("--psiturk-workers", type=int, default=5, help="psiTurk's `threads` (gevent workers)")
    parser.add_argument("--psiturk-venv", type=Path, default=DEFAULT_PSITURK_VENV)
    parser.add_argument("--postgres", default=os.environ.get("STUDY_TEST_POSTGRES_URL"), help="server URL")
    parser.add_argument(
        "--settle-seconds",
        type=float,
        default=20.0,
        help="before each round, wait up to this long for the machine to go idle (0: do not wait)",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    setups = [s.strip() for s in args.setups.split(",") if s.strip()]
    unknown = sorted(set(setups) - set(SETUPS))
    if unknown:
        parser.error(f"unknown setup(s) {', '.join(unknown)}; choose from {', '.join(SETUPS)}")
    if args.skip_psiturk:
        setups = [s for s in setups if s != "psiturk"]
    if "ours-pg" in setups and not args.postgres:
        print("ours-pg skipped: no PostgreSQL (give --postgres URL or set STUDY_TEST_POSTGRES_URL)")
        setups.remove("ours-pg")
    if not setups:
        parser.error("no setup left to measure")
    if args.participants < 1 or args.trials < 1 or args.rounds < 1:
        parser.error("--participants, --trials and --rounds must be at least 1")

    print(
        f"server throughput: N={args.participants} participants, T={args.trials} answers each, "
        f"{args.rounds} round(s), "
        + (f"paced every {args.pace:g} s (jitter {args.jitter:g})" if args.pace > 0 else "closed loop")
        + f", max {args.max_seconds:g} s a round; {os.cpu_count()} CPU(s), Python {sys.version.split()[0]}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="server-throughput-") as tmp_name:
        tmp = Path(tmp_name)
        servers: dict[str, Server] = {}
        if "psiturk" in setups:
            servers["psiturk"] = PsiturkServer(args, ensure_psiturk(args.psiturk_venv))
        if any(s.startswith("ours") for s in setups):
            stimulus_set = build_stimulus_set(tmp / "set", max(100, args.trials))
            for name in setups:
                if name.startswith("ours"):
                    servers[name] = OurServer(args, name, stimulus_set)
        results: dict[str, list[RoundResult]] = defaultdict(list)
        for r in range(args.rounds):
            for name in setups:
                round_dir = tmp / f"{name}-{r}"
                round_dir.mkdir()
                settled = settle(args.settle_seconds)
                result = run_round(servers[name], args, r, round_dir)
                results[name].append(result)
                head = f"round {r + 1}/{args.rounds} {name:11s}"
                print(result.line(head), f"(settled in {settled})", flush=True)
    print_summary(args, setups, results)
    return 0


# ---- servers --------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_busy_and_total() -> tuple[int, int]:
    """Busy and total CPU ticks of the whole machine so far (/proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def settle(max_seconds: float, *, busy_below: float = 0.15, window: float = 0.5) -> str:
    """Wait until the machine is idle (under `busy_below` of all cores busy for `window` s) or
    `max_seconds` pass, after writing every dirty page to disk. Work a round leaves behind (the kernel
    writing out a database's files, a server still exiting) would otherwise land on the next round,
    whichever setup it is; every setup's saves wait for an fsync."""
    if max_seconds <= 0:
        return "-"
    t0 = time.monotonic()
    os.sync()  # the last round's writes reach the disk now, not during this round's fsyncs
    if not Path("/proc/stat").exists():
        return f"{time.monotonic() - t0:.1f} s"
    while True:
        busy0, total0 = _cpu_busy_and_total()
        time.sleep(window)
        busy1, total1 = _cpu_busy_and_total()
        fraction = (busy1 - busy0) / max(1, total1 - total0)
        waited = time.monotonic() - t0
        if fraction < busy_below:
            return f"{waited:.1f} s"
        if waited >= max_seconds:
            return f"not idle after {waited:.0f} s: {fraction:.0%} busy"


def _tree_cpu_seconds(root: int) -> float:
    """utime + stime (+ those of reaped children) of `root` and all its descendants, from /proc."""
    children: dict[int, list[int]] = defaultdict(list)
    ticks: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        pid = int(entry.name)
        children[int(fields[1])].append(pid)
        ticks[pid] = sum(int(x) for x in fields[11:15])
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += ticks.get(pid, 0)
        todo.extend(children.get(pid, ()))
    return total / os.sysconf("SC_CLK_TCK")


def _pids_cpu(pids: Sequence[int]) -> dict[int, float]:
    out = {}
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        out[pid] = sum(int(x) for x in fields[11:13]) / os.sysconf("SC_CLK_TCK")
    return out


@dataclass
class Person:
    index: int
    label: str
    client: Client
    uid: str = ""
    """Our participant token, or psiTurk's uniqueid (workerId:assignmentId)."""
    acked: dict[int, Any] = field(default_factory=dict)
    """trial -> what was sent, for every answer the server acknowledged."""
    blob: dict[str, Any] = field(default_factory=dict)
    """psiTurk: the task data object psiturk.js keeps and PUTs whole."""


@dataclass
class Check:
    """The database read back after a round, against what the server acknowledged."""

    setup_missing: int = 0
    """Participants that entered (every setup request answered as expected) but have no row."""
    setup_duplicated: int = 0
    """Extra participant rows for one person."""
    lost: int = 0
    duplicated: int = 0
    wrong: int = 0
    """A stored answer whose values differ from those sent (or, ours: a wrong status at the end)."""
    extra: int = 0
    """Stored answers that were never acknowledged (a failed request that committed anyway)."""

    def text(self) -> str:
        return (
            f"setup missing {self.setup_missing} dup {self.setup_duplicated}; saves lost {self.lost} "
            f"dup {self.duplicated} wrong {self.wrong} unacked-stored {self.extra}"
        )


class Server:
    """One setup: a fresh database and server per round, its client flow, and the read-back check."""

    name: str

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.log_path = Path()
        self.printed = False

    # lifecycle
    def start(self, round_dir: Path, round_no: int) -> None:
        raise NotImplementedError

    def _launch(
        self, cmd: list[str], env_extra: dict[str, str], cwd: Path, ready_path: str, round_dir: Path
    ) -> None:
        self.log_path = round_dir / "server-output.log"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                cmd,
                cwd=cwd,
                env={**os.environ, **env_extra},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 90
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                    s.sendall(
                        f"GET {ready_path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
                    )
                    if s.recv(12).startswith(b"HTTP/1."):
                        return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = self.log_path.read_text(errors="replace")[-2000:]
                self.stop()
                raise SystemExit(f"{self.name}: the server did not start; its output ends:\n{tail}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # our own server's process group
                self.proc.wait(timeout=10)
        self.proc = None

    def cleanup(self) -> None:
        """Drop what the round left outside its directory (PostgreSQL schema)."""

    def cpu_seconds(self) -> float:
        assert self.proc is not None
        return _tree_cpu_seconds(self.proc.pid)

    def db_cpu_snapshot(self) -> dict[int, float] | None:
        return None

    def log_problems(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for path in self.logs():
            if path.exists():
                for line in path.read_text(errors="replace").splitlines():
                    for pattern in LOG_PATTERNS:
                        if pattern in line:
                            counts[pattern] += 1
        return counts

    def first_problem_lines(self, n: int = 3) -> list[str]:
        out: list[str] = []
        for path in self.logs():
            if path.exists():
                for line in path.read_text(errors="replace").splitlines():
                    if any(p in line for p in LOG_PATTERNS if p != "Traceback") and line not in out:
                        out.append(line.strip()[:200])
        return out[:n]

    def logs(self) -> list[Path]:
        return [self.log_path]

    # client flow
    async def enter(self, p: Person) -> list[tuple[int, float, bool]]:
        raise NotImplementedError

    async def save(self, p: Person, k: int) -> int:
        raise NotImplementedError

    def check(self, people: Sequence[Person], entered: Sequence[bool]) -> Check:
        raise NotImplementedError


async def _timed(
    client: Client, method: str, target: str, body: bytes | None = None, ctype: str | None = None
):
    t0 = time.perf_counter()
    try:
        reply = await client.request(method, target, body, ctype)
    except RequestFailed:
        return None, time.perf_counter() - t0
    return reply, time.perf_counter() - t0


def _answer(p: Person, k: int) -> int:
    return CLASS_IDS[(7 * p.index + k) % len(CLASS_IDS)]


class OurServer(Server):
    def __init__(self, args: argparse.Namespace, name: str, stimulus_set: Path) -> None:
        super().__init__()
        self.name = name
        self.args = args
        self.stimulus_set = stimulus_set
        self.url = ""
        self.schema: str | None = None
        self.app_name = ""
        self.list_length = 0
        self.replays = 0

    def start(self, round_dir: Path, round_no: int) -> None:
        self.replays = 0
        if self.name == "ours-sqlite":
            self.url = f"sqlite:///{round_dir / 'study.sqlite3'}"
        else:
            self.schema = "bench_" + secrets.token_hex(4)
            self.app_name = "study-bench-" + self.schema
            self.url = _create_schema(self.args.postgres, self.schema, self.app_name)
        self.list_length = _prepare_study(self.url, self.stimulus_set, round_dir)
        self.port = _free_port()
        cmd = [
            sys.executable, "-m", "gunicorn", *shlex.split(self.args.our_gunicorn_args),
            "-b", f"127.0.0.1:{self.port}", "study_server:create_app()",
        ]  # fmt: skip
        env = {
            "STUDY_DATABASE_URL": self.url,
            "STUDY_SECRET_KEY": SECRET,
            "STUDY_INSTANCE_PATH": str(round_dir / "instance"),
        }
        if not self.printed:
            self.printed = True
            shown = {**env, "STUDY_DATABASE_URL": _hide_password(self.url), "STUDY_SECRET_KEY": "<64 chars>"}
            print(f"{self.name} command (round {round_no + 1}; port and database are new each round):")
            print(f"  cd {REPO} && " + " ".join(f"{k}={shlex.quote(v)}" for k, v in shown.items()) + " \\")
            print(f"    {shlex.join(cmd)}", flush=True)
        self._launch(cmd, env, REPO, "/admin/login", round_dir)

    def cleanup(self) -> None:
        if self.schema:
            _drop_schema(self.args.postgres, self.schema)
            self.schema = None

    def db_cpu_snapshot(self) -> dict[int, float] | None:
        if not self.app_name:
            return None
        from sqlalchemy import create_engine, text

        engine = create_engine(_plain_pg(self.args.postgres))
        try:
            with engine.connect() as conn:
                pids = conn.execute(
                    text("SELECT pid FROM pg_stat_activity WHERE application_name = :a"), {"a": self.app_name}
                ).scalars()
                return _pids_cpu(list(pids))
        finally:
            engine.dispose()

    async def enter(self, p: Person) -> list[tuple[int, float, bool]]:
        out: list[tuple[int, float, bool]] = []
        # the consent form creates the participant (opening the link only shows the consent page)
        entry = f"/s/{SLUG}/?{urlencode({'label': p.label})}"
        reply, t = await _timed(p.client, "POST", entry, b"agree=yes", "application/x-www-form-urlencoded")
        location = reply.location if reply else ""
        ok = reply is not None and reply.status == 302 and "/p/" in location
        out.append((reply.status if reply else NO_ANSWER, t, ok))
        if not ok:
            return out
        p.uid = location.split("/p/")[1].split("/")[0]
        # the card calibration (the study's default; the trials start only once it is stored), then start
        steps = (
            (f"/p/{p.uid}/calibrate", b"card_px=340&blindspot_px=540", "/instructions"),
            (f"/p/{p.uid}/start", b"", "/trials"),
        )
        for target, body, goal in steps:
            reply, t = await _timed(p.client, "POST", target, body, "application/x-www-form-urlencoded")
            ok = reply is not None and reply.status == 302 and reply.location.endswith(goal)
            out.append((reply.status if reply else NO_ANSWER, t, ok))
            if not ok:
                break
        return out

    async def save(self, p: Person, k: int) -> int:
        payload = {"trial_index": k, "response": _answer(p, k), "rt_ms": 500.0 + k}
        body = json.dumps(payload).encode()
        try:
            reply = await p.client.request("POST", f"/api/p/{p.uid}/responses", body, "application/json")
        except RequestFailed:
            return NO_ANSWER
        if reply.status in (200, 201):
            p.acked[k] = (payload["response"], payload["rt_ms"])
            self.replays += reply.status == 200
        return reply.status

    def check(self, people: Sequence[Person], entered: Sequence[bool]) -> Check:
        from sqlalchemy import create_engine, text

        engine = create_engine(self.url)
        try:
            with engine.connect() as conn:
                parts = conn.execute(
                    text(
                        "SELECT p.id, p.external_id, p.status, p.trial_order FROM participants p "
                        "JOIN studies s ON s.id = p.study_id WHERE s.slug = :slug"
                    ),
                    {"slug": SLUG},
                ).all()
                rows = conn.execute(
                    text("SELECT participant_id, trial_index, response, rt_ms, stimulus_id FROM responses")
                ).all()
        finally:
            engine.dispose()
        by_label: dict[str, list[Any]] = defaultdict(list)
        for row in parts:
            by_label[row.external_id].append(row)
        stored: dict[int, list[Any]] = defaultdict(list)
        for row in rows:
            stored[row.participant_id].append(row)
        c = Check()
        for p, ok in zip(people, entered, strict=True):
            mine = by_label.get(p.label, [])
            c.setup_duplicated += max(0, len(mine) - 1)
            if not mine:
                c.setup_missing += ok
                continue
            part = mine[0]
            order = json.loads(part.trial_order) if isinstance(part.trial_order, str) else part.trial_order
            answers = stored.get(part.id, [])
            seen = Counter(r.trial_index for r in answers)
            c.duplicated += sum(n - 1 for n in seen.values())
            got = {r.trial_index: r for r in answers}
            for k, (response, rt) in p.acked.items():
                row = got.get(k)
                if row is None:
                    c.lost += 1
                elif row.response != response or row.rt_ms != rt or row.stimulus_id != order[k]:
                    c.wrong += 1
            c.extra += len(set(got) - set(p.acked))
            expected = "completed" if len(got) >= len(order) else "started"
            c.wrong += ok and part.status != expected
        return c


def _prepare_study(url: str, stimulus_set: Path, round_dir: Path) -> int:
    """Create the schema (alembic) and import the stimulus set; returns the trial list length."""
    from study_server import create_app
    from study_server.cli import upgrade_database
    from study_server.importer import import_stimulus_set
    from study_server.models import db

    app = create_app(
        {"DATABASE_URL": url, "SECRET_KEY": SECRET, "INSTANCE_PATH": str(round_dir / "instance")}
    )
    upgrade_database(url)
    with app.app_context():
        study, _ = import_stimulus_set(db.session, stimulus_set, slug=SLUG, config={"demo": True})
        length = min(len(tl.stimulus_ids) for tl in study.lists)
        db.session.remove()
        db.engine.dispose()
    return length


def build_stimulus_set(out: Path, n_sources: int) -> Path:
    """n_sources x 1 condition, 3 classes, tiny 8x8 noise images: a list of n_sources trials."""
    import numpy as np

    import stimuli

    rng = np.random.default_rng(0)
    classes = [
        stimuli.ClassInfo(13, "yield"),
        stimuli.ClassInfo(14, "stop"),
        stimuli.ClassInfo(17, "no entry"),
    ]
    rows = [
        {
            "source_id": f"src{k:04d}",
            "label": CLASS_IDS[k % len(CLASS_IDS)],
            "family": "regular",
            "condition": "regular",
            "catch": False,
        }
        for k in range(n_sources)
    ]
    images = [rng.random((8, 8, 3), dtype=np.float32) for _ in rows]
    legend = {c.id: rng.random((8, 8, 3), dtype=np.float32) for c in classes}
    return stimuli.write_stimulus_set(
        out, rows, images, classes, legend, name="throughput benchmark", seed=0, source="synthetic",
        progress=False,
    )  # fmt: skip


def _plain_pg(url: str) -> str:
    from study_server.db import normalise_url

    return normalise_url(url)


def _create_schema(url: str, schema: str, app_name: str) -> str:
    """A fresh schema, selected through search_path; the URL names the connections for pg_stat_activity."""
    from sqlalchemy import create_engine, text

    engine = create_engine(_plain_pg(url))
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    sep = "&" if "?" in url else "?"
    return f"{_plain_pg(url)}{sep}options={quote(f'-csearch_path={schema}')}&application_name={app_name}"


def _drop_schema(url: str, schema: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(_plain_pg(url))
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def _hide_password(url: str) -> str:
    from sqlalchemy import make_url

    return make_url(url).render_as_string(hide_password=True) if "://" in url else url


def ensure_psiturk(venv: Path) -> Path:
    """psiTurk 3.3.1 in its own virtual environment (made on first use); returns its bin directory."""
    bin_dir = venv / "bin"
    probe = [str(bin_dir / "python"), "-c", "import importlib.metadata as m; print(m.version('psiturk'))"]
    have = subprocess.run(probe, capture_output=True, text=True, check=False) if bin_dir.exists() else None
    if have is None or have.returncode != 0 or have.stdout.strip() != PSITURK.split("==")[1]:
        steps = [
            [sys.executable, "-m", "venv", str(venv)],
            [str(bin_dir / "pip"), "install", "-q", PSITURK],
            [str(bin_dir / "pip"), "install", "-q", *PSITURK_PINS],
        ]
        print(f"installing {PSITURK} into {venv} (once):", flush=True)
        for cmd in steps:
            print(f"  {shlex.join(cmd)}", flush=True)
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0 and "dependency conflicts" not in done.stderr:
                raise SystemExit(
                    f"could not install psiTurk: {shlex.join(cmd)} failed:\n{done.stderr[-2000:]}"
                )
    return bin_dir


class PsiturkServer(Server):
    name = "psiturk"

    def __init__(self, args: argparse.Namespace, bin_dir: Path) -> None:
        super().__init__()
        self.args = args
        self.bin_dir = bin_dir
        self.db_path = Path()
        self.project = Path()
        self.hit = ""

    def start(self, round_dir: Path, round_no: int) -> None:
        env = {"PSITURK_GLOBAL_CONFIG_LOCATION": str(round_dir)}  # no ~/.psiturkconfig
        subprocess.run(
            [str(self.bin_dir / "psiturk-setup-example")],
            cwd=round_dir,
            env={**os.environ, **env},
            check=True,
            capture_output=True,
        )
        self.project = round_dir / "psiturk-example"
        self.db_path = round_dir / "participants.db"
        self.port = _free_port()
        self.hit = "debug" + secrets.token_hex(3)  # a hitId starting "debug" is psiTurk's debug mode
        config = (
            "[Database Parameters]\n"
            f"database_url = sqlite:///{self.db_path}\n"
            "[Server Parameters]\n"
            "host = 127.0.0.1\n"
            f"port = {self.port}\n"
            f"threads = {self.args.psiturk_workers}\n"
            "logfile = server.log\n"
            "loglevel = 2\n"
        )
        (self.project / "config.txt").write_text(config)
        # psiTurk's workers each create the tables at import (init_db); on a new SQLite file they race and
        # one dies with "table assignments already exists". A running study's database has its tables.
        init = [str(self.bin_dir / "python"), "-c", "from psiturk.db import init_db; init_db()"]
        subprocess.run(init, cwd=self.project, env={**os.environ, **env}, check=True, capture_output=True)
        cmd = [str(self.bin_dir / "psiturk-server")]
        if not self.printed:
            self.printed = True
            print(f"psiturk command (round {round_no + 1}; port and database are new each round):")
            env_text = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
            print(f"  cd {round_dir} && {env_text} \\")
            print(f"    {shlex.quote(str(self.bin_dir / 'psiturk-setup-example'))}")
            print(f"  cd psiturk-example && {env_text} {shlex.join(init)}   # create its tables once")
            print(f"  cd psiturk-example && {env_text} \\")
            print(f"    {shlex.join(cmd)}      # with this config.txt, in place of the example's:")
            print("".join(f"      {line}\n" for line in config.splitlines()), end="", flush=True)
        self._launch(cmd, env, self.project, "/favicon.ico", round_dir)

    def logs(self) -> list[Path]:
        return [self.log_path, self.project / "server.log"]

    async def enter(self, p: Person) -> list[tuple[int, float, bool]]:
        worker, assignment = f"W{p.label}", f"A{p.label}"
        p.uid = f"{worker}:{assignment}"
        query = urlencode(
            {"hitId": self.hit, "assignmentId": assignment, "workerId": worker, "mode": "debug"}
        )
        reply, t = await _timed(p.client, "GET", f"/exp?{query}")
        ok = reply is not None and reply.status == 200 and p.uid.encode() in reply.body
        out = [(reply.status if reply else NO_ANSWER, t, ok)]
        if not ok:
            return out
        reply, t = await _timed(p.client, "GET", f"/sync/{p.uid}")  # psiturk.js: taskdata.fetch()
        try:
            fetched = json.loads(reply.body) if reply is not None and reply.status == 200 else None
        except ValueError:
            fetched = None
        ok = isinstance(fetched, dict) and fetched.get("workerId") == worker
        out.append((reply.status if reply else NO_ANSWER, t, ok))
        now = int(time.time() * 1000)
        p.blob = {  # psiturk.js TaskData: its defaults, what /sync gave, then what initialize() adds
            "id": p.uid, "condition": 0, "counterbalance": 0, "assignmentId": 0, "workerId": 0, "hitId": 0,
            "currenttrial": 0, "bonus": 0, "data": [], "questiondata": {}, "eventdata": [],
            "useragent": "", "mode": "",
            **(fetched if isinstance(fetched, dict) else {}),
        }  # fmt: skip
        p.blob["useragent"] = "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0"
        p.blob["mode"] = "debug"
        p.blob["eventdata"] = [
            {"eventtype": "initialized", "value": None, "timestamp": now, "interval": 0},
            {"eventtype": "window_resize", "value": [1366, 768], "timestamp": now, "interval": 0},
        ]
        return out

    async def save(self, p: Person, k: int) -> int:
        trialdata = {"phase": "TEST", "trial": k, "response": _answer(p, k), "rt": 500 + k}
        p.blob["data"].append(  # psiturk.js addTrialData, then saveData() PUTs the whole object
            {
                "uniqueid": p.uid,
                "current_trial": k,
                "dateTime": int(time.time() * 1000),
                "trialdata": trialdata,
            }
        )
        p.blob["currenttrial"] = k + 1
        body = json.dumps(p.blob).encode()
        try:
            reply = await p.client.request("PUT", f"/sync/{p.uid}", body, "application/json")
        except RequestFailed:
            return NO_ANSWER
        if 200 <= reply.status < 300:
            p.acked[k] = trialdata
        return reply.status

    def check(self, people: Sequence[Person], entered: Sequence[bool]) -> Check:
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)
        try:
            rows = conn.execute("SELECT workerid, datastring FROM assignments").fetchall()
        finally:
            conn.close()
        by_worker: dict[str, list[str | None]] = defaultdict(list)
        for worker, datastring in rows:
            by_worker[worker].append(datastring)
        c = Check()
        for p, ok in zip(people, entered, strict=True):
            mine = by_worker.get(f"W{p.label}", [])
            c.setup_duplicated += max(0, len(mine) - 1)
            if not mine:
                c.setup_missing += ok
                continue
            try:
                data = json.loads(mine[0] or "null") or {}
                trials = data.get("data", []) if isinstance(data, dict) else []
            except ValueError:
                trials = []
            seen = Counter(t.get("current_trial") for t in trials if isinstance(t, dict))
            c.duplicated += sum(n - 1 for n in seen.values())
            got = {t.get("current_trial"): t for t in trials if isinstance(t, dict)}
            for k, trialdata in p.acked.items():
                if k not in got:
                    c.lost += 1
                elif got[k].get("trialdata") != trialdata:
                    c.wrong += 1
            c.extra += len(set(got) - set(p.acked))
        return c


# ---- one round ------------------------------------------------------------------------------------------


@dataclass
class RoundResult:
    setup: PhaseStats
    saves: PhaseStats
    check: Check
    server_cpu: float
    """Server process tree CPU seconds during the save phase."""
    db_cpu: float | None
    client_cpu: float
    resent: int
    replays: int
    log: Counter[str]
    log_lines: list[str]
    entered: int

    @property
    def rate(self) -> float:
        return self.saves.acked / self.saves.seconds

    def line(self, head: str) -> str:
        s, v = self.setup, self.saves
        n = max(v.acked, 1)
        db = f" + db {1000 * self.db_cpu / n:.2f}" if self.db_cpu is not None else ""
        codes = {k: n for k, n in v.codes.items() if not 200 <= k < 300}
        setup_codes = {k: n for k, n in s.codes.items() if k not in (200, 302)}
        p50, p99 = 1000 * percentile(v.latencies, 0.5), 1000 * percentile(v.latencies, 0.99)
        text = (
            f"{head}: entered {self.entered} (setup p99 {1000 * percentile(s.latencies, 0.99):.0f} ms, "
            f"errors {s.failed}{' ' + str(setup_codes) if setup_codes else ''}); "
            f"{v.acked} saves in {v.seconds:.2f} s = {self.rate:.0f}/s, "
            f"p50 {p50:.1f} p99 {p99:.1f} ms, "
            f"errors {v.failed}{' ' + str(codes) if codes else ''}; "
            f"CPU ms/save server {1000 * self.server_cpu / n:.2f}{db}, "
            f"client {1000 * self.client_cpu / n:.2f}; "
            f"{self.check.text()}"
        )
        if v.late or v.send_latencies != v.latencies:  # paced: also the latency from the actual send
            text += f"; from send p99 {1000 * percentile(v.send_latencies, 0.99):.1f} ms, late sends {v.late}"
        if self.resent or self.replays:
            text += f"; resent on closed keep-alive {self.resent}, 200 replays {self.replays}"
        if self.log:
            text += "; server log: " + ", ".join(f"{k!r} x{n}" for k, n in self.log.items())
            text += "".join(f"\n      {line}" for line in self.log_lines)
        return text


def run_round(server: Server, args: argparse.Namespace, round_no: int, round_dir: Path) -> RoundResult:
    server.start(round_dir, round_no)
    try:
        outcome = asyncio.run(_drive(server, args, round_no))
        cpu, db_cpu, client_cpu, setup, saves, people, entered = outcome
    finally:
        server.stop()
    try:
        check = server.check(people, entered)
    finally:
        server.cleanup()
    return RoundResult(
        setup=setup,
        saves=saves,
        check=check,
        server_cpu=cpu,
        db_cpu=db_cpu,
        client_cpu=client_cpu,
        resent=sum(p.client.resent for p in people),
        replays=getattr(server, "replays", 0),
        log=server.log_problems(),
        log_lines=server.first_problem_lines(),
        entered=sum(entered),
    )


async def _drive(
    server: Server, args: argparse.Namespace, round_no: int
) -> tuple[float, float | None, float, PhaseStats, PhaseStats, list[Person], list[bool]]:
    def person(i: int, label: str) -> Person:
        return Person(i, label, Client("127.0.0.1", server.port, timeout=args.timeout))

    tag = secrets.token_hex(2)
    warm = [person(i, f"warm{tag}r{round_no}x{i}") for i in range(WARMUP_PARTICIPANTS)]
    people = [person(i, f"b{tag}r{round_no}x{i}") for i in range(args.participants)]
    try:
        # warm-up, not measured: every worker has imported the app and opened its database connection
        await asyncio.gather(*(server.enter(p) for p in warm))
        await asyncio.gather(*(_saves(server, p, 2) for p in warm))

        deadline = time.perf_counter() + args.max_seconds
        setup, entered = await run_setup(len(people), lambda i: server.enter(people[i]), deadline=deadline)
        cpu0, db0, client0 = server.cpu_seconds(), server.db_cpu_snapshot(), time.process_time()
        who = [i for i, ok in enumerate(entered) if ok]
        saves = await run_saves(
            who,
            args.trials,
            lambda i, k: server.save(people[i], k),
            deadline=deadline,
            pace=args.pace,
            jitter=args.jitter,
            seed=args.seed + round_no,
        )
        cpu1, db1, client1 = server.cpu_seconds(), server.db_cpu_snapshot(), time.process_time()
    finally:
        for p in warm + people:
            p.client.close()
    db_cpu = None
    if db0 is not None and db1 is not None:
        db_cpu = sum(max(0.0, t - db0.get(pid, 0.0)) for pid, t in db1.items())
    return cpu1 - cpu0, db_cpu, client1 - client0, setup, saves, people, entered


async def _saves(server: Server, p: Person, n: int) -> None:
    if p.uid:
        for k in range(n):
            await server.save(p, k)


# ---- summary --------------------------------------------------------------------------------------------


def print_summary(
    args: argparse.Namespace, setups: Sequence[str], results: dict[str, list[RoundResult]]
) -> None:
    print()
    mode = f"pace {args.pace:g} s" if args.pace > 0 else "closed loop"
    print(
        f"summary: N={args.participants}, T={args.trials}, {mode}, {args.rounds} round(s); "
        f"ours: gunicorn.conf.py {args.our_gunicorn_args}; psiTurk: {args.psiturk_workers} gevent workers"
    )
    print(
        f"{'setup':12s} {'saves/s':>8s} {'p50 ms':>7s} {'p99 ms':>7s} {'CPU ms/save':>12s} "
        f"{'setup err':>9s} {'save err':>8s} {'lost':>5s} {'dup':>4s} {'wrong':>5s} {'unacked':>7s} "
        f"{'ours/psiTurk':>12s}"
    )
    rates = {name: statistics.median(r.rate for r in rs) for name, rs in results.items()}
    for name in setups:
        rs = results[name]
        lat = [x for r in rs for x in r.saves.latencies]
        n = [max(r.saves.acked, 1) for r in rs]
        cpu = statistics.median(1000 * r.server_cpu / k for r, k in zip(rs, n, strict=True))
        cpu_text = f"{cpu:.2f}"
        if all(r.db_cpu is not None for r in rs):
            db = statistics.median(1000 * (r.db_cpu or 0.0) / k for r, k in zip(rs, n, strict=True))
            cpu_text = f"{cpu:.2f}+{db:.2f}db"
        ratio = f"{rates[name] / rates['psiturk']:.2f}" if "psiturk" in rates and name != "psiturk" else "-"
        p50, p99 = 1000 * percentile(lat, 0.5), 1000 * percentile(lat, 0.99)
        print(
            f"{name:12s} {rates[name]:8.0f} {p50:7.1f} {p99:7.1f} "
            f"{cpu_text:>12s} {sum(r.setup.failed for r in rs):9d} {sum(r.saves.failed for r in rs):8d} "
            f"{sum(r.check.lost for r in rs):5d} {sum(r.check.duplicated for r in rs):4d} "
            f"{sum(r.check.wrong for r in rs):5d} {sum(r.check.extra for r in rs):7d} {ratio:>12s}"
        )
    problems = Counter[str]()
    for rs in results.values():
        for r in rs:
            problems.update(r.log)
    print(
        "saves/s: median over rounds; p50/p99: all rounds pooled"
        + (", from each answer's planned send time" if args.pace > 0 else "")
        + "; CPU: server process tree (+ PostgreSQL backends) during the save phase"
    )
    print("server logs: " + (", ".join(f"{k!r} x{n}" for k, n in problems.items()) if problems else "clean"))


if __name__ == "__main__":
    raise SystemExit(main())
