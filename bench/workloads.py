"""The requests the benchmark sends and how to tell that an answer is the one it asked for.

A benchmark of error responses is worthless, so every setup is probed once per workload before wrk
runs (setups.verify) and again when wrk reports errors; the checks here decide what "right" means.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

MODEL = "gpt-4o"
REQUEST_BYTES = 2048
RESPONSE_BYTES = 2048
SSE_CHUNKS = 200


@dataclass(frozen=True)
class Workload:
    """One request shape: its body, the x-fake-* knobs that shape the answer, and the answer's check."""

    key: str
    title: str
    body: bytes
    knobs: dict[str, str]
    verify: Callable[[bytes], str | None]  # an error message, or None when the answer is as expected

    def headers(self, client_key: str) -> dict[str, str]:
        return {"content-type": "application/json", "authorization": f"Bearer {client_key}", **self.knobs}


NONCE = "#0000000000"


def chat_body(*, stream: bool) -> bytes:
    """A ~2 KB OpenAI chat request for gpt-4o."""
    doc: dict[str, Any] = {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "You are a concise assistant for an engineering team."},
            {"role": "user", "content": ""},
        ],
        "max_tokens": 256,
        "temperature": 0.2,
    }
    if stream:
        doc["stream"] = True
    # NONCE is replaced per request by the wrk script, so no cache (ztgate's scanner caches results for
    # long texts it has seen, as clients resend histories) makes a repeated prompt look cheaper.
    text = NONCE + " " + ("Summarise the trade-offs of buffering versus streaming request bodies in a proxy. " * 40)
    doc["messages"][1]["content"] = text[: max(0, REQUEST_BYTES - len(json.dumps(doc)))]
    return json.dumps(doc).encode()


def verify_json(body: bytes) -> str | None:
    """A chat completion of about RESPONSE_BYTES: proves the request went through and x-fake-* arrived."""
    try:
        content = json.loads(body)["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        return f"not an OpenAI chat completion: {body[:300]!r}"
    if not content.startswith("echo: "):
        return f"unexpected answer text: {content[:100]!r}"
    if not RESPONSE_BYTES // 2 <= len(body) <= RESPONSE_BYTES * 2:
        return f"answer is {len(body)} bytes, expected about {RESPONSE_BYTES} (x-fake-body-bytes not applied?)"
    return None


def verify_sse(body: bytes) -> str | None:
    """A complete SSE stream with SSE_CHUNKS content chunks: a short stream would flatter the numbers."""
    events = [line[6:] for line in body.decode(errors="replace").splitlines() if line.startswith("data: ")]
    if not events or events[-1].strip() != "[DONE]":
        return f"SSE stream does not end with [DONE]: {body[-300:]!r}"
    content = 0
    for event in events[:-1]:
        try:
            choices = json.loads(event).get("choices") or []
        except ValueError:
            return f"bad SSE event: {event[:200]!r}"
        content += sum(1 for c in choices if (c.get("delta") or {}).get("content"))
    if content < SSE_CHUNKS:
        return f"{content} content chunks, expected {SSE_CHUNKS} (x-fake-chunks not applied?)"
    return None


WORKLOADS = {
    "json": Workload("json", "chat 2 KB, JSON answer ~2 KB", chat_body(stream=False),
                     {"x-fake-body-bytes": str(RESPONSE_BYTES)}, verify_json),
    "sse": Workload("sse", f"chat 2 KB, SSE answer {SSE_CHUNKS} chunks", chat_body(stream=True),
                    {"x-fake-chunks": str(SSE_CHUNKS), "x-fake-body-bytes": str(RESPONSE_BYTES)}, verify_sse),
}  # fmt: skip
