"""A small HTTP/1.1 load generator on raw asyncio sockets (keep-alive), for loopback only.

Two modes:

* closed loop (`run_closed`): C connections, each sends its next request as soon as the previous
  answer arrived. Gives the maximum throughput; its latencies understate what users see under load
  (a slow answer delays the next request instead of queuing it: coordinated omission).
* open loop (`run_open`): requests are *scheduled* at a fixed rate (evenly spaced) and each latency
  is measured from its scheduled time, whether or not a connection was free; connections are
  opened as needed (up to a cap). This is the latency a client population arriving at that rate sees.

Requests come from a `Workload`: `next()` gives (method, path, body, key) and `done(key, status)`
is told the answer, so a workload can alternate the triggers of each project and never send two
requests for the same project at once. Used by bench/throughput.py, bench/memory.py, bench/soak.py.

Standalone smoke test (GET /api/v1/health for 5 s, 8 connections):

    PYTHONPATH=. .venv/bin/python -m bench.loadgen --port 8100 --path /api/v1/health
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from bench.common import percentile


class Workload(Protocol):
    def next(self) -> tuple[str, str, bytes | None, Any] | None: ...  # None: nothing ready right now

    def done(self, key: Any, status: int, body: bytes) -> None: ...


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)  # seconds
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)  # connection errors, by type
    elapsed: float = 0.0
    late_starts: int = 0  # open loop: requests sent more than 5 ms after their scheduled time

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def rps(self) -> float:
        return self.count / self.elapsed if self.elapsed else 0.0

    def summary(self) -> dict[str, Any]:
        ms = [x * 1000 for x in self.latencies]
        return {
            "requests": self.count,
            "rps": round(self.rps, 1),
            "p50_ms": round(percentile(ms, 50), 2),
            "p95_ms": round(percentile(ms, 95), 2),
            "p99_ms": round(percentile(ms, 99), 2),
            "max_ms": round(max(ms), 2) if ms else None,
            "statuses": dict(sorted(self.statuses.items())),
            "errors": dict(self.errors),
        }

    def merge(self, other: Result) -> None:
        self.latencies += other.latencies
        self.statuses.update(other.statuses)
        self.errors.update(other.errors)
        self.elapsed += other.elapsed
        self.late_starts += other.late_starts


class Conn:
    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        self.fixed = "".join(f"{k}: {v}\r\n" for k, v in {"Host": f"{host}:{port}", **headers}.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.reused = False  # True once a request was answered on this connection

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.reused = False

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(
        self, method: str, path: str, body: bytes | None = None, extra: dict[str, str] | None = None
    ) -> tuple[int, bytes, dict[str, str]]:
        if self.writer is None:
            await self.open()
        assert self.reader is not None and self.writer is not None
        head = f"{method} {path} HTTP/1.1\r\n{self.fixed}"
        if extra:
            head += "".join(f"{k}: {v}\r\n" for k, v in extra.items())
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        elif method in ("POST", "PUT", "PATCH"):
            head += "Content-Length: 0\r\n"
        self.writer.write(head.encode("latin-1") + b"\r\n" + (body or b""))
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        if "content-length" in headers:
            data = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                data += chunk[:-2]
        else:
            data = b""
        if headers.get("connection", "").lower() == "close":
            self.close()
        else:
            self.reused = True
        return status, data, headers


async def _one(conn: Conn, workload: Workload, item: tuple, res: Result, t_sched: float) -> None:
    method, path, body, key = item
    try:
        try:
            status, data, _ = await conn.request(method, path, body)
        except (OSError, asyncio.IncompleteReadError) as exc:
            if not conn.reused:
                raise
            # The server closed a keep-alive connection that sat idle (uvicorn: after 5 s): the request
            # was not read. Send it again on a new connection; its latency still counts from t_sched.
            conn.close()
            res.errors[f"reconnect after {type(exc).__name__}"] += 1
            status, data, _ = await conn.request(method, path, body)
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        conn.close()
        res.errors[type(exc).__name__] += 1
        workload.done(key, 0, b"")
        return
    res.latencies.append(time.perf_counter() - t_sched)
    res.statuses[status] += 1
    workload.done(key, status, data)


async def run_closed(
    host: str,
    port: int,
    headers: dict[str, str],
    workload: Workload,
    *,
    connections: int,
    duration: float,
    max_requests: int | None = None,
) -> Result:
    """Closed loop for `duration` seconds, or until `max_requests` requests were sent."""
    res = Result()
    sent = 0
    conns = [Conn(host, port, headers) for _ in range(connections)]
    for c in conns:
        await c.open()
    stop = time.perf_counter() + duration

    async def loop(conn: Conn) -> None:
        nonlocal sent
        while time.perf_counter() < stop and (max_requests is None or sent < max_requests):
            item = workload.next()
            if item is None:
                await asyncio.sleep(0.001)
                continue
            sent += 1
            await _one(conn, workload, item, res, time.perf_counter())

    t0 = time.perf_counter()
    await asyncio.gather(*(loop(c) for c in conns))
    res.elapsed = time.perf_counter() - t0
    for c in conns:
        c.close()
    return res


async def run_open(
    host: str,
    port: int,
    headers: dict[str, str],
    workload: Workload,
    *,
    rate: float,
    duration: float,
    max_connections: int = 256,
) -> Result:
    """Send `rate` requests per second, evenly spaced, for `duration` s; latency from the scheduled time."""
    res = Result()
    idle: list[Conn] = []
    opened = 0
    sem = asyncio.Semaphore(max_connections)
    tasks: set[asyncio.Task] = set()

    async def send(item: tuple, t_sched: float) -> None:
        nonlocal opened
        async with sem:
            if idle:
                conn = idle.pop()
            else:
                conn = Conn(host, port, headers)
                opened += 1
            if time.perf_counter() - t_sched > 0.005:
                res.late_starts += 1
            await _one(conn, workload, item, res, t_sched)
            idle.append(conn)

    t0 = time.perf_counter()
    n = int(rate * duration)
    for i in range(n):
        t_sched = t0 + i / rate
        delay = t_sched - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        item = workload.next()
        while item is None:  # the workload has no project free: the request waits (latency keeps counting)
            await asyncio.sleep(0.0005)
            item = workload.next()
        task = asyncio.create_task(send(item, t_sched))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.gather(*list(tasks))
    res.elapsed = time.perf_counter() - t0
    for c in idle:
        c.close()
    return res


class FixedPath:
    def __init__(self, path: str) -> None:
        self.path = path

    def next(self) -> tuple[str, str, None, None]:
        return "GET", self.path, None, None

    def done(self, key: Any, status: int, body: bytes) -> None:
        pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", default="/api/v1/health")
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--duration", type=float, default=5)
    ap.add_argument("--rate", type=float, help="open loop at this rate (default: closed loop)")
    ap.add_argument("--key", help="API key sent as Bearer")
    args = ap.parse_args()
    headers = {"Authorization": f"Bearer {args.key}"} if args.key else {}
    if args.rate:
        res = asyncio.run(
            run_open("127.0.0.1", args.port, headers, FixedPath(args.path), rate=args.rate, duration=args.duration)
        )
    else:
        res = asyncio.run(
            run_closed(
                "127.0.0.1",
                args.port,
                headers,
                FixedPath(args.path),
                connections=args.connections,
                duration=args.duration,
            )
        )
    print(json.dumps(res.summary()))


if __name__ == "__main__":
    main()
