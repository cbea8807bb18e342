"""Audit sinks: the rotated file (several writers too), the hash chain and `ztgate audit verify`, and
OTLP logs delivered to a real OTLP/gRPC receiver."""

from __future__ import annotations

import io
import os
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import orjson
import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc

from ztgate.cli import main as cli_main
from ztgate.config import ConfigError, load_settings
from ztgate.identity.base import Identity
from ztgate.telemetry import audit as audit_module
from ztgate.telemetry import audit_sinks
from ztgate.telemetry.audit import AuditLog, audit_event
from ztgate.telemetry.audit_chain import GENESIS, HashChain, chain_digest
from ztgate.telemetry.audit_sinks import FileSink
from ztgate.telemetry.audit_verify import BROKEN, OK, UNREADABLE, run, verify
from ztgate.v1.audit_pb2 import AuditEvent

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN_ID = "00f067aa0ba902b7"
KEY_ENV = "ZT_TEST_AUDIT_CHAIN_KEY"


def event(n: int = 0, **overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "time": 1_778_312_125.5 + n,
        "request_id": f"req-{n:05d}",
        "status": 200,
        "latency_ms": 3.25,
        "trace_id": TRACE_ID,
        "span_id": SPAN_ID,
        "identity": Identity("alice", "api_key", ("eng",), key_id="3f9a1c2b"),
        "provider": "openai",
        "operation": "chat_completions",
        "model": "gpt-4o",
        "decision": {"allowed": True, "reasons": [], "policy_revision": "r1"},
        "usage": {"input_tokens": 12, "output_tokens": 34},
    }
    fields.update(overrides)
    return audit_event(**fields)


def request_ids(*paths: Path) -> list[str]:
    out = []
    for path in paths:
        for line in path.read_bytes().splitlines():
            json_format.Parse(line, AuditEvent())  # every line is a whole AuditEvent
            out.append(orjson.loads(line)["request_id"])
    return out


# --- rotation --------------------------------------------------------------------------------------


def test_rotation_keeps_backups_and_order(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    line_len = len(orjson.dumps(audit_module.clean(event(0)))) + 1
    log = AuditLog.open(path, max_bytes=10 * line_len, backups=2)
    for n in range(45):
        log.write(event(n))
    log.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2", "audit.jsonl.lock"]
    for name in ("audit.jsonl", "audit.jsonl.1", "audit.jsonl.2"):
        assert (tmp_path / name).stat().st_size <= 10 * line_len
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "audit.jsonl.lock").stat().st_mode) == 0o600
    # 45 lines, 10 per file: the newest 25 are kept (.2: 20-29, .1: 30-39, current: 40-44).
    ids = request_ids(path.with_name("audit.jsonl.2"), path.with_name("audit.jsonl.1"), path)
    assert ids == [f"req-{n:05d}" for n in range(20, 45)]


def test_no_rotation_when_max_bytes_is_zero(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog.open(path, max_bytes=0)
    for n in range(50):
        log.write(event(n))
    log.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.jsonl"]
    assert len(request_ids(path)) == 50


def test_a_line_larger_than_max_bytes_is_written_whole(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog.open(path, max_bytes=100, backups=1)
    log.write(event(0))  # into the empty file: an empty file is never rotated
    log.write(event(1))  # rotates the first line out
    log.close()
    assert request_ids(path.with_name("audit.jsonl.1")) == ["req-00000"]
    assert request_ids(path) == ["req-00001"]


def test_size_is_a_running_count_not_a_stat_per_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b"")
    with open(path, "ab") as f:
        f.write(orjson.dumps(audit_module.clean(event(99))) + b"\n")
    existing = path.stat().st_size
    stats = []
    real_stat = os.stat
    monkeypatch.setattr(audit_sinks.os, "stat", lambda p, *a, **k: stats.append(p) or real_stat(p, *a, **k))
    log = AuditLog.open(path, max_bytes=10**9)
    sink = log._sink
    assert isinstance(sink, FileSink) and sink.size == existing  # picked up at open
    for n in range(500):
        log.write(event(n))
    assert stats == []  # within the check interval: no stat at all
    assert sink.size == path.stat().st_size
    log.close()


def test_occasional_stat_picks_up_other_writers_bytes(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    a = AuditLog.open(path, max_bytes=10**9)
    b = AuditLog.open(path, max_bytes=10**9)
    a.write(event(1))
    b.write(event(2))
    sink = a._sink
    assert isinstance(sink, FileSink)
    assert sink.size < path.stat().st_size  # a has not seen b's line yet
    sink.CHECK_INTERVAL_S = 0.0
    sink._next_check = 0.0
    a.write(event(3))
    assert sink.size == path.stat().st_size
    a.close()
    b.close()


def test_external_rotation_is_followed_without_reopen(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog.open(path, max_bytes=0)
    sink = log._sink
    assert isinstance(sink, FileSink)
    log.write(event(1))
    path.rename(tmp_path / "audit.jsonl.1")  # logrotate, "create" style, with no signal sent
    log.write(event(2))  # within the check interval: still the moved file
    sink._next_check = 0.0
    log.write(event(3))  # the stat sees another file (none) at the path: reopen, create
    log.close()
    assert request_ids(tmp_path / "audit.jsonl.1") == ["req-00001", "req-00002"]
    assert request_ids(path) == ["req-00003"]


def test_reopen_and_writes_after_close(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog.open(path, max_bytes=1000)
    log.write(event(1))
    path.rename(tmp_path / "moved.jsonl")
    log.reopen()
    log.write(event(2))
    log.close()
    log._sink._next_check = 0.0  # type: ignore[union-attr]
    log.write(event(3))  # closed: counted, and the file is not recreated behind the closed log
    assert log.failures == 1
    assert request_ids(path) == ["req-00002"]


def test_rotation_done_by_another_writer_is_not_repeated(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    line_len = len(orjson.dumps(audit_module.clean(event(0)))) + 1
    a = AuditLog.open(path, max_bytes=3 * line_len, backups=5)
    b = AuditLog.open(path, max_bytes=3 * line_len, backups=5)
    for n in range(3):
        a.write(event(n))
    b._sink._size = a._sink.size  # type: ignore[union-attr]  # b believes the file is full too
    a.write(event(3))  # a rotates: 0-2 -> .1, 3 in the new file
    b.write(event(4))  # b finds the path already replaced: it reopens instead of rotating again
    a.close()
    b.close()
    assert not (tmp_path / "audit.jsonl.2").exists()
    assert request_ids(tmp_path / "audit.jsonl.1") == ["req-00000", "req-00001", "req-00002"]
    assert request_ids(path) == ["req-00003", "req-00004"]


WRITER = """
import sys
from ztgate.telemetry.audit import AuditLog, audit_event

path, worker, lines, max_bytes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
log = AuditLog.open(path, max_bytes=max_bytes, backups=1000, chain=True)
for n in range(lines):
    log.write(audit_event(time=1_778_312_125.0 + n, request_id=f"w{worker}-{n:05d}", status=200, latency_ms=1.5, model="gpt-4o"))
log.close()
"""


def test_several_processes_share_a_rotating_chained_file(tmp_path: Path) -> None:
    """Every line lands whole in exactly one file, each writer's lines stay in order, and the files
    verify as one sequence (one chain per writer)."""
    path = tmp_path / "audit.jsonl"
    workers, lines, max_bytes = 3, 1500, 64 * 1024
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(w), str(lines), str(max_bytes)])
        for w in range(workers)
    ]
    for p in procs:
        assert p.wait(60) == 0
    rotated = sorted((p for p in tmp_path.glob("audit.jsonl.*") if p.suffix != ".lock"), key=lambda p: -int(p.suffix[1:]))
    assert len(rotated) >= 3  # about 0.8 MB in 64 KB files
    files = [*rotated, path]
    ids = request_ids(*files)
    assert len(ids) == workers * lines and len(set(ids)) == len(ids)
    for w in range(workers):
        mine = [i for i in ids if i.startswith(f"w{w}-")]
        assert mine == sorted(mine)
    result = verify(files)
    assert result.problem is None and len(result.chains) == workers


# --- the chain and verify ----------------------------------------------------------------------------


def chained_file(tmp_path: Path, n: int = 6, key: bytes | None = None, name: str = "audit.jsonl") -> Path:
    path = tmp_path / name
    log = AuditLog.open(path, chain=True, chain_key=key, max_bytes=0)
    for i in range(n):
        log.write(event(i, status=403 if i == 2 else 200))
    log.close()
    return path


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def problem(path: Path | list[Path], key: bytes | None = None) -> tuple[int, str, str] | None:
    result = verify(path if isinstance(path, list) else [path], key)
    if result.problem is None:
        return None
    return result.problem.position[1], result.problem.kind, result.problem.detail


def test_chain_fields_and_hash(tmp_path: Path) -> None:
    path = chained_file(tmp_path, 3)
    lines = [orjson.loads(line) for line in lines_of(path)]
    assert lines[0]["prev_hash"] == GENESIS
    assert lines[1]["prev_hash"] == lines[0]["hash"] and lines[2]["prev_hash"] == lines[1]["hash"]
    assert len({line["chain_id"] for line in lines}) == 1
    raw = lines_of(path)[1].rstrip(b"\n")
    assert raw.endswith(b'"hash":"' + lines[1]["hash"].encode() + b'"}')  # the last member
    unsigned = raw[: raw.rindex(b',"hash":')] + b"}"
    assert lines[1]["hash"] == chain_digest(lines[1]["prev_hash"], unsigned)
    assert lines[1]["hash"].startswith("sha256:")
    for line in lines_of(path):
        json_format.Parse(line, AuditEvent())


def test_verify_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = chained_file(tmp_path)
    assert problem(path) is None
    assert cli_main(["audit", "verify", str(path)]) == OK
    out = capsys.readouterr().out
    assert "OK: 6 lines, 1 chain(s)" in out and orjson.loads(lines_of(path)[-1])["hash"] in out


def test_modified_byte(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = chained_file(tmp_path)
    lines = lines_of(path)
    lines[3] = lines[3].replace(b'"output_tokens":34', b'"output_tokens":35')
    path.write_bytes(b"".join(lines))
    assert problem(path)[:2] == (4, "modified")  # type: ignore[index]
    assert cli_main(["audit", "verify", str(path)]) == BROKEN
    out = capsys.readouterr().out
    assert f"{path}:4: modified" in out and "BROKEN: line 4" in out


def test_modified_hash_field_and_reformatted_line(tmp_path: Path) -> None:
    path = chained_file(tmp_path)
    lines = lines_of(path)
    original = orjson.loads(lines[1])
    lines[1] = lines[1].replace(original["hash"].encode(), ("sha256:" + "ab" * 32).encode())
    path.write_bytes(b"".join(lines))
    assert problem(path)[:2] == (2, "modified")  # type: ignore[index]
    lines = lines_of(chained_file(tmp_path, name="b.jsonl"))
    lines[1] = orjson.dumps(orjson.loads(lines[1]), option=orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE)
    (tmp_path / "b.jsonl").write_bytes(b"".join(lines))
    assert problem(tmp_path / "b.jsonl")[:2] == (2, "modified")  # type: ignore[index]


def test_deleted_line(tmp_path: Path) -> None:
    path = chained_file(tmp_path)
    lines = lines_of(path)
    del lines[2]
    path.write_bytes(b"".join(lines))
    assert problem(path)[:2] == (3, "deleted")  # type: ignore[index]


def test_swapped_lines(tmp_path: Path) -> None:
    path = chained_file(tmp_path)
    lines = lines_of(path)
    lines[2], lines[3] = lines[3], lines[2]
    path.write_bytes(b"".join(lines))
    assert problem(path)[:2] == (3, "reordered")  # type: ignore[index]


def forged_line(after: bytes, n: int, key: bytes | None = None) -> bytes:
    """A line someone made up and chained (correctly, without a key) to the line `after`."""
    prev = orjson.loads(after)
    chain = HashChain(key, chain_id=prev["chain_id"])
    chain.last = prev["hash"]
    line, _ = chain.seal(orjson.dumps(audit_module.clean(event(n, request_id="forged"))))
    return line


def test_inserted_line(tmp_path: Path) -> None:
    path = chained_file(tmp_path)
    lines = lines_of(path)
    lines.insert(2, forged_line(lines[1], 77))  # a well-formed, correctly hashed line after line 2
    path.write_bytes(b"".join(lines))
    assert problem(path)[:2] == (3, "inserted")  # type: ignore[index]


def test_inserted_copy_and_foreign_lines(tmp_path: Path) -> None:
    path = chained_file(tmp_path)
    lines = lines_of(path)
    path.write_bytes(b"".join([*lines[:4], lines[1], *lines[4:]]))
    assert problem(path)[:2] == (5, "inserted")  # type: ignore[index]  # a replayed copy of line 2
    unchained = orjson.dumps(audit_module.clean(event(5)), option=orjson.OPT_APPEND_NEWLINE)
    path.write_bytes(b"".join([*lines[:4], unchained, *lines[4:]]))
    assert problem(path)[:2] == (5, "unchained")  # type: ignore[index]
    path.write_bytes(b"".join([*lines[:4], b"not json\n", *lines[4:]]))
    assert problem(path)[:2] == (5, "malformed")  # type: ignore[index]
    path.write_bytes(b"".join([*lines[:4], b"\n", *lines[4:]]))
    assert problem(path)[:2] == (5, "inserted")  # type: ignore[index]


def test_moved_line(tmp_path: Path) -> None:
    path = chained_file(tmp_path)
    lines = lines_of(path)
    moved = lines.pop(1)
    lines.append(moved)  # line 2 moved to the end
    path.write_bytes(b"".join(lines))
    assert problem(path)[:2] == (2, "reordered")  # type: ignore[index]


def test_unreadable_and_not_chained(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run([tmp_path / "missing.jsonl"]) == UNREADABLE
    plain = tmp_path / "plain.jsonl"
    log = AuditLog.open(plain)
    log.write(event(1))
    log.close()
    assert run([plain]) == BROKEN
    assert "plain.jsonl:1: unchained" in capsys.readouterr().out
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    assert run([empty]) == OK


def test_several_writers_in_one_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    a = AuditLog.open(path, chain=True, max_bytes=0)
    b = AuditLog.open(path, chain=True, max_bytes=0)
    for n in range(4):
        (a if n % 2 else b).write(event(n))
        a.write(event(10 + n))
    a.close()
    b.close()
    result = verify([path])
    assert result.problem is None and len(result.chains) == 2
    lines = lines_of(path)
    del lines[3]  # one of a's lines (a chain's last lines could go unnoticed: see verify's doc)
    path.write_bytes(b"".join(lines))
    assert problem(path)[1] == "deleted"  # type: ignore[index]


def test_chain_continues_across_rotation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "audit.jsonl"
    chain = HashChain()
    chain.commit(chain.seal(orjson.dumps(audit_module.clean(event(0))))[1])
    line_len = len(chain.seal(orjson.dumps(audit_module.clean(event(1))))[0])  # a chained line after the first
    log = AuditLog.open(path, max_bytes=4 * line_len, backups=3, chain=True)
    for n in range(10):
        log.write(event(n))
    log.close()
    files = [tmp_path / "audit.jsonl.2", tmp_path / "audit.jsonl.1", path]
    assert all(f.exists() for f in files) and not (tmp_path / "audit.jsonl.3").exists()
    first_of_new = orjson.loads(lines_of(path)[0])
    assert first_of_new["prev_hash"] == orjson.loads(lines_of(files[1])[-1])["hash"]
    assert problem(files) is None
    # The newest file alone verifies, with a note that its chain starts in an earlier file.
    assert run([path]) == OK
    assert "continues from an earlier file" in capsys.readouterr().out
    # A line cut from the start of the newest file shows when it is verified after its predecessor.
    lines = lines_of(path)
    path.write_bytes(b"".join(lines[1:]))
    result = verify(files)
    assert result.problem is not None and result.problem.position == (2, 1) and result.problem.kind == "deleted"
    # Files given in the wrong order.
    path.write_bytes(b"".join(lines))
    assert problem([files[1], files[0], files[2]])[1] == "reordered"  # type: ignore[index]


def test_keyed_chain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    key = b"s3cret-audit-chain-key"
    monkeypatch.setenv(KEY_ENV, key.decode())
    path = chained_file(tmp_path, key=key)
    assert orjson.loads(lines_of(path)[0])["hash"].startswith("hmac-sha256:")
    assert run([path], key_env=KEY_ENV) == OK
    assert run([path]) == UNREADABLE  # keyed lines and no key: cannot be checked
    assert "--key-env" in capsys.readouterr().err
    monkeypatch.setenv("ZT_TEST_OTHER_KEY", "not-the-key")
    assert run([path], key_env="ZT_TEST_OTHER_KEY") == BROKEN
    assert run([path], key_env="ZT_TEST_UNSET_KEY_VAR") == UNREADABLE
    # An attacker without the key can chain a forged line only with a wrong key or none at all.
    lines = lines_of(path)
    for forged in (forged_line(lines[1], 77, key=b"guess"), forged_line(lines[1], 77)):
        path.write_bytes(b"".join([*lines[:2], forged, *lines[2:]]))
        assert problem(path, key)[:2] == (3, "modified")  # type: ignore[index]
    # Rewriting the whole file as an unkeyed chain is consistent, but not with the key.
    unkeyed = chained_file(tmp_path, name="rewritten.jsonl")
    assert problem(unkeyed) is None
    assert problem(unkeyed, key)[:2] == (1, "modified")  # type: ignore[index]


def test_chain_on_stdout_stream() -> None:
    sink = io.BytesIO()
    log = AuditLog(sink, chain=HashChain())
    log.write(event(1))
    log.write(event(2))
    first, second = (orjson.loads(x) for x in sink.getvalue().splitlines())
    assert second["prev_hash"] == first["hash"] and first["prev_hash"] == GENESIS


def test_failed_write_does_not_advance_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog.open(path, chain=True, max_bytes=0)
    log.write(event(1))
    chain = log.chain
    assert chain is not None
    before = chain.last
    broken = AuditLog(sink=log._sink, chain=chain)
    log._sink.close()  # type: ignore[union-attr]
    broken.write(event(2))
    assert broken.failures == 1 and chain.last == before


# --- config and wiring ---------------------------------------------------------------------------------


def test_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(env={"ZTGATE__AUDIT__SINK": "otlp"})
    assert settings.audit.sink == "otlp" and settings.audit.max_bytes == 100 * 1024 * 1024 and settings.audit.backups == 5
    settings = load_settings(
        env={"ZTGATE__AUDIT__SINK": "file", "ZTGATE__AUDIT__PATH": "a.jsonl", "ZTGATE__AUDIT__CHAIN": "true", "ZTGATE__AUDIT__MAX_BYTES": "0"}
    )
    assert settings.audit.chain and settings.audit.max_bytes == 0
    with pytest.raises(ConfigError):
        load_settings(env={"ZTGATE__AUDIT__SINK": "syslog"})
    with pytest.raises(ConfigError):
        load_settings(env={"ZTGATE__AUDIT__BACKUPS": "0"})
    with pytest.raises(ConfigError):
        load_settings(env={"ZTGATE__AUDIT__MAX_BYTES": "-1"})

    from ztgate.server import _audit_log

    config = tmp_path / "ztgate.yaml"
    config.write_text(f"audit: {{sink: file, path: {tmp_path / 'a.jsonl'}, chain: true, chain_key_env: {KEY_ENV}}}\n")
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(ConfigError, match=KEY_ENV):
        _audit_log(load_settings(config, env={}))
    monkeypatch.setenv(KEY_ENV, "k")
    log = _audit_log(load_settings(config, env={}))
    assert log.chain is not None and log.chain.keyed
    log.close()


# --- OTLP logs to a real receiver ---------------------------------------------------------------------


class _Receiver(logs_service_pb2_grpc.LogsServiceServicer):
    def __init__(self) -> None:
        self.requests: list[logs_service_pb2.ExportLogsServiceRequest] = []
        self.received = threading.Condition()

    def Export(self, request, context):  # noqa: N802 - the gRPC method name
        with self.received:
            self.requests.append(request)
            self.received.notify_all()
        return logs_service_pb2.ExportLogsServiceResponse()

    def records(self) -> list[tuple[Any, Any]]:
        return [
            (resource_logs.resource, record)
            for request in self.requests
            for resource_logs in request.resource_logs
            for scope_logs in resource_logs.scope_logs
            for record in scope_logs.log_records
        ]


@pytest.fixture
def receiver() -> Iterator[tuple[_Receiver, int]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = _Receiver()
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(servicer, server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    try:
        yield servicer, port
    finally:
        server.stop(0)


def _value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in any_value.array_value.values]
    return getattr(any_value, kind)


def test_otlp_logs_reach_a_real_receiver(
    tmp_path: Path, receiver: tuple[_Receiver, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ztgate.telemetry.audit_otlp import OtlpAuditExporter

    servicer, port = receiver
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "ztgate-test")
    exporter = OtlpAuditExporter()
    path = tmp_path / "audit.jsonl"
    log = AuditLog.open(path, chain=True, exporter=exporter)
    log.write(event(0, findings={"pii:email": 2}))
    log.write(event(1, status=403, decision={"allowed": False, "http_status": 403, "reasons": ["model not allowed"]}))
    log.write(event(2, status=502, trace_id=None, span_id=None, error={"kind": "upstream", "message": "bad gateway"}))
    assert exporter.flush(10_000)
    log.close()  # shuts the provider down: everything queued is exported

    records = servicer.records()
    assert len(records) == 3
    resource, ok = records[0]
    resource_attrs = {a.key: _value(a.value) for a in resource.attributes}
    assert resource_attrs["service.name"] == "ztgate-test"
    lines = path.read_bytes().splitlines()
    by_id = {}
    for _, record in records:
        attrs = {a.key: _value(a.value) for a in record.attributes}
        by_id[attrs["ztgate.request_id"]] = (record, attrs)
    record, attrs = by_id["req-00000"]
    assert record.trace_id.hex() == TRACE_ID and record.span_id.hex() == SPAN_ID
    assert record.body.string_value.encode() == lines[0]  # the line as written, chain fields included
    assert record.event_name == "ztgate.audit"
    assert record.severity_number == 9 and record.severity_text == "INFO"
    assert record.time_unix_nano == 1_778_312_125_500_000_000
    assert attrs["ztgate.identity.subject"] == "alice" and attrs["ztgate.identity.groups"] == ["eng"]
    assert attrs["ztgate.decision.allowed"] is True and attrs["ztgate.findings.pii:email"] == 2
    assert attrs["ztgate.usage.input_tokens"] == 12 and attrs["gen_ai.usage.output_tokens"] == 34
    assert attrs["gen_ai.request.model"] == "gpt-4o" and attrs["http.response.status_code"] == 200
    assert not any(k.startswith("ztgate.content") or k in ("ztgate.hash", "ztgate.trace_id") for k in attrs)
    record, attrs = by_id["req-00001"]
    assert record.severity_text == "WARN" and attrs["ztgate.decision.reasons"] == ["model not allowed"]
    record, attrs = by_id["req-00002"]
    assert record.severity_text == "ERROR" and attrs["ztgate.error.kind"] == "upstream"
    assert record.trace_id == b"" or record.trace_id == bytes(16)


def test_otlp_only_sink_writes_no_line(receiver: tuple[_Receiver, int], capfdbinary: pytest.CaptureFixture[bytes]) -> None:
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter

    from ztgate.telemetry.audit_otlp import OtlpAuditExporter

    servicer, port = receiver
    exporter = OtlpAuditExporter(OTLPLogExporter(endpoint=f"http://127.0.0.1:{port}", insecure=True))
    log = AuditLog.open(None, exporter=exporter, lines=False)
    log.write(event(5, content={"prompt": ["secret plans"], "output": ["ok"]}))
    log.close()
    assert capfdbinary.readouterr().out == b""
    [(_, record)] = servicer.records()
    assert orjson.loads(record.body.string_value)["content"]["prompt"] == ["secret plans"]
    assert not any(a.key.startswith("ztgate.content") for a in record.attributes)
