"""One trace through the real Envoy and ztgate: a real OTLP/gRPC receiver (opentelemetry-proto's
TraceService, served with grpc in this process) gets Envoy's spans and ztgate's for one request.

Envoy continues the client's traceparent (ingress span), gives the ext_proc stream a client span and
puts that span's traceparent in the stream's gRPC metadata; ztgate's exchange span is its child, the
phase spans are the exchange span's children, and the audit line names ztgate's span.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import httpx2 as httpx
import openai
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from conftest import free_port, launch_gateway

CLIENT_TRACE_ID = os.urandom(16).hex()
CLIENT_SPAN_ID = os.urandom(8).hex()
HASH_KEY = "trace-test-key"
SERVER = trace_pb2.Span.SPAN_KIND_SERVER
CLIENT = trace_pb2.Span.SPAN_KIND_CLIENT
INTERNAL = trace_pb2.Span.SPAN_KIND_INTERNAL


@dataclass
class ReceivedSpan:
    service: str
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_id: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    events: list[str] = field(default_factory=list)
    status_code: int = 0


def _value(v: common_pb2.AnyValue) -> Any:
    which = v.WhichOneof("value")
    if which == "array_value":
        return [_value(x) for x in v.array_value.values]
    return getattr(v, which) if which else None


class Receiver(trace_service_pb2_grpc.TraceServiceServicer):
    """An OTLP trace receiver: what a collector's otlp receiver does, minus the pipeline."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.lock = threading.Lock()

    def Export(self, request: trace_service_pb2.ExportTraceServiceRequest, context: grpc.ServicerContext):  # noqa: N802
        received = []
        for rs in request.resource_spans:
            resource = {a.key: _value(a.value) for a in rs.resource.attributes}
            for ss in rs.scope_spans:
                for s in ss.spans:
                    received.append(
                        ReceivedSpan(
                            service=str(resource.get("service.name", "")),
                            name=s.name,
                            kind=s.kind,
                            trace_id=s.trace_id.hex(),
                            span_id=s.span_id.hex(),
                            parent_id=s.parent_span_id.hex(),
                            start_ns=s.start_time_unix_nano,
                            end_ns=s.end_time_unix_nano,
                            attributes={a.key: _value(a.value) for a in s.attributes},
                            events=[e.name for e in s.events],
                            status_code=s.status.code,
                        )
                    )
        with self.lock:
            self.spans.extend(received)
        return trace_service_pb2.ExportTraceServiceResponse()

    def wait_for(self, predicate, timeout: float = 20.0) -> list[ReceivedSpan]:
        # Envoy's tracer flushes every 5 s (or every 5 spans); ztgate's batch processor every 100 ms here.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                spans = list(self.spans)
            if predicate(spans):
                return spans
            time.sleep(0.1)
        raise AssertionError(f"spans did not arrive in {timeout:.0f}s; got {[(s.service, s.name) for s in spans]}")


@pytest.fixture(scope="module")
def receiver():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    collector = Receiver()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(collector, server)
    port = free_port()
    assert server.add_insecure_port(f"127.0.0.1:{port}") == port
    server.start()
    collector.port = port  # type: ignore[attr-defined]
    yield collector
    server.stop(0)


@pytest.fixture(scope="module")
def traced_gateway(tmp_path_factory: pytest.TempPathFactory, fake_provider, receiver: Receiver):
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver.port}",  # type: ignore[attr-defined]
        "OTEL_SERVICE_NAME": "ztgate",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "ZTGATE_TRACE_HASH_KEY": HASH_KEY,
    }
    tracing = {"enabled": True, "hash_subject": True}
    with launch_gateway(tmp_path_factory.mktemp("tracing"), fake_provider, env=env, tracing=tracing) as gw:
        yield gw


def client(gw, key: str, trace_id: str, span_id: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{gw.url}/v1",
        api_key=key,
        max_retries=0,
        timeout=20,
        default_headers={"traceparent": f"00-{trace_id}-{span_id}-01"},
    )


def test_one_trace_from_envoy_through_ztgate(traced_gateway, receiver: Receiver) -> None:
    raw = client(traced_gateway, traced_gateway.keys["dev"], CLIENT_TRACE_ID, CLIENT_SPAN_ID).chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "trace me, my email is bob@example.test"}]
    )
    completion = raw.parse()
    audit = traced_gateway.audit_for(raw.headers["x-request-id"])

    def complete(spans: list[ReceivedSpan]) -> bool:
        mine = [s for s in spans if s.trace_id == CLIENT_TRACE_ID]
        services = {s.service for s in mine}
        return {"ztgate", "ztgate-envoy"} <= services and sum(s.service == "ztgate-envoy" for s in mine) >= 3

    received = receiver.wait_for(complete)
    # One trace: every span of this request (the first the gateway served) carries the client's trace id.
    assert {s.trace_id for s in received} == {CLIENT_TRACE_ID}
    spans = [s for s in received if s.trace_id == CLIENT_TRACE_ID]
    by_id = {s.span_id: s for s in spans}
    envoy = [s for s in spans if s.service == "ztgate-envoy"]
    ours = [s for s in spans if s.service == "ztgate"]

    # Envoy continued the client's trace: its ingress span is the child of the client's span.
    (ingress,) = [s for s in envoy if s.parent_id == CLIENT_SPAN_ID]
    assert ingress.kind == SERVER
    # The ext_proc call is a client span under ingress, and ztgate's exchange span is its child.
    (exchange,) = [s for s in ours if s.kind == SERVER]
    ext_proc = by_id[exchange.parent_id]
    assert ext_proc.service == "ztgate-envoy" and ext_proc.kind == CLIENT
    assert ext_proc.name == "async envoy.service.ext_proc.v3.ExternalProcessor.Process egress", ext_proc.name
    assert ext_proc.attributes["upstream_cluster"] == "ztgate_extproc"
    assert ext_proc.parent_id == ingress.span_id
    # The call to the provider is Envoy's upstream span, also under ingress.
    (upstream,) = [s for s in envoy if s.kind == CLIENT and s is not ext_proc]
    assert upstream.name == "router provider_openai egress" and upstream.parent_id == ingress.span_id
    assert len(envoy) == 3
    assert ingress.start_ns <= exchange.start_ns and exchange.end_ns <= ingress.end_ns + 50_000_000

    # Phase spans: children of the exchange span, inside it, one per phase the exchange went through.
    phases = [s for s in ours if s is not exchange]
    names = {s.name for s in phases}
    assert {"ztgate.identify", "ztgate.parse", "ztgate.detect", "ztgate.policy", "ztgate.upstream"} <= names, names
    for span in phases:
        assert span.kind == INTERNAL and span.parent_id == exchange.span_id
        assert exchange.start_ns <= span.start_ns <= span.end_ns <= exchange.end_ns

    # GenAI conventions and ztgate's own attributes, equal to the audit line.
    attrs = exchange.attributes
    assert exchange.name == "chat gpt-4o"
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.model"] == "gpt-4o"
    assert attrs["gen_ai.response.model"] == completion.model == audit["response_model"]
    assert attrs["gen_ai.usage.input_tokens"] == audit["usage"]["input_tokens"] == completion.usage.prompt_tokens
    assert attrs["gen_ai.usage.output_tokens"] == audit["usage"]["output_tokens"] == completion.usage.completion_tokens
    assert attrs["ztgate.decision"] == "allow"
    assert attrs["ztgate.decision.id"] == audit["decision"]["decision_id"]
    assert attrs["ztgate.policy.revision"] == audit["decision"]["policy_revision"]
    assert attrs["ztgate.request_id"] == audit["request_id"]
    assert attrs["ztgate.findings.pii.email"] == audit["findings"]["pii:email"] == 1
    digest = hmac.new(HASH_KEY.encode(), b"alice@example.test", hashlib.sha256).hexdigest()[:32]
    assert attrs["ztgate.identity.subject"] == digest
    assert "bob@example.test" not in str(attrs) and "trace me" not in str(attrs)
    assert "alice@example.test" not in str([s.attributes for s in ours])

    # The audit line names ztgate's span, so an audit line leads to its trace.
    assert (audit["trace_id"], audit["span_id"]) == (exchange.trace_id, exchange.span_id)


def test_denial_is_an_event_on_the_exchange_span(traced_gateway, receiver: Receiver) -> None:
    trace_id, span_id = os.urandom(16).hex(), os.urandom(8).hex()
    with pytest.raises(openai.PermissionDeniedError) as exc:
        client(traced_gateway, traced_gateway.keys["intern"], trace_id, span_id).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
        )
    spans = receiver.wait_for(lambda spans: any(s.trace_id == trace_id and s.kind == SERVER and s.service == "ztgate" for s in spans))
    (exchange,) = [s for s in spans if s.trace_id == trace_id and s.kind == SERVER and s.service == "ztgate"]
    assert exchange.attributes["ztgate.decision"] == "deny"
    assert exchange.attributes["http.response.status_code"] == exc.value.status_code == 403
    assert any("not allowed" in r for r in exchange.attributes["ztgate.decision.reasons"])
    assert "ztgate.denied" in exchange.events
    assert exchange.status_code == trace_pb2.Status.STATUS_CODE_UNSET
    audit = traced_gateway.audit_for(exc.value.response.headers["x-request-id"])
    assert (audit["trace_id"], audit["span_id"]) == (exchange.trace_id, exchange.span_id)


def test_a_key_in_the_query_of_a_refused_request_never_reaches_a_span(traced_gateway, receiver: Receiver) -> None:
    wrong = "zt-00000000-wrong-key-but-still-secret-123456"
    trace_id = os.urandom(16).hex()
    response = httpx.post(
        f"{traced_gateway.url}/v1beta/models/gemini-2.0-flash:generateContent?key={wrong}",
        headers={"traceparent": f"00-{trace_id}-{os.urandom(8).hex()}-01"},
        json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
    )
    assert response.status_code == 401
    spans = receiver.wait_for(lambda spans: any(s.trace_id == trace_id and s.service != "ztgate" for s in spans))
    assert wrong not in str([(s.name, s.attributes) for s in spans if s.trace_id == trace_id])
