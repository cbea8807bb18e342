"""OpenTelemetry traces: one SERVER span per exchange, a child span per phase, built after the fact.

ztgate's span is the child of Envoy's ext_proc client span: Envoy injects that span's W3C
`traceparent` into the gRPC call metadata of the ext_proc stream (the HTTP headers in the stream
carry only the client's), and the servicer hands it over in `ExchangeRecord.parent`. So with Envoy's
OpenTelemetry tracer pointed at the same collector (envoy_config renders it), one trace shows
client -> Envoy ingress -> ext_proc call -> ztgate (identify, parse, detect, policy, ...) and
Envoy's upstream call to the provider.

Spans are made when the exchange has ended, from its audit event and phase timings, with explicit
start and end times: the hot path only reads the clock at phase boundaries, and an exchange costs
the SDK work of its few spans, handed to a BatchSpanProcessor whose thread exports them over OTLP
gRPC (bench/speed_tracing.py measures it).

Attributes follow the OpenTelemetry GenAI semantic conventions (gen_ai.provider.name,
gen_ai.operation.name, gen_ai.request.model, gen_ai.response.model, gen_ai.usage.*), span name
"{gen_ai.operation.name} {gen_ai.request.model}", plus ztgate's own under `ztgate.` (decision,
reasons, policy revision, decision id, finding counts by type, identity). Never prompt or output
text, and the identity subject can be replaced by a keyed hash (tracing.hash_subject).

Configuration is the standard OTEL_* environment (read by the SDK and the exporter themselves):
OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES,
OTEL_TRACES_SAMPLER(_ARG) (default parentbased_always_on: Envoy's sampling decision is followed),
OTEL_BSP_* (batching). Tracing is on when an OTLP endpoint variable is set or `tracing.enabled`
is true, unless OTEL_SDK_DISABLED=true; off, nothing here is imported by the server.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .audit import scrub_credentials
from .observe import ExchangeRecord

if TYPE_CHECKING:
    from ..config import Settings

log = logging.getLogger("ztgate.tracing")

DEFAULT_SERVICE_NAME = "ztgate"
DEFAULT_ENDPOINT = "http://localhost:4317"  # the OTLP/gRPC default, as the exporter has it
EXCHANGE_SPAN = "ztgate.exchange"  # the exchange span's name when there is no GenAI operation to name it by
PHASE_SPAN_PREFIX = "ztgate."
INSTRUMENTATION_SCOPE = "ztgate"

# ztgate's operations (providers/base.py OPERATIONS) as gen_ai.operation.name's well-known values.
# OpenAI's Responses API is a chat operation in the OpenAI semantic conventions; Gemini's
# generateContent is the conventions' own "generate_content". Anything else keeps ztgate's name
# (the conventions allow a custom value when no well-known one applies).
GENAI_OPERATIONS = {
    "chat_completions": "chat",
    "responses": "chat",
    "messages": "chat",
    "generate_content": "generate_content",
    "embeddings": "embeddings",
}
# ztgate's provider names as gen_ai.provider.name's well-known values.
GENAI_PROVIDERS = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gemini": "gcp.gemini",
    "azure_openai": "azure.ai.openai",
}

_SUBJECT_DIGEST_HEX = 32  # 128 bits of HMAC-SHA256: no collisions in practice, short in a UI
_SUBJECT_CACHE_MAX = 10_000


@dataclass(frozen=True, slots=True)
class OtlpTarget:
    """Where traces go, as both ztgate's exporter and Envoy's tracer see it (from OTEL_* variables)."""

    endpoint: str  # as configured, e.g. http://127.0.0.1:4317
    host: str
    port: int
    tls: bool
    service_name: str


def tracing_enabled(settings: Settings, env: Mapping[str, str] | None = None) -> bool:
    """On when an OTLP endpoint is configured in the environment or tracing.enabled is set."""
    env = os.environ if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if env.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return False
    return bool(
        settings.tracing.enabled or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )


def otlp_target(env: Mapping[str, str] | None = None) -> OtlpTarget:
    """The OTLP/gRPC endpoint with the exporter's own rules: the traces variable wins, an http://
    URL is plaintext, https:// is TLS, no scheme is TLS unless OTEL_EXPORTER_OTLP_(TRACES_)INSECURE."""
    env = os.environ if env is None else env
    endpoint = (
        env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or DEFAULT_ENDPOINT
    ).strip()
    parts = urlsplit(endpoint if "//" in endpoint else f"//{endpoint}")
    if parts.scheme == "https":
        tls = True
    elif parts.scheme == "http":
        tls = False
    else:
        insecure = env.get("OTEL_EXPORTER_OTLP_TRACES_INSECURE", env.get("OTEL_EXPORTER_OTLP_INSECURE", ""))
        tls = insecure.strip().lower() != "true"
    host = parts.hostname or "localhost"
    port = parts.port or 4317
    return OtlpTarget(endpoint, host, port, tls, service_name(env))


def service_name(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    name = env.get("OTEL_SERVICE_NAME", "").strip()
    if not name:
        for item in env.get("OTEL_RESOURCE_ATTRIBUTES", "").split(","):
            key, _, value = item.partition("=")
            if key.strip() == "service.name" and value.strip():
                name = value.strip()
    return name or DEFAULT_SERVICE_NAME


class SubjectHasher:
    """The identity subject as a keyed digest (HMAC-SHA256, hex, truncated): the same caller gets
    the same value across exchanges (and across replicas sharing the key), the name is not exposed."""

    __slots__ = ("_key", "_cache")

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._cache: dict[str, str] = {}

    @classmethod
    def from_env(cls, key_env: str, env: Mapping[str, str] | None = None) -> SubjectHasher:
        env = os.environ if env is None else env
        key = env.get(key_env, "") if key_env else ""
        if not key:
            log.warning(
                "tracing.hash_subject is on but %s is not set: hashing with a per-process key, so the same "
                "subject hashes differently after a restart and on other replicas",
                key_env or "tracing.hash_key_env",
            )
            return cls(secrets.token_bytes(32))
        return cls(key.encode())

    def __call__(self, subject: str) -> str:
        digest = self._cache.get(subject)
        if digest is None:
            if len(self._cache) >= _SUBJECT_CACHE_MAX:
                self._cache.clear()
            digest = hmac.new(self._key, subject.encode(), hashlib.sha256).hexdigest()[:_SUBJECT_DIGEST_HEX]
            self._cache[subject] = digest
        return digest


def exchange_span_name(event: Mapping[str, Any]) -> str:
    """"{gen_ai.operation.name} {gen_ai.request.model}", as the GenAI conventions name spans."""
    operation = event.get("operation")
    if not operation:
        return EXCHANGE_SPAN
    name = GENAI_OPERATIONS.get(operation, operation)
    model = event.get("model")
    return f"{name} {model}" if model else name


def exchange_attributes(event: Mapping[str, Any], hash_subject: SubjectHasher | None = None) -> dict[str, Any]:
    """The exchange span's attributes from its audit event: GenAI conventions plus ztgate's own.

    Only ids, names, numbers and ztgate's own reasons: the event's `content` (prompt and output text,
    present when the policy asked to log content) is never copied into a span."""
    attrs: dict[str, Any] = {}
    provider = event.get("provider")
    if provider:
        attrs["gen_ai.provider.name"] = GENAI_PROVIDERS.get(provider, provider)
        attrs["ztgate.provider"] = provider
    operation = event.get("operation")
    if operation:
        attrs["gen_ai.operation.name"] = GENAI_OPERATIONS.get(operation, operation)
        attrs["ztgate.operation"] = operation
    model = event.get("model")
    if model:
        attrs["gen_ai.request.model"] = scrub_credentials(model)
    response_model = event.get("response_model")
    if response_model:
        attrs["gen_ai.response.model"] = scrub_credentials(response_model)
    stream = event.get("stream")
    if stream is not None:
        attrs["gen_ai.request.stream"] = bool(stream)
    usage = event.get("usage")
    if usage:
        for key, name in _USAGE_ATTRIBUTES:
            value = usage.get(key)
            if value is not None:
                attrs[name] = value
    status = event.get("status")
    if status:
        attrs["http.response.status_code"] = status
    request_id = event.get("request_id")
    if request_id:
        attrs["ztgate.request_id"] = scrub_credentials(request_id)
    decision = event.get("decision")
    if decision:
        allowed = decision.get("allowed")
        if allowed is not None:
            attrs["ztgate.decision"] = "allow" if allowed else "deny"
            attrs["ztgate.decision.allowed"] = allowed
        for key, name in _DECISION_ATTRIBUTES:
            value = decision.get(key)
            if value:
                attrs[name] = value
        for key, name in (("reasons", "ztgate.decision.reasons"), ("shadow_reasons", "ztgate.decision.shadow_reasons")):
            values = decision.get(key)
            if values:
                attrs[name] = [scrub_credentials(str(v)) for v in values]
    identity = event.get("identity")
    if identity:
        subject = identity.get("subject")
        if subject:
            attrs["ztgate.identity.subject"] = hash_subject(subject) if hash_subject is not None else subject
        for key, name in (("method", "ztgate.identity.method"), ("key_id", "ztgate.identity.key_id")):
            value = identity.get(key)
            if value:
                attrs[name] = value
        groups = identity.get("groups")
        if groups:
            attrs["ztgate.identity.groups"] = list(groups)
    for key, prefix in (("findings", "ztgate.findings."), ("output_findings", "ztgate.output_findings.")):
        counts = event.get(key)
        if counts:
            total = 0
            for kind, n in counts.items():
                attrs[prefix + kind.replace(":", ".")] = n
                total += n
            attrs[prefix + "total"] = total
    for key in ("redacted", "output_redacted", "refused_limit"):
        value = event.get(key)
        if value:
            attrs["ztgate." + key] = value
    anomaly = event.get("anomaly")
    if anomaly and anomaly.get("reasons"):
        attrs["ztgate.anomaly.reasons"] = [scrub_credentials(str(r)) for r in anomaly["reasons"]]
    error = event.get("error")
    if error and error.get("kind"):
        attrs["error.type"] = error["kind"]
    elif status and status >= 500:
        attrs["error.type"] = str(status)
    return attrs


_USAGE_ATTRIBUTES = (
    ("input_tokens", "gen_ai.usage.input_tokens"),
    ("output_tokens", "gen_ai.usage.output_tokens"),
    ("cached_input_tokens", "gen_ai.usage.cache_read.input_tokens"),
    ("cache_creation_input_tokens", "gen_ai.usage.cache_creation.input_tokens"),
    ("cost_usd", "ztgate.usage.cost_usd"),
    ("estimated", "ztgate.usage.estimated"),
)
_DECISION_ATTRIBUTES = (
    ("decision_id", "ztgate.decision.id"),
    ("policy_revision", "ztgate.policy.revision"),
    ("http_status", "ztgate.decision.http_status"),
    ("dry_run", "ztgate.decision.dry_run"),
)


def failed(status: int, error_kind: str | None) -> bool:
    """Whether the exchange span gets ERROR status: ztgate or the provider failed (5xx), or an error
    cut an otherwise successful answer. A refusal of the caller (401, 400, 403, 429: the client's
    doing, as HTTP server spans treat 4xx) and output blocked by policy are outcomes, not failures;
    they carry error.type and an event instead."""
    if status >= 500:
        return True
    return bool(error_kind) and status < 400 and error_kind != "output_blocked"


class Tracer:
    """An Observer (telemetry/observe.py) that turns each finished exchange into spans."""

    def __init__(self, provider: Any, *, processor: Any = None, hash_subject: SubjectHasher | None = None) -> None:
        """provider: an SDK TracerProvider. processor: the span processor added to it, if it is the
        only one: phase spans are then handed to it finished (ReadableSpan), skipping the sampler
        and the live-span machinery they do not need (a phase span is sampled with its parent)."""
        # The SDK is imported only when tracing is on.
        from opentelemetry.sdk.trace import ReadableSpan
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope
        from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, set_span_in_context
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self.provider = provider
        self._tracer = provider.get_tracer(INSTRUMENTATION_SCOPE)
        self._processor = processor
        self._resource = provider.resource
        self._scope = InstrumentationScope(INSTRUMENTATION_SCOPE)
        self._propagator = TraceContextTextMapPropagator()
        self._hash_subject = hash_subject
        self._server = SpanKind.SERVER
        self._internal = SpanKind.INTERNAL
        self._error = StatusCode.ERROR
        self._status = Status
        self._in_context = set_span_in_context
        self._readable = ReadableSpan
        self._span_context = SpanContext
        self._span_id = getattr(self._tracer, "id_generator", None)
        self._phase_names: dict[str, str] = {}  # phase -> span name, so no string is built per phase

    @classmethod
    def from_env(cls, settings: Settings, env: Mapping[str, str] | None = None) -> Tracer:
        """A TracerProvider with ztgate's Resource, the OTLP gRPC exporter and a batch processor,
        all configured by the OTEL_* environment (endpoint, headers, sampler, batch sizes)."""
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        from .. import __version__

        env = os.environ if env is None else env
        # Resource.create also reads OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME (which wins).
        resource = Resource.create({SERVICE_NAME: service_name(env), SERVICE_VERSION: __version__})
        provider = TracerProvider(resource=resource)  # sampler: OTEL_TRACES_SAMPLER(_ARG), read by the SDK
        processor = BatchSpanProcessor(OTLPSpanExporter())  # OTEL_BSP_* sizes and delays, read by the SDK
        provider.add_span_processor(processor)
        config = settings.tracing
        hasher = SubjectHasher.from_env(config.hash_key_env, env) if config.hash_subject else None
        target = otlp_target(env)
        log.info("tracing: OTLP/gRPC to %s (service %s)", target.endpoint, target.service_name)
        return cls(provider, processor=processor, hash_subject=hasher)

    def exchange(self, record: ExchangeRecord) -> tuple[str, str] | None:
        """Spans for one finished exchange; (trace id, span id) of the exchange span, or None when
        the sampler dropped it (e.g. Envoy did not sample the request)."""
        event = record.event
        parent = self._propagator.extract(record.parent) if record.parent else None
        attributes = exchange_attributes(event, self._hash_subject)
        span = self._tracer.start_span(
            exchange_span_name(event),
            context=parent,
            kind=self._server,
            attributes=attributes,
            start_time=record.start_ns,
        )
        if not span.is_recording():
            return None
        context = span.get_span_context()
        if record.phases:
            if self._processor is not None and self._span_id is not None:
                self._phase_spans(record, context)
            else:
                child_context = self._in_context(span)
                start_span = self._tracer.start_span
                for phase in record.phases:
                    start_span(
                        self._phase_name(phase.name), context=child_context, kind=self._internal, start_time=phase.start_ns
                    ).end(end_time=phase.end_ns)
        decision = event.get("decision")
        if decision and decision.get("allowed") is False:
            span.add_event(
                "ztgate.denied",
                {
                    "ztgate.decision.http_status": decision.get("http_status") or 0,
                    "ztgate.decision.reasons": attributes.get("ztgate.decision.reasons", []),
                },
                timestamp=record.end_ns,
            )
        status = event.get("status") or 0
        error = event.get("error")
        kind = error.get("kind") if error else None
        if kind == "output_blocked":
            span.add_event("ztgate.output_blocked", timestamp=record.end_ns)
        if failed(status, kind):
            message = scrub_credentials(error.get("message") or "") if error else ""
            span.set_status(self._status(self._error, message or f"status {status}"))
        span.end(end_time=record.end_ns)
        return format(context.trace_id, "032x"), format(context.span_id, "016x")

    def _phase_spans(self, record: ExchangeRecord, parent: Any) -> None:
        """Each phase as a finished span, straight to the processor (the exporter sees the same
        ReadableSpan a live span would have become)."""
        readable, span_context, new_id = self._readable, self._span_context, self._span_id.generate_span_id
        on_end, resource, scope, internal = self._processor.on_end, self._resource, self._scope, self._internal
        trace_id, flags, state = parent.trace_id, parent.trace_flags, parent.trace_state
        for phase in record.phases:
            on_end(
                readable(
                    self._phase_name(phase.name),
                    span_context(trace_id, new_id(), False, flags, state),
                    parent,
                    resource,
                    kind=internal,
                    start_time=phase.start_ns,
                    end_time=phase.end_ns,
                    instrumentation_scope=scope,
                )
            )

    def _phase_name(self, phase: str) -> str:
        name = self._phase_names.get(phase)
        if name is None:
            name = self._phase_names[phase] = PHASE_SPAN_PREFIX + phase
        return name

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Export what is queued (waiting at most timeout_s), then stop the exporter (end of serve())."""
        try:
            self.provider.force_flush(int(timeout_s * 1000))
            self.provider.shutdown()
        except Exception:  # noqa: BLE001 - a collector gone at shutdown must not fail the stop
            log.exception("tracing shutdown failed")
