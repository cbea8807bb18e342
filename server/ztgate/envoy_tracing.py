"""Envoy's side of tracing: its OpenTelemetry tracer and the OTLP collector cluster it exports to,
rendered into the bootstrap by envoy_config when tracing is on (see docs/observability.md)."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from typing import Any

from .telemetry.tracing import OtlpTarget

OTEL_CLUSTER = "otel_collector"
SYSTEM_CA_FILE = "/etc/ssl/certs/ca-certificates.crt"


def tracer(target: OtlpTarget, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Envoy's OpenTelemetry tracer, exporting over OTLP/gRPC to the collector ztgate exports to.

    Envoy continues an incoming W3C traceparent (else starts a trace) with its ingress span, gives
    the ext_proc stream a client span and injects that span's traceparent into the stream's gRPC
    metadata, which ztgate's exchange span takes as its parent; spawn_upstream_span gives the call to
    the provider its own span. Envoy samples 100% by default (an incoming sampled flag is kept), or
    the ratio of OTEL_TRACES_SAMPLER=[parentbased_]traceidratio; ztgate's parent-based sampler
    follows Envoy's decision.
    """
    return {
        "provider": {
            "name": "envoy.tracers.opentelemetry",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig",
                "grpc_service": {"envoy_grpc": {"cluster_name": OTEL_CLUSTER}, "timeout": "1s"},
                "service_name": f"{target.service_name}-envoy",
            },
        },
        "random_sampling": {"value": _sampling_percent(os.environ if env is None else env)},
        "spawn_upstream_span": True,
    }


def _sampling_percent(env: Mapping[str, str]) -> float:
    sampler = env.get("OTEL_TRACES_SAMPLER", "").strip().lower()
    if sampler in ("always_off", "parentbased_always_off"):
        return 0.0
    if sampler in ("traceidratio", "parentbased_traceidratio"):
        try:
            ratio = float(env.get("OTEL_TRACES_SAMPLER_ARG", "1"))
        except ValueError:
            ratio = 1.0
        return round(min(max(ratio, 0.0), 1.0) * 100, 4)
    return 100.0


def collector_cluster(target: OtlpTarget) -> dict[str, Any]:
    cluster: dict[str, Any] = {
        "name": OTEL_CLUSTER,
        "type": "STATIC" if is_ip(target.host) else "STRICT_DNS",
        "connect_timeout": "1s",
        "dns_lookup_family": "V4_PREFERRED",
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {"http2_protocol_options": {}},
            }
        },
        "load_assignment": {
            "cluster_name": OTEL_CLUSTER,
            "endpoints": [
                {
                    "lb_endpoints": [
                        {"endpoint": {"address": {"socket_address": {"address": target.host, "port_value": target.port}}}}
                    ]
                }
            ],
        },
    }
    if target.tls:
        cluster["transport_socket"] = {
            "name": "envoy.transport_sockets.tls",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
                "sni": target.host,
                "common_tls_context": {
                    "alpn_protocols": ["h2"],
                    "validation_context": {
                        "trusted_ca": {"filename": SYSTEM_CA_FILE},
                        "match_typed_subject_alt_names": [{"san_type": "DNS", "matcher": {"exact": target.host}}],
                    },
                },
            },
        }
    return cluster


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
