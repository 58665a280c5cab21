"""Slow clients against the documented deployment: do real participants keep saving?

Opens N connections that send a request's headers and then one byte of a declared 1,000-byte body,
and N that send half a request line and headers, each trickling one more byte every few seconds so
that no read timeout ends them; meanwhile participants save answers as fast as they can. Measured
three ways, each on a fresh server:
  nginx  - deploy/nginx.conf in front of gunicorn.conf.py, no slow clients (the baseline);
  nginx+slow  - the same with the slow clients;
  gunicorn+slow  - gunicorn.conf.py alone with the slow clients (how it was before deploy/nginx.conf).
Prints p50 and p99 of the participants' save latency and the ratio of p99 with slow clients to the
baseline's.

    python benchmarks/slow_clients.py [--slow 200] [--people 8] [--requests 40] [--database URL]
"""

from __future__ import annotations

import argparse
import http.client
import socket
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):  # run as a script: import the sibling modules as a package would
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.deployment import start_gunicorn, start_nginx, stop

SLUG = "slow"
SECRET = "slow-clients-benchmark-secret-0123456789abcdef"
TRICKLE_S = 3.0


class SlowClients:
    """`n` slow-body and `n` slow-header connections to 127.0.0.1:`port`, kept open (reopened when the
    server closes one) and trickling a byte every TRICKLE_S seconds until `close()`."""

    def __init__(self, port: int, n: int) -> None:
        self.port = port
        self.n = n
        self.socks: list[tuple[socket.socket | None, str]] = []
        self.reopened = 0
        self._stop = threading.Event()
        for kind in ("body", "header"):
            for _ in range(n):
                self.socks.append((self._open(kind), kind))
        self._thread = threading.Thread(target=self._trickle, daemon=True)
        self._thread.start()

    def _open(self, kind: str) -> socket.socket | None:
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        except OSError:
            return None
        if kind == "body":
            head = (
                "POST /api/p/x/responses HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                "Content-Length: 1000\r\n\r\n{"
            )
        else:
            head = "GET /admin/login HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
        try:
            s.sendall(head.encode())
        except OSError:
            s.close()
            return None
        return s

    def _trickle(self) -> None:
        while not self._stop.wait(TRICKLE_S):
            for k, (s, kind) in enumerate(self.socks):
                try:
                    if s is None:
                        raise OSError
                    s.sendall(b" " if kind == "body" else b"a")
                except OSError:
                    if s is not None:
                        s.close()
                    self.socks[k] = (self._open(kind), kind)
                    self.reopened += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        for s, _ in self.socks:
            if s is not None:
                s.close()


def prepare_study(database_url: str, set_dir: Path, instance: Path) -> list[int]:
    """Create the schema and import the set as study SLUG (no calibration, no screening, no cap);
    returns its class ids."""
    from study_server import create_app
    from study_server.cli import upgrade_database
    from study_server.importer import import_stimulus_set
    from study_server.models import db

    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": SECRET, "INSTANCE_PATH": str(instance)})
    upgrade_database(database_url)
    with app.app_context():
        config = {
            "demo": True,
            "calibration": "none",
            "catch_fail_threshold": None,
            "idle_release_minutes": None,
        }
        study, _ = import_stimulus_set(db.session, set_dir, slug=SLUG, config=config)
        classes = [int(c["id"]) for c in study.classes]
        db.session.remove()
        db.engine.dispose()
    return classes


def _request(
    conn: http.client.HTTPConnection, method: str, path: str, body: str = "", ctype: str = ""
) -> tuple[int, str, bytes]:
    headers = {"Content-Type": ctype} if ctype else {}
    conn.request(method, path, body=body.encode() if body else None, headers=headers)
    resp = conn.getresponse()
    return resp.status, resp.getheader("Location") or "", resp.read()


def enter(port: int) -> str:
    """One participant through consent and start; returns the participant's token."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    status, location, _ = _request(
        conn, "POST", f"/s/{SLUG}/", "agree=yes", "application/x-www-form-urlencoded"
    )
    if status != 302 or "/p/" not in location:
        raise RuntimeError(f"consent answered {status}")
    pid = location.split("/p/")[1].split("/")[0]
    _request(conn, "POST", f"/p/{pid}/start")
    conn.close()
    return pid


def save_latencies(
    port: int, pids: list[str], classes: list[int], n_requests: int, *, n_trials: int, timeout: float = 30.0
) -> tuple[list[float], Counter[int]]:
    """Each participant (a thread with one keep-alive connection) saves `n_requests` answers: its trials
    in order, then replays of them. Returns every latency (s) and a count of statuses (0: no answer)."""
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def person(k: int, pid: str) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        for r in range(n_requests):
            body = (
                f'{{"trial_index": {r % n_trials}, "response": {classes[(k + r % n_trials) % len(classes)]}}}'
            )
            t0 = time.perf_counter()
            try:
                status, _, _ = _request(conn, "POST", f"/api/p/{pid}/responses", body, "application/json")
            except OSError:
                status = 0
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
            with lock:
                latencies.append(time.perf_counter() - t0)
                statuses[status] += 1
        conn.close()

    threads = [threading.Thread(target=person, args=(k, pid)) for k, pid in enumerate(pids)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, statuses


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def run_phase(
    name: str, args: argparse.Namespace, set_dir: Path, tmp: Path, *, nginx: bool, slow: int
) -> dict[str, float]:
    work = tmp / name.replace("+", "-")
    work.mkdir()
    url = args.database or f"sqlite:///{work / 'study.sqlite3'}"
    classes = prepare_study(url, set_dir, work / "instance")
    app, app_port = start_gunicorn(
        url, SECRET, work / "instance", work / "gunicorn.log", STUDY_PROXY_FIX_X_FOR="1" if nginx else "0"
    )
    front = None
    try:
        port = app_port
        if nginx:
            front, port = start_nginx(app_port, work / "nginx")
        pids = [enter(port) for _ in range(args.people)]
        crowd = SlowClients(port, slow) if slow else None
        time.sleep(1.0 if slow else 0.0)  # let the slow connections settle in
        t0 = time.perf_counter()
        n = args.requests if nginx else min(args.requests, args.direct_requests)  # each may take --timeout
        lat, statuses = save_latencies(port, pids, classes, n, n_trials=args.trials, timeout=args.timeout)
        wall = time.perf_counter() - t0
        if crowd is not None:
            crowd.close()
    finally:
        stop(front)
        stop(app)
    result = {
        "p50": percentile(lat, 50),
        "p99": percentile(lat, 99),
        "max": max(lat),
        "wall": wall,
        "ok": statuses[200] + statuses[201],
        "n": len(lat),
        "failed": len(lat) - statuses[200] - statuses[201],
    }
    print(
        f"{name:14s} p50 {result['p50'] * 1000:8.1f} ms  p99 {result['p99'] * 1000:8.1f} ms  "
        f"max {result['max'] * 1000:8.1f} ms  saved {result['ok']}/{result['n']}  in {wall:.1f} s",
        flush=True,
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--slow", type=int, default=200, help="slow-body and, as many, slow-header connections"
    )
    parser.add_argument("--people", type=int, default=8)
    parser.add_argument("--requests", type=int, default=40, help="saves per participant per phase")
    parser.add_argument("--trials", type=int, default=20, help="trials per participant")
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="a save unanswered this long counts as failed"
    )
    parser.add_argument("--database", help="a PostgreSQL URL (default: a SQLite file per phase)")
    parser.add_argument("--skip-direct", action="store_true", help="skip gunicorn without nginx")
    parser.add_argument(
        "--direct-requests",
        type=int,
        default=40,
        help="saves per participant against gunicorn alone (each may wait out --timeout)",
    )
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from server_throughput import build_stimulus_set

    with tempfile.TemporaryDirectory(prefix="slow-clients-") as name:
        tmp = Path(name)
        set_dir = build_stimulus_set(tmp / "set", args.trials)
        base = run_phase("nginx", args, set_dir, tmp, nginx=True, slow=0)
        slow = run_phase("nginx+slow", args, set_dir, tmp, nginx=True, slow=args.slow)
        print(f"p99 with {args.slow}+{args.slow} slow clients / without: {slow['p99'] / base['p99']:.2f}x")
        if not args.skip_direct:
            run_phase("gunicorn+slow", args, set_dir, tmp, nginx=False, slow=args.slow)
    return 0


if __name__ == "__main__":
    sys.exit(main())
