"""Simultaneous arrivals: N participants enter, consent and start at the same moment against a real
`gunicorn -w W` server, on SQLite or PostgreSQL. Issue 10's bar: no 5xx, no duplicate participant,
entry p99 under 1 s at N=100.

    python benchmarks/entry_concurrency.py [--database sqlite|URL] [--participants 100] [--gunicorn-args ...]

Prints per step (the consent page, which writes nothing; entry = the consent POST, which creates the
participant; start) the p50/p99 latency, the count of unexpected answers, the
participants in the database, and the ratio of the p99 under load to one participant alone (the
baseline, measured in the same run against the same server).
"""

from __future__ import annotations

import argparse
import http.client
import os
import secrets
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

WARM = 16
"""Participants entered before the measurement, so every worker has imported the app."""
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _prepare(url: str, tmp: Path, secret: str) -> None:
    from study_server import create_app
    from study_server.cli import upgrade_database
    from study_server.importer import import_stimulus_set
    from study_server.models import db
    from tests.study_server.conftest import build_small_set

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": secret, "INSTANCE_PATH": str(tmp / "inst")})
    upgrade_database(url)
    with app.app_context():
        import_stimulus_set(db.session, build_small_set(tmp / "set"), slug="bench", config={"demo": True})
        db.session.remove()
        db.engine.dispose()


def _count(url: str, secret: str, tmp: Path) -> tuple[int, int, int]:
    from sqlalchemy import func, select

    from study_server import create_app
    from study_server.models import Participant, db

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": secret, "INSTANCE_PATH": str(tmp / "inst")})
    with app.app_context():
        n = db.session.scalar(select(func.count(Participant.id)))
        started = db.session.scalar(select(func.count(Participant.id)).where(Participant.status == "started"))
        labels = db.session.scalar(select(func.count(func.distinct(Participant.external_id))))
        db.session.remove()
        db.engine.dispose()
    return int(n or 0), int(started or 0), int(labels or 0)


def _request(port: int, method: str, path: str, body: str | None = None) -> tuple[int, str, float]:
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if body is not None else {}
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    resp.read()
    conn.close()
    return resp.status, resp.getheader("Location") or "", time.perf_counter() - t0


def _person(port: int, label: str) -> dict[str, tuple[int, float]]:
    code, _, t_page = _request(port, "GET", f"/s/bench/?label={label}")  # the consent page: no write
    out = {"consent page": (code, t_page)}
    code, location, t_entry = _request(port, "POST", f"/s/bench/?label={label}", "agree=yes")
    out["entry"] = (code, t_entry)  # consent creates the participant
    if "/p/" not in location:
        return out
    pid = location.split("/p/")[1].split("/")[0]
    code, _, t = _request(
        port, "POST", f"/p/{pid}/calibrate", "card_px=340&blindspot_px=540"
    )  # before start can start
    out["calibrate"] = (code, t)
    code, _, t = _request(port, "POST", f"/p/{pid}/start")
    out["start"] = (code, t)
    return out


def _crowd(port: int, n: int, prefix: str) -> list[dict[str, tuple[int, float]]]:
    barrier = threading.Barrier(n)
    results: list[dict[str, tuple[int, float]]] = [{} for _ in range(n)]

    def run(i: int) -> None:
        barrier.wait()
        results[i] = _person(port, f"{prefix}{i}")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _p(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", default="sqlite", help="sqlite (a temporary file) or a database URL")
    parser.add_argument("--participants", type=int, default=100)
    parser.add_argument(
        "--gunicorn-args",
        default="",
        help="options on top of the repository's gunicorn.conf.py (e.g. --gunicorn-args='-w 4 -k sync')",
    )
    args = parser.parse_args(argv)

    secret = "benchmark-secret-" + "x" * 32
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        schema = None
        if args.database == "sqlite":
            url = f"sqlite:///{tmp / 'bench.sqlite3'}"
        else:  # a fresh schema of its own, dropped afterwards
            schema = "bench_" + secrets.token_hex(4)
            url = _with_schema(args.database, schema)
        try:
            _prepare(url, tmp, secret)
            return _run(args, url, tmp, secret)
        finally:
            if schema:
                _drop_schema(args.database, schema)


def _with_schema(url: str, schema: str) -> str:
    from urllib.parse import quote

    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    return f"{url}{'&' if '?' in url else '?'}options={quote(f'-csearch_path={schema}')}"


def _drop_schema(url: str, schema: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def _run(args: argparse.Namespace, url: str, tmp: Path, secret: str) -> int:
    port = _free_port()
    env = {
        **os.environ,
        "STUDY_DATABASE_URL": url,
        "STUDY_SECRET_KEY": secret,
        "STUDY_INSTANCE_PATH": str(tmp / "inst"),
    }
    cmd = [
        sys.executable, "-m", "gunicorn", *shlex.split(args.gunicorn_args), "-b", f"127.0.0.1:{port}",
        "--backlog", "2048", "study_server:create_app()",
    ]  # fmt: skip
    server = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if _request(port, "GET", "/admin/login")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("gunicorn did not start")
            time.sleep(0.2)
        for w in range(WARM):  # every worker has imported the app and opened its pool
            _person(port, f"warm{w}")
        alone = [_person(port, f"alone{i}") for i in range(10)]
        crowd = _crowd(port, args.participants, "crowd")
    finally:
        server.terminate()
        server.wait(timeout=30)
    n_rows, n_started, n_labels = _count(url, secret, tmp)

    backend = "sqlite" if args.database == "sqlite" else url.split("://")[0]
    print(f"database: {backend}, gunicorn (gunicorn.conf.py) {args.gunicorn_args}, ", end="")
    print(f"{args.participants} participants at once")
    ok = True
    for step, want in (("consent page", 200), ("entry", 302), ("calibrate", 302), ("start", 302)):
        base = [r[step][1] for r in alone if step in r]
        times = [r[step][1] for r in crowd if step in r]
        bad = sum(1 for r in crowd if step not in r or r[step][0] != want)
        ok &= bad == 0
        ratio = _p(times, 0.99) / statistics.median(base)
        print(
            f"{step:12s} p50 {1000 * _p(times, 0.5):7.1f} ms  p99 {1000 * _p(times, 0.99):7.1f} ms  "
            f"(alone: median {1000 * statistics.median(base):5.1f} ms; p99/alone = {ratio:5.1f}x)  "
            f"not {want}: {bad}"
        )
    expected = args.participants + 10 + WARM
    print(
        f"participants in the database: {n_rows} for {n_labels} people (expected {expected}); "
        f"started: {n_started}"
    )
    entry_p99 = _p([r["entry"][1] for r in crowd if "entry" in r], 0.99)
    verdict = ok and n_rows == n_labels == expected and entry_p99 < 1.0
    verdict_text = "PASS" if verdict else "FAIL"
    print(f"result: {verdict_text} (no 5xx, no duplicate, entry p99 {entry_p99:.3f} s < 1 s)")
    return 0 if verdict else 1


if __name__ == "__main__":
    raise SystemExit(main())
