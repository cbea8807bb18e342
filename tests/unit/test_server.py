"""`ztgate serve` wiring: a real grpc.aio server on a free port, gRPC health, and a graceful stop."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import grpc
import orjson
import pytest
from envoy.config.core.v3 import base_pb2
from envoy.service.ext_proc.v3 import external_processor_pb2 as pb
from envoy.service.ext_proc.v3 import external_processor_pb2_grpc as pb_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ztgate.config import Settings, load_settings
from ztgate.identity.keys import create_key
from ztgate.server import EXTPROC_SERVICE, serve

SHIPPED_POLICY = Path(__file__).resolve().parents[2] / "rego"
SERVING, NOT_SERVING = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """serve() running as a task, with its settings and the key of a caller it knows."""

    def __init__(self, tmp_path: Path, grace_period_s: float) -> None:
        self.port = free_port()
        self.audit_path = tmp_path / "audit.jsonl"
        keys_path = tmp_path / "keys.json"
        self.key = create_key(keys_path, "alice", ["developers"])
        self.settings: Settings = load_settings(
            None,
            env={
                "ZTGATE__EXTPROC__PORT": str(self.port),
                "ZTGATE__STATUS__PORT": "0",
                "ZTGATE__CONTROL__PORT": "0",
                "ZTGATE__EXTPROC__GRACE_PERIOD_S": str(grace_period_s),
                "ZTGATE__POLICY__DIR": str(SHIPPED_POLICY),
                "ZTGATE__KEYS_FILE": str(keys_path),
                "ZTGATE__AUDIT__SINK": "file",
                "ZTGATE__AUDIT__PATH": str(self.audit_path),
                "ZTGATE__PROVIDERS__OPENAI__CREDENTIAL_ENV": "ZT_SERVER_TEST_OPENAI",
            },
        )
        self.ready, self.stop = asyncio.Event(), asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Server:
        self.task = asyncio.create_task(serve(self.settings, ready=self.ready, stop=self.stop))
        ready = asyncio.create_task(self.ready.wait())
        await asyncio.wait([ready, self.task], timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if self.task.done():
            self.task.result()  # serve() failed to start: raise its error
        assert self.ready.is_set(), "serve() did not become ready"
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.stop.set()
        assert self.task is not None
        await asyncio.wait_for(self.task, timeout=30)

    def audit(self) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in self.audit_path.read_bytes().splitlines()]


@pytest.fixture(autouse=True)
def upstream_credential(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZT_SERVER_TEST_OPENAI", "upstream-secret")


def chat_headers(key: str) -> pb.ProcessingRequest:
    headers = {":method": "POST", ":path": "/v1/chat/completions", ":authority": "gw", "x-request-id": "drain-1"}
    headers |= {"authorization": f"Bearer {key}", "content-type": "application/json"}
    return pb.ProcessingRequest(
        request_headers=pb.HttpHeaders(
            headers=base_pb2.HeaderMap(headers=[base_pb2.HeaderValue(key=k, raw_value=v.encode()) for k, v in headers.items()])
        )
    )


CHAT_BODY = pb.ProcessingRequest(
    request_body=pb.HttpBody(
        body=orjson.dumps({"model": "gpt-4o", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}),
        end_of_stream=True,
    )
)
RESPONSE_BODY = pb.ProcessingRequest(
    response_body=pb.HttpBody(body=b'{"usage":{"prompt_tokens":3,"completion_tokens":4}}', end_of_stream=True)
)


async def test_health_is_serving_for_both_names(tmp_path: Path) -> None:
    async with Server(tmp_path, grace_period_s=5) as server:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            for service in ("", EXTPROC_SERVICE):
                reply = await health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
                assert reply.status == SERVING, service


async def test_stop_reports_not_serving_and_lets_an_inflight_stream_finish(tmp_path: Path) -> None:
    grace = 5.0
    async with Server(tmp_path, grace_period_s=grace) as server:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=EXTPROC_SERVICE))
            assert (await watch.read()).status == SERVING

            call = pb_grpc.ExternalProcessorStub(channel).Process()
            await call.write(chat_headers(server.key))
            assert (await call.read()).WhichOneof("response") == "request_headers"

            server.stop.set()  # SIGTERM while the exchange is half way through
            started = asyncio.get_running_loop().time()
            assert (await asyncio.wait_for(watch.read(), 5)).status == NOT_SERVING
            watch.cancel()

            await call.write(CHAT_BODY)
            decided = await call.read()
            headers = {h.header.key: h.header.raw_value for h in decided.request_body.response.header_mutation.set_headers}
            assert headers["authorization"] == b"Bearer upstream-secret"
            await call.write(RESPONSE_BODY)
            assert (await call.read()).WhichOneof("response") == "response_body"
            await call.done_writing()
            assert await call.read() is grpc.aio.EOF
            assert await call.code() == grpc.StatusCode.OK

            assert server.task is not None
            await asyncio.wait_for(server.task, timeout=grace)
            assert asyncio.get_running_loop().time() - started < grace, "stop waited out the grace period"

    [line] = server.audit()
    usage = {k: line["usage"][k] for k in ("input_tokens", "output_tokens")}
    assert (line["request_id"], usage) == ("drain-1", {"input_tokens": 3, "output_tokens": 4})


async def test_a_stream_that_never_ends_is_cut_at_the_grace_period(tmp_path: Path) -> None:
    grace = 0.3
    async with Server(tmp_path, grace_period_s=grace) as server:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            call = pb_grpc.ExternalProcessorStub(channel).Process()
            await call.write(chat_headers(server.key))
            await call.read()

            server.stop.set()
            started = asyncio.get_running_loop().time()
            assert server.task is not None
            await asyncio.wait_for(server.task, timeout=5)
            elapsed = asyncio.get_running_loop().time() - started
            assert grace * 0.8 <= elapsed < grace + 2
            assert await asyncio.wait_for(call.code(), 5) != grpc.StatusCode.OK

    # The cut exchange is still accounted for.
    [line] = server.audit()
    assert line["request_id"] == "drain-1"
