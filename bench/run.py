#!/usr/bin/env python3
"""ztgate's benchmark: what ztgate adds to Envoy, against Envoy alone and a do-nothing ext_proc.

One run measures three setups side by side, each behind its own Envoy (--concurrency 1), all talking
to one fake OpenAI upstream (tests/fake_provider.py):

    A  Envoy alone                 render(extproc=False)
    B  Envoy + noop ext_proc       ztgate's Envoy config, ext_proc cluster -> bench/noop_extproc.py
    C  Envoy + ztgate serve        the shipped policy (rego/), a ztgate API key of group "developers"

Workloads: a ~2 KB chat completion with a ~2 KB JSON answer, and the same request streamed back as
200 SSE chunks. Latency p50/p99 at concurrency 1, throughput at concurrency 32, measured with wrk.
Runs are interleaved (per round, per workload, per concurrency: A, B, C back to back) so drift on
this shared machine hits all setups alike. See bench/README.md for how to read the table.

    .venv/bin/python bench/run.py                  # 10 s per run, 2 rounds (about 5 minutes)
    .venv/bin/python bench/run.py --quick          # smoke mode (about 1 minute)
    .venv/bin/python bench/run.py --setups A,B     # without ztgate
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import fcntl
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import yaml

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(REPO / "server"))  # run from a checkout even if the venv lacks the editable install

from ztgate import envoy_config  # noqa: E402
from ztgate.config import ConfigError, load_settings  # noqa: E402

HOST = "127.0.0.1"
RESULTS_DIR = BENCH_DIR / "results"
RUN_DIR = RESULTS_DIR / "run"  # configs, keys, audit log and process logs of the latest run
UPSTREAM_KEY = "sk-upstream-openai"  # what tests/fake_provider.py expects for OpenAI by default
CREDENTIAL_ENV = "BENCH_OPENAI_KEY"
CHAT_PATH = "/v1/chat/completions"
MODEL = "gpt-4o"
REQUEST_BYTES = 2048
RESPONSE_BYTES = 2048
SSE_CHUNKS = 200
LATENCY_CONCURRENCY = 1
THROUGHPUT_CONCURRENCY = 32
READY_TIMEOUT_S = 30.0
TARGET_ADDED_P50_MS = 1.5
TARGET_NOOP_RATIO = 1.2


class BenchError(Exception):
    """The benchmark cannot produce meaningful numbers; the message says why."""


# --------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------


@dataclass
class Proc:
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


def child_env() -> dict[str, str]:
    """The environment for children: no stray ZTGATE__ overrides, the upstream credential for ztgate."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZTGATE")}
    env[CREDENTIAL_ENV] = UPSTREAM_KEY
    env["PYTHONUNBUFFERED"] = "1"
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_until(what: str, proc: Proc, ready: Callable[[], bool], timeout: float = READY_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc.check_alive()
        if ready():
            return
        time.sleep(0.05)
    raise BenchError(f"{what} not ready after {timeout:.0f}s:\n{proc.tail()}")


def log_says(proc: Proc, needle: str) -> Callable[[], bool]:
    return lambda: needle in proc.log.read_text(errors="replace")


def port_open(port: int) -> Callable[[], bool]:
    def check() -> bool:
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
            return True
        return False

    return check


def http_ok(url: str) -> Callable[[], bool]:
    def check() -> bool:
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as resp:
            return resp.status == 200
        return False

    return check


def envoy_binary() -> str:
    beside = Path(sys.executable).parent / "envoy"
    found = str(beside) if beside.exists() else shutil.which("envoy")
    if not found:
        raise BenchError("envoy not found beside the interpreter or on PATH: run `make bench` (installs .venv)")
    return found


# --------------------------------------------------------------------------------------------
# Setups
# --------------------------------------------------------------------------------------------


@dataclass
class Setup:
    key: str  # "A", "B", "C"
    title: str
    extproc: str | None  # None (Envoy alone), "noop" or "ztgate"
    listen_port: int = field(default_factory=free_port)
    admin_port: int = field(default_factory=free_port)
    extproc_port: int = field(default_factory=free_port)
    client_key: str = UPSTREAM_KEY  # C replaces it with a ztgate API key

    @property
    def label(self) -> str:
        return f"{self.key} {self.title}"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.listen_port}{CHAT_PATH}"

    @property
    def config_path(self) -> Path:
        return RUN_DIR / f"ztgate-{self.key}.yaml"


SETUPS = {
    "A": ("Envoy alone", None),
    "B": ("Envoy + noop ext_proc", "noop"),
    "C": ("Envoy + ztgate", "ztgate"),
}


def write_ztgate_config(setup: Setup, upstream: str) -> None:
    """A ztgate config per setup: its own ports, the fake upstream, only OpenAI enabled."""
    config = {
        "listen": {"host": HOST, "port": setup.listen_port},
        "admin": {"host": HOST, "port": setup.admin_port},
        "extproc": {"host": HOST, "port": setup.extproc_port},
        "policy": {"dir": str(REPO / "rego")},
        "keys_file": str(RUN_DIR / f"keys-{setup.key}.json"),
        "audit": {"sink": "file", "path": str(RUN_DIR / f"audit-{setup.key}.jsonl")},
        "log_level": "warning",
        "providers": {
            "openai": {"upstream": upstream, "credential_env": CREDENTIAL_ENV},
            "anthropic": {"enabled": False},
            "gemini": {"enabled": False},
            "azure_openai": {"enabled": False},
        },
    }
    setup.config_path.write_text(yaml.safe_dump(config, sort_keys=False))


def start_setup(setup: Setup, procs: Processes, upstream: str) -> None:
    write_ztgate_config(setup, upstream)
    settings = load_settings(setup.config_path, env={})
    if setup.extproc == "noop":
        argv = [sys.executable, str(BENCH_DIR / "noop_extproc.py"), "--port", str(setup.extproc_port)]
        noop = procs.start(f"noop-{setup.key}", argv)
        wait_until("noop ext_proc", noop, log_says(noop, "READY"))
    elif setup.extproc == "ztgate":
        setup.client_key = create_ztgate_key(setup)
        server = procs.start(f"ztgate-{setup.key}", [ztgate_cli(), "-c", str(setup.config_path), "serve"])
        wait_until("ztgate serve", server, port_open(setup.extproc_port))
    envoy_yaml = envoy_config.write(settings, RUN_DIR / f"envoy-{setup.key}.yaml", extproc=setup.extproc is not None)
    envoy = procs.start(
        f"envoy-{setup.key}",
        [envoy_binary(), "-c", str(envoy_yaml), "--disable-hot-restart", "--concurrency", "1", "--log-level", "error"],
    )
    wait_until(f"Envoy ({setup.label})", envoy, http_ok(f"http://{HOST}:{setup.admin_port}/ready"))


def ztgate_cli() -> str:
    beside = Path(sys.executable).parent / "ztgate"
    return str(beside) if beside.exists() else shutil.which("ztgate") or "ztgate"


def create_ztgate_key(setup: Setup) -> str:
    cmd = [ztgate_cli(), "-c", str(setup.config_path), "keys", "create", "--subject", "bench", "--group", "developers"]
    done = run_bounded(cmd, 60, env=child_env(), cwd=RUN_DIR)
    if done.returncode != 0 or not done.stdout.strip():
        raise BenchError(f"`{' '.join(cmd)}` failed ({done.returncode}):\n{done.stderr.strip()}")
    return done.stdout.strip().splitlines()[0].strip()


def start_upstream(procs: Processes) -> str:
    port = free_port()
    argv = [
        sys.executable, str(REPO / "tests" / "fake_provider.py"), "--host", HOST, "--port", str(port),
        # The same knobs as server defaults, in case a setup does not forward x-fake-* headers.
        "--default", f"x-fake-body-bytes={RESPONSE_BYTES}", "--default", f"x-fake-chunks={SSE_CHUNKS}",
    ]  # fmt: skip
    fake = procs.start("fake-provider", argv)
    wait_until("fake provider", fake, log_says(fake, "READY"))
    return f"http://{HOST}:{port}"


# --------------------------------------------------------------------------------------------
# Workloads
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    key: str
    title: str
    body: bytes
    knobs: dict[str, str]
    verify: Callable[[bytes], str | None]  # an error message, or None when the answer is as expected

    def headers(self, client_key: str) -> dict[str, str]:
        return {"content-type": "application/json", "authorization": f"Bearer {client_key}", **self.knobs}


def chat_body(*, stream: bool) -> bytes:
    """A ~2 KB OpenAI chat request for gpt-4o."""
    doc = {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "You are a concise assistant for an engineering team."},
            {"role": "user", "content": ""},
        ],
        "max_tokens": 256,
        "temperature": 0.2,
    }
    if stream:
        doc["stream"] = True
    text = ("Summarise the trade-offs of buffering versus streaming request bodies in a proxy. " * 40)
    doc["messages"][1]["content"] = text[: max(0, REQUEST_BYTES - len(json.dumps(doc)))]
    return json.dumps(doc).encode()


def verify_json(body: bytes) -> str | None:
    try:
        content = json.loads(body)["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        return f"not an OpenAI chat completion: {body[:300]!r}"
    if not content.startswith("echo: "):
        return f"unexpected answer text: {content[:100]!r}"
    if not RESPONSE_BYTES // 2 <= len(body) <= RESPONSE_BYTES * 2:
        return f"answer is {len(body)} bytes, expected about {RESPONSE_BYTES} (x-fake-body-bytes not applied?)"
    return None


def verify_sse(body: bytes) -> str | None:
    events = [line[6:] for line in body.decode(errors="replace").splitlines() if line.startswith("data: ")]
    if not events or events[-1].strip() != "[DONE]":
        return f"SSE stream does not end with [DONE]: {body[-300:]!r}"
    content = 0
    for event in events[:-1]:
        try:
            choices = json.loads(event).get("choices") or []
        except ValueError:
            return f"bad SSE event: {event[:200]!r}"
        content += sum(1 for c in choices if (c.get("delta") or {}).get("content"))
    if content < SSE_CHUNKS:
        return f"{content} content chunks, expected {SSE_CHUNKS} (x-fake-chunks not applied?)"
    return None


WORKLOADS = {
    "json": Workload("json", "chat 2 KB, JSON answer ~2 KB", chat_body(stream=False),
                     {"x-fake-body-bytes": str(RESPONSE_BYTES)}, verify_json),
    "sse": Workload("sse", f"chat 2 KB, SSE answer {SSE_CHUNKS} chunks", chat_body(stream=True),
                    {"x-fake-chunks": str(SSE_CHUNKS), "x-fake-body-bytes": str(RESPONSE_BYTES)}, verify_sse),
}  # fmt: skip


def probe(setup: Setup, workload: Workload) -> tuple[int, bytes]:
    request = urllib.request.Request(setup.url, data=workload.body, headers=workload.headers(setup.client_key), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def verify(setup: Setup, workload: Workload) -> None:
    status, body = probe(setup, workload)
    if status != 200:
        raise BenchError(f"{setup.label} / {workload.key}: HTTP {status}, expected 200: {body[:500]!r}")
    problem = workload.verify(body)
    if problem:
        raise BenchError(f"{setup.label} / {workload.key}: {problem}")


# --------------------------------------------------------------------------------------------
# wrk
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WrkResult:
    p50_ms: float
    p99_ms: float
    rps: float
    requests: int
    non_2xx: int
    socket_errors: int


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise BenchError("wrk is not installed: run `sudo apt-get install -y wrk` (Debian/Ubuntu), then retry")
    print("wrk not found: installing it with apt-get (Debian's wrk package)", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "wrk"]):
        done = run_bounded(cmd, 600, env=env)
        if done.returncode != 0:
            raise BenchError(f"`{' '.join(cmd)}` failed:\n{done.stderr[-2000:]}")
    found = shutil.which("wrk")
    if not found:
        raise BenchError("apt-get installed wrk but it is not on PATH")
    return found


def lua_script(setup: Setup, workload: Workload) -> Path:
    """wrk's request: method, body and headers (wrk itself only sends GET)."""
    body = workload.body.decode()
    if "]==]" in body:
        raise BenchError("request body cannot be quoted as a Lua long string")
    lines = ['wrk.method = "POST"', f"wrk.body = [==[{body}]==]"]
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in workload.headers(setup.client_key).items()]
    path = RUN_DIR / f"wrk-{setup.key}-{workload.key}.lua"
    path.write_text("\n".join(lines) + "\n")
    return path


_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def to_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    if not match:
        raise BenchError(f"cannot read wrk latency {text!r}")
    return float(match[1]) * _UNITS_MS[match[2]]


def parse_wrk(output: str) -> WrkResult:
    percentiles = {p: to_ms(v) for p, v in re.findall(r"^\s+(50|99)(?:\.0+)?%\s+(\S+)\s*$", output, re.M)}
    requests = re.search(r"^\s*(\d+) requests in", output, re.M)
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    if "50" not in percentiles or "99" not in percentiles or not requests or not rps:
        raise BenchError(f"cannot parse wrk output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return WrkResult(
        p50_ms=percentiles["50"],
        p99_ms=percentiles["99"],
        rps=float(rps[1]),
        requests=int(requests[1]),
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=sum(int(n) for n in sockets.groups()) if sockets else 0,
    )


def run_wrk(wrk: str, setup: Setup, workload: Workload, concurrency: int, duration_s: float, opts: Options) -> WrkResult:
    cmd = [
        wrk, f"-t{min(opts.threads, concurrency)}", f"-c{concurrency}", f"-d{duration_s:g}s", "--timeout", "10s",
        "--latency", "-s", str(lua_script(setup, workload)), setup.url,
    ]  # fmt: skip
    done = run_bounded(cmd, duration_s + 60, preexec_fn=pin(opts.client_cpus))
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}) on {setup.label} / {workload.key}:\n{done.stderr}{done.stdout}")
    result = parse_wrk(done.stdout)
    if result.non_2xx or result.socket_errors or result.requests == 0:
        status, body = probe(setup, workload)
        raise BenchError(
            f"{setup.label} / {workload.key} at c={concurrency}: {result.non_2xx} non-2xx responses, "
            f"{result.socket_errors} socket errors in {result.requests} requests; a benchmark of errors is "
            f"worthless. A probe now gets HTTP {status}: {body[:300]!r}\n{done.stdout}"
        )
    return result


# --------------------------------------------------------------------------------------------
# Measurement plan and report
# --------------------------------------------------------------------------------------------


@dataclass
class Samples:
    """Per (workload, setup): one value per round for each metric."""

    p50: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    p99: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    rps: dict[tuple[str, str], list[float]] = field(default_factory=dict)

    def add(self, metric: str, workload: str, setup: str, value: float) -> None:
        getattr(self, metric).setdefault((workload, setup), []).append(value)

    def median(self, metric: str, workload: str, setup: str) -> float | None:
        values = getattr(self, metric).get((workload, setup))
        return statistics.median(values) if values else None


@dataclass(frozen=True)
class Options:
    duration_s: float
    warmup_s: float
    rounds: int
    threads: int
    setups: list[str]
    workloads: list[str]
    server_cpus: frozenset[int] | None
    client_cpus: frozenset[int] | None


def measure(wrk: str, procs: Processes, setups: list[Setup], workloads: list[Workload], opts: Options) -> Samples:
    def one(setup: Setup, workload: Workload, concurrency: int, duration_s: float) -> WrkResult:
        try:
            return run_wrk(wrk, setup, workload, concurrency, duration_s, opts)
        finally:
            procs.check_alive()  # a crashed server explains errors better than wrk's counts

    samples = Samples()
    if opts.warmup_s > 0:  # warm up every path once (Python servers, connection pools)
        for workload in workloads:
            for setup in setups:
                one(setup, workload, 4, opts.warmup_s)
    for round_no in range(1, opts.rounds + 1):
        for workload in workloads:
            for concurrency in (LATENCY_CONCURRENCY, THROUGHPUT_CONCURRENCY):
                for setup in setups:  # A, B, C back to back: drift hits all alike
                    r = one(setup, workload, concurrency, opts.duration_s)
                    print(
                        f"round {round_no}/{opts.rounds}  {workload.key:4}  c={concurrency:<2}  {setup.label:24}  "
                        f"p50 {r.p50_ms:7.3f} ms  p99 {r.p99_ms:7.3f} ms  {r.rps:9.1f} req/s",
                        flush=True,
                    )
                    if concurrency == LATENCY_CONCURRENCY:
                        samples.add("p50", workload.key, setup.key, r.p50_ms)
                        samples.add("p99", workload.key, setup.key, r.p99_ms)
                    else:
                        samples.add("rps", workload.key, setup.key, r.rps)
    return samples


def fmt(value: float | None, digits: int = 3, suffix: str = "") -> str:
    return "—" if value is None else f"{value:.{digits}f}{suffix}"


def diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b <= 0 else a / b


def machine_line(opts: Options) -> str:
    envoy = run_bounded([envoy_binary(), "--version"], 30).stdout
    envoy_version = re.search(r"/(\d+\.\d+\.\d+)/", envoy)
    return (
        f"nproc {len(os.sched_getaffinity(0))} ({platform.machine()}, Linux {platform.release()}), "
        f"Envoy {envoy_version[1] if envoy_version else envoy.strip() or '?'} (--concurrency 1), "
        f"Python {platform.python_version()}, wrk -t{opts.threads}; {pinning(opts)}"
    )


def pinning(opts: Options) -> str:
    if opts.server_cpus is None or opts.client_cpus is None:
        return "no CPU pinning"
    cpus = lambda c: ",".join(map(str, sorted(c)))  # noqa: E731
    return f"wrk pinned to CPU {cpus(opts.client_cpus)}, Envoy/ext_proc/upstream to CPU {cpus(opts.server_cpus)}"


def report(samples: Samples, setups: list[Setup], workloads: list[Workload], opts: Options) -> tuple[str, bool]:
    """The markdown report and whether every target passed."""
    lines = [
        f"# ztgate benchmark, {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
        "",
        f"Machine: {machine_line(opts)}.",
        f"Runs: {opts.duration_s:g} s each, {opts.rounds} round(s) interleaved A/B/C, warm-up {opts.warmup_s:g} s; "
        f"latency at concurrency {LATENCY_CONCURRENCY}, throughput at concurrency {THROUGHPUT_CONCURRENCY}; "
        "values are medians over rounds.",
        "",
        "| workload | setup | p50 ms | p99 ms | added p50 ms | added p99 ms | added p50 vs noop | "
        f"req/s c={THROUGHPUT_CONCURRENCY} | req/s vs Envoy alone |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    targets: list[str] = []
    passed = True
    for w in workloads:
        base = {m: samples.median(m, w.key, "A") for m in ("p50", "p99", "rps")}
        noop_added = diff(samples.median("p50", w.key, "B"), base["p50"])
        for s in setups:
            p50, p99, rps = (samples.median(m, w.key, s.key) for m in ("p50", "p99", "rps"))
            is_base = s.key == "A"
            added50 = None if is_base else diff(p50, base["p50"])
            added99 = None if is_base else diff(p99, base["p99"])
            vs_noop = ratio(added50, noop_added) if s.key == "C" else None
            lines.append(
                f"| {w.title} | {s.label} | {fmt(p50)} | {fmt(p99)} | {fmt(added50)} | {fmt(added99)} | "
                f"{fmt(vs_noop, 2, 'x')} | {fmt(rps, 0)} | {fmt(ratio(rps, base['rps']), 2)} |"
            )
            if s.key == "C":
                ok1 = added50 is not None and added50 <= TARGET_ADDED_P50_MS
                ok2 = vs_noop is not None and vs_noop <= TARGET_NOOP_RATIO
                passed = passed and ok1 and ok2
                targets.append(
                    f"- {w.title}: ztgate added p50 <= {TARGET_ADDED_P50_MS} ms: "
                    f"{'PASS' if ok1 else 'FAIL'} ({fmt(added50, 3, ' ms')})"
                )
                targets.append(
                    f"- {w.title}: ztgate added p50 <= {TARGET_NOOP_RATIO}x noop added p50: "
                    f"{'PASS' if ok2 else 'FAIL'} ({fmt(vs_noop, 2, 'x')})"
                )
    if targets:
        lines += ["", "Targets:", *targets]
    lines += ["", "Per round (p50 ms at c=1 / req/s at c=32):", ""]
    for w in workloads:
        for s in setups:
            p50s = ", ".join(f"{v:.3f}" for v in samples.p50.get((w.key, s.key), []))
            rpss = ", ".join(f"{v:.0f}" for v in samples.rps.get((w.key, s.key), []))
            lines.append(f"- {w.key} {s.label}: {p50s} / {rpss}")
    return "\n".join(lines) + "\n", passed


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def parse_duration(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(ms|s|m)?", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"bad duration {text!r} (e.g. 10s, 500ms, 1m)")
    return float(match[1]) * {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}[match[2]]


def parse_args(argv: list[str] | None) -> tuple[Options, argparse.Namespace]:
    p = argparse.ArgumentParser(description="Benchmark ztgate against Envoy alone and a do-nothing ext_proc.")
    p.add_argument("--duration", type=parse_duration, default=None, help="each wrk run (default 10s; --quick 3s)")
    p.add_argument("--warmup", type=parse_duration, default=None, help="warm-up per setup and workload (default 2s; --quick 1s)")
    p.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 2; --quick 1)")
    p.add_argument("--quick", action="store_true", help="short smoke run: 3s runs, 1 round")
    p.add_argument("--setups", default="A,B,C", help="which of A (Envoy alone), B (noop), C (ztgate); default A,B,C")
    p.add_argument("--workloads", default="json,sse", help="which of json, sse; default json,sse")
    p.add_argument("--threads", type=int, default=1, help="wrk threads (default 1: leave the cores to the servers)")
    p.add_argument(
        "--cpus", choices=("split", "off"), default="split",
        help="split (default): pin wrk to the last CPU and Envoy, ext_proc and upstream to the others; off: no pinning",
    )  # fmt: skip
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "latest.md", help="where to write the markdown report")
    p.add_argument("--check", action="store_true", help="exit 3 when a target fails")
    args = p.parse_args(argv)
    setups = [s.strip().upper() for s in args.setups.split(",") if s.strip()]
    workloads = [w.strip().lower() for w in args.workloads.split(",") if w.strip()]
    if not setups or any(s not in SETUPS for s in setups):
        p.error(f"--setups takes a comma list of {', '.join(SETUPS)}")
    if not workloads or any(w not in WORKLOADS for w in workloads):
        p.error(f"--workloads takes a comma list of {', '.join(WORKLOADS)}")
    opts = Options(
        duration_s=args.duration if args.duration is not None else (3.0 if args.quick else 10.0),
        warmup_s=args.warmup if args.warmup is not None else (1.0 if args.quick else 2.0),
        rounds=args.rounds if args.rounds is not None else (1 if args.quick else 2),
        threads=max(1, args.threads),
        setups=sorted(set(setups)),
        server_cpus=(layout := cpu_layout(args.cpus))[0],
        client_cpus=layout[1],
        workloads=list(dict.fromkeys(workloads)),
    )
    if opts.duration_s < 1 or opts.duration_s > 600 or not 1 <= opts.rounds <= 20 or opts.warmup_s > 60:
        p.error("keep it bounded: 1s <= --duration <= 600s, 1 <= --rounds <= 20, --warmup <= 60s")
    return opts, args


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


@contextlib.contextmanager
def single_run() -> Iterator[None]:
    """One benchmark at a time: a second run would wipe the first one's keys and configs, and share its cores."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    with open(RESULTS_DIR / ".lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BenchError("another bench/run.py is running (bench/results/.lock is held)") from None
        yield


def main(argv: list[str] | None = None) -> int:
    opts, args = parse_args(argv)
    try:
        with single_run():
            return run(opts, args)
    except BenchError as exc:
        print(f"bench FAILED: {exc}", file=sys.stderr)
        return 1


def run(opts: Options, args: argparse.Namespace) -> int:
    shutil.rmtree(RUN_DIR, ignore_errors=True)
    RUN_DIR.mkdir(parents=True)
    procs = Processes(child_env(), opts.server_cpus)
    with signals_raise():
        try:
            wrk = ensure_wrk()
            setups = [Setup(key, *SETUPS[key]) for key in opts.setups]
            workloads = [WORKLOADS[key] for key in opts.workloads]
            upstream = start_upstream(procs)
            for setup in setups:
                start_setup(setup, procs, upstream)
            for setup in setups:
                for workload in workloads:
                    verify(setup, workload)
            print(f"all setups answer 200 with the expected body; measuring ({len(setups)} setups)", flush=True)
            samples = measure(wrk, procs, setups, workloads, opts)
            text, passed = report(samples, setups, workloads, opts)
        except (BenchError, ConfigError) as exc:
            print(f"\nbench FAILED: {exc}\n(logs and configs in {RUN_DIR})", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("\ninterrupted; stopping everything", file=sys.stderr)
            return 130
        finally:
            procs.stop_all()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print("\n" + text + f"\n(written to {args.out})")
    return 3 if args.check and not passed else 0


if __name__ == "__main__":
    sys.exit(main())
