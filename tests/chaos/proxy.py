"""Tiny TCP proxies for the chaos cluster: round-robin over replicas, and a cut switch.

A `Proxy` listens on one port and forwards each connection to one of its backends in turn; a
backend that refuses the connection is skipped for the next (as a load balancer does when a
replica is gone). `cut()` closes every open connection and refuses new ones until `restore()`:
the fault "PostgreSQL (or SMTP) refuses connections" without touching the machine's server.
Every proxy of a cluster runs on one asyncio loop in one thread (`Proxies`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from collections.abc import Callable, Coroutine, Sequence
from functools import partial
from typing import Any, TypeVar

T = TypeVar("T")
CONNECT_TIMEOUT = 5.0
CHUNK = 65536


class Proxy:
    """One listening port forwarding to `backends` ((host, port) pairs) in turn."""

    def __init__(self, name: str, port: int, backends: Sequence[tuple[str, int]]) -> None:
        self.name = name
        self.port = port
        self.backends = list(backends)
        self.is_cut = False
        self.connections = 0  # accepted and forwarded, for the report
        self._turn = itertools.count()
        self._open: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, backlog=512)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        self._drop_all()

    def _drop_all(self) -> None:
        for writer in list(self._open):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self._open.clear()

    def cut(self, *, drop_open: bool = True) -> None:
        """Refuse new connections and (unless `drop_open` is false) break the open ones (call on
        the proxies' loop)."""
        self.is_cut = True
        if drop_open:
            self._drop_all()

    def restore(self) -> None:
        self.is_cut = False

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        first = next(self._turn)
        last: Exception = ConnectionRefusedError(f"{self.name}: no backend")
        for step in range(len(self.backends)):
            host, port = self.backends[(first + step) % len(self.backends)]
            try:
                return await asyncio.wait_for(asyncio.open_connection(host, port), CONNECT_TIMEOUT)
            except (OSError, TimeoutError) as exc:
                last = exc
        raise last

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        if self.is_cut:
            client_w.transport.abort()
            return
        try:
            server_r, server_w = await self._connect()
        except (OSError, TimeoutError):
            client_w.transport.abort()
            return
        if self.is_cut:  # cut while connecting
            client_w.transport.abort()
            server_w.transport.abort()
            return
        self.connections += 1
        self._open.update((client_w, server_w))
        try:
            await asyncio.gather(self._pipe(client_r, server_w), self._pipe(server_r, client_w))
        finally:
            for writer in (client_w, server_w):
                self._open.discard(writer)
                writer.transport.abort()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(CHUNK):
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        except (OSError, asyncio.IncompleteReadError, RuntimeError):
            writer.transport.abort()


class Proxies:
    """Every proxy of a cluster on one asyncio loop, in one daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.proxies: dict[str, Proxy] = {}
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="chaos-proxies", daemon=True
        )

    def add(self, proxy: Proxy) -> Proxy:
        self.proxies[proxy.name] = proxy
        return proxy

    def start(self) -> Proxies:
        self._thread.start()
        for proxy in self.proxies.values():
            self._call(proxy.start())
        return self

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    def cut(self, name: str, *, drop_open: bool = True) -> None:
        """Cut a proxy; its open connections are broken when this returns (unless `drop_open`
        is false: they stay, new ones are refused)."""
        self._call(self._now(partial(self.proxies[name].cut, drop_open=drop_open)))

    def restore(self, name: str) -> None:
        self._call(self._now(self.proxies[name].restore))

    @staticmethod
    async def _cancel_connections() -> None:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @staticmethod
    async def _now(action: Callable[[], None]) -> None:
        action()

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        for proxy in self.proxies.values():
            with contextlib.suppress(Exception):
                self._call(proxy.close())
        with contextlib.suppress(Exception):
            self._call(self._cancel_connections())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
