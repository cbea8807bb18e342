"""Audit lines: one JSON object per line that parses into ztgate.v1.AuditEvent, and never a credential."""

from __future__ import annotations

import io
import os
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from google.protobuf import json_format

from ztgate.identity.base import Identity
from ztgate.telemetry.audit import AuditLog, audit_event, clean, format_time, scrub_credentials
from ztgate.telemetry.audit_chain import CHAIN_FIELDS
from ztgate.v1.audit_pb2 import AuditEvent

ZT_KEY = "zt-3f9a1c2b-Jd8fQ2xk9_abcdefghijklmnopqrstuvwxyz0123456"
OPENAI_KEY = "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"


def full_event(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "time": datetime(2026, 5, 9, 7, 35, 25, 123456, tzinfo=UTC),
        "request_id": "8c1f3c2e-1d2b-4c55-9a3e-0f6f1d7e9b21",
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "span_id": "00f067aa0ba902b7",
        "identity": Identity("alice", "api_key", ("eng", "ml"), key_id="3f9a1c2b", claims={"secret": ZT_KEY}),
        "provider": "openai",
        "operation": "chat_completions",
        "model": "gpt-4o",
        "response_model": "gpt-4o-2024-08-06",
        "stream": True,
        "decision": {"allowed": False, "http_status": 403, "reasons": ["model not allowed"], "policy_revision": "r42"},
        "status": 403,
        "latency_ms": 12.5,
        "upstream_latency_ms": None,
        "usage": {
            "input_tokens": 120,
            "output_tokens": 0,
            "cached_input_tokens": 0,
            "cache_creation_input_tokens": 0,
            "estimated": True,
        },
        "source_address": "127.0.0.1:50312",
        "user_agent": "OpenAI/Python 3.51.0",
        "error": {"kind": "policy", "message": "denied"},
        "content": {"prompt": ["hello"], "output": []},
    }
    fields.update(overrides)
    return audit_event(**fields)


def write_lines(*events: dict[str, Any]) -> list[bytes]:
    sink = io.BytesIO()
    log = AuditLog(sink)
    for event in events:
        log.write(event)
    data = sink.getvalue()
    assert data.endswith(b"\n")
    return data.splitlines()


def parse(line: bytes) -> AuditEvent:
    message = AuditEvent()
    json_format.Parse(line, message, ignore_unknown_fields=False)
    return message


def assert_subset(written: Any, canonical: Any, where: str = "") -> None:
    """Every value written equals what proto3 JSON gives back for it (types included)."""
    if isinstance(written, dict):
        for key, value in written.items():
            assert key in canonical, f"{where}.{key} not in message"
            assert_subset(value, canonical[key], f"{where}.{key}")
    else:
        assert written == canonical and type(written) is type(canonical), f"{where}: {written!r} != {canonical!r}"


def test_full_line_parses_into_audit_event() -> None:
    [line] = write_lines(full_event())
    message = parse(line)
    assert message.schema_version == 1
    assert message.time.ToDatetime(tzinfo=UTC) == datetime(2026, 5, 9, 7, 35, 25, 123000, tzinfo=UTC)
    assert message.identity.subject == "alice" and list(message.identity.groups) == ["eng", "ml"]
    assert message.identity.key_id == "3f9a1c2b"
    assert message.decision.http_status == 403 and not message.decision.allowed
    assert message.usage.input_tokens == 120 and message.usage.estimated
    assert not message.HasField("upstream_latency_ms")  # None was dropped, not written as null
    assert list(message.content.prompt) == ["hello"]

    written = orjson.loads(line)
    canonical = json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    assert_subset(written, canonical)


def test_minimal_line_parses() -> None:
    [line] = write_lines(
        audit_event(
            time=1_778_312_125.5,
            request_id="r1",
            status=401,
            latency_ms=0.4,
            error={"kind": "auth", "message": "missing credential"},
        )
    )
    written = orjson.loads(line)
    assert set(written) == {"schema_version", "time", "request_id", "status", "latency_ms", "error"}
    assert written["time"] == "2026-05-09T07:35:25.500Z"
    assert parse(line).error.kind == "auth"


def test_every_field_of_the_proto_can_be_written() -> None:
    event = full_event(upstream_latency_ms=9.0)
    names = {f.name for f in AuditEvent.DESCRIPTOR.fields} - set(CHAIN_FIELDS)  # the writer's, see test_audit_sinks
    assert set(event) == names
    parse(write_lines(event)[0])


def test_one_line_per_event_and_no_nulls() -> None:
    lines = write_lines(full_event(), full_event(identity=None, content=None, decision=None))
    assert len(lines) == 2
    assert b"null" not in lines[1]
    second = orjson.loads(lines[1])
    assert "identity" not in second and "content" not in second
    for line in lines:
        parse(line)


def test_unknown_field_would_not_parse() -> None:
    # The guard the tests rely on: a line with a field the proto lacks fails to parse.
    bad = orjson.dumps({**clean(full_event()), "modle": "gpt-4o"})
    with pytest.raises(json_format.ParseError):
        parse(bad)


def test_no_credential_in_lines() -> None:
    event = full_event(
        user_agent=f"curl/8 Bearer {OPENAI_KEY}",
        error={"kind": "upstream", "message": f"Incorrect API key provided: {OPENAI_KEY}; your key {ZT_KEY}"},
        content={
            "prompt": [f"my key is\n{ZT_KEY}", f"token={JWT}", "AIzaSyA1234567890abcdefghijklmnopqrstuv"],
            "output": ["Authorization: Bearer abcdefghijklmnop1234"],
        },
    )
    [line] = write_lines(event)
    for secret in (
        ZT_KEY,
        ZT_KEY[12:],
        OPENAI_KEY,
        JWT,
        "AIzaSyA1234567890abcdefghijklmnopqrstuv",
        "abcdefghijklmnop1234",
    ):
        assert secret.encode() not in line
    assert b"[REDACTED]" in line
    assert b"claims" not in line  # identity is written without claims
    parse(line)


def test_scrub_leaves_ordinary_text_alone() -> None:
    for text in ("gpt-4o-2024-08-06", "the task-force-abcdefghijklmnopqrstuvwxyz met", "3f9a1c2b", "Bearer of news"):
        assert scrub_credentials(text) == text


def test_format_time() -> None:
    assert format_time(datetime(2026, 1, 2, 3, 4, 5, 678999, tzinfo=UTC)) == "2026-01-02T03:04:05.678Z"
    assert format_time(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05.000Z"  # naive is UTC
    assert format_time(0.0) == "1970-01-01T00:00:00.000Z"


def test_file_sink_appends_with_private_mode(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog.open(path)
    log.write(full_event())
    log.close()
    log = AuditLog.open(str(path))
    log.write(full_event(request_id="second"))
    # Unbuffered: the line is in the file before close.
    lines = path.read_bytes().splitlines()
    assert len(lines) == 2 and orjson.loads(lines[1])["request_id"] == "second"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    log.close()


def test_reopen_after_rotation(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog.open(path)
    log.write(full_event(request_id="before"))
    path.rename(tmp_path / "audit.jsonl.1")
    log.reopen()
    log.write(full_event(request_id="after"))
    log.close()
    assert orjson.loads(path.read_bytes())["request_id"] == "after"


def test_stdout_sink(capfdbinary: pytest.CaptureFixture[bytes]) -> None:
    log = AuditLog.open(None)
    log.write(full_event())
    out = capfdbinary.readouterr().out
    parse(out.strip())


def test_write_failure_is_counted_not_raised(tmp_path: Path) -> None:
    log = AuditLog.open(tmp_path / "audit.jsonl")
    log.close()
    log.write(full_event())  # closed file
    log.write(full_event())
    assert log.failures == 2
