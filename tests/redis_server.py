"""A real redis-server (the Debian package) on a free localhost port, for the usage store tests.

The server keeps its data in an append-only file fsynced on every write (``--appendonly yes
--appendfsync always``, no RDB snapshots) in its own temporary directory, so ``restart()`` (stop, start
again on the same port and directory) shows what a Redis restart keeps. ``stop()`` alone simulates an
outage. Tests skip when ``redis-server`` is not installed (``make test`` installs it when run as root).

    server = RedisServer().start()      # or: with RedisServer() as server:
    server.url                          # redis://127.0.0.1:<port>/0
    server.restart(); server.stop(); server.pause(); server.resume()
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

REDIS_SERVER = shutil.which("redis-server")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ping(port: int, timeout: float = 0.5) -> bool:
    """True when a Redis on the port answers PING with PONG (not -LOADING while it reads its AOF)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One redis-server process; see the module docstring."""

    def __init__(self, port: int | None = None, directory: Path | None = None, appendfsync: str = "always") -> None:
        if REDIS_SERVER is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.port = port or free_port()
        self.appendfsync = appendfsync  # "always" for the tests; benchmarks use Redis's default "everysec"
        self._tmp = None if directory is not None else tempfile.TemporaryDirectory(prefix="ztgate-redis-")
        self.directory = Path(directory if directory is not None else self._tmp.name)  # type: ignore[union-attr]
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 10.0) -> RedisServer:
        if self.running:
            return self
        command = [
            str(REDIS_SERVER), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
            "--save", "", "--appendonly", "yes", "--appendfsync", self.appendfsync, "--daemonize", "no",
            "--logfile", str(self.directory / "redis.log"), "--protected-mode", "yes",
        ]  # fmt: skip
        self._process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not ping(self.port):
            if self._process.poll() is not None:
                log = (self.directory / "redis.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"redis-server exited with {self._process.returncode} on port {self.port}:\n{log}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server on port {self.port} did not answer PING within {timeout} s")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop the server (SIGTERM: it flushes the AOF and exits); the port is free when this returns."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGCONT)  # a paused server cannot handle SIGTERM
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)

    def pause(self) -> None:
        """SIGSTOP: the server keeps its port but answers nothing (a hung Redis: clients time out)."""
        if self._process is not None:
            self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)

    def restart(self) -> RedisServer:
        self.stop()
        return self.start()

    def close(self) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
