"""The children the benchmark starts: starting, pinning, readiness waits and stopping them all.

A benchmark that leaves an Envoy or a Python server behind skews the next run on this shared machine,
so every child goes through Processes, and SIGTERM/SIGHUP are turned into the same clean teardown as
Ctrl-C (signals_raise).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from common import HOST, RUN_DIR, BenchError

READY_TIMEOUT_S = 30.0


@dataclass
class Proc:
    """A started child and its log, so a failure can show what the child said last."""

    name: str
    popen: subprocess.Popen
    log: Path

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def check_alive(self) -> None:
        if self.popen.poll() is not None:
            raise BenchError(f"{self.name} exited with status {self.popen.returncode}:\n{self.tail()}")


class Processes:
    """Every child the benchmark starts; stop_all() ends them (newest first), also after Ctrl-C."""

    def __init__(self, env: dict[str, str], cpus: frozenset[int] | None) -> None:
        self.env = env
        self.cpus = cpus
        self.procs: list[Proc] = []

    def start(self, name: str, argv: list[str]) -> Proc:
        log = RUN_DIR / f"{name}.log"
        with open(log, "wb") as out:
            # A session of its own: a Ctrl-C in the terminal reaches only us, and we stop children in order.
            popen = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                env=self.env, cwd=RUN_DIR, start_new_session=True, preexec_fn=pin(self.cpus),
            )  # fmt: skip
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def check_alive(self) -> None:
        for proc in self.procs:
            proc.check_alive()

    def stop_all(self) -> None:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut teardown short
        try:
            self._stop_all()
        finally:
            signal.signal(signal.SIGINT, previous)

    def _stop_all(self) -> None:
        for proc in reversed(self.procs):
            if proc.popen.poll() is None:
                proc.popen.terminate()
        deadline = time.monotonic() + 10
        for proc in reversed(self.procs):
            try:
                proc.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait(timeout=5)
        self.procs.clear()


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """SIGTERM/SIGHUP end the run like Ctrl-C, so the finally blocks stop every child."""

    def raise_interrupt(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {sig: signal.signal(sig, raise_interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_bounded(cmd: list[str], timeout: float, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """subprocess.run, but the child is killed and reaped on timeout, Ctrl-C or any other exception."""
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs) as popen:  # type: ignore[call-overload]
        try:
            out, err = popen.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait()
            raise BenchError(f"`{' '.join(cmd)}` did not finish within {timeout:.0f}s") from None
        except BaseException:
            popen.kill()
            popen.wait()
            raise
    return subprocess.CompletedProcess(cmd, popen.returncode, out, err)


def pin(cpus: frozenset[int] | None) -> Callable[[], None] | None:
    """A preexec_fn that binds the child to these CPUs (None: the scheduler decides)."""
    if cpus is None:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def cpu_layout(mode: str) -> tuple[frozenset[int] | None, frozenset[int] | None]:
    """(server CPUs, client CPUs). "split": the load generator gets the last CPU, every server the rest."""
    cpus = sorted(os.sched_getaffinity(0))
    if mode == "off" or len(cpus) < 2:
        return None, None
    return frozenset(cpus[:-1]), frozenset(cpus[-1:])


def free_port() -> int:
    """A port nobody listens on now, so setups never collide with each other or with other services."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_until(what: str, proc: Proc, ready: Callable[[], bool], timeout: float = READY_TIMEOUT_S) -> None:
    """Poll until ready() holds; fail fast with the child's log if it dies, instead of timing out blind."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc.check_alive()
        if ready():
            return
        time.sleep(0.05)
    raise BenchError(f"{what} not ready after {timeout:.0f}s:\n{proc.tail()}")


def log_says(proc: Proc, needle: str) -> Callable[[], bool]:
    """Ready when the child has logged needle (the Python servers print READY once listening)."""
    return lambda: needle in proc.log.read_text(errors="replace")


def port_open(port: int) -> Callable[[], bool]:
    """Ready when the port accepts a TCP connection (a gRPC server such as ztgate serve is listening)."""

    def check() -> bool:
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
            return True
        return False

    return check


def http_ok(url: str) -> Callable[[], bool]:
    """Ready when url answers 200 (Envoy's admin /ready: listeners and clusters are up, not just the port)."""

    def check() -> bool:
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as resp:
            return resp.status == 200
        return False

    return check
