"""A small HTTP/1.1 client on an asyncio protocol and ``h11``, for the load generator's hot path.

Why not ``httpx``: measured on the course's 2-core machines, ``httpx.AsyncClient`` spends about
3 ms of CPU on each small streamed request, some twenty times what the same exchange costs on a
bare asyncio connection, and that caps a load generator far below the rates it must offer
(``benchmarks/bench_profiler.py`` prints both).

Why a protocol: every piece of the body is stamped with ``time.perf_counter()`` the moment the
event loop reads it off the socket (:meth:`_Protocol.data_received`), and parsed there by ``h11``
(the maintained sans-I/O HTTP/1.1 parser), so a chunk's arrival time does not include the time
the loop then spends on other streams' chunks. At concurrency 16 those chunks arrive together;
stamping after a later parse would add the queue to the inter-token latencies of the streams
handled last.

It does only what the two wire protocols need: POST a JSON body over a kept-alive connection
(TLS for ``https``), read the status and headers, and stream the body (``h11`` handles chunked,
sized and read-until-close bodies). No proxies, redirects, compression or HTTP/2: a profiler talks
to an API endpoint directly. Failures are raised as :mod:`rightsize.errors`; :class:`Watchdog`
turns "no bytes for ``timeout`` seconds" into a :class:`~rightsize.errors.ProviderTimeoutError`.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import h11

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
    """One connection: bytes are parsed by ``h11`` as they arrive, each event stamped with its arrival."""

    def __init__(self, key: _Key) -> None:
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.http = h11.Connection(h11.CLIENT, max_incomplete_event_size=65536)
        self.events: deque[tuple[Any, float]] = deque()  # (h11 event, when its last byte arrived)
        self.eof = False
        self.error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        now = _clock()
        self._feed(data, now)

    def eof_received(self) -> bool:
        self.eof = True
        self._feed(b"", _clock())
        return False

    def connection_lost(self, exc: BaseException | None) -> None:
        self.eof = True
        self.error = exc
        self._wake()

    def _feed(self, data: bytes, now: float) -> None:
        try:
            self.http.receive_data(data)
            while True:
                event = self.http.next_event()
                if event is h11.NEED_DATA or event is h11.PAUSED:
                    break
                self.events.append((event, now))
                if type(event) is h11.ConnectionClosed:
                    break
        except h11.RemoteProtocolError as exc:
            self.error = exc
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def next(self) -> tuple[Any, float]:
        """The next parsed event and its arrival time; raises when the connection ended without one."""
        while not self.events:
            if isinstance(self.error, h11.RemoteProtocolError):
                raise ValueError(f"malformed HTTP from the server: {self.error}")
            if self.eof:
                raise ConnectionResetError("the server closed the connection")
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self.events.popleft()

    def send(self, *events: Any) -> None:
        assert self.transport is not None
        self.transport.write(b"".join(self.http.send(event) or b"" for event in events))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    @property
    def reusable(self) -> bool:
        return (not self.eof and self.transport is not None and not self.transport.is_closing()
                and self.http.our_state is h11.IDLE and self.http.their_state is h11.IDLE)


class HttpResponse:
    """Status, headers and a body to stream once. The connection goes back to the pool when the
    body was read to its end, and is closed otherwise (:meth:`release` is safe to call twice)."""

    def __init__(self, pool: HttpPool, conn: _Protocol, status: int, headers: dict[str, str]) -> None:
        self._pool = pool
        self._conn: _Protocol | None = conn
        self.status = status
        self.headers = headers
        self._complete = False

    async def iter_timed(self) -> AsyncIterator[tuple[bytes, float]]:
        """The body as it arrives (de-chunked), each piece with the time its last byte was read."""
        conn = self._conn
        assert conn is not None, "the body was already read"
        try:
            while True:
                event, arrived = await conn.next()
                if type(event) is h11.Data:
                    yield bytes(event.data), arrived
                elif type(event) is h11.EndOfMessage:
                    break
                elif type(event) is h11.ConnectionClosed:
                    raise ConnectionResetError("the server closed the connection mid-answer")
        except (ConnectionError, ValueError) as exc:
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
        if self._complete and conn.http.our_state is h11.DONE and conn.http.their_state is h11.DONE:
            try:
                conn.http.start_next_cycle()
            except h11.LocalProtocolError:
                pass
        if conn.reusable:
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
        request = h11.Request(method="POST", target=target, headers=[
            ("host", host_header), ("content-length", str(len(body))), ("accept-encoding", "identity"),
            *headers.items()])
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
                conn.send(request, h11.Data(data=body), h11.EndOfMessage())
                event, _ = await conn.next()
                while type(event) is h11.InformationalResponse:
                    event, _ = await conn.next()
            except ConnectionError as exc:
                conn.close()
                if reused and attempt == 0:
                    continue  # a kept-alive connection the server had closed meanwhile: use a fresh one
                raise OverloadedError(f"the server at {where} closed the connection before answering "
                                      f"({type(exc).__name__})") from exc
            except ValueError as exc:
                conn.close()
                raise OverloadedError(f"not an HTTP response from {where} ({exc})") from None
            except BaseException:
                conn.close()
                raise
            break
        assert conn is not None
        if watchdog is not None:
            watchdog.touch()
        if type(event) is not h11.Response:
            conn.close()
            raise OverloadedError(f"not an HTTP response from {where}: {type(event).__name__}")
        headers_in = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in event.headers}
        return HttpResponse(self, conn, int(event.status_code), headers_in)
