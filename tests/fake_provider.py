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

Layout
------
This file is the entry point (FakeProvider, script mode); the server lives in tests/fakes/:
``common`` (knobs, conversation, answer and usage formulas), ``sse`` (framing), ``wire`` (the
``Dialect`` interface each provider implements, and the shared admission / JSON / SSE answers),
one module per provider family (``openai``, ``openai_responses``, ``anthropic``, ``gemini``) and
``app`` (route table, request recording, routes shared between providers).
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
from pathlib import Path
from typing import Any, Iterable

from aiohttp import web

# The modules live in tests/fakes/. Tests put tests/ on sys.path; run as a script, Python puts
# this file's directory there itself; imported some other way, this makes sure it is there.
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from threaded import ThreadedServer, serve_until_signalled  # noqa: E402

# Only FakeProvider, DEFAULT_CREDENTIALS, DEFAULT_CHUNKS, RecordedRequest and words are the API;
# the other names are re-exported for code that imported them from here before the split.
from fakes.anthropic import ANTHROPIC_MODELS  # noqa: E402,F401
from fakes.app import MAX_BODY, build_app, error_body  # noqa: E402,F401
from fakes.common import (  # noqa: E402,F401
    DEFAULT_CHUNKS,
    ECHO_LIMIT,
    ECHO_PREFIX,
    PROMPT_OVERHEAD,
    TOOL_TRIGGER,
    Answer,
    Conversation,
    Knobs,
    RecordedRequest,
    words,
)
from fakes.gemini import GEMINI_MODELS  # noqa: E402,F401
from fakes.openai import EMBEDDING_DIMENSIONS, OPENAI_MODELS  # noqa: E402,F401
from fakes.sse import Events  # noqa: E402,F401

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


class FakeProvider(ThreadedServer):
    """A fake OpenAI / Azure OpenAI / Anthropic / Gemini upstream (see the module docstring).

    Attributes: ``url`` ("http://host:port"), ``host``, ``port``, ``requests`` (list of
    RecordedRequest, oldest first), ``credentials`` and ``defaults`` (mutable at run time).
    """

    thread_name = "fake-provider"

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
        """The aiohttp Application; its handlers read credentials, defaults and requests from self."""
        return build_app(self)

    # ---- lifecycle ----

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
    await serve_until_signalled(fp, fp.url)


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
