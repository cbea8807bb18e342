"""Wiring: build the shared services from Settings and run the gRPC server (`ztgate serve`)."""

from __future__ import annotations

import asyncio
import gc
import os
import logging
import signal
from typing import Any

import grpc
from envoy.service.ext_proc.v3 import external_processor_pb2_grpc as pb_grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from .config import ConfigError, Settings
from .extproc.gateway import Gateway
from .extproc.servicer import ExtProcServicer
from .identity.keys import KeyStore
from . import __version__
from .policy.engine import Engine
from .redact import Redactor
from .admin import start_admin_server
from .status_http import start_status_server
from .reload import PolicyReloader, build_scanner, load_engine, policy_config, section, smoke_test
from .usage.accountant import Accountant
from .usage.anomaly import Baselines
from .usage.estimate import preload as preload_tokenizers
from .usage.memory_store import MemoryStore
from .usage.pricing import PriceTable
from .usage.store import UsageStore
from .telemetry.audit import AuditLog
from .telemetry.decision_log import DecisionLog
from .telemetry.metrics import Metrics
from .telemetry.observe import Observer
from .telemetry.tracing import tracing_enabled

log = logging.getLogger("ztgate.server")

EXTPROC_SERVICE = "envoy.service.ext_proc.v3.ExternalProcessor"


async def build_gateway(settings: Settings) -> Gateway:
    """Load policy, keys and sinks once per worker; a broken policy stops start-up here, loudly."""
    engine = await _engine(settings)
    await smoke_test(engine)
    keys = KeyStore.load(settings.path(settings.keys_file))
    audit = _audit_log(settings)
    config = policy_config(settings, engine)
    detect = section(config, "detect")
    scanner = build_scanner(settings, detect)
    redactor = Redactor.with_key(os.environ.get(settings.inspect.hash_key_env) if settings.inspect.hash_key_env else None)
    accountant = _accountant(settings, section(config, "prices"))
    observers = _observers(settings)
    return Gateway(settings, engine, keys, audit, scanner, redactor, _decision_log(settings), detect, accountant, observers=observers)


def _observers(settings: Settings) -> list[Observer]:
    observers: list[Observer] = []
    if tracing_enabled(settings):
        from .telemetry.tracing import Tracer  # the OpenTelemetry SDK and exporter load only when tracing is on

        observers.append(Tracer.from_env(settings))
    return observers


def _metrics(settings: Settings, gateway: Gateway, reloader: PolicyReloader, servicer: ExtProcServicer) -> Metrics | None:
    """Prometheus metrics, served on the status port's /metrics (so none without a status port)."""
    if not (settings.metrics.enabled and settings.status.port):
        return None
    store = gateway.accountant.store if gateway.accountant is not None else None
    metrics = Metrics(
        settings.metrics,
        policy=reloader.status,
        store_status=(lambda: store.status) if store is not None else None,
        audit=gateway.audit,
        in_flight=lambda: servicer.in_flight,
    )
    gateway.observers.append(metrics)
    return metrics


def _accountant(settings: Settings, prices: dict[str, Any] | None) -> Accountant | None:
    config = settings.usage
    if not config.enabled:
        return None
    store: UsageStore
    if config.store == "redis":
        from .usage.redis_store import RedisStore  # redis is only needed with a shared store

        store = RedisStore(config.redis_url, fail_open=config.fail_open)
    else:
        store = MemoryStore()
    preload_tokenizers()  # the OpenAI token tables load once here, not on the first request
    baselines = Baselines() if config.anomaly else None
    return Accountant(store, PriceTable.load(prices), baselines, default_output_reserve=config.default_output_reserve)


async def _engine(settings: Settings) -> Engine:
    if settings.policy.engine != "remote":
        return load_engine(settings)
    from .policy.remote import RemoteEngine  # aiohttp is only needed with a remote OPA

    remote = settings.policy.remote
    token = os.environ.get(remote.token_env) if remote.token_env else None
    engine = RemoteEngine(remote.url, remote.path, timeout_s=remote.timeout_ms / 1000, pool_size=remote.pool_size, token=token)
    await engine.start()
    return engine


def _audit_log(settings: Settings) -> AuditLog:
    """The audit sinks: stdout or a (rotated) file, and/or OTLP logs; hash-chained if configured."""
    config = settings.audit
    key = None
    if config.chain and config.chain_key_env:
        key = os.environ.get(config.chain_key_env, "").encode() or None
        if key is None:  # a keyed chain was asked for: never fall back to an unkeyed one
            raise ConfigError(f"audit.chain_key_env names {config.chain_key_env}, which is not set")
    exporter = None
    if config.sink == "otlp" or config.otlp:
        from .telemetry.audit_otlp import OtlpAuditExporter  # the OTLP exporter loads only when used

        exporter = OtlpAuditExporter()
    return AuditLog.open(
        settings.path(config.path) if config.sink == "file" else None,
        max_bytes=config.max_bytes,
        backups=config.backups,
        chain=config.chain,
        chain_key=key,
        exporter=exporter,
        lines=config.sink != "otlp",
    )


def _decision_log(settings: Settings) -> DecisionLog | None:
    config = settings.decision_log
    if config.sink == "off":
        return None
    target = settings.path(config.path) if config.sink == "file" else None
    return DecisionLog.open(target, query=settings.policy.query, erase=config.erase, version=__version__)


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT (Kubernetes stops pods with SIGTERM; Ctrl-C sends SIGINT)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def serve(settings: Settings, *, ready: asyncio.Event | None = None, stop: asyncio.Event | None = None) -> None:
    """Serve ext_proc and gRPC health until SIGTERM/SIGINT, then drain in-flight streams."""
    gateway = await build_gateway(settings)
    reloader = PolicyReloader(settings, gateway)
    servicer = ExtProcServicer(gateway)
    metrics = _metrics(settings, gateway, reloader, servicer)
    # Everything loaded so far lives for the whole process: keep it out of the cyclic GC's scans, and
    # collect less often, so no request pays for a full collection of the policy and adapters.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    message_limit = 2 * settings.extproc.max_body_bytes + (1 << 20)
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", message_limit),
            ("grpc.max_send_message_length", message_limit),
            ("grpc.so_reuseport", 0),
        ]
    )
    pb_grpc.add_ExternalProcessorServicer_to_server(servicer, server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    address = f"{settings.extproc.host}:{settings.extproc.port}"
    if server.add_insecure_port(address) == 0:
        raise OSError(f"cannot listen on {address}")
    await server.start()
    for service in ("", EXTPROC_SERVICE):
        await health_servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
    log.info("ztgate ext_proc listening on %s (policy revision %s)", address, gateway.policy.revision)
    reloader.start()
    draining = False
    admin_server = None
    if settings.control.port:
        admin_server = await start_admin_server(settings.control.host, settings.control.port, gateway, reloader)
    status_server = None
    if settings.status.port:
        status_server = await start_status_server(
            settings.status.host, settings.status.port, policy=reloader.status, engine=settings.policy.engine, serving=lambda: not draining,
            metrics=metrics,
        )

    stop = stop or stop_on_signals()
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        # NOT_SERVING tells Kubernetes probes; new streams are refused from here on (Envoy answers
        # those requests 503: fail closed), while in-flight streams get the grace period to finish.
        draining = True
        for service in ("", EXTPROC_SERVICE):
            await health_servicer.set(service, health_pb2.HealthCheckResponse.NOT_SERVING)
        log.info("shutting down: draining streams for up to %.0fs", settings.extproc.grace_period_s)
        await reloader.stop()
        await server.stop(settings.extproc.grace_period_s)
        await gateway.drain(5.0)  # settlements of the last exchanges
        if admin_server is not None:
            await admin_server.stop(1.0)
        if gateway.accountant is not None:
            await gateway.accountant.store.close()
        if status_server is not None:
            await status_server.cleanup()
        gateway.audit.close()
        if gateway.decision_log is not None:
            gateway.decision_log.close()
        aclose = getattr(gateway.engine, "aclose", None)
        if aclose is not None:
            await aclose()
        for observer in gateway.observers:  # the tracer exports the spans still queued
            shutdown = getattr(observer, "shutdown", None)
            if shutdown is not None:
                await asyncio.to_thread(shutdown)
