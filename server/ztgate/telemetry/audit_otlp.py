"""Audit events as OpenTelemetry log records, exported over OTLP/gRPC: the audit joins the trace.

Each audit event becomes one LogRecord:

- **trace_id / span_id**: the event's own (ztgate's span for the exchange), so a backend that holds
  both traces and logs (Grafana Tempo+Loki, Jaeger+OpenSearch, Elastic, Honeycomb, ...) shows the
  audit record on the exchange's trace and finds the trace from the record. An event without a
  trace id (no traceparent reached ztgate) is exported without one.
- **body**: the audit line itself, as a string: the exact JSON written to stdout/file (chain fields
  included when audit.chain is on), so the backend's copy is a complete AuditEvent and, chained,
  an off-box anchor of the chain's hashes.
- **attributes**: the event's fields flattened for querying, under `ztgate.` with the proto's names
  (`ztgate.request_id`, `ztgate.identity.subject`, `ztgate.identity.groups`, `ztgate.decision.allowed`,
  `ztgate.decision.reasons`, `ztgate.usage.input_tokens`, `ztgate.findings.<detector:type>`, ...),
  plus `http.response.status_code` and the GenAI conventions' `gen_ai.request.model`,
  `gen_ai.response.model`, `gen_ai.usage.input_tokens` / `output_tokens`. Prompt and output text
  (`content`, only there when the policy asked for content logging) stay in the body, never in
  attributes; `time`, `trace_id` and `span_id` are the record's own fields.
- **event_name** `ztgate.audit`; **timestamp** the exchange's start (the event's `time`);
  **severity** INFO for an exchange that went through, WARN for a refusal (a policy denial, an
  authentication failure, a limit, any other 4xx), ERROR for a failure (5xx, or an exchange that
  ended with an error and no status).

Export is asynchronous: `export` only queues the record for a BatchLogRecordProcessor, whose thread
sends batches; the event loop never waits for the collector. Configuration is the standard OTEL_*
environment, read by the SDK and exporter: OTEL_EXPORTER_OTLP_LOGS_ENDPOINT or
OTEL_EXPORTER_OTLP_ENDPOINT (default http://localhost:4317), ..._HEADERS, ..._INSECURE,
..._CERTIFICATE, OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES for the resource, OTEL_BLRP_* for
batching. When the queue is full (the collector is down for long) records are dropped; the line
sinks are the durable record.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from opentelemetry._logs import SeverityNumber
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

if TYPE_CHECKING:
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import LogRecordExporter

log = logging.getLogger(__name__)

DEFAULT_SERVICE_NAME = "ztgate"
EVENT_NAME = "ztgate.audit"
SCOPE = "ztgate.audit"
ATTRIBUTE_PREFIX = "ztgate."
_NOT_ATTRIBUTES = frozenset({"time", "trace_id", "span_id", "content", "chain_id", "prev_hash", "hash"})
_MAPS = frozenset({"findings", "output_findings"})


class OtlpAuditExporter:
    """Hands audit events to an OpenTelemetry LoggerProvider with a batch processor (see module doc)."""

    def __init__(self, exporter: LogRecordExporter | None = None, *, provider: LoggerProvider | None = None) -> None:
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

        if provider is None:
            if exporter is None:
                from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter

                exporter = OTLPLogExporter()  # endpoint, headers, TLS: OTEL_EXPORTER_OTLP_(LOGS_)*
            provider = LoggerProvider(resource=_resource(), shutdown_on_exit=False)
            provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
        self._provider = provider
        self._logger = provider.get_logger(SCOPE)

    def export(self, event: Mapping[str, Any], line: bytes) -> None:
        """Queue one event; `event` is the cleaned event (audit.clean), `line` the line as written."""
        self._logger.emit(
            timestamp=_time_ns(event.get("time")),
            context=_trace_context(event.get("trace_id"), event.get("span_id")),
            severity_number=(severity := _severity(event)),
            severity_text=severity.name,  # "INFO" | "WARN" | "ERROR"
            body=line.rstrip(b"\n").decode("utf-8", errors="replace"),
            attributes=attributes(event),
            event_name=EVENT_NAME,
        )

    def flush(self, timeout_millis: int = 10_000) -> bool:
        return self._provider.force_flush(timeout_millis)

    def close(self) -> None:
        """Export what is queued, then stop the processor's thread."""
        self._provider.shutdown()


def attributes(event: Mapping[str, Any]) -> dict[str, Any]:
    """The event's fields as log attributes (see the module doc); values None are left out."""
    out: dict[str, Any] = {}
    for key, value in event.items():
        if value is None or key in _NOT_ATTRIBUTES:
            continue
        if isinstance(value, Mapping):
            for sub, item in value.items():
                if item is None:
                    continue
                out[f"{ATTRIBUTE_PREFIX}{key}.{sub}"] = list(item) if isinstance(item, (list, tuple)) else item
        elif isinstance(value, (list, tuple)):
            out[ATTRIBUTE_PREFIX + key] = list(value)
        else:
            out[ATTRIBUTE_PREFIX + key] = value
    status = event.get("status")
    if status:
        out["http.response.status_code"] = status
    for name, value in (
        ("gen_ai.request.model", event.get("model")),
        ("gen_ai.response.model", event.get("response_model")),
    ):
        if value:
            out[name] = value
    usage = event.get("usage") or {}
    for name in ("input_tokens", "output_tokens"):
        if usage.get(name) is not None:
            out[f"gen_ai.usage.{name}"] = usage[name]
    return out


def _severity(event: Mapping[str, Any]) -> SeverityNumber:
    status = event.get("status") or 0
    decision = event.get("decision") or {}
    if status >= 500 or (status == 0 and event.get("error")):
        return SeverityNumber.ERROR
    if status >= 400 or decision.get("allowed") is False or event.get("error"):
        return SeverityNumber.WARN
    return SeverityNumber.INFO


def _trace_context(trace_id: Any, span_id: Any) -> Context | None:
    """A context whose current span is the exchange's, so the record carries its trace and span ids."""
    if not (isinstance(trace_id, str) and len(trace_id) == 32 and isinstance(span_id, str) and len(span_id) == 16):
        return None
    try:
        span = SpanContext(int(trace_id, 16), int(span_id, 16), is_remote=True, trace_flags=TraceFlags(TraceFlags.DEFAULT))
    except ValueError:
        return None
    if not span.is_valid:
        return None
    return set_span_in_context(NonRecordingSpan(span))


def _time_ns(value: Any) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        dt = datetime.fromisoformat(value)  # "2026-05-09T07:35:25.123Z" (Python 3.11 reads the Z)
    except ValueError:
        return None
    return int(dt.timestamp()) * 1_000_000_000 + dt.microsecond * 1000


def _resource() -> Any:
    from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource

    from .. import __version__

    # Resource.create reads OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME, but the attributes given
    # here win over both: name the service only when the environment does not, so the records carry
    # the same service.name as ztgate's spans.
    attributes: dict[str, str] = {SERVICE_VERSION: __version__}
    named = os.environ.get("OTEL_SERVICE_NAME", "").strip() or any(
        item.partition("=")[0].strip() == SERVICE_NAME for item in os.environ.get("OTEL_RESOURCE_ATTRIBUTES", "").split(",")
    )
    if not named:
        attributes[SERVICE_NAME] = DEFAULT_SERVICE_NAME
    return Resource.create(attributes)
