import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AuditEvent(_message.Message):
    __slots__ = ("schema_version", "time", "request_id", "trace_id", "span_id", "identity", "provider", "operation", "model", "response_model", "stream", "decision", "status", "latency_ms", "upstream_latency_ms", "usage", "source_address", "user_agent", "error", "content", "findings", "output_findings", "redacted", "output_redacted", "anomaly", "refused_limit", "prev_hash", "hash", "chain_id")
    class Identity(_message.Message):
        __slots__ = ("subject", "method", "groups", "key_id")
        SUBJECT_FIELD_NUMBER: _ClassVar[int]
        METHOD_FIELD_NUMBER: _ClassVar[int]
        GROUPS_FIELD_NUMBER: _ClassVar[int]
        KEY_ID_FIELD_NUMBER: _ClassVar[int]
        subject: str
        method: str
        groups: _containers.RepeatedScalarFieldContainer[str]
        key_id: str
        def __init__(self, subject: _Optional[str] = ..., method: _Optional[str] = ..., groups: _Optional[_Iterable[str]] = ..., key_id: _Optional[str] = ...) -> None: ...
    class Decision(_message.Message):
        __slots__ = ("allowed", "http_status", "reasons", "policy_revision", "decision_id", "dry_run", "shadow_reasons")
        ALLOWED_FIELD_NUMBER: _ClassVar[int]
        HTTP_STATUS_FIELD_NUMBER: _ClassVar[int]
        REASONS_FIELD_NUMBER: _ClassVar[int]
        POLICY_REVISION_FIELD_NUMBER: _ClassVar[int]
        DECISION_ID_FIELD_NUMBER: _ClassVar[int]
        DRY_RUN_FIELD_NUMBER: _ClassVar[int]
        SHADOW_REASONS_FIELD_NUMBER: _ClassVar[int]
        allowed: bool
        http_status: int
        reasons: _containers.RepeatedScalarFieldContainer[str]
        policy_revision: str
        decision_id: str
        dry_run: bool
        shadow_reasons: _containers.RepeatedScalarFieldContainer[str]
        def __init__(self, allowed: _Optional[bool] = ..., http_status: _Optional[int] = ..., reasons: _Optional[_Iterable[str]] = ..., policy_revision: _Optional[str] = ..., decision_id: _Optional[str] = ..., dry_run: _Optional[bool] = ..., shadow_reasons: _Optional[_Iterable[str]] = ...) -> None: ...
    class Usage(_message.Message):
        __slots__ = ("input_tokens", "output_tokens", "cached_input_tokens", "cache_creation_input_tokens", "estimated", "cost_usd")
        INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
        OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
        CACHED_INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
        CACHE_CREATION_INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
        ESTIMATED_FIELD_NUMBER: _ClassVar[int]
        COST_USD_FIELD_NUMBER: _ClassVar[int]
        input_tokens: int
        output_tokens: int
        cached_input_tokens: int
        cache_creation_input_tokens: int
        estimated: bool
        cost_usd: float
        def __init__(self, input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., cached_input_tokens: _Optional[int] = ..., cache_creation_input_tokens: _Optional[int] = ..., estimated: _Optional[bool] = ..., cost_usd: _Optional[float] = ...) -> None: ...
    class Anomaly(_message.Message):
        __slots__ = ("score", "reasons")
        SCORE_FIELD_NUMBER: _ClassVar[int]
        REASONS_FIELD_NUMBER: _ClassVar[int]
        score: float
        reasons: _containers.RepeatedScalarFieldContainer[str]
        def __init__(self, score: _Optional[float] = ..., reasons: _Optional[_Iterable[str]] = ...) -> None: ...
    class Error(_message.Message):
        __slots__ = ("kind", "message")
        KIND_FIELD_NUMBER: _ClassVar[int]
        MESSAGE_FIELD_NUMBER: _ClassVar[int]
        kind: str
        message: str
        def __init__(self, kind: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...
    class Content(_message.Message):
        __slots__ = ("prompt", "output")
        PROMPT_FIELD_NUMBER: _ClassVar[int]
        OUTPUT_FIELD_NUMBER: _ClassVar[int]
        prompt: _containers.RepeatedScalarFieldContainer[str]
        output: _containers.RepeatedScalarFieldContainer[str]
        def __init__(self, prompt: _Optional[_Iterable[str]] = ..., output: _Optional[_Iterable[str]] = ...) -> None: ...
    class FindingsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class OutputFindingsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    SPAN_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_MODEL_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    UPSTREAM_LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    USER_AGENT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FINDINGS_FIELD_NUMBER: _ClassVar[int]
    REDACTED_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_REDACTED_FIELD_NUMBER: _ClassVar[int]
    ANOMALY_FIELD_NUMBER: _ClassVar[int]
    REFUSED_LIMIT_FIELD_NUMBER: _ClassVar[int]
    PREV_HASH_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    schema_version: int
    time: _timestamp_pb2.Timestamp
    request_id: str
    trace_id: str
    span_id: str
    identity: AuditEvent.Identity
    provider: str
    operation: str
    model: str
    response_model: str
    stream: bool
    decision: AuditEvent.Decision
    status: int
    latency_ms: float
    upstream_latency_ms: float
    usage: AuditEvent.Usage
    source_address: str
    user_agent: str
    error: AuditEvent.Error
    content: AuditEvent.Content
    findings: _containers.ScalarMap[str, int]
    output_findings: _containers.ScalarMap[str, int]
    redacted: int
    output_redacted: int
    anomaly: AuditEvent.Anomaly
    refused_limit: str
    prev_hash: str
    hash: str
    chain_id: str
    def __init__(self, schema_version: _Optional[int] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., request_id: _Optional[str] = ..., trace_id: _Optional[str] = ..., span_id: _Optional[str] = ..., identity: _Optional[_Union[AuditEvent.Identity, _Mapping]] = ..., provider: _Optional[str] = ..., operation: _Optional[str] = ..., model: _Optional[str] = ..., response_model: _Optional[str] = ..., stream: _Optional[bool] = ..., decision: _Optional[_Union[AuditEvent.Decision, _Mapping]] = ..., status: _Optional[int] = ..., latency_ms: _Optional[float] = ..., upstream_latency_ms: _Optional[float] = ..., usage: _Optional[_Union[AuditEvent.Usage, _Mapping]] = ..., source_address: _Optional[str] = ..., user_agent: _Optional[str] = ..., error: _Optional[_Union[AuditEvent.Error, _Mapping]] = ..., content: _Optional[_Union[AuditEvent.Content, _Mapping]] = ..., findings: _Optional[_Mapping[str, int]] = ..., output_findings: _Optional[_Mapping[str, int]] = ..., redacted: _Optional[int] = ..., output_redacted: _Optional[int] = ..., anomaly: _Optional[_Union[AuditEvent.Anomaly, _Mapping]] = ..., refused_limit: _Optional[str] = ..., prev_hash: _Optional[str] = ..., hash: _Optional[str] = ..., chain_id: _Optional[str] = ...) -> None: ...
