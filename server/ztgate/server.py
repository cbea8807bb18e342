"""Wiring: build the shared services from Settings and run the gRPC server (`ztgate serve`)."""

from __future__ import annotations

import asyncio
import gc
import os
import logging
import signal

import grpc
from envoy.service.ext_proc.v3 import external_processor_pb2_grpc as pb_grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from .config import Settings
from .detect.scanner import Scanner
from .extproc.gateway import Gateway
from .extproc.servicer import ExtProcServicer
from .identity.keys import KeyStore
from .policy.engine import EmbeddedEngine
from .redact import Redactor
from .telemetry.audit import AuditLog

log = logging.getLogger("ztgate.server")

EXTPROC_SERVICE = "envoy.service.ext_proc.v3.ExternalProcessor"


def build_gateway(settings: Settings) -> Gateway:
    """Load policy, keys and sinks once per worker; a broken policy stops start-up here, loudly."""
    engine = EmbeddedEngine(settings.path(settings.policy.dir), settings.policy.query)
    keys = KeyStore.load(settings.path(settings.keys_file))
    audit = AuditLog.open(settings.path(settings.audit.path) if settings.audit.sink == "file" else None)
    detect = engine.data.get("ztgate", {}).get("config", {}).get("detect")
    scanner = Scanner.from_config(detect if isinstance(detect, dict) else None) if settings.inspect.enabled else None
    redactor = Redactor.with_key(os.environ.get(settings.inspect.hash_key_env) if settings.inspect.hash_key_env else None)
    return Gateway(settings, engine, keys, audit, scanner, redactor)


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT (Kubernetes stops pods with SIGTERM; Ctrl-C sends SIGINT)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def serve(settings: Settings, *, ready: asyncio.Event | None = None, stop: asyncio.Event | None = None) -> None:
    """Serve ext_proc and gRPC health until SIGTERM/SIGINT, then drain in-flight streams."""
    gateway = build_gateway(settings)
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
    pb_grpc.add_ExternalProcessorServicer_to_server(ExtProcServicer(gateway), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    address = f"{settings.extproc.host}:{settings.extproc.port}"
    if server.add_insecure_port(address) == 0:
        raise OSError(f"cannot listen on {address}")
    await server.start()
    for service in ("", EXTPROC_SERVICE):
        await health_servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
    log.info("ztgate ext_proc listening on %s (policy revision %s)", address, gateway.engine.revision)

    stop = stop or stop_on_signals()
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        # NOT_SERVING tells Kubernetes probes; new streams are refused from here on (Envoy answers
        # those requests 503: fail closed), while in-flight streams get the grace period to finish.
        for service in ("", EXTPROC_SERVICE):
            await health_servicer.set(service, health_pb2.HealthCheckResponse.NOT_SERVING)
        log.info("shutting down: draining streams for up to %.0fs", settings.extproc.grace_period_s)
        await server.stop(settings.extproc.grace_period_s)
        gateway.audit.close()
