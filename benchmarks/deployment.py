"""Start the documented deployment on this machine: gunicorn with the repository's gunicorn.conf.py,
and nginx with deploy/nginx.conf in front of it (only its ports changed). Used by
benchmarks/slow_clients.py and by tests/study_server/test_deployment.py, which CI runs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NGINX_CONF = REPO / "deploy" / "nginx.conf"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_http(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> None:
    """Return once something answers HTTP on `port`; RuntimeError with the log's tail otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.sendall(b"GET /admin/login HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                if s.recv(12).startswith(b"HTTP/1."):
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            stop(proc)
            raise RuntimeError(f"the server on port {port} did not start; its log ends:\n{tail}")
        time.sleep(0.2)


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    """Stop a process started here, and its process group (gunicorn's workers)."""
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def start_gunicorn(
    database_url: str, secret: str, instance: Path, log: Path, *, port: int | None = None, **env: str
) -> tuple[subprocess.Popen[bytes], int]:
    """gunicorn 'study_server:create_app()' with gunicorn.conf.py on 127.0.0.1; returns (process, port).
    `env` adds STUDY_* and gunicorn settings (e.g. WEB_CONCURRENCY="2")."""
    port = port or free_port()
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        str(REPO / "gunicorn.conf.py"),
        "-b",
        f"127.0.0.1:{port}",
        "study_server:create_app()",
    ]
    environ = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "STUDY_DATABASE_URL": database_url,
        "STUDY_SECRET_KEY": secret,
        "STUDY_INSTANCE_PATH": str(instance),
        **env,
    }
    with log.open("ab") as fh:
        proc = subprocess.Popen(
            cmd, cwd=REPO, env=environ, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
        )
    wait_for_http(port, proc, log)
    return proc, port


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.path.exists(p)), None
    )


def start_nginx(upstream_port: int, workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    """nginx with deploy/nginx.conf (listening on a free port, proxying to `upstream_port`) in the
    foreground, its files under `workdir`; returns (process, port)."""
    binary = nginx_binary()
    if binary is None:
        raise FileNotFoundError("nginx is not installed (apt-get install nginx-light)")
    port = free_port()
    site = NGINX_CONF.read_text()
    for old, new in (
        ("listen 80;", f"listen 127.0.0.1:{port};"),
        ("127.0.0.1:8000", f"127.0.0.1:{upstream_port}"),
    ):
        assert old in site, f"deploy/nginx.conf no longer contains {old!r}"
        site = site.replace(old, new)
    workdir.mkdir(parents=True, exist_ok=True)
    workdir.chmod(0o777)  # the worker processes run as nobody when nginx starts as root
    (workdir / "study.conf").write_text(site)
    temp = "\n".join(
        f"  {kind}_temp_path {workdir / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    main = f"""worker_processes 1;
error_log {workdir / "error.log"} warn;
pid {workdir / "nginx.pid"};
events {{ worker_connections 4096; }}
http {{
  access_log off;
{temp}
  include {workdir / "study.conf"};
}}
"""
    (workdir / "nginx-main.conf").write_text(main)
    log = workdir / "nginx-output.log"
    with log.open("ab") as fh:
        proc = subprocess.Popen(
            [binary, "-p", str(workdir), "-c", str(workdir / "nginx-main.conf"), "-g", "daemon off;"],
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    wait_for_http(port, proc, workdir / "error.log")
    return proc, port
