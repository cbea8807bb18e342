"""The audit log: one JSON line per LLM exchange, for a SIEM.

Each line is an `AuditEvent` (proto/ztgate/v1/audit.proto) in proto3 JSON with the proto's own
snake_case field names, so `json_format.Parse(line, AuditEvent())` accepts every line (the unit tests
check this). protobuf is not used here: the line is built as a dict and serialised with orjson, which
is what keeps it cheap on the hot path. `time` is an RFC 3339 UTC string with milliseconds, the JSON
form of google.protobuf.Timestamp. Fields that are None are left out of the line.

Never a credential: the identity is written as subject/method/groups/key_id only (never JWT claims or
certificate data), and every string value is passed through `scrub_credentials`, which replaces
anything shaped like an API key, bearer token or JWT with "[REDACTED]" (defence in depth: an upstream
error message or a logged prompt may contain one). Prompt and output text appear only when the caller
passes `content`, which it does only when the policy decision asked to log content.

Writes and flushing: a line is written with a single write call on an unbuffered O_APPEND file, or
written and flushed to stdout, i.e. the log is line-buffered: a line is visible to a log shipper as
soon as the exchange ends, and a crash loses nothing already written. The write is a few hundred bytes
to a local file or pipe and does not wait for the disk (no fsync), so it is done inline on the event
loop. Several worker processes may share one file: O_APPEND makes each line land whole. A failed write
(disk full, closed pipe) is logged and counted in `failures`; it does not fail the exchange, which has
already been answered by the time its audit line is written.

Sinks (see docs/observability.md, "Audit events"): stdout; a file, optionally rotated by size
(`max_bytes`, `backups`; see FileSink for what rotation guarantees with several processes); and
OTLP logs (telemetry/audit_otlp.py), alone or in addition to a line sink. With `chain` on, each line
carries `chain_id`, `prev_hash` and `hash` (HashChain below), and `ztgate audit verify`
(telemetry/audit_verify.py) checks the chain.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Protocol, TypedDict

import orjson

from .audit_chain import HashChain
from .audit_sinks import FileSink, StreamSink, open_append

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
REDACTED = "[REDACTED]"


class IdentityLike(Protocol):
    """What the audit line needs of ztgate.identity.Identity (telemetry does not import identity)."""

    @property
    def subject(self) -> str: ...
    @property
    def method(self) -> str: ...
    @property
    def groups(self) -> Sequence[str]: ...
    @property
    def key_id(self) -> str | None: ...


class DecisionFields(TypedDict, total=False):
    allowed: bool
    http_status: int
    reasons: list[str]
    policy_revision: str
    decision_id: str
    dry_run: bool
    shadow_reasons: list[str]


class UsageFields(TypedDict, total=False):
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    cache_creation_input_tokens: int
    estimated: bool
    cost_usd: float


class ErrorFields(TypedDict, total=False):
    kind: str
    message: str


class ContentFields(TypedDict, total=False):
    prompt: list[str]
    output: list[str]


def audit_event(
    *,
    time: datetime | float,
    request_id: str,
    status: int,
    latency_ms: float,
    identity: IdentityLike | None = None,
    trace_id: str | None = None,
    span_id: str | None = None,
    provider: str | None = None,
    operation: str | None = None,
    model: str | None = None,
    response_model: str | None = None,
    stream: bool | None = None,
    decision: DecisionFields | None = None,
    upstream_latency_ms: float | None = None,
    usage: UsageFields | None = None,
    source_address: str | None = None,
    user_agent: str | None = None,
    error: ErrorFields | None = None,
    content: ContentFields | None = None,
    findings: dict[str, int] | None = None,
    output_findings: dict[str, int] | None = None,
    redacted: int | None = None,
    output_redacted: int | None = None,
    anomaly: dict[str, Any] | None = None,
    refused_limit: str | None = None,
) -> dict[str, Any]:
    """One exchange's AuditEvent as a dict keyed by the proto's field names.

    Keyword-only and typed so a misspelt field is caught before it becomes a line that does not
    parse. `time` is a datetime or a Unix timestamp (time.time()) of when the exchange started.
    """
    return {
        "schema_version": SCHEMA_VERSION,
        "time": format_time(time),
        "request_id": request_id,
        "trace_id": trace_id,
        "span_id": span_id,
        "identity": identity_fields(identity) if identity is not None else None,
        "provider": provider,
        "operation": operation,
        "model": model,
        "response_model": response_model,
        "stream": stream,
        "decision": decision,
        "status": status,
        "latency_ms": float(latency_ms),
        "upstream_latency_ms": None if upstream_latency_ms is None else float(upstream_latency_ms),
        "usage": usage,
        "source_address": source_address,
        "user_agent": user_agent,
        "error": error,
        "content": content,
        "findings": findings or None,
        "output_findings": output_findings or None,
        "redacted": redacted or None,
        "output_redacted": output_redacted or None,
        "anomaly": anomaly,
        "refused_limit": refused_limit,
    }


def identity_fields(identity: IdentityLike) -> dict[str, Any]:
    """The audit form of an identity: who, how, groups and the key's public id; never claims."""
    return {
        "subject": identity.subject,
        "method": identity.method,
        "groups": list(identity.groups),
        "key_id": identity.key_id,
    }


def format_time(t: datetime | float) -> str:
    """RFC 3339 in UTC with milliseconds, e.g. "2026-05-09T07:35:25.123Z" (Timestamp's JSON form)."""
    if isinstance(t, (int, float)):  # the hot path: time.time() of the exchange
        seconds = int(t)
        return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(seconds))}.{int((t - seconds) * 1000):03d}Z"
    dt = t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{dt.microsecond // 1000:03d}Z"


# Credential shapes, each preceded by a non-token character so "task-..." is not "sk-...".
_CREDENTIAL = re.compile(
    r"(?<![A-Za-z0-9_-])(?:"
    r"zt-[0-9a-f]{8}-[A-Za-z0-9_-]{20,}"  # ztgate API key
    r"|sk-[A-Za-z0-9_-]{20,}"  # OpenAI / Anthropic (sk-ant-...) keys
    r"|AIza[0-9A-Za-z_-]{35}"  # Google API key
    r"|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"  # JWT
    r")"
    r"|(?<=[Bb]earer )[A-Za-z0-9._~+/=-]{16,}"  # any bearer token
)
_MIN_CREDENTIAL_LEN = 16  # shorter strings cannot match: skip the regex for them


def scrub_credentials(text: str) -> str:
    """`text` with anything shaped like an API key, bearer token or JWT replaced by [REDACTED]."""
    if len(text) < _MIN_CREDENTIAL_LEN:
        return text
    return _CREDENTIAL.sub(REDACTED, text)


# The fields a client or provider controls; the rest (ids, statuses, numbers, ztgate's own names)
# cannot hold a credential, so scrubbing them would only cost time on the hot path.
_FREE_TEXT = frozenset({"model", "response_model", "user_agent", "request_id", "source_address", "refused_limit"})
_FREE_TEXT_NESTED = {"error": ("message",), "decision": ("reasons", "shadow_reasons"), "anomaly": ("reasons",), "content": ("prompt", "output")}


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_credentials(value)
    if isinstance(value, list):
        return [scrub_credentials(v) if isinstance(v, str) else v for v in value]
    return value


def clean(value: Mapping[str, Any]) -> dict[str, Any]:
    """The event as written: None values dropped, credentials scrubbed from free-text fields.

    Events are two levels deep (see audit_event), so this walks exactly that, not a general tree.
    """
    out: dict[str, Any] = {}
    for key, item in value.items():
        if item is None:
            continue
        if isinstance(item, Mapping):
            nested = {k: v for k, v in item.items() if v is not None}
            for name in _FREE_TEXT_NESTED.get(key, ()):
                if name in nested:
                    nested[name] = _scrub(nested[name])
            item = nested
        elif key in _FREE_TEXT:
            item = _scrub(item)
        out[key] = item
    return out


class LineSink(Protocol):
    def write_line(self, line: bytes) -> None: ...
    def reopen(self) -> None: ...
    def close(self) -> None: ...


class EventExporter(Protocol):
    """A sink that takes the event itself (OTLP logs: telemetry/audit_otlp.py)."""

    def export(self, event: Mapping[str, Any], line: bytes) -> None:
        """`event` as written (clean()ed), `line` the JSON line (chain fields included, if any)."""
        ...

    def close(self) -> None: ...


class AuditLog:
    """Writes audit events as JSON lines to stdout (the default) or appends them to a file, and/or
    hands them to an exporter (OTLP logs)."""

    def __init__(
        self,
        stream: BinaryIO | None = None,
        *,
        path: Path | None = None,
        owns_stream: bool = False,
        chain: HashChain | None = None,
        exporter: EventExporter | None = None,
        sink: LineSink | None = None,
    ) -> None:
        if sink is None and stream is not None:
            sink = FileSink(stream, path) if owns_stream else StreamSink(stream)
        self._sink = sink
        self._chain = chain
        self._exporter = exporter
        self._failing = False
        self.failures = 0  # lines lost to write errors, for metrics

    @classmethod
    def open(
        cls,
        target: str | Path | None = None,
        *,
        max_bytes: int = 0,
        backups: int = 5,
        chain: bool = False,
        chain_key: bytes | None = None,
        exporter: EventExporter | None = None,
        lines: bool = True,
    ) -> AuditLog:
        """`None`, "" , "-" or "stdout": standard output. Anything else: a file path, appended to
        (created 0600 if missing; parent directories are not created), rotated when `max_bytes` > 0
        (path -> path.1 -> ... -> path.<backups>). `chain`: hash-chain the lines (HMAC with
        `chain_key`). `exporter`: also hand each event to it; with `lines=False` only to it."""
        sink: LineSink | None = None
        if lines:
            if target is None or str(target) in ("", "-", "stdout"):
                sink = StreamSink(sys.stdout.buffer)
            else:
                path = Path(target)
                sink = FileSink(open_append(path), path, max_bytes=max_bytes, backups=backups)
        return cls(sink=sink, chain=HashChain(chain_key) if chain else None, exporter=exporter)

    @property
    def chain(self) -> HashChain | None:
        return self._chain

    def write(self, event: Mapping[str, Any]) -> None:
        """Write one event (see audit_event) as one line. Never raises for I/O errors."""
        chain = self._chain
        digest = ""
        cleaned = clean(event)
        if chain is None:
            line = orjson.dumps(cleaned, option=orjson.OPT_APPEND_NEWLINE)
        else:
            line, digest = chain.seal(orjson.dumps(cleaned))
        if self._sink is not None:
            try:
                self._sink.write_line(line)
            except (OSError, ValueError) as exc:  # ValueError: write to a closed file
                self.failures += 1
                if not self._failing:  # log the first failure of a run of failures, not each one
                    log.error("audit log write failed (%d lines lost so far): %s", self.failures, exc)
                self._failing = True
                return
            self._failing = False
        if chain is not None:
            chain.commit(digest)
        if self._exporter is not None:
            try:
                self._exporter.export(cleaned, line)
            except Exception:  # noqa: BLE001 - an exporter bug must not fail the exchange
                log.exception("audit export failed")

    def reopen(self) -> None:
        """Reopen the file (after logrotate moved it); nothing to do for stdout."""
        if self._sink is not None:
            self._sink.reopen()

    def close(self) -> None:
        if self._sink is not None:
            self._sink.close()
        if self._exporter is not None:
            self._exporter.close()
