"""Tracing without Envoy: GenAI attributes from audit events, subject hashing, the span tree a record
becomes (parent from the gRPC metadata's traceparent, phase spans under the exchange span), sampling,
the OTEL_* switches, and the Envoy tracer envoy_config renders."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, ALWAYS_ON
from opentelemetry.trace import SpanKind, StatusCode

from ztgate import envoy_config
from ztgate.config import Settings, TracingConfig, load_settings
from ztgate.telemetry.audit import audit_event
from ztgate.telemetry.observe import ExchangeRecord, Phase
from ztgate.telemetry.tracing import (
    SubjectHasher,
    Tracer,
    exchange_attributes,
    exchange_span_name,
    failed,
    otlp_target,
    service_name,
    tracing_enabled,
)

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
ENVOY_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{ENVOY_SPAN}-01"


class _Identity:
    subject = "alice@example.test"
    method = "api_key"
    groups = ("developers",)
    key_id = "zt-1a2b3c4d"


def event(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "time": 1_778_000_000.5,
        "request_id": "8c1f3c2e-1d2b-4c55-9a3e-0f6f1d7e9b21",
        "status": 200,
        "latency_ms": 41.0,
        "identity": _Identity(),
        "provider": "openai",
        "operation": "chat_completions",
        "model": "gpt-4o-mini",
        "response_model": "gpt-4o-mini-2024-07-18",
        "stream": True,
        "decision": {
            "allowed": True,
            "http_status": 200,
            "reasons": [],
            "decision_id": "0f8e1c2a-7b3d-4e5f-8a9b-0c1d2e3f4a5b",
            "policy_revision": "sha256:3f1a9c",
        },
        "usage": {"input_tokens": 512, "output_tokens": 128, "cached_input_tokens": 64, "cost_usd": 0.000154},
        "findings": {"pii:email": 2, "secrets:aws_access_key": 1},
        "output_findings": {"pii:phone": 1},
        "content": {"prompt": ["my secret prompt"], "output": ["the model's answer"]},
    }
    fields.update(overrides)
    return audit_event(**fields)


def record(ev: dict[str, Any], parent: dict[str, str] | None = None) -> ExchangeRecord:
    start = 1_778_000_000_000_000_000
    phases = [
        Phase("identify", start + 10_000, start + 30_000),
        Phase("parse", start + 40_000, start + 90_000),
        Phase("detect", start + 100_000, start + 400_000),
        Phase("policy", start + 410_000, start + 900_000),
        Phase("upstream", start + 1_000_000, start + 30_000_000),
        Phase("response_policy", start + 30_100_000, start + 30_200_000),
        Phase("response_policy", start + 30_300_000, start + 30_400_000),
    ]
    return ExchangeRecord(ev, phases, {"traceparent": TRACEPARENT} if parent is None else parent, start, start + 31_000_000)


def make_tracer(*, fast: bool = True, hash_subject: SubjectHasher | None = None, sampler=None) -> tuple[Tracer, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "ztgate"}), sampler=sampler or ParentBased(ALWAYS_ON))
    processor = SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    return Tracer(provider, processor=processor if fast else None, hash_subject=hash_subject), exporter


# ---- attributes ------------------------------------------------------------------------------------


def test_genai_attributes_from_the_audit_event() -> None:
    attrs = exchange_attributes(event())
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.model"] == "gpt-4o-mini"
    assert attrs["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert attrs["gen_ai.request.stream"] is True
    assert attrs["gen_ai.usage.input_tokens"] == 512
    assert attrs["gen_ai.usage.output_tokens"] == 128
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 64
    assert attrs["http.response.status_code"] == 200
    assert attrs["ztgate.operation"] == "chat_completions"
    assert attrs["ztgate.decision"] == "allow"
    assert attrs["ztgate.decision.id"] == "0f8e1c2a-7b3d-4e5f-8a9b-0c1d2e3f4a5b"
    assert attrs["ztgate.policy.revision"] == "sha256:3f1a9c"
    assert attrs["ztgate.usage.cost_usd"] == pytest.approx(0.000154)
    assert attrs["ztgate.identity.subject"] == "alice@example.test"
    assert attrs["ztgate.identity.method"] == "api_key"
    assert attrs["ztgate.identity.groups"] == ["developers"]
    assert attrs["ztgate.findings.pii.email"] == 2
    assert attrs["ztgate.findings.secrets.aws_access_key"] == 1
    assert attrs["ztgate.findings.total"] == 3
    assert attrs["ztgate.output_findings.pii.phone"] == 1
    assert "error.type" not in attrs
    # Never prompt or output text, even when the policy asked the audit log to keep it.
    assert not any("secret prompt" in str(v) or "model's answer" in str(v) for v in attrs.values())


@pytest.mark.parametrize(
    "provider, operation, genai_provider, genai_operation",
    [
        ("openai", "chat_completions", "openai", "chat"),
        ("openai", "responses", "openai", "chat"),
        ("openai", "embeddings", "openai", "embeddings"),
        ("anthropic", "messages", "anthropic", "chat"),
        ("gemini", "generate_content", "gcp.gemini", "generate_content"),
        ("azure_openai", "chat_completions", "azure.ai.openai", "chat"),
        ("openai", "list_models", "openai", "list_models"),
    ],
)
def test_provider_and_operation_names(provider: str, operation: str, genai_provider: str, genai_operation: str) -> None:
    ev = event(provider=provider, operation=operation)
    attrs = exchange_attributes(ev)
    assert attrs["gen_ai.provider.name"] == genai_provider
    assert attrs["gen_ai.operation.name"] == genai_operation
    assert exchange_span_name(ev) == f"{genai_operation} gpt-4o-mini"


def test_span_name_without_model_or_operation() -> None:
    assert exchange_span_name(event(model=None)) == "chat"
    assert exchange_span_name(event(operation=None, model=None)) == "ztgate.exchange"


def test_denial_and_errors() -> None:
    denied = event(
        status=403,
        decision={"allowed": False, "http_status": 403, "reasons": ["model gpt-4o is not allowed for group interns"], "decision_id": "d1"},
        usage=None,
    )
    attrs = exchange_attributes(denied)
    assert attrs["ztgate.decision"] == "deny"
    assert attrs["ztgate.decision.allowed"] is False
    assert attrs["ztgate.decision.reasons"] == ["model gpt-4o is not allowed for group interns"]
    assert "gen_ai.usage.input_tokens" not in attrs
    failed_event = event(status=503, error={"kind": "policy", "message": "policy evaluation failed: timeout"})
    assert exchange_attributes(failed_event)["error.type"] == "policy"
    assert exchange_attributes(event(status=502))["error.type"] == "502"
    # ERROR status: 5xx, or an error under a 2xx; refusing the caller (4xx) and blocked output are outcomes.
    assert failed(503, None) and failed(200, "disconnected") and failed(0, "response_parse")
    assert not failed(401, "auth") and not failed(429, "rate_limited") and not failed(200, "output_blocked")
    assert not failed(403, None) and not failed(200, None)


def test_credentials_in_free_text_are_scrubbed() -> None:
    key = "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
    attrs = exchange_attributes(event(model=f"gpt-4o {key}", decision={"allowed": False, "reasons": [f"found {key}"]}))
    assert key not in str(attrs)


# ---- subject hashing -------------------------------------------------------------------------------


def test_subject_hashing_is_keyed_stable_and_hides_the_subject() -> None:
    hasher = SubjectHasher.from_env("TRACE_KEY", {"TRACE_KEY": "k1"})
    digest = hasher("alice@example.test")
    assert digest == hmac.new(b"k1", b"alice@example.test", hashlib.sha256).hexdigest()[:32]
    assert hasher("alice@example.test") == digest
    assert hasher("bob@example.test") != digest
    assert SubjectHasher.from_env("TRACE_KEY", {"TRACE_KEY": "k2"})("alice@example.test") != digest
    attrs = exchange_attributes(event(), hasher)
    assert attrs["ztgate.identity.subject"] == digest
    assert "alice" not in str(attrs)


def test_subject_hashing_without_a_key_uses_a_process_key(caplog: pytest.LogCaptureFixture) -> None:
    a, b = SubjectHasher.from_env("UNSET_KEY", {}), SubjectHasher.from_env("UNSET_KEY", {})
    assert a("alice") != "alice" and a("alice") == a("alice") and a("alice") != b("alice")
    assert "per-process key" in caplog.text


# ---- the span tree ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fast", [True, False], ids=["phases-to-processor", "phases-as-live-spans"])
def test_span_tree_under_envoys_ext_proc_span(fast: bool) -> None:
    tracer, exporter = make_tracer(fast=fast)
    rec = record(event())
    ids = tracer.exchange(rec)
    spans = exporter.get_finished_spans()
    exchange = next(s for s in spans if s.kind == SpanKind.SERVER)
    assert ids == (TRACE_ID, format(exchange.context.span_id, "016x"))
    assert exchange.name == "chat gpt-4o-mini"
    assert format(exchange.parent.span_id, "016x") == ENVOY_SPAN and exchange.parent.is_remote
    assert (exchange.start_time, exchange.end_time) == (rec.start_ns, rec.end_ns)
    assert exchange.attributes["gen_ai.usage.output_tokens"] == 128
    assert exchange.status.status_code == StatusCode.UNSET
    phases = [s for s in spans if s is not exchange]
    assert [s.name for s in phases] == [
        "ztgate.identify", "ztgate.parse", "ztgate.detect", "ztgate.policy", "ztgate.upstream",
        "ztgate.response_policy", "ztgate.response_policy",
    ]  # fmt: skip
    for span, phase in zip(phases, rec.phases, strict=True):
        assert span.kind == SpanKind.INTERNAL
        assert span.context.trace_id == exchange.context.trace_id
        assert span.parent.span_id == exchange.context.span_id
        assert (span.start_time, span.end_time) == (phase.start_ns, phase.end_ns)
        assert span.resource.attributes["service.name"] == "ztgate"
        assert span.instrumentation_scope.name == "ztgate"
    assert len({s.context.span_id for s in spans}) == len(spans)


def test_no_parent_starts_a_trace() -> None:
    tracer, exporter = make_tracer()
    trace_id, span_id = tracer.exchange(record(event(), parent={}))
    exchange = next(s for s in exporter.get_finished_spans() if s.kind == SpanKind.SERVER)
    assert exchange.parent is None and format(exchange.context.trace_id, "032x") == trace_id != TRACE_ID


def test_envoys_sampling_decision_is_followed() -> None:
    tracer, exporter = make_tracer()
    assert tracer.exchange(record(event(), parent={"traceparent": f"00-{TRACE_ID}-{ENVOY_SPAN}-00"})) is None
    assert exporter.get_finished_spans() == ()


def test_denial_event_and_error_status() -> None:
    tracer, exporter = make_tracer()
    denied = event(status=403, decision={"allowed": False, "http_status": 403, "reasons": ["tool send_email is not allowed"]})
    tracer.exchange(record(denied))
    span = next(s for s in exporter.get_finished_spans() if s.kind == SpanKind.SERVER)
    assert span.status.status_code == StatusCode.UNSET
    (ev,) = span.events
    assert ev.name == "ztgate.denied"
    assert ev.attributes["ztgate.decision.http_status"] == 403
    assert list(ev.attributes["ztgate.decision.reasons"]) == ["tool send_email is not allowed"]
    exporter.clear()
    tracer.exchange(record(event(status=503, error={"kind": "policy", "message": "policy evaluation failed: timeout"})))
    span = next(s for s in exporter.get_finished_spans() if s.kind == SpanKind.SERVER)
    assert span.status.status_code == StatusCode.ERROR
    assert span.status.description == "policy evaluation failed: timeout"
    assert span.attributes["error.type"] == "policy"


# ---- configuration ---------------------------------------------------------------------------------


def test_tracing_switches() -> None:
    off, on = Settings(), Settings(tracing=TracingConfig(enabled=True))
    assert not tracing_enabled(off, {})
    assert tracing_enabled(on, {})
    assert tracing_enabled(off, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"})
    assert tracing_enabled(off, {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4317"})
    assert not tracing_enabled(on, {"OTEL_SDK_DISABLED": "true"})
    assert not tracing_enabled(on, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_TRACES_EXPORTER": "none"})
    settings = load_settings(None, env={"ZTGATE__TRACING__HASH_SUBJECT": "true"})
    assert settings.tracing.hash_subject and settings.tracing.envoy and not settings.tracing.enabled


def test_otlp_target_follows_the_exporters_rules() -> None:
    t = otlp_target({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317"})
    assert (t.host, t.port, t.tls, t.service_name) == ("127.0.0.1", 4317, False, "ztgate")
    t = otlp_target({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:1", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://b.example:4317"})
    assert (t.host, t.port, t.tls) == ("b.example", 4317, True)
    assert otlp_target({"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317"}).tls
    assert not otlp_target({"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317", "OTEL_EXPORTER_OTLP_INSECURE": "true"}).tls
    assert (otlp_target({}).host, otlp_target({}).port) == ("localhost", 4317)
    assert service_name({"OTEL_SERVICE_NAME": "gw"}) == "gw"
    assert service_name({"OTEL_RESOURCE_ATTRIBUTES": "team=ai,service.name=gw2"}) == "gw2"


def test_envoy_tracer_rendered_only_when_tracing_is_on(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SDK_DISABLED", "OTEL_TRACES_SAMPLER"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    config = envoy_config.render(settings)
    hcm = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    assert "tracing" not in hcm
    assert envoy_config.OTEL_CLUSTER not in {c["name"] for c in config["static_resources"]["clusters"]}

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "gw")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.25")
    config = envoy_config.render(settings)
    hcm = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    tracing = hcm["tracing"]
    assert tracing["provider"]["name"] == "envoy.tracers.opentelemetry"
    assert tracing["provider"]["typed_config"]["service_name"] == "gw-envoy"
    assert tracing["provider"]["typed_config"]["grpc_service"]["envoy_grpc"]["cluster_name"] == envoy_config.OTEL_CLUSTER
    assert tracing["random_sampling"] == {"value": 25.0}
    assert tracing["spawn_upstream_span"] is True
    (cluster,) = [c for c in config["static_resources"]["clusters"] if c["name"] == envoy_config.OTEL_CLUSTER]
    address = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"]
    assert address == {"address": "127.0.0.1", "port_value": 4317} and "transport_socket" not in cluster

    settings.tracing.envoy = False  # ztgate traces, Envoy does not
    hcm = envoy_config.render(settings)["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    assert "tracing" not in hcm
