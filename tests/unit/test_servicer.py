"""The protobuf edge: ExtProcServicer.Process fed real ext_proc ProcessingRequest messages.

No Envoy and no network: the request iterator is an async generator of the messages Envoy would send,
and the gRPC context is a small stand-in that only answers invocation_metadata(). The Gateway behind
the servicer is real (shipped policy, a keys file, an audit log in a temporary file).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, AsyncIterator, Iterable

import orjson
import pytest
from envoy.config.core.v3 import base_pb2
from envoy.extensions.filters.http.ext_proc.v3 import processing_mode_pb2
from envoy.service.ext_proc.v3 import external_processor_pb2 as pb
from google.protobuf import json_format, struct_pb2

from ztgate.config import load_settings
from ztgate.extproc.gateway import Gateway
from ztgate.extproc.servicer import ExtProcServicer
from ztgate.identity.keys import KeyStore, create_key
from ztgate.policy.engine import EmbeddedEngine
from ztgate.telemetry.audit import AuditLog

SHIPPED_POLICY = Path(__file__).resolve().parents[2] / "rego"
UPSTREAM_CREDENTIAL = "upstream-secret-for-openai"
TRACE_ID, SPAN_ID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
CHAT = {"model": "gpt-4o", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
JSON_RESPONSE = orjson.dumps(
    {
        "model": "gpt-4o-2024-08-06",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 2},
    }
)
OVERWRITE = base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD


class FakeContext:
    """The one thing Process asks of grpc.aio.ServicerContext: the call's gRPC metadata."""

    def __init__(self, metadata: Iterable[tuple[str, str]] = ()) -> None:
        self._metadata = tuple(metadata)

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata


class Harness:
    def __init__(self, servicer: ExtProcServicer, audit_path: Path, keys: dict[str, str]) -> None:
        self.servicer = servicer
        self.audit_path = audit_path
        self.keys = keys
        self.consumed = 0  # how many request messages the servicer pulled from the stream

    async def process(
        self, messages: Iterable[pb.ProcessingRequest | BaseException], context: FakeContext | None = None
    ) -> list[pb.ProcessingResponse]:
        """Run one Process stream to its end and return every response it sent."""
        self.consumed = 0

        async def requests() -> AsyncIterator[pb.ProcessingRequest]:
            for message in messages:
                if isinstance(message, BaseException):
                    raise message
                self.consumed += 1
                yield message

        return [r async for r in self.servicer.Process(requests(), context or FakeContext())]

    def audit(self) -> list[dict[str, Any]]:
        if not self.audit_path.exists():
            return []
        return [orjson.loads(line) for line in self.audit_path.read_bytes().splitlines()]


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    path = tmp_path_factory.mktemp("keys") / "keys.json"
    return path, {"alice": create_key(path, "alice", ["developers"]), "ivan": create_key(path, "ivan", ["interns"])}


@pytest.fixture(scope="module")
def engine() -> EmbeddedEngine:
    return EmbeddedEngine(SHIPPED_POLICY)


@pytest.fixture
def harness(tmp_path: Path, keys, engine: EmbeddedEngine, monkeypatch: pytest.MonkeyPatch) -> Harness:
    monkeypatch.setenv("ZT_SERVICER_TEST_OPENAI", UPSTREAM_CREDENTIAL)
    settings = load_settings(None, env={"ZTGATE__PROVIDERS__OPENAI__CREDENTIAL_ENV": "ZT_SERVICER_TEST_OPENAI"})
    keys_path, issued = keys
    audit_path = tmp_path / "audit.jsonl"
    gateway = Gateway(settings, engine, KeyStore.load(keys_path), AuditLog.open(audit_path))
    return Harness(ExtProcServicer(gateway), audit_path, issued)


# ---- the messages Envoy sends -----------------------------------------------------------------------


def _struct(values: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(values)
    return struct


def _attributes(values: dict[str, Any] | None) -> dict[str, struct_pb2.Struct]:
    return {"envoy.filters.http.ext_proc": _struct(values)} if values else {}


def request_headers(
    key: str | None,
    *,
    method: str = "POST",
    path: str = "/v1/chat/completions",
    end_of_stream: bool = False,
    jwt_claims: dict[str, Any] | None = None,
    extra: dict[str, str] | None = None,
) -> pb.ProcessingRequest:
    headers = {":method": method, ":path": path, ":authority": "gw", "x-request-id": "req-1"}
    headers |= {"content-type": "application/json", "user-agent": "OpenAI/Python 3.51.0"}
    if key is not None:
        headers["authorization"] = f"Bearer {key}"
    headers |= extra or {}
    message = pb.ProcessingRequest(
        request_headers=pb.HttpHeaders(
            headers=base_pb2.HeaderMap(
                headers=[base_pb2.HeaderValue(key=k, raw_value=v.encode()) for k, v in headers.items()]
            ),
            end_of_stream=end_of_stream,
        ),
        attributes=_attributes({"source.address": "10.0.0.7:41000", "request.id": "req-1"}),
    )
    if jwt_claims is not None:
        message.metadata_context.filter_metadata["envoy.filters.http.jwt_authn"].CopyFrom(
            _struct({"jwt_payload": jwt_claims})
        )
    return message


def request_body(body: dict[str, Any] | bytes) -> pb.ProcessingRequest:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return pb.ProcessingRequest(request_body=pb.HttpBody(body=raw, end_of_stream=True))


def response_body(chunk: bytes, end_of_stream: bool, status: int | None = None) -> pb.ProcessingRequest:
    return pb.ProcessingRequest(
        response_body=pb.HttpBody(body=chunk, end_of_stream=end_of_stream),
        attributes=_attributes({"response.code": status} if status is not None else None),
    )


def kinds(responses: list[pb.ProcessingResponse]) -> list[str | None]:
    return [r.WhichOneof("response") for r in responses]


def set_headers(mutation: pb.HeaderMutation) -> dict[str, str]:
    """The mutation's headers; each must use raw_value (Envoy ignores `value` when raw_value is set) and overwrite."""
    out = {}
    for option in mutation.set_headers:
        assert option.header.value == "" and option.header.raw_value, option
        assert option.append_action == OVERWRITE
        out[option.header.key] = option.header.raw_value.decode()
    return out


def ztgate_metadata(response: pb.ProcessingResponse) -> dict[str, Any]:
    return json_format.MessageToDict(response.dynamic_metadata)["ztgate"]


# ---- tests ------------------------------------------------------------------------------------------


async def test_allowed_exchange_gets_one_response_per_message_with_the_credential_swapped(harness: Harness) -> None:
    half = len(JSON_RESPONSE) // 2
    responses = await harness.process(
        [
            request_headers(harness.keys["alice"]),
            request_body(CHAT),
            response_body(JSON_RESPONSE[:half], False, status=200),
            response_body(JSON_RESPONSE[half:], True, status=200),
        ]
    )

    assert kinds(responses) == ["request_headers", "request_body", "response_body", "response_body"]
    assert responses[0] == pb.ProcessingResponse(request_headers=pb.HeadersResponse())
    decided = responses[1].request_body.response
    headers = set_headers(decided.header_mutation)
    assert headers["authorization"] == f"Bearer {UPSTREAM_CREDENTIAL}"
    assert headers["accept-encoding"] == "identity"
    assert set(decided.header_mutation.remove_headers) == {"x-api-key", "api-key", "x-goog-api-key"}
    assert decided.clear_route_cache is True
    assert not decided.HasField("body_mutation")
    meta = ztgate_metadata(responses[1])
    assert (meta["allowed"], meta["subject"], meta["model"], meta["provider"]) == (True, "alice", "gpt-4o", "openai")

    assert responses[2] == pb.ProcessingResponse(response_body=pb.BodyResponse())
    usage = ztgate_metadata(responses[3])
    assert (usage["input_tokens"], usage["output_tokens"]) == (9, 2)

    [line] = harness.audit()
    assert (line["status"], line["usage"], line["request_id"]) == (200, {"input_tokens": 9, "output_tokens": 2}, "req-1")
    assert line["source_address"] == "10.0.0.7:41000"


async def test_rewritten_body_is_a_body_mutation_with_its_content_length(harness: Harness) -> None:
    responses = await harness.process(
        [request_headers(harness.keys["alice"]), request_body({**CHAT, "stream": True})]
    )

    decided = responses[1].request_body.response
    body = decided.body_mutation.body
    assert orjson.loads(body)["stream_options"] == {"include_usage": True}
    assert set_headers(decided.header_mutation)["content-length"] == str(len(body))


async def test_denial_is_an_immediate_response_and_ends_the_stream(harness: Harness) -> None:
    responses = await harness.process(
        [
            request_headers(harness.keys["ivan"]),  # interns may not use gpt-4o
            request_body(CHAT),
            response_body(b"{}", True, status=200),  # never read: the stream is over
        ]
    )

    assert kinds(responses) == ["request_headers", "immediate_response"]
    assert harness.consumed == 2
    immediate = responses[1].immediate_response
    assert immediate.status.code == 403
    error = orjson.loads(immediate.body)["error"]
    assert error["message"] == 'model "gpt-4o" is not allowed for groups ["interns"]'
    assert set_headers(immediate.headers)["content-type"] == "application/json"
    assert immediate.details == "ztgate_denied"
    assert ztgate_metadata(responses[1])["allowed"] is False
    [line] = harness.audit()
    assert line["status"] == 403


async def test_unknown_key_is_refused_at_the_body_with_401(harness: Harness) -> None:
    responses = await harness.process([request_headers("zt-00000000-" + "x" * 43), request_body(CHAT)])

    assert kinds(responses) == ["request_headers", "immediate_response"]
    assert responses[1].immediate_response.status.code == 401
    assert orjson.loads(responses[1].immediate_response.body)["error"]["type"] == "authentication_error"


async def test_list_models_is_decided_in_the_headers_response(harness: Harness) -> None:
    responses = await harness.process(
        [request_headers(harness.keys["alice"], method="GET", path="/v1/models", end_of_stream=True)]
    )

    assert kinds(responses) == ["request_headers"]
    headers = set_headers(responses[0].request_headers.response.header_mutation)
    assert headers["authorization"] == f"Bearer {UPSTREAM_CREDENTIAL}"


async def test_jwt_verified_by_envoy_authenticates_the_caller(harness: Harness) -> None:
    claims = {"sub": "jane@example.com", "groups": ["developers", "ml"], "iss": "https://idp.example.com"}
    responses = await harness.process([request_headers(None, jwt_claims=claims), request_body(CHAT)])

    assert kinds(responses) == ["request_headers", "request_body"]
    meta = ztgate_metadata(responses[1])
    assert (meta["subject"], meta["auth_method"]) == ("jane@example.com", "jwt")
    [line] = harness.audit()
    assert line["identity"] == {"subject": "jane@example.com", "method": "jwt", "groups": ["developers", "ml"]}


async def test_trace_id_from_grpc_metadata_lands_in_the_audit_line(harness: Harness) -> None:
    context = FakeContext([("traceparent", f"00-{TRACE_ID}-{SPAN_ID}-01"), ("x-other", "ignored")])
    await harness.process([request_headers(harness.keys["alice"]), request_body(CHAT)], context)

    [line] = harness.audit()
    assert (line["trace_id"], line["span_id"]) == (TRACE_ID, SPAN_ID)


async def test_response_headers_and_trailers_pass_through(harness: Harness) -> None:
    response_headers = pb.ProcessingRequest(
        response_headers=pb.HttpHeaders(
            headers=base_pb2.HeaderMap(
                headers=[
                    base_pb2.HeaderValue(key=":status", raw_value=b"200"),
                    base_pb2.HeaderValue(key="content-type", raw_value=b"application/json"),
                ]
            )
        )
    )
    responses = await harness.process(
        [
            request_headers(harness.keys["alice"]),
            request_body(CHAT),
            pb.ProcessingRequest(request_trailers=pb.HttpTrailers()),
            response_headers,
            response_body(JSON_RESPONSE, False),
            pb.ProcessingRequest(response_trailers=pb.HttpTrailers()),
        ]
    )

    assert kinds(responses) == [
        "request_headers",
        "request_body",
        "request_trailers",
        "response_headers",
        "response_body",
        "response_trailers",
    ]
    assert responses[2] == pb.ProcessingResponse(request_trailers=pb.TrailersResponse())
    assert responses[3] == pb.ProcessingResponse(response_headers=pb.HeadersResponse())
    assert responses[5] == pb.ProcessingResponse(response_trailers=pb.TrailersResponse())
    [line] = harness.audit()
    assert line["status"] == 200  # from the response headers' :status


@pytest.mark.parametrize("cut_after", [1, 2, 3], ids=["after-headers", "after-request-body", "mid-response"])
async def test_client_disconnect_still_writes_exactly_one_audit_line(harness: Harness, cut_after: int) -> None:
    stream = b'data: {"model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n'
    messages: list[Any] = [
        request_headers(harness.keys["alice"]),
        request_body({**CHAT, "stream": True}),
        response_body(stream, False, status=200),
    ][:cut_after]
    messages.append(asyncio.CancelledError())  # Envoy resets the stream: grpc.aio cancels the handler

    with pytest.raises(asyncio.CancelledError):
        await harness.process(messages)

    [line] = harness.audit()
    assert line["request_id"] == "req-1"
    if cut_after == 3:
        assert (line["status"], line["error"]["kind"]) == (200, "disconnected")


# ---- full duplex (what envoy_config renders) ---------------------------------------------------------


def full_duplex(message: pb.ProcessingRequest) -> pb.ProcessingRequest:
    """Envoy puts the filter's protocol configuration on the first message of the stream."""
    message.protocol_config.request_body_mode = processing_mode_pb2.ProcessingMode.FULL_DUPLEX_STREAMED
    return message


def body_chunk(raw: bytes, end_of_stream: bool) -> pb.ProcessingRequest:
    return pb.ProcessingRequest(request_body=pb.HttpBody(body=raw, end_of_stream=end_of_stream))


async def test_full_duplex_holds_the_headers_until_the_body_decides(harness: Harness) -> None:
    raw = orjson.dumps(CHAT)
    responses = await harness.process(
        [
            full_duplex(request_headers(harness.keys["alice"])),
            body_chunk(raw[:10], False),
            body_chunk(raw[10:], False),
            body_chunk(b"", True),
            response_body(JSON_RESPONSE, True, status=200),
        ]
    )
    # No reply to the headers or the first chunks: the decision answers the headers, then sends the body.
    assert kinds(responses) == ["request_headers", "request_body", "response_body"]
    decided = responses[0].request_headers.response
    assert set_headers(decided.header_mutation)["authorization"] == f"Bearer {UPSTREAM_CREDENTIAL}"
    assert set_headers(decided.header_mutation)["content-length"] == str(len(raw))
    assert decided.clear_route_cache is True
    assert ztgate_metadata(responses[0])["allowed"] is True
    streamed = responses[1].request_body.response.body_mutation.streamed_response
    assert streamed.body == raw and streamed.end_of_stream is True


async def test_full_duplex_sends_the_rewritten_body(harness: Harness) -> None:
    body = {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    responses = await harness.process(
        [full_duplex(request_headers(harness.keys["alice"])), body_chunk(orjson.dumps(body), True)]
    )
    sent = orjson.loads(responses[1].request_body.response.body_mutation.streamed_response.body)
    assert sent["stream_options"] == {"include_usage": True}
    assert set_headers(responses[0].request_headers.response.header_mutation)["content-length"] == str(
        len(responses[1].request_body.response.body_mutation.streamed_response.body)
    )


async def test_full_duplex_refuses_an_oversized_body_before_its_end(harness: Harness) -> None:
    limit = harness.servicer._gateway.settings.extproc.max_body_bytes
    chunk = b"x" * (1024 * 1024)
    messages = [full_duplex(request_headers(harness.keys["alice"]))]
    messages += [body_chunk(chunk, False) for _ in range(limit // len(chunk) + 1)]
    messages += [body_chunk(chunk, False) for _ in range(10)]  # never read: the stream ends at the refusal
    responses = await harness.process(messages)
    assert kinds(responses) == ["immediate_response"]
    assert responses[0].immediate_response.status.code == 413
    assert harness.consumed == limit // len(chunk) + 2


async def test_full_duplex_body_ended_by_trailers(harness: Harness) -> None:
    raw = orjson.dumps(CHAT)
    responses = await harness.process(
        [
            full_duplex(request_headers(harness.keys["alice"])),
            body_chunk(raw, False),
            pb.ProcessingRequest(request_trailers=pb.HttpTrailers()),
        ]
    )
    assert kinds(responses) == ["request_headers", "request_body", "request_trailers"]
    streamed = responses[1].request_body.response.body_mutation.streamed_response
    assert streamed.body == raw and streamed.end_of_stream is False
