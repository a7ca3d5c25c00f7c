"""A minimal HTTP/1.1 client on an asyncio protocol, for the load generator's hot path.

Why not ``httpx``: measured on the course's 2-core machines, ``httpx.AsyncClient`` spends about
3 ms of CPU on each small streamed request, some twenty times what the same exchange costs on a
bare asyncio connection, and that caps a load generator far below the rates it must offer
(``benchmarks/bench_profiler.py`` prints both).

Why a protocol, not streams: every piece of the body is stamped with ``time.perf_counter()`` the
moment the event loop reads it off the socket (:meth:`_Protocol.data_received`), so a chunk's
arrival time does not include the time the loop then spends on other streams' chunks. At
concurrency 16 those chunks arrive together; stamping after parsing would add the queue to the
inter-token latencies of the streams handled last.

It does only what the two wire protocols need: POST a JSON body over a kept-alive connection
(TLS for ``https``), read the status and headers, and stream the body (chunked, sized, or until
close). No proxies, redirects, compression or HTTP/2: a profiler talks to an API endpoint
directly. Failures are raised as :mod:`rightsize.errors`; :class:`Watchdog` turns "no bytes for
``timeout`` seconds" into a :class:`~rightsize.errors.TimeoutError`.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from ..errors import OverloadedError, StreamCutError

__all__ = ["HttpPool", "HttpResponse", "Watchdog"]

_Key = tuple[str, str, int]
_clock = time.perf_counter


class Watchdog:
    """Cancels the current task when ``idle`` seconds pass without :meth:`touch`; one timer per
    request, re-armed lazily (touching only stores the time)."""

    __slots__ = ("_handle", "_idle", "_last", "_loop", "_task", "fired")

    def __init__(self, idle: float) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self._idle = idle
        self._last = self._loop.time()
        self.fired = False
        self._handle: asyncio.TimerHandle | None = self._loop.call_at(self._last + idle, self._check)

    def touch(self) -> None:
        self._last = self._loop.time()

    def _check(self) -> None:
        due = self._last + self._idle
        if self._loop.time() < due:
            self._handle = self._loop.call_at(due, self._check)
        elif self._task is not None:
            self.fired = True
            self._handle = None
            self._task.cancel()

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def absorb(self) -> None:
        """After a cancellation this watchdog caused was caught: clear it from the task."""
        if self._task is not None and self._task.cancelling():
            self._task.uncancel()


class _Protocol(asyncio.Protocol):
    """Buffers what arrives, remembering when each piece came off the socket."""

    def __init__(self, key: _Key) -> None:
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self._base = 0  # stream offset of buffer[0]
        self._stamps: deque[tuple[int, float]] = deque()  # (stream offset just past a piece, its arrival)
        self.eof = False
        self.error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        now = _clock()
        self.buffer += data
        self._stamps.append((self._base + len(self.buffer), now))
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False

    def connection_lost(self, exc: BaseException | None) -> None:
        self.eof = True
        self.error = exc
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def more(self) -> None:
        """Wait for more bytes; raise when the connection has ended."""
        if self.eof:
            raise ConnectionResetError("the server closed the connection")
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def arrival(self, end: int) -> float:
        """When the byte just before buffer position ``end`` arrived."""
        target = self._base + end
        for offset, stamp in self._stamps:
            if offset >= target:
                return stamp
        return self._stamps[-1][1] if self._stamps else _clock()

    def take(self, size: int) -> bytes:
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        self._base += size
        while self._stamps and self._stamps[0][0] <= self._base:
            self._stamps.popleft()
        return data

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    @property
    def reusable(self) -> bool:
        return not self.eof and not self.buffer and self.transport is not None and not self.transport.is_closing()


class HttpResponse:
    """Status, headers and a body to stream once. The connection goes back to the pool when the
    body was read to its end, and is closed otherwise (:meth:`release` is safe to call twice)."""

    def __init__(self, pool: HttpPool, conn: _Protocol, status: int, headers: dict[str, str]) -> None:
        self._pool = pool
        self._conn: _Protocol | None = conn
        self.status = status
        self.headers = headers
        self._complete = False
        self._keep_alive = headers.get("connection", "").lower() != "close"

    async def iter_timed(self) -> AsyncIterator[tuple[bytes, float]]:
        """The body as it arrives (de-chunked), each piece with the time its last byte was read."""
        conn = self._conn
        assert conn is not None, "the body was already read"
        try:
            if self.headers.get("transfer-encoding", "").lower() == "chunked":
                while True:
                    line_end = conn.buffer.find(b"\r\n")
                    while line_end < 0:
                        await conn.more()
                        line_end = conn.buffer.find(b"\r\n")
                    size = int(bytes(conn.buffer[:line_end]).split(b";", 1)[0].strip(), 16)
                    end = line_end + 2 + size + 2
                    while len(conn.buffer) < end:
                        await conn.more()
                    arrived = conn.arrival(end)
                    data = conn.take(end)[line_end + 2:-2]
                    if size == 0:
                        break  # the servers we talk to send no trailers
                    yield data, arrived
            elif "content-length" in self.headers:
                remaining = int(self.headers["content-length"])
                while remaining > 0:
                    if not conn.buffer:
                        await conn.more()
                    size = min(remaining, len(conn.buffer))
                    arrived = conn.arrival(size)
                    remaining -= size
                    yield conn.take(size), arrived
            else:
                self._keep_alive = False
                while True:
                    if conn.buffer:
                        size = len(conn.buffer)
                        arrived = conn.arrival(size)
                        yield conn.take(size), arrived
                    if conn.eof:
                        break
                    await conn.more()
        except (ConnectionError, ValueError) as exc:
            self._keep_alive = False
            self.release()
            raise StreamCutError(f"the connection broke mid-answer ({type(exc).__name__}: {exc})") from exc
        self._complete = True
        self.release()

    async def aread(self) -> bytes:
        return b"".join([data async for data, _ in self.iter_timed()])

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._complete and self._keep_alive and conn.reusable:
            self._pool.put(conn)
        else:
            conn.close()


class HttpPool:
    """Kept-alive connections per host for one event loop; no limit on connections in use."""

    def __init__(self, *, max_idle: int = 1024) -> None:
        self._idle: dict[_Key, deque[_Protocol]] = {}
        self._max_idle = max_idle
        self._ssl: ssl.SSLContext | None = None

    def put(self, conn: _Protocol) -> None:
        idle = self._idle.setdefault(conn.key, deque())
        if len(idle) < self._max_idle:
            idle.append(conn)
        else:
            conn.close()

    def close(self) -> None:
        for idle in self._idle.values():
            while idle:
                idle.pop().close()

    async def _connect(self, key: _Key) -> _Protocol:
        scheme, host, port = key
        context = None
        if scheme == "https":
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            context = self._ssl
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_connection(lambda: _Protocol(key), host, port, ssl=context)
        return protocol

    async def post(self, url: str, headers: dict[str, str], body: bytes,
                   watchdog: Watchdog | None = None) -> HttpResponse:
        """Send a POST and return once the status line and headers are in."""
        parts = urlsplit(url)
        scheme = parts.scheme or "http"
        host = parts.hostname or "localhost"
        port = parts.port or (443 if scheme == "https" else 80)
        key = (scheme, host, port)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host_header = host if parts.port is None else f"{host}:{port}"
        head = [f"POST {target} HTTP/1.1", f"host: {host_header}", f"content-length: {len(body)}",
                "accept-encoding: identity"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        payload = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
        where = f"{scheme}://{host_header}"
        for attempt in (0, 1):
            idle = self._idle.get(key)
            conn = None
            while idle and conn is None:
                candidate = idle.pop()
                if candidate.reusable:
                    conn = candidate
                else:
                    candidate.close()
            reused = conn is not None
            if conn is None:
                try:
                    conn = await self._connect(key)
                except OSError as exc:
                    raise OverloadedError(f"cannot reach the server at {where} ({type(exc).__name__}: {exc})") from exc
            try:
                assert conn.transport is not None
                conn.transport.write(payload)
                end = conn.buffer.find(b"\r\n\r\n")
                while end < 0:
                    if len(conn.buffer) > 65536:
                        raise OverloadedError(f"the response headers from {where} are too large")
                    await conn.more()
                    end = conn.buffer.find(b"\r\n\r\n")
            except ConnectionError as exc:
                conn.close()
                if reused and attempt == 0:
                    continue  # a kept-alive connection the server had closed meanwhile: use a fresh one
                raise OverloadedError(f"the server at {where} closed the connection before answering "
                                      f"({type(exc).__name__})") from exc
            except BaseException:
                conn.close()
                raise
            break
        assert conn is not None
        if watchdog is not None:
            watchdog.touch()
        lines = conn.take(end + 4).decode("latin-1").split("\r\n")
        try:
            status = int(lines[0].split(" ", 2)[1])
        except (IndexError, ValueError):
            conn.close()
            raise OverloadedError(f"not an HTTP response from {where}: {lines[0][:80]!r}") from None
        headers_in: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers_in[name.strip().lower()] = value.strip()
        return HttpResponse(self, conn, status, headers_in)
