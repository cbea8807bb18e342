"""A test server with async start()/stop() run on its own event loop in a background thread.

`with Server(...) as server:` is how synchronous tests use the fake provider and the OPA stand-in:
the SDK clients block, so the server must not share their thread.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from typing import Any, TypeVar

T = TypeVar("T", bound="ThreadedServer")


class ThreadedServer:
    thread_name = "test-server"
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None

    async def start(self) -> Any:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self: T) -> T:
        loop = asyncio.new_event_loop()
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
                failure.append(exc)
                started.set()
                return
            started.set()
            loop.run_forever()
            loop.run_until_complete(self.stop())
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name=self.thread_name, daemon=True)
        self._thread.start()
        started.wait(10)
        if failure:
            raise failure[0]
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = self._thread = None


async def serve_until_signalled(server: ThreadedServer, url: str) -> None:
    """Run as a script: the server is started; announce it (`READY <url>`) and serve until SIGINT or
    SIGTERM, then stop it."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    print(f"READY {url}", flush=True)
    try:
        await stop.wait()
    finally:
        await server.stop()
