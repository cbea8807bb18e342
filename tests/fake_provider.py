#!/usr/bin/env python3
"""A fake upstream LLM provider for ztgate's end-to-end tests and benchmarks.

No real provider is reachable from the test machine, so Envoy's provider clusters point at this
server. It answers in each provider's real wire format (JSON and SSE streaming), closely enough that
the official ``openai``, ``anthropic`` and ``google-genai`` SDKs parse its answers as real ones.

Use it in-process::

    async with FakeProvider() as fp:      # on the running event loop
        ... fp.url ...
    with FakeProvider() as fp:            # on its own event loop in a background thread
        ... fp.url ...                    # (safe to call sync SDK clients from the test)

or as a script (benchmarks)::

    python tests/fake_provider.py --port 18080 [--host 127.0.0.1]   # prints "READY <url>"

Python API
----------
``FakeProvider(host="127.0.0.1", port=0, credentials=None, defaults=None)``
  credentials: {"openai", "anthropic", "gemini", "azure_openai"} -> expected key (merged over
  DEFAULT_CREDENTIALS; None disables the check); defaults: knob header -> value used when a
  request lacks that header (``fp.defaults`` may be changed while running).
``fp.url`` "http://127.0.0.1:<port>", ``fp.host``, ``fp.port``
``fp.requests``  list of RecordedRequest (method, path with query, headers with lower-case names,
  body bytes, json or None, plus provider, status, answer, tool_call, usage as the fake answered)
``fp.last``  the latest request; ``fp.requests_to(prefix)``; ``fp.clear()``
``await fp.start()`` / ``await fp.stop()``; ``fp.build_app()`` (the aiohttp Application).

Routes
------
OpenAI      POST /v1/chat/completions, POST /v1/responses, POST /v1/embeddings,
            GET /v1/models, GET /v1/models/{model}
Azure       POST /openai/deployments/{deployment}/chat/completions (and .../embeddings)
Anthropic   POST /v1/messages, POST /v1/messages/count_tokens
Gemini      POST /v1beta/models/{model}:generateContent, :streamGenerateContent (``?alt=sse`` for
            SSE, events separated by CRLF CRLF as the real API; without alt=sse a streamed JSON
            array), :countTokens; GET /v1beta/models, GET /v1beta/models/{model}.
            The same under /v1/ (google-genai >= 3 defaults to api_version "v1").
GET /v1/models[/{id}] is shared: Gemini format when the request has ``x-goog-api-key`` or
``?key=``, Anthropic format when it has ``x-api-key`` or ``anthropic-version``, else OpenAI.
Unknown routes answer 404 in the (guessed) provider's error format and are recorded too.

Answers (deterministic)
-----------------------
* text answer: ``"echo: " + <text of the last user-side message>[:200]`` (``x-fake-answer``
  replaces it verbatim). The "last user-side message" is the last user message or tool result
  (OpenAI role user/tool, Responses user item/function_call_output, Anthropic user message incl.
  tool_result text, Gemini user/function content incl. functionResponse as compact JSON); its text
  parts are joined with "\\n".
* tool call: when the request offers tools and the last user-side message is a user message (not a
  tool result) whose own text contains ``CALL_TOOL``, the answer is a call of the FIRST offered
  function tool, with arguments generated from its JSON schema (string -> "fake", integer/number
  -> 1, boolean -> true, array -> [], object -> recursive, enum -> first value) or
  ``x-fake-tool-args`` verbatim. Streamed as argument fragments (OpenAI, Responses, Anthropic);
  Gemini sends a functionCall whole in one event, as the real API does.
* the model field echoes the requested model (Azure: body "model" or else the deployment name).
* Azure answers carry prompt_filter_results / content_filter_results, and an Azure stream starts
  with the real service's chunk with ``"choices": []``, empty id/model/object and
  prompt_filter_results.

Usage (deterministic)
---------------------
* ``input_tokens  = words(all message text) + 3`` where words(s) = len(s.split()) summed over every
  text string of the conversation: system/instructions/systemInstruction, every message's text
  parts, tool results (Gemini functionResponse as compact JSON). Tool definitions, images and the
  arguments of earlier tool calls are not counted.
* ``output_tokens = words(answer text)``; for a tool call ``words(f"{name} {arguments_json}")``.
* cached tokens = ``x-fake-cache-read`` (default 0): Anthropic ``cache_read_input_tokens``
  (in addition to input_tokens, as Anthropic reports it), OpenAI ``prompt_tokens_details.cached_tokens``
  / Responses ``input_tokens_details.cached_tokens`` (a part of prompt tokens), Gemini
  ``cachedContentTokenCount``. Anthropic ``cache_creation_input_tokens`` is always 0.
* embeddings: ``prompt_tokens = words(all inputs)`` (a token-id input counts one per id).
* count_tokens / countTokens return the same input_tokens figure.
Field names: OpenAI chat prompt_tokens/completion_tokens; Responses input_tokens/output_tokens;
Anthropic input_tokens/output_tokens (message_start carries output_tokens=1, message_delta the
final total); Gemini promptTokenCount/candidatesTokenCount (usageMetadata only on the last event).
Each recorded request carries the ``answer`` and ``usage`` the fake produced.

Knobs (request headers; ``FakeProvider(defaults={...})`` sets server-wide defaults)
-------------------------------------------------------------------------------------
x-fake-chunks: N          number of SSE content events (default 5). The answer is split by
                          characters into N near-equal pieces; an answer shorter than N
                          characters is padded with filler words first. Tool arguments are split
                          into at most N fragments.
x-fake-body-bytes: N      JSON answers: pad the answer text with filler words so the whole body is
                          about N bytes. SSE answers: pad the answer text to about N characters.
                          Filler words count in output_tokens.
x-fake-status: S          answer with status S (>= 400) in the provider's error format (after the
                          credential check), with ``x-should-retry: false`` (and ``retry-after: 1``
                          for 429) so SDKs do not retry.
x-fake-gzip: 1            gzip the response (``content-encoding: gzip``), even if not asked; SSE
                          is compressed incrementally (sync flush per event).
x-fake-delay-ms: N        wait N ms before answering.
x-fake-chunk-delay-ms: N  wait N ms before each streamed content event (default 0: events are
                          written back to back, so TCP may coalesce them).
x-fake-answer: TEXT       use TEXT as the answer instead of the echo.
x-fake-tool-args: JSON    use this JSON string as the tool call's arguments.
x-fake-cache-read: N      cached input tokens to report (see Usage).

Credentials
-----------
Each provider route requires its credential, like the real API, else 401 in the provider's error
format: OpenAI ``authorization: Bearer <k>``; Azure ``api-key`` (or ``authorization: Bearer``);
Anthropic ``x-api-key`` or ``authorization: Bearer`` (the current anthropic SDK sends API keys as a
bearer token), plus a required ``anthropic-version`` header (400 without); Gemini
``x-goog-api-key`` or ``?key=`` (the real Gemini API answers 400 API_KEY_INVALID / 403 for a
bad / missing key; the fake answers 401 UNAUTHENTICATED). EVERY credential header the provider
accepts that is present must carry the configured value, so a client credential that ztgate
forgot to strip is refused too. A credential set to None disables the check for that provider.
Bodies are validated lightly, as the real APIs do (JSON object; model/messages, Anthropic
max_tokens, Gemini contents required) -> 400 in the provider's format.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import itertools
import secrets
import signal
import socket
import struct
import sys
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import orjson
from aiohttp import web

__all__ = [
    "DEFAULT_CREDENTIALS",
    "DEFAULT_CHUNKS",
    "FakeProvider",
    "RecordedRequest",
    "words",
]

DEFAULT_CREDENTIALS: dict[str, str | None] = {
    "openai": "sk-upstream-openai",
    "anthropic": "sk-ant-upstream",
    "gemini": "AIza-upstream-gemini",
    "azure_openai": "azure-upstream",
}
DEFAULT_CHUNKS = 5
ECHO_PREFIX = "echo: "
ECHO_LIMIT = 200
PROMPT_OVERHEAD = 3
TOOL_TRIGGER = "CALL_TOOL"
EMBEDDING_DIMENSIONS = 1536
MAX_BODY = 64 * 1024 * 1024

_FILLER_UNIT = (
    " lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut"
    " labore et dolore magna aliqua ut enim ad minim veniam quis nostrud exercitation ullamco"
)
_FILLER = _FILLER_UNIT * (65536 // len(_FILLER_UNIT) + 1)

OPENAI_MODELS = (
    "gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-5", "gpt-5-mini", "o3-mini",
    "text-embedding-3-small", "text-embedding-3-large",
)
ANTHROPIC_MODELS = ("claude-opus-4-1", "claude-sonnet-4-5", "claude-haiku-4-5", "claude-3-5-haiku-latest")
GEMINI_MODELS = ("gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite", "gemini-2.0-flash")

_JSON = "application/json"
_SSE_HEADERS_BASE = {"Cache-Control": "no-cache"}


def words(text: str) -> int:
    """The fake's token count of a text: its number of whitespace-separated words."""
    return len(text.split())


def _filler(n: int) -> str:
    if n <= 0:
        return ""
    if n <= len(_FILLER):
        return _FILLER[:n]
    return (_FILLER * (n // len(_FILLER) + 1))[:n]


def _split(text: str, n: int) -> list[str]:
    """Split text into n near-equal pieces by characters (fewer if text is shorter)."""
    n = max(1, min(n, len(text)))
    q, r = divmod(len(text), n)
    out = []
    i = 0
    for k in range(n):
        j = i + q + (1 if k < r else 0)
        out.append(text[i:j])
        i = j
    return out


_id_prefix = secrets.token_hex(4)
_id_counter = itertools.count(1)


def _new_id(kind: str) -> str:
    return f"{kind}{_id_prefix}{next(_id_counter):012x}"


# --------------------------------------------------------------------------------------------
# Recorded requests, knobs, answers
# --------------------------------------------------------------------------------------------


@dataclass
class RecordedRequest:
    method: str
    path: str  # with the query string
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes
    json: Any  # parsed body, or None
    provider: str | None = None  # "openai" | "azure_openai" | "anthropic" | "gemini" | None
    status: int | None = None  # status the fake answered
    answer: str | None = None  # answer text the fake produced ("" for a tool call)
    tool_call: dict[str, Any] | None = None  # {"name", "arguments"} when it answered a tool call
    usage: dict[str, int] | None = None  # {"input_tokens", "output_tokens", "cache_read_input_tokens"}

    @property
    def query(self) -> str:
        return self.path.partition("?")[2]


def _int(value: str | None, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(float(value))
    except ValueError:
        return default


@dataclass
class Knobs:
    chunks: int = DEFAULT_CHUNKS
    body_bytes: int = 0
    status: int = 0
    gzip: bool = False
    delay_ms: float = 0.0
    chunk_delay_ms: float = 0.0
    answer: str | None = None
    tool_args: str | None = None
    cache_read: int = 0


@dataclass
class Answer:
    model: str
    input_tokens: int
    text: str = ""
    tool_name: str | None = None
    tool_args: str | None = None
    tool_id: str = ""
    output_tokens: int = 0
    cached_tokens: int = 0
    pieces: list[str] = field(default_factory=list)

    @property
    def is_tool(self) -> bool:
        return self.tool_name is not None

    def tool_input(self) -> Any:
        try:
            return orjson.loads(self.tool_args or "{}")
        except orjson.JSONDecodeError:
            return {}

    def pad(self, n: int) -> None:
        self.text += _filler(n)
        self.output_tokens = words(self.text)


@dataclass
class Conversation:
    """What the fake needs from a provider request, in neutral form."""

    texts: list[str]  # every text string (for input_tokens)
    last_text: str  # text of the last user-side message (echoed)
    trigger_text: str  # own text of that message if it is a user message (for CALL_TOOL)
    tool: tuple[str, Any] | None  # (name, JSON schema) of the first offered function tool


def _sample_for_schema(schema: Any, depth: int = 0) -> Any:
    if not isinstance(schema, dict) or depth > 6:
        return None
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    if "const" in schema:
        return schema["const"]
    typ = schema.get("type")
    if isinstance(typ, list):
        typ = next((t for t in typ if t != "null"), None)
    if isinstance(typ, str):
        typ = typ.lower()
    if typ is None:
        if "properties" in schema:
            typ = "object"
        else:
            for key in ("anyOf", "oneOf", "any_of", "allOf"):
                alts = schema.get(key)
                if isinstance(alts, list) and alts:
                    return _sample_for_schema(alts[0], depth + 1)
            return None
    if typ == "object":
        props = schema.get("properties") or {}
        return {k: _sample_for_schema(v, depth + 1) for k, v in props.items()} if isinstance(props, dict) else {}
    if typ == "array":
        return []
    if typ == "string":
        return "fake"
    if typ in ("integer", "number"):
        return 1
    if typ == "boolean":
        return True
    return None


def _tool_arguments(schema: Any) -> str:
    args = _sample_for_schema(schema)
    if not isinstance(args, dict):
        args = {}
    return orjson.dumps(args).decode()


# ---- per-provider request readers ----------------------------------------------------------


def _part_texts(content: Any) -> list[str]:
    """Text strings of OpenAI-style content: a string or a list of parts with "text"."""
    if isinstance(content, str):
        return [content]
    out: list[str] = []
    if isinstance(content, list):
        for p in content:
            if isinstance(p, dict):
                t = p.get("text")
                if isinstance(t, str):
                    out.append(t)
            elif isinstance(p, str):
                out.append(p)
    return out


def _read_openai_chat(body: dict) -> Conversation:
    texts: list[str] = []
    last = trigger = ""
    for m in body.get("messages") or ():
        if not isinstance(m, dict):
            continue
        ts = _part_texts(m.get("content"))
        texts.extend(ts)
        role = m.get("role")
        if role in ("user", "tool", "function"):
            last = "\n".join(ts)
            trigger = last if role == "user" else ""
    tool = None
    for t in body.get("tools") or ():
        if isinstance(t, dict) and t.get("type", "function") == "function":
            f = t.get("function") or {}
            if isinstance(f, dict) and f.get("name"):
                tool = (f["name"], f.get("parameters"))
                break
    return Conversation(texts, last, trigger, tool)


def _read_responses(body: dict) -> Conversation:
    texts: list[str] = []
    last = trigger = ""
    instructions = body.get("instructions")
    items: list[Any] = []
    if isinstance(instructions, str):
        texts.append(instructions)
    elif isinstance(instructions, list):
        items.extend(instructions)
    inp = body.get("input")
    if isinstance(inp, str):
        texts.append(inp)
        last = trigger = inp
    elif isinstance(inp, list):
        items.extend(inp)
    for item in items:
        if not isinstance(item, dict):
            continue
        typ = item.get("type")
        if typ in ("function_call_output", "custom_tool_call_output"):
            out = item.get("output")
            ts = _part_texts(out)
            texts.extend(ts)
            last, trigger = "\n".join(ts), ""
        elif item.get("role") is not None and typ in (None, "message"):
            ts = _part_texts(item.get("content"))
            texts.extend(ts)
            if item.get("role") == "user":
                last = trigger = "\n".join(ts)
    tool = None
    for t in body.get("tools") or ():
        if isinstance(t, dict) and t.get("type") == "function" and t.get("name"):
            tool = (t["name"], t.get("parameters"))
            break
    return Conversation(texts, last, trigger, tool)


def _anthropic_blocks(content: Any) -> tuple[list[str], list[str]]:
    """(all texts in order, the message's own text blocks)."""
    if isinstance(content, str):
        return [content], [content]
    all_t: list[str] = []
    own: list[str] = []
    if isinstance(content, list):
        for b in content:
            if not isinstance(b, dict):
                continue
            typ = b.get("type")
            if typ == "text" and isinstance(b.get("text"), str):
                all_t.append(b["text"])
                own.append(b["text"])
            elif typ == "tool_result":
                all_t.extend(_part_texts(b.get("content")))
    return all_t, own


def _read_anthropic(body: dict) -> Conversation:
    texts: list[str] = _part_texts(body.get("system"))
    last = trigger = ""
    for m in body.get("messages") or ():
        if not isinstance(m, dict):
            continue
        all_t, own = _anthropic_blocks(m.get("content"))
        texts.extend(all_t)
        if m.get("role") == "user":
            last, trigger = "\n".join(all_t), "\n".join(own)
    tool = None
    for t in body.get("tools") or ():
        if isinstance(t, dict) and t.get("name") and ("input_schema" in t or t.get("type") in (None, "custom")):
            tool = (t["name"], t.get("input_schema"))
            break
    return Conversation(texts, last, trigger, tool)


def _gemini_parts(content: Any) -> tuple[list[str], list[str]]:
    all_t: list[str] = []
    own: list[str] = []
    parts = content.get("parts") if isinstance(content, dict) else None
    for p in parts or ():
        if not isinstance(p, dict):
            continue
        if isinstance(p.get("text"), str) and not p.get("thought"):
            all_t.append(p["text"])
            own.append(p["text"])
        else:
            fr = p.get("functionResponse") or p.get("function_response")
            if isinstance(fr, dict):
                all_t.append(orjson.dumps(fr.get("response")).decode())
    return all_t, own


def _read_gemini(body: dict) -> Conversation:
    system = body.get("systemInstruction") or body.get("system_instruction")
    texts, _ = _gemini_parts(system)
    last = trigger = ""
    for c in body.get("contents") or ():
        if not isinstance(c, dict):
            continue
        all_t, own = _gemini_parts(c)
        texts.extend(all_t)
        if c.get("role") in (None, "", "user", "function", "tool"):
            last, trigger = "\n".join(all_t), "\n".join(own)
    tool = None
    for t in body.get("tools") or ():
        if not isinstance(t, dict):
            continue
        for fd in t.get("functionDeclarations") or t.get("function_declarations") or ():
            if isinstance(fd, dict) and fd.get("name"):
                schema = None
                for key in ("parametersJsonSchema", "parameters_json_schema", "parameters"):
                    if fd.get(key) is not None:
                        schema = fd[key]
                        break
                tool = (fd["name"], schema)
                break
        if tool:
            break
    return Conversation(texts, last, trigger, tool)


def _plan(conv: Conversation, model: str, knobs: Knobs, *, stream: bool) -> Answer:
    ans = Answer(
        model=model,
        input_tokens=sum(words(t) for t in conv.texts) + PROMPT_OVERHEAD,
        cached_tokens=knobs.cache_read,
    )
    if conv.tool is not None and TOOL_TRIGGER in conv.trigger_text:
        name, schema = conv.tool
        ans.tool_name = name
        ans.tool_args = knobs.tool_args if knobs.tool_args is not None else _tool_arguments(schema)
        ans.output_tokens = words(f"{name} {ans.tool_args}")
        if stream:
            ans.pieces = _split(ans.tool_args, knobs.chunks) if ans.tool_args else []
        return ans
    text = knobs.answer if knobs.answer is not None else ECHO_PREFIX + conv.last_text[:ECHO_LIMIT]
    if stream:
        if knobs.body_bytes > len(text):
            text += _filler(knobs.body_bytes - len(text))
        if len(text) < knobs.chunks:
            text += _filler(knobs.chunks - len(text))
        ans.pieces = _split(text, knobs.chunks)
    ans.text = text
    ans.output_tokens = words(text)
    return ans


# --------------------------------------------------------------------------------------------
# Error bodies in each provider's format
# --------------------------------------------------------------------------------------------

_OPENAI_ERR = {
    400: ("invalid_request_error", None, "Invalid request (fake provider)."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Country, region, or territory not supported."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist or you do not have access to it."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests (fake provider). Please try again in 1s."),
    500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
    503: ("server_error", "service_unavailable", "The server is overloaded or not ready yet."),
}
_ANTHROPIC_ERR = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_GEMINI_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def error_body(provider: str | None, status: int, message: str | None = None) -> bytes:
    """The error body the real provider would send for this status."""
    if provider == "anthropic":
        typ = _ANTHROPIC_ERR.get(status, "api_error" if status >= 500 else "invalid_request_error")
        return orjson.dumps(
            {
                "type": "error",
                "error": {"type": typ, "message": message or f"{typ} (fake provider, status {status})"},
                "request_id": _new_id("req_"),
            }
        )
    if provider == "gemini":
        st = _GEMINI_STATUS.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION")
        return orjson.dumps(
            {"error": {"code": status, "message": message or f"{st} (fake provider)", "status": st}}
        )
    if provider == "azure_openai":
        return orjson.dumps(
            {"error": {"code": str(status), "message": message or f"Request failed with status {status} (fake provider)."}}
        )
    typ, code, default = _OPENAI_ERR.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None, f"Error {status} (fake provider).")
    )
    return orjson.dumps({"error": {"message": message or default, "type": typ, "param": None, "code": code}})


# --------------------------------------------------------------------------------------------
# Response renderers
# --------------------------------------------------------------------------------------------


def _openai_usage(a: Answer) -> dict:
    return {
        "prompt_tokens": a.input_tokens,
        "completion_tokens": a.output_tokens,
        "total_tokens": a.input_tokens + a.output_tokens,
        "prompt_tokens_details": {"cached_tokens": a.cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


_AZURE_FILTER = {
    "hate": {"filtered": False, "severity": "safe"},
    "self_harm": {"filtered": False, "severity": "safe"},
    "sexual": {"filtered": False, "severity": "safe"},
    "violence": {"filtered": False, "severity": "safe"},
}
_AZURE_PROMPT_FILTER = [{"prompt_index": 0, "content_filter_results": _AZURE_FILTER}]


def _render_chat_json(a: Answer, rid: str, created: int, azure: bool) -> bytes:
    if a.is_tool:
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": a.tool_id, "type": "function", "function": {"name": a.tool_name, "arguments": a.tool_args}}
            ],
            "refusal": None,
            "annotations": [],
        }
        finish = "tool_calls"
    else:
        message = {"role": "assistant", "content": a.text, "refusal": None, "annotations": []}
        finish = "stop"
    choice: dict[str, Any] = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
    obj: dict[str, Any] = {
        "id": rid,
        "object": "chat.completion",
        "created": created,
        "model": a.model,
        "choices": [choice],
        "usage": _openai_usage(a),
        "service_tier": "default",
        "system_fingerprint": "fp_fake",
    }
    if azure:
        choice["content_filter_results"] = _AZURE_FILTER
        obj["prompt_filter_results"] = _AZURE_PROMPT_FILTER
    return orjson.dumps(obj)


def _sse_data(obj: Any) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def _sse_event(name: str, obj: Any) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(obj) + b"\n\n"


_HOLE = "\x00"
_HOLE_JSON = orjson.dumps(_HOLE)


def _put(obj: Any, piece: str) -> Any:
    if isinstance(obj, dict):
        return {k: _put(v, piece) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_put(v, piece) for v in obj]
    return piece if obj is _HOLE else obj


def _fill(obj: Any, pieces: list[str], prefix: bytes = b"data: ", suffix: bytes = b"\n\n") -> list[bytes]:
    """Serialise obj once with a placeholder string and splice each piece in (hot path of streams)."""
    parts = orjson.dumps(obj).split(_HOLE_JSON)
    if len(parts) != 2:  # a NUL in user-controlled text (e.g. the model name): do it the slow way
        return [prefix + orjson.dumps(_put(obj, p)) + suffix for p in pieces]
    pre, post = parts
    pre = prefix + pre
    post = post + suffix
    return [pre + orjson.dumps(p) + post for p in pieces]


Events = tuple[list[bytes], list[bytes], list[bytes]]  # head, content events, tail


def _render_chat_sse(a: Answer, rid: str, created: int, azure: bool, include_usage: bool) -> Events:
    base: dict[str, Any] = {
        "id": rid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": a.model,
        "service_tier": "default",
        "system_fingerprint": "fp_fake",
    }
    if include_usage:
        base["usage"] = None

    def choice(delta: dict, finish: str | None = None) -> dict:
        return {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

    def chunk(delta: dict, finish: str | None = None) -> bytes:
        return _sse_data(choice(delta, finish))

    head: list[bytes] = []
    if azure:
        first = {"choices": [], "created": 0, "id": "", "model": "", "object": ""}
        head.append(_sse_data({**first, "prompt_filter_results": _AZURE_PROMPT_FILTER}))
    if a.is_tool:
        call = {"index": 0, "id": a.tool_id, "type": "function", "function": {"name": a.tool_name, "arguments": ""}}
        head.append(chunk({"role": "assistant", "content": None, "tool_calls": [call], "refusal": None}))
        body = _fill(choice({"tool_calls": [{"index": 0, "function": {"arguments": _HOLE}}]}), a.pieces)
        finish = "tool_calls"
    else:
        head.append(chunk({"role": "assistant", "content": "", "refusal": None}))
        body = _fill(choice({"content": _HOLE}), a.pieces)
        finish = "stop"
    tail = [chunk({}, finish)]
    if include_usage:
        tail.append(_sse_data({**base, "choices": [], "usage": _openai_usage(a)}))
    tail.append(b"data: [DONE]\n\n")
    return head, body, tail


# ---- Responses API ----


def _responses_usage(a: Answer) -> dict:
    return {
        "input_tokens": a.input_tokens,
        "input_tokens_details": {"cached_tokens": a.cached_tokens},
        "output_tokens": a.output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": a.input_tokens + a.output_tokens,
    }


def _responses_object(
    a: Answer, rid: str, created: int, body: dict, *, status: str, output: list, usage: dict | None
) -> dict:
    return {
        "id": rid,
        "object": "response",
        "created_at": created,
        "status": status,
        "background": False,
        "completed_at": created if status == "completed" else None,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": None,
        "model": a.model,
        "output": output,
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "prompt_cache_key": None,
        "reasoning": {"effort": None, "summary": None},
        "safety_identifier": None,
        "service_tier": "default",
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": body.get("text") or {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_logprobs": 0,
        "top_p": body.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": usage,
        "user": None,
        "metadata": body.get("metadata") or {},
    }


def _responses_items(a: Answer, item_id: str) -> tuple[dict, dict]:
    """(output item as first announced, output item when done)."""
    if a.is_tool:
        done = {
            "id": item_id,
            "type": "function_call",
            "status": "completed",
            "arguments": a.tool_args,
            "call_id": a.tool_id,
            "name": a.tool_name,
        }
        return {**done, "status": "in_progress", "arguments": ""}, done
    part = {"type": "output_text", "annotations": [], "logprobs": [], "text": a.text}
    done = {"id": item_id, "type": "message", "status": "completed", "content": [part], "role": "assistant"}
    return {**done, "status": "in_progress", "content": []}, done


def _render_responses_json(a: Answer, rid: str, item_id: str, created: int, body: dict) -> bytes:
    _, done = _responses_items(a, item_id)
    return orjson.dumps(
        _responses_object(a, rid, created, body, status="completed", output=[done], usage=_responses_usage(a))
    )


def _render_responses_sse(a: Answer, rid: str, item_id: str, created: int, body: dict) -> Events:
    seq = itertools.count()

    def ev(typ: str, **fields: Any) -> bytes:
        return _sse_event(typ, {"type": typ, "sequence_number": next(seq), **fields})

    added, done = _responses_items(a, item_id)
    in_progress = _responses_object(a, rid, created, body, status="in_progress", output=[], usage=None)
    head = [
        ev("response.created", response=in_progress),
        ev("response.in_progress", response=in_progress),
        ev("response.output_item.added", output_index=0, item=added),
    ]
    loc = {"item_id": item_id, "output_index": 0}
    if a.is_tool:
        body_events = [ev("response.function_call_arguments.delta", **loc, delta=p) for p in a.pieces]
        tail = [ev("response.function_call_arguments.done", **loc, arguments=a.tool_args)]
    else:
        empty_part = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
        loc["content_index"] = 0
        head.append(ev("response.content_part.added", **loc, part=empty_part))
        body_events = [ev("response.output_text.delta", **loc, delta=p, logprobs=[]) for p in a.pieces]
        tail = [
            ev("response.output_text.done", **loc, text=a.text, logprobs=[]),
            ev("response.content_part.done", **loc, part=done["content"][0]),
        ]
    tail.append(ev("response.output_item.done", output_index=0, item=done))
    completed = _responses_object(a, rid, created, body, status="completed", output=[done], usage=_responses_usage(a))
    tail.append(ev("response.completed", response=completed))
    return head, body_events, tail


# ---- Anthropic ----


def _anthropic_usage(a: Answer, output_tokens: int) -> dict:
    return {
        "input_tokens": a.input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": a.cached_tokens,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def _render_anthropic_json(a: Answer, mid: str) -> bytes:
    if a.is_tool:
        content = [{"type": "tool_use", "id": a.tool_id, "name": a.tool_name, "input": a.tool_input()}]
        stop = "tool_use"
    else:
        content = [{"type": "text", "text": a.text}]
        stop = "end_turn"
    return orjson.dumps(
        {
            "id": mid,
            "type": "message",
            "role": "assistant",
            "model": a.model,
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": _anthropic_usage(a, a.output_tokens),
        }
    )


def _render_anthropic_sse(a: Answer, mid: str) -> Events:
    start = {
        "type": "message_start",
        "message": {
            "id": mid,
            "type": "message",
            "role": "assistant",
            "model": a.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": _anthropic_usage(a, 1),
        },
    }
    if a.is_tool:
        block = {"type": "tool_use", "id": a.tool_id, "name": a.tool_name, "input": {}}
        deltas = [""] + a.pieces
        body = _fill(
            {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": _HOLE}},
            deltas,
            b"event: content_block_delta\ndata: ",
        )
        stop = "tool_use"
    else:
        block = {"type": "text", "text": ""}
        body = _fill(
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": _HOLE}},
            a.pieces,
            b"event: content_block_delta\ndata: ",
        )
        stop = "end_turn"
    head = [
        _sse_event("message_start", start),
        _sse_event("content_block_start", {"type": "content_block_start", "index": 0, "content_block": block}),
        _sse_event("ping", {"type": "ping"}),
    ]
    tail = [
        _sse_event("content_block_stop", {"type": "content_block_stop", "index": 0}),
        _sse_event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": a.output_tokens},
            },
        ),
        _sse_event("message_stop", {"type": "message_stop"}),
    ]
    return head, body, tail


# ---- Gemini ----


def _gemini_usage(a: Answer) -> dict:
    u: dict[str, Any] = {
        "promptTokenCount": a.input_tokens,
        "candidatesTokenCount": a.output_tokens,
        "totalTokenCount": a.input_tokens + a.output_tokens,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": a.input_tokens}],
    }
    if a.cached_tokens:
        u["cachedContentTokenCount"] = a.cached_tokens
    return u


def _gemini_candidate(parts: list, finish: bool) -> dict:
    c: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if finish:
        c["finishReason"] = "STOP"
    return c


def _gemini_events(a: Answer, rid: str) -> list[dict]:
    if a.is_tool:
        parts = [{"functionCall": {"name": a.tool_name, "args": a.tool_input()}}]
        return [
            {
                "candidates": [_gemini_candidate(parts, True)],
                "usageMetadata": _gemini_usage(a),
                "modelVersion": a.model,
                "responseId": rid,
            }
        ]
    out = []
    last = len(a.pieces) - 1
    for i, p in enumerate(a.pieces):
        ev: dict[str, Any] = {"candidates": [_gemini_candidate([{"text": p}], i == last)]}
        if i == last:
            ev["usageMetadata"] = _gemini_usage(a)
        ev["modelVersion"] = a.model
        ev["responseId"] = rid
        out.append(ev)
    return out


def _render_gemini_json(a: Answer, rid: str) -> bytes:
    if a.is_tool:
        parts: list = [{"functionCall": {"name": a.tool_name, "args": a.tool_input()}}]
    else:
        parts = [{"text": a.text}]
    return orjson.dumps(
        {
            "candidates": [_gemini_candidate(parts, True)],
            "usageMetadata": _gemini_usage(a),
            "modelVersion": a.model,
            "responseId": rid,
        }
    )


def _embedding_vector(text: str, dims: int, as_base64: bool) -> Any:
    seed = zlib.crc32(text.encode("utf-8", "surrogatepass"))
    vals = [((seed + 7919 * i) % 2001) / 1000.0 - 1.0 for i in range(dims)]
    if as_base64:
        import base64

        return base64.b64encode(struct.pack(f"<{dims}f", *vals)).decode()
    return vals


def _models_payloads() -> dict[str, bytes]:
    created = 1_700_000_000
    return {
        "openai": orjson.dumps(
            {
                "object": "list",
                "data": [{"id": m, "object": "model", "created": created, "owned_by": "system"} for m in OPENAI_MODELS],
            }
        ),
        "anthropic": orjson.dumps(
            {
                "data": [
                    {"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"}
                    for m in ANTHROPIC_MODELS
                ],
                "has_more": False,
                "first_id": ANTHROPIC_MODELS[0],
                "last_id": ANTHROPIC_MODELS[-1],
            }
        ),
        "gemini": orjson.dumps({"models": [_gemini_model(m) for m in GEMINI_MODELS]}),
    }


def _gemini_model(m: str) -> dict:
    return {
        "name": f"models/{m}",
        "version": "001",
        "displayName": m,
        "description": f"{m} (fake provider)",
        "inputTokenLimit": 1048576,
        "outputTokenLimit": 65536,
        "supportedGenerationMethods": ["generateContent", "countTokens"],
        "temperature": 1,
        "topP": 0.95,
        "topK": 64,
        "maxTemperature": 2,
    }


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


_REC = web.RequestKey("fake_provider.rec", RecordedRequest)
_KNOBS = web.RequestKey("fake_provider.knobs", Knobs)


class _Reject(Exception):
    """Raised inside a handler to answer with a provider-formatted error."""

    def __init__(self, status: int, message: str | None = None, *, forced: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.forced = forced


class FakeProvider:
    """A fake OpenAI / Azure OpenAI / Anthropic / Gemini upstream (see the module docstring).

    Attributes: ``url`` ("http://host:port"), ``host``, ``port``, ``requests`` (list of
    RecordedRequest, oldest first), ``credentials`` and ``defaults`` (mutable at run time).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        credentials: dict[str, str | None] | None = None,
        defaults: dict[str, str] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.credentials: dict[str, str | None] = {**DEFAULT_CREDENTIALS, **(credentials or {})}
        self.defaults: dict[str, str] = {k.lower(): str(v) for k, v in (defaults or {}).items()}
        self.requests: list[RecordedRequest] = []
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._models = _models_payloads()

    # ---- lifecycle ----

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def last(self) -> RecordedRequest:
        return self.requests[-1]

    def clear(self) -> None:
        self.requests.clear()

    def requests_to(self, path_prefix: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.startswith(path_prefix)]

    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=MAX_BODY)
        r = app.router
        r.add_post("/v1/chat/completions", self._openai_chat)
        r.add_post("/v1/responses", self._openai_responses)
        r.add_post("/v1/embeddings", self._openai_embeddings)
        r.add_get("/v1/models", self._models_list)
        r.add_get("/v1/models/{model:.+}", self._model_get)
        r.add_post("/v1/models/{target:.+}", self._gemini_dispatch)
        r.add_post("/openai/deployments/{deployment}/chat/completions", self._azure_chat)
        r.add_post("/openai/deployments/{deployment}/embeddings", self._azure_embeddings)
        r.add_post("/v1/messages", self._anthropic_messages)
        r.add_post("/v1/messages/count_tokens", self._anthropic_count_tokens)
        r.add_post("/v1beta/models/{target:.+}", self._gemini_dispatch)
        r.add_get("/v1beta/models", self._gemini_models_list)
        r.add_get("/v1beta/models/{model:.+}", self._gemini_model_get)
        return app

    async def start(self) -> "FakeProvider":
        # A long keep-alive: Envoy reuses idle upstream connections for up to an hour, and a
        # connection closed under it shows up as a spurious 503 in a test.
        self._runner = web.AppRunner(
            self.build_app(), access_log=None, handle_signals=False, shutdown_timeout=1.0, keepalive_timeout=3600
        )
        await self._runner.setup()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        site = web.SockSite(self._runner, sock, backlog=1024)
        await site.start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> "FakeProvider":
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def __enter__(self) -> "FakeProvider":
        """Run the server on its own event loop in a daemon thread."""
        loop = asyncio.new_event_loop()
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as e:  # noqa: BLE001 - reported to the starting thread
                failure.append(e)
                started.set()
                return
            started.set()
            loop.run_forever()
            loop.run_until_complete(self.stop())
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="fake-provider", daemon=True)
        self._thread.start()
        started.wait(10)
        if failure:
            raise failure[0]
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = self._thread = None

    # ---- plumbing ----

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable) -> web.StreamResponse:
        body = await request.read()
        parsed = None
        if body:
            try:
                parsed = orjson.loads(body)
            except orjson.JSONDecodeError:
                parsed = None
        headers: dict[str, str] = {}
        for k, v in request.headers.items():
            k = k.lower()
            headers[k] = f"{headers[k]}, {v}" if k in headers else v
        rec = RecordedRequest(request.method, request.path_qs, headers, body, parsed)
        self.requests.append(rec)
        request[_REC] = rec
        try:
            resp = await handler(request)
        except _Reject as e:
            knobs = request.get(_KNOBS) or Knobs()
            resp = self._error(rec.provider, e.status, e.message, knobs, forced=e.forced)
        except web.HTTPException as e:
            if e.status in (404, 405):
                if rec.provider is None:
                    rec.provider = _provider_for_path(request.path)
                resp = self._error(rec.provider, e.status, f"Unknown request URL: {request.method} {request.path}", Knobs())
            else:
                rec.status = e.status
                raise
        rec.status = resp.status
        return resp

    def _knobs(self, request: web.Request) -> Knobs:
        h = request.headers
        d = self.defaults

        def get(name: str) -> str | None:
            v = h.get(name)
            return v if v is not None else d.get(name)

        k = Knobs(
            chunks=max(1, _int(get("x-fake-chunks"), DEFAULT_CHUNKS)),
            body_bytes=max(0, _int(get("x-fake-body-bytes"), 0)),
            status=_int(get("x-fake-status"), 0),
            gzip=(get("x-fake-gzip") or "").strip().lower() in ("1", "true", "yes", "on"),
            delay_ms=float(_int(get("x-fake-delay-ms"), 0)),
            chunk_delay_ms=float(_int(get("x-fake-chunk-delay-ms"), 0)),
            answer=get("x-fake-answer"),
            tool_args=get("x-fake-tool-args"),
            cache_read=max(0, _int(get("x-fake-cache-read"), 0)),
        )
        request[_KNOBS] = k
        return k

    def _auth_error(self, request: web.Request, provider: str) -> str | None:
        """The provider's 401 message, or None when the credential is right.

        Every credential header the real API accepts must carry the configured value (so a client
        credential that ztgate forgot to strip fails), and at least one must be present.
        """
        expected = self.credentials.get(provider)
        if expected is None:
            return None
        h = request.headers
        presented: list[str] = []
        auth = h.get("authorization")
        bearer: str | None = None
        if auth is not None:
            scheme, _, rest = auth.partition(" ")
            bearer = rest.strip() if scheme.lower() == "bearer" else auth
        if provider == "openai":
            if bearer is None:
                return (
                    "You didn't provide an API key. You need to provide your API key in an Authorization header "
                    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
                )
            if bearer != expected:
                return (
                    f"Incorrect API key provided: {_mask(bearer)}. You can find your API key at "
                    "https://platform.openai.com/account/api-keys."
                )
            return None
        if provider == "azure_openai":
            presented = [v for v in (h.get("api-key"), bearer) if v is not None]
            if not presented or any(v != expected for v in presented):
                return (
                    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid "
                    "key for an active subscription and use a correct regional API endpoint for your resource."
                )
            return None
        if provider == "anthropic":
            # The current anthropic SDK sends API keys as "Authorization: Bearer"; x-api-key is the
            # classic header. Both are accepted.
            presented = [v for v in (h.get("x-api-key"), bearer) if v is not None]
            if not presented:
                return "x-api-key header is required"
            if any(v != expected for v in presented):
                return "invalid x-api-key"
            return None
        if provider == "gemini":
            presented = [v for v in (h.get("x-goog-api-key"), request.query.get("key")) if v is not None]
            if not presented:
                return (
                    "Method doesn't allow unregistered callers (callers without established identity). "
                    "Please use API Key or other form of API consumer identity to call this API."
                )
            if any(v != expected for v in presented):
                return "API key not valid. Please pass a valid API key."
            return None
        return None

    async def _prelude(self, request: web.Request, provider: str) -> Knobs:
        """Record the provider, apply delay, check the credential and the status knob."""
        rec: RecordedRequest = request[_REC]
        rec.provider = provider
        knobs = self._knobs(request)
        if knobs.delay_ms > 0:
            await asyncio.sleep(knobs.delay_ms / 1000.0)
        msg = self._auth_error(request, provider)
        if msg is not None:
            raise _Reject(401, msg)
        if provider == "anthropic" and "anthropic-version" not in request.headers:
            raise _Reject(400, "anthropic-version: header is required")
        if knobs.status >= 400:
            raise _Reject(knobs.status, None, forced=True)
        return knobs

    @staticmethod
    def _body(request: web.Request, *required: str) -> dict:
        body = request[_REC].json
        if not isinstance(body, dict):
            raise _Reject(400, "We could not parse the JSON body of your request.")
        for key in required:
            if key not in body:
                raise _Reject(400, f"{key}: Field required")
        return body

    def _finish(self, request: web.Request, a: Answer) -> None:
        rec: RecordedRequest = request[_REC]
        rec.answer = a.text
        if a.is_tool:
            rec.tool_call = {"name": a.tool_name, "arguments": a.tool_args}
        rec.usage = {
            "input_tokens": a.input_tokens,
            "output_tokens": a.output_tokens,
            "cache_read_input_tokens": a.cached_tokens,
        }

    @staticmethod
    def _common_headers(provider: str | None) -> dict[str, str]:
        if provider == "anthropic":
            return {"request-id": _new_id("req_")}
        if provider == "gemini":
            return {"x-goog-request-id": _new_id("")}
        return {"x-request-id": _new_id("req_"), "openai-processing-ms": "1"}

    def _json(
        self,
        provider: str | None,
        body: bytes,
        knobs: Knobs,
        status: int = 200,
        extra: dict[str, str] | None = None,
    ) -> web.Response:
        headers = self._common_headers(provider)
        headers["Content-Type"] = "application/json; charset=UTF-8" if provider == "gemini" else _JSON
        if extra:
            headers.update(extra)
        if knobs.gzip:
            body = gzip.compress(body, compresslevel=1, mtime=0)
            headers["Content-Encoding"] = "gzip"
        return web.Response(body=body, status=status, headers=headers)

    def _error(
        self, provider: str | None, status: int, message: str | None, knobs: Knobs, *, forced: bool = False
    ) -> web.Response:
        extra: dict[str, str] = {}
        if forced:
            extra["x-should-retry"] = "false"
            if status == 429:
                extra["retry-after"] = "1"
        return self._json(provider, error_body(provider, status, message), knobs, status, extra)

    async def _sse(
        self,
        request: web.Request,
        provider: str,
        events: Events,
        knobs: Knobs,
        *,
        content_type: str = "text/event-stream; charset=utf-8",
    ) -> web.StreamResponse:
        head, body, tail = events
        headers = self._common_headers(provider)
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

    def _pad_json(self, a: Answer, knobs: Knobs, render: Callable[[], bytes]) -> bytes:
        body = render()
        if knobs.body_bytes and not a.is_tool and len(body) < knobs.body_bytes:
            a.pad(knobs.body_bytes - len(body))
            body = render()
        return body

    # ---- OpenAI / Azure chat ----

    async def _openai_chat(self, request: web.Request) -> web.StreamResponse:
        knobs = await self._prelude(request, "openai")
        body = self._body(request, "model", "messages")
        return await self._chat(request, "openai", body, str(body["model"]), knobs, azure=False)

    async def _azure_chat(self, request: web.Request) -> web.StreamResponse:
        knobs = await self._prelude(request, "azure_openai")
        body = self._body(request, "messages")
        model = str(body.get("model") or request.match_info["deployment"])
        return await self._chat(request, "azure_openai", body, model, knobs, azure=True)

    async def _chat(
        self, request: web.Request, provider: str, body: dict, model: str, knobs: Knobs, *, azure: bool
    ) -> web.StreamResponse:
        stream = bool(body.get("stream"))
        a = _plan(_read_openai_chat(body), model, knobs, stream=stream)
        if a.is_tool:
            a.tool_id = _new_id("call_")
        rid = _new_id("chatcmpl-")
        created = int(time.time())
        if stream:
            opts = body.get("stream_options")
            include_usage = bool(isinstance(opts, dict) and opts.get("include_usage"))
            self._finish(request, a)
            return await self._sse(request, provider, _render_chat_sse(a, rid, created, azure, include_usage), knobs)
        payload = self._pad_json(a, knobs, lambda: _render_chat_json(a, rid, created, azure))
        self._finish(request, a)
        return self._json(provider, payload, knobs)

    # ---- OpenAI Responses ----

    async def _openai_responses(self, request: web.Request) -> web.StreamResponse:
        knobs = await self._prelude(request, "openai")
        body = self._body(request, "model")
        stream = bool(body.get("stream"))
        a = _plan(_read_responses(body), str(body["model"]), knobs, stream=stream)
        rid = _new_id("resp_")
        if a.is_tool:
            a.tool_id = _new_id("call_")
            item_id = _new_id("fc_")
        else:
            item_id = _new_id("msg_")
        created = int(time.time())
        if stream:
            self._finish(request, a)
            return await self._sse(request, "openai", _render_responses_sse(a, rid, item_id, created, body), knobs)
        payload = self._pad_json(a, knobs, lambda: _render_responses_json(a, rid, item_id, created, body))
        self._finish(request, a)
        return self._json("openai", payload, knobs)

    # ---- embeddings ----

    async def _openai_embeddings(self, request: web.Request) -> web.StreamResponse:
        knobs = await self._prelude(request, "openai")
        body = self._body(request, "model", "input")
        return self._embeddings(request, "openai", body, str(body["model"]), knobs)

    async def _azure_embeddings(self, request: web.Request) -> web.StreamResponse:
        knobs = await self._prelude(request, "azure_openai")
        body = self._body(request, "input")
        model = str(body.get("model") or request.match_info["deployment"])
        return self._embeddings(request, "azure_openai", body, model, knobs)

    def _embeddings(self, request: web.Request, provider: str, body: dict, model: str, knobs: Knobs) -> web.Response:
        inp = body["input"]
        if isinstance(inp, str) or (isinstance(inp, list) and inp and isinstance(inp[0], int)):
            inputs: list[Any] = [inp]
        elif isinstance(inp, list):
            inputs = inp
        else:
            raise _Reject(400, "'input' must be a string, an array of strings, or an array of token arrays.")
        dims = _int(str(body["dimensions"]) if body.get("dimensions") is not None else None, EMBEDDING_DIMENSIONS)
        as_b64 = body.get("encoding_format") == "base64"
        data = []
        tokens = 0
        for i, item in enumerate(inputs):
            if isinstance(item, str):
                tokens += words(item)
                key = item
            elif isinstance(item, list):
                tokens += len(item)
                key = ",".join(map(str, item))
            else:
                raise _Reject(400, "'input' items must be strings or token arrays.")
            data.append({"object": "embedding", "index": i, "embedding": _embedding_vector(key, dims, as_b64)})
        rec: RecordedRequest = request[_REC]
        rec.usage = {"input_tokens": tokens, "output_tokens": 0, "cache_read_input_tokens": 0}
        payload = orjson.dumps(
            {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
        )
        return self._json(provider, payload, knobs)

    # ---- models ----

    @staticmethod
    def _models_provider(request: web.Request) -> str:
        """GET /v1/models is shared by OpenAI, Anthropic and Gemini (google-genai >= 3 uses /v1)."""
        h = request.headers
        if "x-goog-api-key" in h or "key" in request.query:
            return "gemini"
        if "x-api-key" in h or "anthropic-version" in h:
            return "anthropic"
        return "openai"

    async def _models_list(self, request: web.Request) -> web.StreamResponse:
        provider = self._models_provider(request)
        if provider == "gemini":
            return await self._gemini_models_list(request)
        knobs = await self._prelude(request, provider)
        return self._json(provider, self._models[provider], knobs)

    async def _model_get(self, request: web.Request) -> web.StreamResponse:
        provider = self._models_provider(request)
        if provider == "gemini":
            return await self._gemini_model_get(request)
        knobs = await self._prelude(request, provider)
        m = request.match_info["model"]
        if provider == "anthropic":
            obj = {"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"}
        else:
            obj = {"id": m, "object": "model", "created": 1_700_000_000, "owned_by": "system"}
        return self._json(provider, orjson.dumps(obj), knobs)

    # ---- Anthropic ----

    async def _anthropic_messages(self, request: web.Request) -> web.StreamResponse:
        knobs = await self._prelude(request, "anthropic")
        body = self._body(request, "model", "messages", "max_tokens")
        stream = bool(body.get("stream"))
        a = _plan(_read_anthropic(body), str(body["model"]), knobs, stream=stream)
        if a.is_tool:
            a.tool_id = _new_id("toolu_")
        mid = _new_id("msg_")
        if stream:
            self._finish(request, a)
            return await self._sse(request, "anthropic", _render_anthropic_sse(a, mid), knobs)
        payload = self._pad_json(a, knobs, lambda: _render_anthropic_json(a, mid))
        self._finish(request, a)
        return self._json("anthropic", payload, knobs)

    async def _anthropic_count_tokens(self, request: web.Request) -> web.StreamResponse:
        knobs = await self._prelude(request, "anthropic")
        body = self._body(request, "model", "messages")
        conv = _read_anthropic(body)
        n = sum(words(t) for t in conv.texts) + PROMPT_OVERHEAD
        request[_REC].usage = {"input_tokens": n, "output_tokens": 0, "cache_read_input_tokens": 0}
        return self._json("anthropic", orjson.dumps({"input_tokens": n}), knobs)

    # ---- Gemini ----

    async def _gemini_dispatch(self, request: web.Request) -> web.StreamResponse:
        knobs = await self._prelude(request, "gemini")
        model, _, method = request.match_info["target"].rpartition(":")
        if not model:
            raise _Reject(404, f"Method not found: {request.match_info['target']}")
        model = model.removeprefix("models/")
        if method == "generateContent":
            return await self._gemini_generate(request, model, knobs, stream=False)
        if method == "streamGenerateContent":
            return await self._gemini_generate(request, model, knobs, stream=True)
        if method == "countTokens":
            body = self._body(request)
            inner = body.get("generateContentRequest") or body.get("generate_content_request") or body
            conv = _read_gemini(inner if isinstance(inner, dict) else body)
            n = sum(words(t) for t in conv.texts) + PROMPT_OVERHEAD
            request[_REC].usage = {"input_tokens": n, "output_tokens": 0, "cache_read_input_tokens": 0}
            return self._json(
                "gemini",
                orjson.dumps({"totalTokens": n, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": n}]}),
                knobs,
            )
        raise _Reject(404, f"Method not found: {method}")

    async def _gemini_generate(
        self, request: web.Request, model: str, knobs: Knobs, *, stream: bool
    ) -> web.StreamResponse:
        body = self._body(request, "contents")
        a = _plan(_read_gemini(body), model, knobs, stream=stream)
        rid = _new_id("")
        if not stream:
            payload = self._pad_json(a, knobs, lambda: _render_gemini_json(a, rid))
            self._finish(request, a)
            return self._json("gemini", payload, knobs)
        self._finish(request, a)
        evs = _gemini_events(a, rid)
        if request.query.get("alt") == "sse":
            events: Events = ([], [b"data: " + orjson.dumps(e) + b"\r\n\r\n" for e in evs], [])
            return await self._sse(request, "gemini", events, knobs, content_type="text/event-stream")
        # Without alt=sse the real API streams one JSON array.
        parts = [orjson.dumps(e) for e in evs]
        body_chunks = [(b"[" if i == 0 else b",\r\n") + p for i, p in enumerate(parts)]
        return await self._sse(
            request, "gemini", ([], body_chunks, [b"]"]), knobs, content_type="application/json; charset=UTF-8"
        )

    async def _gemini_models_list(self, request: web.Request) -> web.StreamResponse:
        knobs = await self._prelude(request, "gemini")
        return self._json("gemini", self._models["gemini"], knobs)

    async def _gemini_model_get(self, request: web.Request) -> web.StreamResponse:
        knobs = await self._prelude(request, "gemini")
        m = request.match_info["model"].removeprefix("models/")
        return self._json("gemini", orjson.dumps(_gemini_model(m)), knobs)


def _provider_for_path(path: str) -> str | None:
    if path.startswith("/v1beta/"):
        return "gemini"
    if path.startswith("/openai/"):
        return "azure_openai"
    if path.startswith("/v1/messages"):
        return "anthropic"
    return None


def _mask(key: str) -> str:
    if len(key) <= 8:
        return "*" * len(key)
    return f"{key[:3]}{'*' * 8}{key[-4:]}"


# --------------------------------------------------------------------------------------------
# Script entry point
# --------------------------------------------------------------------------------------------


def _parse_args(argv: Iterable[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Fake upstream LLM provider for ztgate tests and benchmarks.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port (printed in the READY line)")
    p.add_argument(
        "--credential",
        action="append",
        default=[],
        metavar="PROVIDER=VALUE",
        help="override a provider credential (openai, anthropic, gemini, azure_openai); empty VALUE disables the check",
    )
    p.add_argument("--no-auth", action="store_true", help="accept any credential")
    p.add_argument(
        "--default",
        action="append",
        default=[],
        metavar="HEADER=VALUE",
        help="default knob value, e.g. --default x-fake-chunks=200",
    )
    return p.parse_args(list(argv) if argv is not None else None)


async def _serve(args: argparse.Namespace) -> None:
    creds: dict[str, str | None] = {}
    for item in args.credential:
        name, _, value = item.partition("=")
        creds[name.strip()] = value or None
    if args.no_auth:
        creds = {k: None for k in DEFAULT_CREDENTIALS}
    defaults = {}
    for item in args.default:
        name, _, value = item.partition("=")
        defaults[name.strip()] = value
    fp = FakeProvider(host=args.host, port=args.port, credentials=creds, defaults=defaults)
    # The benchmark would otherwise grow an unbounded request log.
    fp.requests = _NullList()
    await fp.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    print(f"READY {fp.url}", flush=True)
    try:
        await stop.wait()
    finally:
        await fp.stop()


class _NullList(list):
    """A request log that forgets (script mode: nobody reads it, the benchmark sends millions)."""

    def append(self, item: Any) -> None:  # noqa: D102
        pass


def main(argv: Iterable[str] | None = None) -> int:
    args = _parse_args(argv)
    asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
