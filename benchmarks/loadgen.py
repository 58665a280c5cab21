"""A small asyncio load generator: an HTTP/1.1 client with keep-alive, and closed- or open-loop drivers.

Standard library only, so the same client drives any server without adding a dependency, and it costs
little CPU on a machine it shares with the server under test. Each simulated participant owns one
`Client` (one connection, like a browser tab): it keeps the connection open while the server allows,
and opens a new one when the server closed it (e.g. gunicorn's sync worker answers `Connection: close`).
A request sent on a reused connection that the server closed before any byte of an answer is sent
again once on a fresh connection, as browsers do; `Client.resent` counts those.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
)
NO_ANSWER = 0
"""The status recorded for a request that got no HTTP answer (timeout, connection refused or reset)."""


class RequestFailed(Exception):
    """No HTTP answer: the connection failed or the request timed out."""


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    """Lower-case names; a repeated header keeps its last value."""
    body: bytes

    @property
    def location(self) -> str:
        return self.headers.get("location", "")


class Client:
    """One keep-alive HTTP/1.1 connection to `host:port` (reopened when needed)."""

    def __init__(self, host: str, port: int, *, timeout: float = 30.0) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.opened = 0
        self.resent = 0
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._used = 0

    async def request(
        self, method: str, target: str, body: bytes | None = None, content_type: str | None = None
    ) -> Reply:
        """Send one request and read the whole answer; raise RequestFailed when none comes."""
        head = [
            f"{method} {target} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            f"User-Agent: {USER_AGENT}",
            "Accept: */*",
        ]
        if body is not None:
            head.append(f"Content-Length: {len(body)}")
            if content_type:
                head.append(f"Content-Type: {content_type}")
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + (body or b"")
        try:
            return await asyncio.wait_for(self._exchange(method, data), self.timeout)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            self.close()  # the connection's state is unknown now
            kind = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
            raise RequestFailed(f"{method} {target}: {kind}") from exc

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def _exchange(self, method: str, data: bytes) -> Reply:
        for attempt in (0, 1):
            if self._writer is None:
                self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
                self.opened += 1
                self._used = 0
            assert self._reader is not None
            reused = self._used > 0
            try:
                self._writer.write(data)
                await self._writer.drain()
                line = await self._reader.readline()
                if not line:
                    raise ConnectionResetError("the server closed the connection before answering")
            except ConnectionError:
                self.close()
                if reused and attempt == 0:  # a keep-alive connection the server had just closed
                    self.resent += 1
                    continue
                raise
            reply, keep_alive = await self._read_answer(line, head_only=method == "HEAD")
            self._used += 1
            if not keep_alive:
                self.close()
            return reply
        raise AssertionError("unreachable")

    async def _read_answer(self, status_line: bytes, *, head_only: bool) -> tuple[Reply, bool]:
        assert self._reader is not None
        parts = status_line.decode("latin-1").split(None, 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise ValueError(f"not an HTTP/1.x status line: {status_line[:80]!r}")
        version, status = parts[0], int(parts[1])
        headers: dict[str, str] = {}
        while True:
            line = await self._reader.readline()
            if line in (b"\r\n", b"\n"):
                break
            if not line:
                raise ConnectionResetError("the connection closed inside the headers")
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        connection = headers.get("connection", "").lower()
        keep_alive = "close" not in connection and (version != "HTTP/1.0" or "keep-alive" in connection)
        if head_only or status in (204, 304) or 100 <= status < 200:
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = await self._read_chunked()
        elif "content-length" in headers:
            body = await self._reader.readexactly(int(headers["content-length"]))
        else:  # delimited by the end of the connection
            body = await self._reader.read()
            keep_alive = False
        return Reply(status, headers, body), keep_alive

    async def _read_chunked(self) -> bytes:
        assert self._reader is not None
        chunks = []
        while True:
            size = int((await self._reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while (await self._reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            chunks.append(await self._reader.readexactly(size))
            await self._reader.readexactly(2)


@dataclass
class PhaseStats:
    """What one phase (setup or saves) of a round gave: answer codes, latencies and timing."""

    codes: Counter[int] = field(default_factory=Counter)
    """HTTP status of every request (NO_ANSWER for none)."""
    latencies: list[float] = field(default_factory=list)
    """Seconds per acknowledged request (in pace mode: from the planned send time, see `run_saves`)."""
    send_latencies: list[float] = field(default_factory=list)
    """Seconds per acknowledged request from the moment it was actually sent."""
    acked: int = 0
    failed: int = 0
    """Requests that were not answered as expected (setup: wrong status or redirect; saves: not 2xx)."""
    late: int = 0
    """Pace mode: sends that left after their planned time because the previous answer was still due."""
    started: float = 0.0
    finished: float = 0.0

    @property
    def seconds(self) -> float:
        return max(self.finished - self.started, 1e-9)


SetupStep = Callable[[int], Awaitable[list[tuple[int, float, bool]]]]
"""setup(participant index) -> [(status, seconds, as expected)] per request, stopping at the first failure."""
SaveStep = Callable[[int, int], Awaitable[int]]
"""save(participant index, trial) -> HTTP status (NO_ANSWER for none); 2xx means acknowledged."""


async def run_setup(n: int, setup: SetupStep, *, deadline: float) -> tuple[PhaseStats, list[bool]]:
    """All `n` participants enter at once; returns the stats and, per participant, whether it got in."""
    stats = PhaseStats(started=time.perf_counter())

    async def one(i: int) -> bool:
        if time.perf_counter() > deadline:
            return False
        ok = True
        for status, seconds, expected in await setup(i):
            stats.codes[status] += 1
            if expected:
                stats.latencies.append(seconds)
            else:
                stats.failed += 1
                ok = False
        return ok

    entered = await asyncio.gather(*(one(i) for i in range(n)))
    stats.finished = time.perf_counter()
    return stats, list(entered)


async def run_saves(
    who: Sequence[int],
    trials: int,
    save: SaveStep,
    *,
    deadline: float,
    pace: float = 0.0,
    jitter: float = 0.5,
    seed: int = 0,
) -> PhaseStats:
    """Each participant in `who` answers trials 0..trials-1 in order, all participants at once.

    Closed loop (`pace` 0): the next answer leaves as soon as the last one is acknowledged.
    Paced: participant answers every `pace` seconds times uniform(1 - jitter, 1 + jitter), starting at a
    random offset within the first interval; latency counts from the planned send time, so a slow
    answer that delays the next send is not hidden (no coordinated omission). No new answer leaves
    after `deadline`; answers in flight then are still awaited (at most the client's timeout).
    """
    stats = PhaseStats()
    rng = random.Random(seed)
    offsets = {i: rng.uniform(0.0, pace) for i in who}
    gaps = {i: [pace * rng.uniform(1.0 - jitter, 1.0 + jitter) for _ in range(trials)] for i in who}

    async def one(i: int) -> None:
        planned = stats.started + offsets[i]
        for k in range(trials):
            if pace > 0:
                lag = time.perf_counter() - planned
                if lag < 0:
                    await asyncio.sleep(-lag)
                elif lag > 0.001:
                    stats.late += 1
            if time.perf_counter() > deadline:
                return
            sent = time.perf_counter()
            t0 = planned if pace > 0 else sent
            planned += gaps[i][k]
            status = await save(i, k)
            done = time.perf_counter()
            stats.codes[status] += 1
            if 200 <= status < 300:
                stats.acked += 1
                stats.latencies.append(done - t0)
                stats.send_latencies.append(done - sent)
            else:
                stats.failed += 1
            stats.finished = max(stats.finished, done)

    stats.started = time.perf_counter()
    stats.finished = stats.started
    await asyncio.gather(*(one(i) for i in who))
    return stats


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in [0, 1]); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


__all__ = [
    "NO_ANSWER",
    "Client",
    "PhaseStats",
    "Reply",
    "RequestFailed",
    "percentile",
    "run_saves",
    "run_setup",
]
