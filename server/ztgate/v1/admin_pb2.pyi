from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UsageRequest(_message.Message):
    __slots__ = ("since", "until", "by")
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NUMBER: _ClassVar[int]
    since: str
    until: str
    by: str
    def __init__(self, since: _Optional[str] = ..., until: _Optional[str] = ..., by: _Optional[str] = ...) -> None: ...

class UsageRow(_message.Message):
    __slots__ = ("key", "requests", "input_tokens", "output_tokens", "cached_input_tokens", "cost_usd")
    KEY_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHED_INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    key: str
    requests: int
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    cost_usd: float
    def __init__(self, key: _Optional[str] = ..., requests: _Optional[int] = ..., input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., cached_input_tokens: _Optional[int] = ..., cost_usd: _Optional[float] = ...) -> None: ...

class UsageReport(_message.Message):
    __slots__ = ("since", "until", "by", "rows")
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    since: str
    until: str
    by: str
    rows: _containers.RepeatedCompositeFieldContainer[UsageRow]
    def __init__(self, since: _Optional[str] = ..., until: _Optional[str] = ..., by: _Optional[str] = ..., rows: _Optional[_Iterable[_Union[UsageRow, _Mapping]]] = ...) -> None: ...

class ReloadPolicyRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ReloadPolicyReply(_message.Message):
    __slots__ = ("reloaded", "revision", "error")
    RELOADED_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    reloaded: bool
    revision: str
    error: str
    def __init__(self, reloaded: _Optional[bool] = ..., revision: _Optional[str] = ..., error: _Optional[str] = ...) -> None: ...

class StatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StatusReply(_message.Message):
    __slots__ = ("policy_revision", "policy_engine", "last_reload_error", "reload_failures", "usage_store", "usage_store_available", "usage_queued")
    POLICY_REVISION_FIELD_NUMBER: _ClassVar[int]
    POLICY_ENGINE_FIELD_NUMBER: _ClassVar[int]
    LAST_RELOAD_ERROR_FIELD_NUMBER: _ClassVar[int]
    RELOAD_FAILURES_FIELD_NUMBER: _ClassVar[int]
    USAGE_STORE_FIELD_NUMBER: _ClassVar[int]
    USAGE_STORE_AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    USAGE_QUEUED_FIELD_NUMBER: _ClassVar[int]
    policy_revision: str
    policy_engine: str
    last_reload_error: str
    reload_failures: int
    usage_store: str
    usage_store_available: bool
    usage_queued: int
    def __init__(self, policy_revision: _Optional[str] = ..., policy_engine: _Optional[str] = ..., last_reload_error: _Optional[str] = ..., reload_failures: _Optional[int] = ..., usage_store: _Optional[str] = ..., usage_store_available: _Optional[bool] = ..., usage_queued: _Optional[int] = ...) -> None: ...
