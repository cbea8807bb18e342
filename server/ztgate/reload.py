"""Loading the policy in force, and replacing it without a restart (hot reload).

A reload is triggered by a change under the policy directory (polled: a Kubernetes ConfigMap update
is an atomic symlink swap that inotify-style watches often miss) or by SIGHUP. The new policy is
loaded, compiled and tried on a sample input before it replaces the old one in one assignment
(`gateway.policy`), between two requests of the single-threaded event loop; exchanges already
running finish under the policy they began with. A policy that fails any of that is rejected: the
old one stays in force, and the error is logged and kept in `status` (served by the health output).

The detectors are configured by policy data (data.ztgate.config.detect). Building them takes a few
hundred milliseconds, so they are rebuilt, off the event loop, only when that data changed. The
Rego engine is built on the event loop: regorus objects must stay on the thread that made them, and
loading the shipped library takes a few milliseconds.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Settings
from .detect.scanner import Scanner
from .extproc.gateway import ActivePolicy, Gateway
from .policy.decision import parse_decision
from .policy.engine import Engine, EmbeddedEngine, PolicyError, bundle_signature, load_bundle
from .policy.http import HttpInfo
from .policy.input import build_input
from .usage.pricing import PriceTable

log = logging.getLogger("ztgate.reload")


@dataclass(slots=True)
class PolicyStatus:
    """What the health output says about the policy (and what metrics will count)."""

    revision: str = ""
    loaded_at: float = 0.0
    reloads: int = 0
    failures: int = 0
    last_error: str | None = None  # the last rejected policy's error, cleared by a good load
    last_error_at: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "loaded_at": self.loaded_at,
            "reloads": self.reloads,
            "reload_failures": self.failures,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
        }


def policy_config(settings: Settings, engine: Engine) -> dict[str, Any]:
    """data.ztgate.config: from the embedded engine's data, else from the local bundle (a remote OPA
    decides, but ztgate's detectors and prices still take their settings from the shipped data)."""
    data = getattr(engine, "data", None)
    if data is None:
        directory = settings.path(settings.policy.dir)
        data = load_bundle(directory).data if directory.is_dir() else {}
    config = data.get("ztgate", {}).get("config", {})
    return config if isinstance(config, dict) else {}


def section(config: dict[str, Any], name: str) -> dict[str, Any] | None:
    value = config.get(name)
    return value if isinstance(value, dict) else None


def detect_config(settings: Settings, engine: Engine) -> Any:
    """data.ztgate.config.detect: what the detectors are built from."""
    return section(policy_config(settings, engine), "detect")


def build_scanner(settings: Settings, detect: Any) -> Scanner | None:
    return Scanner.from_config(detect) if settings.inspect.enabled else None


def load_engine(settings: Settings) -> Engine:
    """The embedded engine over the policy directory (PolicyError when it does not load)."""
    return EmbeddedEngine(settings.path(settings.policy.dir), settings.policy.query)


async def smoke_test(engine: Engine) -> None:
    """A policy must give a well-formed decision for a plain anonymous request before it goes live."""
    http = HttpInfo(id="ztgate-reload-check", method="GET", path="/v1/models", host="localhost")
    value = (await engine.decide(build_input(http=http, identity=None, llm=None))).value
    try:
        parse_decision(value)
    except ValueError as exc:
        raise PolicyError(f"the new policy's decision is malformed: {exc}") from None


class PolicyReloader:
    """Polls the policy directory and listens for SIGHUP; swaps `gateway.policy` on a good load."""

    def __init__(self, settings: Settings, gateway: Gateway) -> None:
        self._settings = settings
        self._gateway = gateway
        self._directory: Path = settings.path(settings.policy.dir)
        self._signature = bundle_signature(self._directory) if self._directory.is_dir() else ()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.status = PolicyStatus(revision=gateway.policy.revision, loaded_at=time.time())

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(self.reload("SIGHUP")))
        if self._settings.policy.reload_interval_s > 0:
            self._task = loop.create_task(self._poll(self._settings.policy.reload_interval_s))

    async def stop(self) -> None:
        asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _poll(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                signature = bundle_signature(self._directory)
            except OSError:
                continue
            if signature != self._signature:
                self._signature = signature
                await self.reload("policy files changed")

    async def reload(self, trigger: str) -> bool:
        """Load the policy again; True when the new one is in force."""
        async with self._lock:
            old = self._gateway.policy
            try:
                engine = old.engine if self._settings.policy.engine == "remote" else load_engine(self._settings)
                await smoke_test(engine)
                config = policy_config(self._settings, engine)
                detect = section(config, "detect")
                prices = PriceTable.load(section(config, "prices"))
                scanner = old.scanner
                if detect != old.detect_config:
                    scanner = await asyncio.to_thread(build_scanner, self._settings, detect)
            except Exception as exc:  # any failure keeps the running policy
                message = str(exc) if isinstance(exc, PolicyError) else f"{type(exc).__name__}: {exc}"
                self.status.failures += 1
                self.status.last_error, self.status.last_error_at = message, time.time()
                log.error("policy reload (%s) rejected, revision %s stays in force: %s", trigger, old.revision, message)
                return False
            self._gateway.policy = ActivePolicy(engine, scanner, detect)
            if self._gateway.accountant is not None:
                self._gateway.accountant.prices = prices
            self.status.reloads += 1
            self.status.revision, self.status.loaded_at = engine.revision, time.time()
            self.status.last_error = self.status.last_error_at = None
            log.info("policy reloaded (%s): revision %s -> %s", trigger, old.revision, engine.revision)
            return True
