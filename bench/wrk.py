"""wrk, the load generator: finding (or installing) it, its Lua request script, running and parsing it.

wrk only sends GET by itself, so each setup and workload gets a Lua script with method, body and
headers. A run that saw any non-2xx response or socket error is an error, not a number.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from common import RUN_DIR, BenchError, Options
from processes import pin, run_bounded
from setups import Setup, probe
from workloads import NONCE, Workload

_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run reports: latency percentiles, throughput, and the errors that void it."""

    p50_ms: float
    p99_ms: float
    rps: float
    requests: int
    non_2xx: int
    socket_errors: int


def ensure_wrk() -> str:
    """wrk's path; as root, install Debian's package first, so `make bench` works on a fresh machine."""
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
    # A different prompt each request (see workloads.NONCE): every request is inspected from scratch.
    lines += [
        "local n = 0",
        "request = function()",
        "  n = n + 1",
        f'  return wrk.format(nil, nil, nil, (string.gsub(wrk.body, "{NONCE}", string.format("#%010d", n), 1)))',
        "end",
    ]
    path = RUN_DIR / f"wrk-{setup.key}-{workload.key}.lua"
    path.write_text("\n".join(lines) + "\n")
    return path


def to_ms(text: str) -> float:
    """A wrk latency ("812.00us", "1.23ms", "2.01s") in milliseconds: wrk picks the unit per value."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    if not match:
        raise BenchError(f"cannot read wrk latency {text!r}")
    return float(match[1]) * _UNITS_MS[match[2]]


def parse_wrk(output: str) -> WrkResult:
    """wrk --latency's text output; anything unreadable is an error rather than a silent zero."""
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
    """One wrk run on the client CPUs; errors fail the run, with a fresh probe's answer to explain them."""
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
