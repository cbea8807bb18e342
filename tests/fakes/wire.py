"""The HTTP side every provider handler shares: admission, knobs, recording, JSON/SSE responses.

A provider module describes its wire conventions once as a ``Dialect`` (error body, credential
check, response headers); the helpers here apply them, so the knobs (delay, status, gzip, body
size, chunk delay) behave the same on every route of every provider.
"""

from __future__ import annotations

import asyncio
import gzip
import zlib
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Protocol

from aiohttp import web

from .common import Answer, Knobs, RecordedRequest
from .sse import Events

JSON = "application/json"
SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"
_SSE_HEADERS_BASE = {"Cache-Control": "no-cache"}


class State(Protocol):
    """What handlers read from the running FakeProvider (mutable while it runs)."""

    credentials: dict[str, str | None]
    defaults: dict[str, str]
    requests: list[RecordedRequest]


STATE = web.AppKey("fake_provider.state", State)
REC = web.RequestKey("fake_provider.rec", RecordedRequest)
KNOBS = web.RequestKey("fake_provider.knobs", Knobs)


class Reject(Exception):
    """Raised inside a handler to answer with a provider-formatted error."""

    def __init__(self, status: int, message: str | None = None, *, forced: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.forced = forced


@dataclass(frozen=True)
class Dialect:
    """One provider's wire conventions: the small interface every provider module implements.

    ``admit(request, expected_key)`` raises Reject (401 for a bad credential, or 400 for a missing
    required header); ``expected_key`` is None when the credential check is disabled.
    """

    name: str  # recorded as RecordedRequest.provider and used to look up the credential
    error_body: Callable[[int, str | None], bytes]
    admit: Callable[[web.Request, str | None], None]
    response_headers: Callable[[], dict[str, str]]
    json_content_type: str = JSON


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The ``authorization`` credential: the token of ``Bearer <token>``, else the raw value."""
    auth = headers.get("authorization")
    if auth is None:
        return None
    scheme, _, rest = auth.partition(" ")
    return rest.strip() if scheme.lower() == "bearer" else auth


def require_keys(
    presented: Iterable[str | None], expected: str, missing: str, invalid: str | Callable[[str], str]
) -> None:
    """Refuse (401) unless a key is present and EVERY presented key is the expected one.

    Checking every accepted header means a client credential that ztgate forgot to strip fails.
    """
    keys = [v for v in presented if v is not None]
    if not keys:
        raise Reject(401, missing)
    wrong = next((v for v in keys if v != expected), None)
    if wrong is not None:
        raise Reject(401, invalid(wrong) if callable(invalid) else invalid)


def knobs_for(request: web.Request) -> Knobs:
    """The request's knobs (headers over server defaults), remembered for its error answer."""
    h = request.headers
    d = request.app[STATE].defaults

    def get(name: str) -> str | None:
        v = h.get(name)
        return v if v is not None else d.get(name)

    k = Knobs.parse(get)
    request[KNOBS] = k
    return k


async def prelude(request: web.Request, dialect: Dialect) -> Knobs:
    """Record the provider, apply delay, check the credential and the status knob."""
    request[REC].provider = dialect.name
    knobs = knobs_for(request)
    if knobs.delay_ms > 0:
        await asyncio.sleep(knobs.delay_ms / 1000.0)
    dialect.admit(request, request.app[STATE].credentials.get(dialect.name))
    if knobs.status >= 400:
        raise Reject(knobs.status, None, forced=True)
    return knobs


def json_body(request: web.Request, *required: str) -> dict:
    """The parsed JSON object body, validated lightly as the real APIs do (else 400)."""
    body = request[REC].json
    if not isinstance(body, dict):
        raise Reject(400, "We could not parse the JSON body of your request.")
    for key in required:
        if key not in body:
            raise Reject(400, f"{key}: Field required")
    return body


def record_usage(request: web.Request, input_tokens: int) -> None:
    """Record the usage of an answer without output (embeddings, token counting)."""
    request[REC].usage = {"input_tokens": input_tokens, "output_tokens": 0, "cache_read_input_tokens": 0}


def record_answer(request: web.Request, a: Answer) -> None:
    """Record what the fake answered, so tests can compare it with what ztgate reports."""
    rec = request[REC]
    rec.answer = a.text
    if a.is_tool:
        rec.tool_call = {"name": a.tool_name, "arguments": a.tool_args}
    rec.usage = {
        "input_tokens": a.input_tokens,
        "output_tokens": a.output_tokens,
        "cache_read_input_tokens": a.cached_tokens,
    }


def json_response(
    dialect: Dialect, body: bytes, knobs: Knobs, status: int = 200, extra: dict[str, str] | None = None
) -> web.Response:
    """A JSON answer with the provider's headers, gzipped when the gzip knob asks."""
    headers = dialect.response_headers()
    headers["Content-Type"] = dialect.json_content_type
    if extra:
        headers.update(extra)
    if knobs.gzip:
        body = gzip.compress(body, compresslevel=1, mtime=0)
        headers["Content-Encoding"] = "gzip"
    return web.Response(body=body, status=status, headers=headers)


def error_response(
    dialect: Dialect, status: int, message: str | None, knobs: Knobs, *, forced: bool = False
) -> web.Response:
    """An error in the provider's format; a forced one (status knob) tells SDKs not to retry."""
    extra: dict[str, str] = {}
    if forced:
        extra["x-should-retry"] = "false"
        if status == 429:
            extra["retry-after"] = "1"
    return json_response(dialect, dialect.error_body(status, message), knobs, status, extra)


async def stream_events(
    request: web.Request, dialect: Dialect, events: Events, knobs: Knobs, *, content_type: str = SSE_CONTENT_TYPE
) -> web.StreamResponse:
    """Write a rendered stream, with the chunk-delay knob and incremental gzip (sync flush per event)."""
    head, body, tail = events
    headers = dialect.response_headers()
    headers.update(_SSE_HEADERS_BASE)
    headers["Content-Type"] = content_type
    comp = None
    if knobs.gzip:
        headers["Content-Encoding"] = "gzip"
        comp = zlib.compressobj(1, zlib.DEFLATED, 31)
    resp = web.StreamResponse(status=200, headers=headers)
    await resp.prepare(request)
    delay = knobs.chunk_delay_ms / 1000.0

    async def write(data: bytes) -> None:
        if comp is not None:
            data = comp.compress(data) + comp.flush(zlib.Z_SYNC_FLUSH)
        await resp.write(data)

    try:
        for data in head:
            await write(data)
        for data in body:
            if delay:
                await asyncio.sleep(delay)
            await write(data)
        for data in tail:
            await write(data)
        if comp is not None:
            await resp.write(comp.flush(zlib.Z_FINISH))
        await resp.write_eof()
    except ConnectionError:  # the client went away mid-stream (benchmarks cancel requests)
        pass
    return resp


def pad_json(a: Answer, knobs: Knobs, render: Callable[[], bytes]) -> bytes:
    """Render, then pad the answer text so the whole body is about ``x-fake-body-bytes``."""
    body = render()
    if knobs.body_bytes and not a.is_tool and len(body) < knobs.body_bytes:
        a.pad(knobs.body_bytes - len(body))
        body = render()
    return body


async def reply(
    request: web.Request,
    dialect: Dialect,
    a: Answer,
    knobs: Knobs,
    *,
    stream: bool,
    render_json: Callable[[], bytes],
    render_events: Callable[[], Events],
    content_type: str = SSE_CONTENT_TYPE,
) -> web.StreamResponse:
    """Answer a generation request as JSON or as a stream: the flow every provider shares."""
    if stream:
        record_answer(request, a)
        return await stream_events(request, dialect, render_events(), knobs, content_type=content_type)
    payload = pad_json(a, knobs, render_json)
    record_answer(request, a)
    return json_response(dialect, payload, knobs)
