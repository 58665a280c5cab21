"""gunicorn settings for the study server, read by `gunicorn 'study_server:create_app()'` when run from
the repository root (or pass `-c path/to/gunicorn.conf.py`). It listens on 127.0.0.1:8000 behind nginx
(deploy/nginx.conf), never on the open internet: a gthread worker lets each thread read its request,
so 16 clients that send slowly would hold every thread of 2 workers x 8 threads, where nginx reads
requests whole on an event loop first (benchmarks/slow_clients.py). Several of these servers (on
several machines) may share one PostgreSQL database: nothing one process keeps decides anything another
could change. Chosen by benchmarks/server_throughput.py:

- one worker process per core, at most 8 by default: each process runs Python on one core at a time, and
  workers x threads is the number of database connections in use at once (PostgreSQL allows 100 by
  default);
- threads (gthread) with keep-alive, so a participant's answers reuse one connection and a thread that
  waits on the database does not hold up the others; 8 threads stay below the connection pool
  (study_server.db.POOL_SIZE = 16), so no request opens a connection of its own.

On a 2-core machine this gave about 1,400-2,400 saved answers per second on SQLite and 1,400-2,300 on
PostgreSQL (16 participants answering as fast as they can), against 240-350 for psiTurk 3.3.1 in the
same runs; the README quotes the numbers. 4 threads instead of 8 was no faster on either database
(3 rounds each, twice: SQLite 1,770 and 1,422 against 1,874 and 1,486; PostgreSQL 1,854 and 2,041
against 2,000 and 1,979), so both use 8.
"""

import multiprocessing
import os

workers = int(os.environ.get("WEB_CONCURRENCY", min(multiprocessing.cpu_count(), 8)))
worker_class = "gthread"
threads = int(os.environ.get("STUDY_GUNICORN_THREADS", 8))
keepalive = 5
bind = os.environ.get("STUDY_GUNICORN_BIND", "127.0.0.1:8000")  # nginx proxies to it
timeout = 30  # a worker silent this long is restarted
