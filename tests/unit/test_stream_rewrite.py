"""Reading and rewriting the text of streamed answers (stream_texts / rewrite_stream_event / encode_event).

Checked against every recorded stream in ../shared/corpora/provider, re-parsed by the adapters themselves
and by the official SDKs (openai, anthropic, google-genai), so a rewritten stream stays one the client's
SDK accepts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import anthropic
import httpx2
import openai
import orjson
import pytest
from google import genai
from google.genai import errors, types

from ztgate.providers import get_adapter
from ztgate.providers.base import CHOICE_SEPARATOR, LLMResponse, ProviderAdapter, SSEEvent, StreamText
from ztgate.providers.sse import SSEDecoder

OPENAI = get_adapter("openai")
AZURE = get_adapter("azure_openai")
ANTHROPIC = get_adapter("anthropic")
GEMINI = get_adapter("gemini")

DONE_KINDS = frozenset({"text_done", "tool_call_arguments_done"})
TEXT_KINDS = frozenset({"text", "thinking", "text_done"})

Rewrite = Callable[[StreamText], str]


# --- the recorded streams, in the wire form each provider sends ---


def lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip()]


def openai_chat_streams(corpus: Path) -> dict[str, bytes]:
    streams = {p.name: p.read_bytes() for p in sorted((corpus / "openai_python_snapshots" / "sse_raw").glob("*.bin"))}
    for path in sorted(corpus.glob("vercel_ai_fixtures/packages/openai/src/chat/__fixtures__/*.chunks.txt")):
        streams[path.name] = "".join(f"data: {line}\n\n" for line in lines(path)).encode() + b"data: [DONE]\n\n"
    assert len(streams) >= 14
    return streams


def responses_streams(corpus: Path) -> dict[str, bytes]:
    """vercel/ai keeps one Responses API event per line; OpenAI sends event: <type> / data: <json>."""
    streams = {}
    for path in sorted(corpus.glob("vercel_ai_fixtures/packages/*/src/**/__fixtures__/*.chunks.txt")):
        try:
            events = [json.loads(line) for line in lines(path)]
        except json.JSONDecodeError:
            continue  # one fixture is deliberately not JSON
        if not events or not str(events[0].get("type", "")).startswith("response."):
            continue
        if sum(e.get("type") == "response.created" for e in events) > 1:
            continue  # several responses of a multi-step test, one after another: not one stream
        streams[path.name] = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()
    assert len(streams) >= 25
    return streams


def anthropic_streams(corpus: Path) -> dict[str, bytes]:
    streams = {}
    for path in sorted((corpus / "anthropic_python" / "inline_snapshots").glob("*.json")):
        for n, exchange in enumerate(json.loads(path.read_text())):
            if isinstance(exchange["response"]["body"], str):
                streams[f"{path.name}#{n}"] = exchange["response"]["body"].encode()
    for path in sorted((corpus / "anthropic_python" / "sse_fixtures").glob("*")):
        streams[path.name] = path.read_bytes()
    for path in sorted(corpus.glob("vercel_ai_fixtures/packages/anthropic/src/__fixtures__/*.chunks.txt")):
        events = [json.loads(line) for line in lines(path)]
        streams[path.name] = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()
    assert len(streams) >= 45
    return streams


def gemini_streams(corpus: Path) -> dict[str, bytes]:
    mocks = corpus / "gemini_firebase_mock_responses" / "mock-responses"
    streams = {f"{p.parent.name}/{p.name}": p.read_bytes() for p in sorted(mocks.glob("*/streaming-*.txt"))}
    for path in sorted(corpus.glob("vercel_ai_fixtures/packages/google/src/__fixtures__/*.chunks.txt")):
        streams[path.name] = "".join(f"data: {line}\r\n\r\n" for line in lines(path)).encode()
    assert len(streams) >= 45
    return streams


FAMILIES: dict[str, tuple[ProviderAdapter, Callable[[Path], dict[str, bytes]]]] = {
    "openai_chat": (OPENAI, openai_chat_streams),
    "openai_responses": (OPENAI, responses_streams),
    "anthropic": (ANTHROPIC, anthropic_streams),
    "gemini": (GEMINI, gemini_streams),
}


# --- helpers ---


def decode(raw: bytes) -> list[SSEEvent]:
    decoder = SSEDecoder()
    return decoder.feed(raw) + decoder.close()


def fold(adapter: ProviderAdapter, events: list[SSEEvent]) -> LLMResponse:
    response = LLMResponse()
    for event in events:
        adapter.parse_stream_event(event, response)
    return response


def rewrite_stream(adapter: ProviderAdapter, events: list[SSEEvent], rewrite: Rewrite) -> bytes:
    return b"".join(
        adapter.rewrite_stream_event(event, [rewrite(t) for t in adapter.stream_texts(event)]) for event in events
    )


def rewrite_channel(
    adapter: ProviderAdapter, events: list[SSEEvent], channel: str, change: Callable[[str], str]
) -> bytes:
    """What the guard does: join a channel's deltas, change the text, put the result where the channel
    starts and leave its other deltas empty."""
    joined = by_channel(events, adapter, frozenset({"text", "tool_call_arguments"}))[channel]
    pending = change(joined)
    out = []
    for event in events:
        texts = []
        for text in adapter.stream_texts(event):
            if text.channel == channel:
                texts.append(pending)
                pending = ""
            else:
                texts.append(text.text)
        out.append(adapter.rewrite_stream_event(event, texts))
    return b"".join(out)


def upper_values(value: Any) -> Any:
    """Upper-case every string value in a JSON value (keys stay as they are)."""
    if isinstance(value, str):
        return value.upper()
    if isinstance(value, list):
        return [upper_values(v) for v in value]
    if isinstance(value, dict):
        return {k: upper_values(v) for k, v in value.items()}
    return value


def upper(text: StreamText) -> str:
    """Every text upper-cased; a Gemini args object keeps its keys (the JSON text stays an object)."""
    if text.kind == "tool_call_arguments_object":
        return orjson.dumps(upper_values(orjson.loads(text.text))).decode()
    return text.text.upper()


def upper_prose(text: StreamText) -> str:
    """Answer and thinking text upper-cased, tool arguments kept (for the SDKs, which parse arguments)."""
    return text.text.upper() if text.kind in TEXT_KINDS or text.kind == "tool_call_argument_string" else text.text


def outcome(response: LLMResponse) -> tuple:
    return (response.model, response.usage, response.finish_reason, response.error)


def by_channel(events: list[SSEEvent], adapter: ProviderAdapter, kinds: frozenset[str]) -> dict[str, str]:
    joined: dict[str, str] = {}
    for event in events:
        for text in adapter.stream_texts(event):
            if text.kind in kinds:
                joined[text.channel] = joined.get(text.channel, "") + text.text
    return joined


def answer_text(family: str, texts: list[StreamText]) -> str:
    """The "text" deltas joined in event order; for OpenAI chat, per choice ("choice:<i>[:...]" channels),
    the choices in index order with CHOICE_SEPARATOR between, as LLMResponse.output_text has them."""
    choices: dict[int, str] = {}
    for t in texts:
        if t.kind == "text":
            i = int(t.channel.split(":")[1]) if family == "openai_chat" else 0
            choices[i] = choices.get(i, "") + t.text
    return CHOICE_SEPARATOR.join(choices[i] for i in sorted(choices) if choices[i])


def is_subsequence(items: list[str], of: list[str]) -> bool:
    it = iter(of)
    return all(any(item == other for other in it) for item in items)


# --- the corpora ---

# vercel/ai shortened these fixtures' text deltas by hand; their *.done events still hold the full text.
CUT_SHORT = frozenset({"openai-phase.1.chunks.txt", "openai-shell-container.1.chunks.txt"})


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_stream_texts_match_what_the_adapter_accumulates(providers_corpus: Path, family: str) -> None:
    adapter, load = FAMILIES[family]
    single_channel = done_checked = 0
    for name, raw in load(providers_corpus).items():
        events = decode(raw)
        response = fold(adapter, events)
        texts = [t for event in events for t in adapter.stream_texts(event)]
        assert all(isinstance(t, StreamText) and isinstance(t.text, str) for t in texts)
        # In event order, the answer's text deltas are exactly what parse_stream_event accumulates (per
        # choice: the deltas of an OpenAI chat stream with n > 1 interleave, output_text keeps them apart).
        assert answer_text(family, texts) == response.output_text, name
        answer = by_channel(events, adapter, frozenset({"text"}))
        if len(answer) == 1:
            assert next(iter(answer.values())) == response.output_text, name
            single_channel += 1
        # The arguments of each tool call the adapter assembled are one channel's argument deltas joined
        # (more channels may carry arguments: Anthropic MCP tool calls, which are not the client's).
        if family != "gemini":
            kinds = frozenset({"tool_call_arguments", "tool_call_arguments_object"})
            arguments = list(by_channel(events, adapter, kinds).values())
            arguments += [t.text for t in texts if t.kind == "tool_call_arguments_done"]  # some servers send
            for call in response.tool_calls:  # a call's arguments only whole, in the *.done events
                # (in a substring: some fixtures are several messages in a row, reusing block indexes)
                assert call.arguments == "{}" or any(call.arguments in a for a in arguments), (name, call)
        else:
            objects = [t.text for t in texts if t.kind == "tool_call_arguments_object"]
            assert is_subsequence(objects, [c.arguments for c in response.tool_calls]), name
        # A *_done text repeats its channel: it equals the deltas the channel carried before it (when it
        # had any: LM Studio sends a function call's arguments only in the *.done events).
        so_far: dict[str, str] = {}
        for text in texts:
            if text.kind in DONE_KINDS:
                if so_far.get(text.channel) and name not in CUT_SHORT:
                    assert text.text == so_far[text.channel], (name, text.channel)
                    done_checked += 1
            else:
                so_far[text.channel] = so_far.get(text.channel, "") + text.text
    assert single_channel >= 5
    assert family != "openai_responses" or done_checked >= 100


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_rewriting_every_text_to_upper_case(providers_corpus: Path, family: str) -> None:
    adapter, load = FAMILIES[family]
    for name, raw in load(providers_corpus).items():
        events = decode(raw)
        original = fold(adapter, events)
        rewritten_events = decode(rewrite_stream(adapter, events, upper))
        assert [(e.event, e.id) for e in rewritten_events] == [(e.event, e.id) for e in events], name
        for before, after in zip(events, rewritten_events):
            old, new = adapter.stream_texts(before), adapter.stream_texts(after)
            assert [(t.channel, t.kind, upper(t)) for t in old] == [(t.channel, t.kind, t.text) for t in new], name
        rewritten = fold(adapter, rewritten_events)
        assert rewritten.text == [t.upper() for t in original.text], name
        assert rewritten.output_text == original.output_text.upper()
        assert outcome(rewritten) == outcome(original), name
        assert [(c.id, c.name) for c in rewritten.tool_calls] == [(c.id, c.name) for c in original.tool_calls]
        for before, after in zip(original.tool_calls, rewritten.tool_calls):
            if after.arguments != before.arguments.upper():  # arguments that came as an object
                assert json.loads(after.arguments) == upper_values(json.loads(before.arguments)), name


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_identity_rewrite_changes_nothing(providers_corpus: Path, family: str) -> None:
    adapter, load = FAMILIES[family]
    for name, raw in load(providers_corpus).items():
        events = decode(raw)
        original = fold(adapter, events)
        same = rewrite_stream(adapter, events, lambda t: t.text)
        assert same == b"".join(adapter.encode_event(e) for e in events), name
        assert decode(same) == events, name
        assert fold(adapter, decode(same)) == original, name


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_rewrite_keeps_the_rest_of_the_json(providers_corpus: Path, family: str) -> None:
    """Upper-case every text, then write the original texts back: the JSON is the original JSON (token
    logprobs aside, which a changed text drops) and parses to the same LLMResponse."""
    adapter, load = FAMILIES[family]
    for name, raw in load(providers_corpus).items():
        events = decode(raw)
        changed = decode(rewrite_stream(adapter, events, upper))
        originals = [[t.text for t in adapter.stream_texts(e)] for e in events]
        back = decode(b"".join(adapter.rewrite_stream_event(e, o) for e, o in zip(changed, originals)))
        assert fold(adapter, back) == fold(adapter, events), name
        for before, after in zip(events, back):
            if adapter.stream_texts(before) and "logprobs" not in before.data:
                assert orjson.loads(after.data) == orjson.loads(before.data), name


# --- the SDKs parse rewritten streams ---
#
# Every recorded stream the SDK reads as recorded, it must read rewritten, and show the rewritten text.
# (A few recorded streams are errors the SDK raises, or fixtures it rejects: those are skipped.)


class Upstream:
    """An httpx2 client whose every response is the stream in .body (one client, many streams: creating
    a google-genai client costs a noticeable fraction of a second)."""

    def __init__(self) -> None:
        self.body = b""
        transport = httpx2.MockTransport(
            lambda request: httpx2.Response(200, content=self.body, headers={"content-type": "text/event-stream"})
        )
        self.client = httpx2.Client(transport=transport)


@pytest.fixture(scope="module")
def upstream() -> Upstream:
    return Upstream()


def openai_client(upstream: Upstream) -> openai.OpenAI:
    return openai.OpenAI(api_key="x", base_url="http://upstream.test/v1", max_retries=0, http_client=upstream.client)


def read_chat(upstream: Upstream, body: bytes) -> tuple[str, list[str], Any]:
    upstream.body = body
    text, arguments, usage = "", {}, None
    for chunk in openai_client(upstream).chat.completions.create(model="m", messages=[], stream=True):
        usage = chunk.usage or usage
        for choice in chunk.choices:
            text += (choice.delta.content or "") + (choice.delta.refusal or "")
            for call in choice.delta.tool_calls or []:
                arguments[call.index] = arguments.get(call.index, "") + (call.function.arguments or "")
    return text, [arguments[i] for i in sorted(arguments)], usage


def test_openai_sdk_reads_rewritten_chat_streams(providers_corpus: Path, upstream: Upstream) -> None:
    for name, raw in openai_chat_streams(providers_corpus).items():
        events = decode(raw)
        text, arguments, usage = read_chat(upstream, raw)
        # JSON arguments upper-cased stay JSON text; the SDK passes them on as text.
        assert read_chat(upstream, rewrite_stream(OPENAI, events, upper)) == (
            text.upper(),
            [a.upper() for a in arguments],
            usage,
        ), name


def test_openai_sdk_stream_helper_reads_a_rewritten_tool_call(providers_corpus: Path, upstream: Upstream) -> None:
    raw = (
        providers_corpus
        / "openai_python_snapshots"
        / "sse_raw"
        / "2018feb66ae13fcf5333d61b95849decc68d3f63bd38172889367e1afb1e04f7.bin"
    ).read_bytes()
    upstream.body = rewrite_channel(OPENAI, decode(raw), "choice:0:tool:0", lambda t: t.replace("New York", "Paris"))
    with openai_client(upstream).chat.completions.stream(model="m", messages=[]) as stream:
        final = stream.get_final_completion()
    [call] = final.choices[0].message.tool_calls
    assert (call.function.name, json.loads(call.function.arguments)) == ("get_weather", {"city": "Paris City"})
    assert final.choices[0].finish_reason == "tool_calls"


def read_responses(upstream: Upstream, body: bytes) -> tuple:
    upstream.body = body
    with openai_client(upstream).responses.stream(model="m", input="hi") as stream:
        deltas = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        final = stream.get_final_response()
    calls = [(i.name, i.arguments) for i in final.output if i.type == "function_call"]
    return deltas, final.output_text, calls, final.usage


def test_openai_sdk_reads_rewritten_responses_streams(providers_corpus: Path, upstream: Upstream) -> None:
    checked = 0
    for name, raw in responses_streams(providers_corpus).items():
        try:
            deltas, text, calls, usage = read_responses(upstream, raw)
        except (openai.APIError, RuntimeError):
            continue  # an error stream; two fixtures whose ids change mid-stream
        rewritten = read_responses(upstream, rewrite_stream(OPENAI, decode(raw), upper_prose))
        assert rewritten == (deltas.upper(), text.upper(), calls, usage), name
        checked += 1
    assert checked >= 25


def anthropic_client(upstream: Upstream) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="x", base_url="http://upstream.test", max_retries=0, http_client=upstream.client)


def read_messages(upstream: Upstream, body: bytes) -> tuple:
    upstream.body = body
    with anthropic_client(upstream).messages.stream(model="m", max_tokens=5, messages=[]) as stream:
        streamed = "".join(stream.text_stream)
        final = stream.get_final_message()
    text = "".join(b.text for b in final.content if b.type == "text")
    thinking = [b.thinking for b in final.content if b.type == "thinking"]
    calls = [(b.name, b.input) for b in final.content if b.type in ("tool_use", "server_tool_use")]
    return streamed, text, thinking, calls, final.stop_reason, final.usage


def test_anthropic_sdk_reads_rewritten_streams(providers_corpus: Path, upstream: Upstream) -> None:
    checked = 0
    for name, raw in anthropic_streams(providers_corpus).items():
        streamed, text, thinking, calls, stop, usage = read_messages(upstream, raw)
        # The SDK parses tool input JSON: upper-casing it would break escapes (\n), so prose only here.
        rewritten = read_messages(upstream, rewrite_stream(ANTHROPIC, decode(raw), upper_prose))
        assert rewritten == (streamed.upper(), text.upper(), [t.upper() for t in thinking], calls, stop, usage), name
        checked += 1
    assert checked >= 45
    # Tool input rewritten too (this stream's JSON has no escapes to upper-case).
    raw = anthropic_streams(providers_corpus)["tool_use_response.txt"]
    *_, calls, _, _ = read_messages(upstream, rewrite_stream(ANTHROPIC, decode(raw), upper))
    assert calls == [("get_weather", {"LOCATION": "PARIS"})]


def gemini_client(upstream: Upstream) -> genai.Client:
    options = types.HttpOptions(base_url="http://upstream.test", httpx_client=upstream.client)
    return genai.Client(api_key="x", http_options=options)


def read_gemini(client: genai.Client, upstream: Upstream, body: bytes) -> tuple:
    upstream.body = body
    text, thoughts, calls, usage = "", "", [], []
    for chunk in client.models.generate_content_stream(model="m", contents="hi"):
        usage.append(chunk.usage_metadata)
        for candidate in chunk.candidates or []:
            for part in candidate.content.parts or [] if candidate.content else []:
                if part.text is not None:
                    if part.thought:
                        thoughts += part.text
                    else:
                        text += part.text
                if part.function_call is not None:
                    calls.append((part.function_call.name, part.function_call.args))
    return text, thoughts, calls, usage


@pytest.mark.filterwarnings("ignore:.* is not a valid:UserWarning")  # recorded enum values the SDK predates
def test_google_genai_sdk_reads_rewritten_streams(providers_corpus: Path, upstream: Upstream) -> None:
    client = gemini_client(upstream)
    checked = 0
    for name, raw in gemini_streams(providers_corpus).items():
        try:
            text, thoughts, calls, usage = read_gemini(client, upstream, raw)
        except errors.APIError:
            continue  # an error the API answers (or sends mid-stream)
        rewritten = read_gemini(client, upstream, rewrite_stream(GEMINI, decode(raw), upper))
        expected_calls = [(call_name, upper_values(args)) for call_name, args in calls]
        assert rewritten == (text.upper(), thoughts.upper(), expected_calls, usage), name
        checked += 1
    assert checked >= 40


# --- shapes and framing ---


def chat_chunk(delta: dict[str, Any], index: int = 0, **extra: Any) -> SSEEvent:
    choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": None} | extra
    return SSEEvent(json.dumps({"id": "c", "object": "chat.completion.chunk", "model": "m", "choices": [choice]}))


def test_openai_chat_channels() -> None:
    event = chat_chunk(
        {
            "content": "hi",
            "refusal": "no",
            "reasoning_content": "hmm",
            "tool_calls": [
                {"index": 1, "id": "call_1", "function": {"name": "f", "arguments": '{"a"'}},
                {"index": 2, "type": "custom", "custom": {"name": "g", "input": "raw"}},
            ],
            "function_call": {"arguments": "{}"},
        },
        index=3,
    )
    assert OPENAI.stream_texts(event) == [
        StreamText("choice:3", "text", "hi"),
        StreamText("choice:3:refusal", "text", "no"),
        StreamText("choice:3:reasoning", "thinking", "hmm"),
        StreamText("choice:3:tool:1", "tool_call_arguments", '{"a"'),
        StreamText("choice:3:tool:2", "tool_call_arguments", "raw"),
        StreamText("choice:3:function_call", "tool_call_arguments", "{}"),
    ]
    out = OPENAI.rewrite_stream_event(event, ["HI", "NO", "HMM", '{"b"', "RAW", "{ }"])
    assert out.startswith(b"data: {") and out.endswith(b"}\n\n") and out.count(b"\n") == 2
    data = orjson.loads(out[6:])
    delta = data["choices"][0]["delta"]
    assert (delta["content"], delta["refusal"], delta["reasoning_content"]) == ("HI", "NO", "HMM")
    assert delta["tool_calls"][0] == {"index": 1, "id": "call_1", "function": {"name": "f", "arguments": '{"b"'}}
    assert delta["tool_calls"][1]["custom"]["input"] == "RAW" and delta["function_call"]["arguments"] == "{ }"
    assert data["choices"][0]["index"] == 3 and data["id"] == "c"
    # A null field carries no text; a chunk with only usage carries none.
    assert OPENAI.stream_texts(chat_chunk({"role": "assistant", "content": None})) == []
    assert OPENAI.stream_texts(SSEEvent('{"choices":[],"usage":{"prompt_tokens":1}}')) == []


def test_openai_done_passes_through_unchanged() -> None:
    done = SSEEvent("[DONE]")
    assert OPENAI.stream_texts(done) == []
    assert OPENAI.encode_event(done) == b"data: [DONE]\n\n"
    assert OPENAI.rewrite_stream_event(done, []) == b"data: [DONE]\n\n"
    assert AZURE.encode_event(done) == b"data: [DONE]\n\n"


def test_changed_text_drops_its_token_logprobs() -> None:
    logprobs = {"content": [{"token": "sec", "logprob": -0.1, "bytes": [115, 101, 99], "top_logprobs": []}]}
    event = chat_chunk({"content": "sec"}, logprobs=logprobs)
    assert orjson.loads(OPENAI.rewrite_stream_event(event, ["sec"])[6:])["choices"][0]["logprobs"] == logprobs
    assert orjson.loads(OPENAI.rewrite_stream_event(event, ["[x]"])[6:])["choices"][0]["logprobs"] is None

    delta = {"type": "response.output_text.delta", "output_index": 1, "content_index": 0, "delta": "sec"}
    delta |= {"item_id": "msg", "logprobs": [{"token": "sec", "logprob": -0.1}], "sequence_number": 7}
    event = SSEEvent(json.dumps(delta), "response.output_text.delta")
    out = OPENAI.rewrite_stream_event(event, ["[x]"])
    assert out.startswith(b"event: response.output_text.delta\ndata: {")
    assert orjson.loads(out.split(b"data: ", 1)[1]) == delta | {"delta": "[x]", "logprobs": []}

    candidate = {"content": {"parts": [{"text": "sec"}]}, "logprobsResult": {"chosenCandidates": [{"token": "sec"}]}}
    event = SSEEvent(json.dumps({"candidates": [candidate]}))
    assert "logprobsResult" not in orjson.loads(GEMINI.rewrite_stream_event(event, ["[x]"])[6:])["candidates"][0]


def test_responses_channels_and_done_events() -> None:
    def event(payload: dict[str, Any]) -> SSEEvent:
        return SSEEvent(json.dumps(payload), payload["type"])

    message = {"type": "message", "id": "m", "content": [{"type": "output_text", "text": "a b", "annotations": []}]}
    message["content"].append({"type": "refusal", "refusal": "no"})
    call = {"type": "function_call", "id": "fc", "call_id": "c", "name": "f", "arguments": '{"x":1}'}
    reasoning = {"type": "reasoning", "id": "r", "summary": [{"type": "summary_text", "text": "think"}]}
    cases = [
        ({"type": "response.output_text.delta", "output_index": 1, "content_index": 0, "delta": "a"},
         [("output:1:content:0", "text", "a")]),
        ({"type": "response.refusal.delta", "output_index": 1, "content_index": 1, "delta": "n"},
         [("output:1:content:1", "text", "n")]),
        ({"type": "response.function_call_arguments.delta", "output_index": 2, "delta": '{"x"'},
         [("output:2", "tool_call_arguments", '{"x"')]),
        ({"type": "response.reasoning_summary_text.delta", "output_index": 0, "summary_index": 0, "delta": "th"},
         [("output:0:summary:0", "thinking", "th")]),
        ({"type": "response.output_text.done", "output_index": 1, "content_index": 0, "text": "a b"},
         [("output:1:content:0", "text_done", "a b")]),
        ({"type": "response.refusal.done", "output_index": 1, "content_index": 1, "refusal": "no"},
         [("output:1:content:1", "text_done", "no")]),
        ({"type": "response.function_call_arguments.done", "output_index": 2, "arguments": '{"x":1}'},
         [("output:2", "tool_call_arguments_done", '{"x":1}')]),
        ({"type": "response.content_part.done", "output_index": 1, "content_index": 0, "part": message["content"][0]},
         [("output:1:content:0", "text_done", "a b")]),
        ({"type": "response.output_item.done", "output_index": 1, "item": message},
         [("output:1:content:0", "text_done", "a b"), ("output:1:content:1", "text_done", "no")]),
        ({"type": "response.completed", "response": {"output": [reasoning, message, call], "usage": None}},
         [("output:0:summary:0", "text_done", "think"), ("output:1:content:0", "text_done", "a b"),
          ("output:1:content:1", "text_done", "no"), ("output:2", "tool_call_arguments_done", '{"x":1}')]),
        ({"type": "response.output_item.added", "output_index": 2, "item": call | {"arguments": ""}},
         [("output:2", "tool_call_arguments", "")]),
        ({"type": "response.in_progress", "response": {"output": []}}, []),
        ({"type": "response.output_text.annotation.added", "output_index": 1, "annotation": {"url": "u"}}, []),
    ]  # fmt: skip
    for payload, expected in cases:
        texts = OPENAI.stream_texts(event(payload))
        assert [(t.channel, t.kind, t.text) for t in texts] == expected, payload["type"]
        out = OPENAI.rewrite_stream_event(event(payload), [t.upper() for _, _, t in expected])
        again = decode(out)
        assert again[0].event == payload["type"]
        assert [t.text for t in OPENAI.stream_texts(again[0])] == [t.upper() for _, _, t in expected]


def test_anthropic_channels_and_framing() -> None:
    def event(payload: dict[str, Any]) -> SSEEvent:
        return SSEEvent(json.dumps(payload), payload["type"])

    cases = [
        ({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
         [("block:0", "text", "")]),
        ({"type": "content_block_start", "index": 1, "content_block": {"type": "thinking", "thinking": ""}},
         [("block:1", "thinking", "")]),
        ({"type": "content_block_delta", "index": 1, "delta": {"type": "thinking_delta", "thinking": "hm"}},
         [("block:1", "thinking", "hm")]),
        ({"type": "content_block_delta", "index": 2, "delta": {"type": "text_delta", "text": "Hi"}},
         [("block:2", "text", "Hi")]),
        ({"type": "content_block_delta", "index": 3, "delta": {"type": "input_json_delta", "partial_json": "{"}},
         [("block:3", "tool_call_arguments", "{")]),
        ({"type": "content_block_delta", "index": 1, "delta": {"type": "signature_delta", "signature": "s"}}, []),
        ({"type": "content_block_start", "index": 3,
          "content_block": {"type": "tool_use", "id": "t", "name": "f", "input": {}}}, []),
        ({"type": "content_block_delta", "delta": {"type": "text_delta", "text": "no index"}}, []),
        ({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 3}}, []),
        ({"type": "ping"}, []),
    ]  # fmt: skip
    for payload, expected in cases:
        texts = ANTHROPIC.stream_texts(event(payload))
        assert [(t.channel, t.kind, t.text) for t in texts] == expected, payload
    out = ANTHROPIC.rewrite_stream_event(event(cases[3][0]), ["Hello, <EMAIL_1>"])
    assert out == (
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":2,'
        b'"delta":{"type":"text_delta","text":"Hello, <EMAIL_1>"}}\n\n'
    )
    ping = SSEEvent('{"type": "ping"}', "ping")
    assert ANTHROPIC.encode_event(ping) == b'event: ping\ndata: {"type": "ping"}\n\n'


def test_gemini_channels_objects_and_framing() -> None:
    body = {
        "candidates": [
            {
                "index": 0,
                "content": {
                    "role": "model",
                    "parts": [
                        {"text": "plan", "thought": True},
                        {"text": "Hello "},
                        {"functionCall": {"name": "send", "args": {"to": "a@b.c", "n": 2}}},
                        {"text": "world"},
                        {"functionCall": {"partialArgs": [{"jsonPath": "$.body", "stringValue": "pie"}]}},
                    ],
                },
            }
        ],
        "usageMetadata": {"promptTokenCount": 3},
        "modelVersion": "gemini-x",
    }
    event = SSEEvent(json.dumps(body))
    assert GEMINI.stream_texts(event) == [
        StreamText("candidate:0:thought", "thinking", "plan"),
        StreamText("candidate:0", "text", "Hello "),
        StreamText("candidate:0:part:2", "tool_call_arguments_object", '{"to":"a@b.c","n":2}'),
        StreamText("candidate:0", "text", "world"),
        StreamText("candidate:0:args:$.body", "tool_call_argument_string", "pie"),
    ]
    out = GEMINI.rewrite_stream_event(event, ["PLAN", "Hi ", '{"to":"[EMAIL]","n":2}', "there", "PIE"])
    assert out.startswith(b"data: {") and out.endswith(b"}\r\n\r\n") and out.count(b"\r\n") == 2
    parts = orjson.loads(out[6:])["candidates"][0]["content"]["parts"]
    assert parts[2]["functionCall"]["args"] == {"to": "[EMAIL]", "n": 2}
    assert [parts[i].get("text") for i in (0, 1, 3)] == ["PLAN", "Hi ", "there"]
    assert parts[4]["functionCall"]["partialArgs"][0] == {"jsonPath": "$.body", "stringValue": "PIE"}
    assert orjson.loads(out[6:])["usageMetadata"] == {"promptTokenCount": 3}
    # A replacement that is not a JSON object is kept as a string.
    for broken in ('{"to": "[EMAIL]"', "[1]", "null"):
        texts = [t.text for t in GEMINI.stream_texts(event)]
        texts[2] = broken
        parts = orjson.loads(GEMINI.rewrite_stream_event(event, texts)[6:])["candidates"][0]["content"]["parts"]
        assert parts[2]["functionCall"]["args"] == broken
    assert GEMINI.encode_event(SSEEvent('{"a": 1}')) == b'data: {"a": 1}\r\n\r\n'


def test_multi_line_data_gets_a_data_prefix_per_line() -> None:
    pretty = SSEEvent('{\n  "type": "content_block_delta", "index": 0,\n  "delta": {"type": "text_delta", "text": "x"}\n}')
    [decoded] = decode(ANTHROPIC.encode_event(SSEEvent(pretty.data, "content_block_delta")))
    assert decoded == SSEEvent(pretty.data, "content_block_delta")
    assert OPENAI.encode_event(pretty) == (
        b'data: {\ndata:   "type": "content_block_delta", "index": 0,\n'
        b'data:   "delta": {"type": "text_delta", "text": "x"}\ndata: }\n\n'
    )
    assert GEMINI.encode_event(pretty).count(b"data: ") == 4 and GEMINI.encode_event(pretty).endswith(b"}\r\n\r\n")
    # A rewrite re-encodes the JSON compactly, on one line.
    assert ANTHROPIC.rewrite_stream_event(pretty, ["y"]) == (
        b'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"y"}}\n\n'
    )
    with_id = SSEEvent('{"choices": []}', None, "42")
    assert decode(OPENAI.encode_event(with_id)) == [with_id]


JUNK = [
    "",
    "[DONE]",
    "not json",
    "{broken",
    "[1, 2]",
    '"text"',
    "null",
    '{"choices": "no"}',
    '{"choices": [1, null, {"delta": []}, {"delta": {"content": 5, "tool_calls": [null, 3, {"function": []}]}}]}',
    '{"type": "response.output_text.delta", "delta": 5}',
    '{"type": "response.completed", "response": {"output": [null, {"type": "message", "content": "x"}]}}',
    '{"type": "response.output_item.done", "item": {"type": "reasoning", "summary": [1, {"text": null}]}}',
    '{"type": "content_block_delta", "index": "0", "delta": {"type": "text_delta", "text": "x"}}',
    '{"type": "content_block_delta", "index": 0, "delta": "x"}',
    '{"candidates": [{"content": {"parts": [{"text": 1}, {"functionCall": {"args": [1]}}, null]}}]}',
    '{"candidates": [{"content": {"parts": [{"functionCall": {"partialArgs": [{"jsonPath": 1}, 2]}}]}}]}',
    '{"candidates": {"content": "x"}}',
]


VALID = {
    "openai": {"choices": [{"index": 0, "delta": {"content": "a", "tool_calls": [{"index": 0, "function": {}}]}}]},
    "anthropic": {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "a"}},
    "gemini": {"candidates": [{"index": 0, "content": {"parts": [{"text": "a"}, {"functionCall": {"args": {}}}]}}]},
}


@pytest.mark.parametrize("adapter", [OPENAI, ANTHROPIC, GEMINI], ids=lambda a: a.name)
def test_junk_carries_no_text(adapter: ProviderAdapter) -> None:
    for data in JUNK:
        event = SSEEvent(data, "content_block_delta")
        assert adapter.stream_texts(event) == [], data
        assert adapter.rewrite_stream_event(event, []) == adapter.encode_event(event)


@pytest.mark.parametrize("adapter", [OPENAI, ANTHROPIC, GEMINI], ids=lambda a: a.name)
def test_odd_events_never_raise(adapter: ProviderAdapter, providers_odd_bodies) -> None:
    """Odd values in place of every field of a valid event: texts that are strings, and a rewrite of
    exactly those texts that works."""
    for body in providers_odd_bodies(VALID[adapter.name]):
        for responses_type in (None, "response.output_text.delta", "response.completed", "response.output_item.done"):
            if responses_type and (adapter is not OPENAI or not isinstance(body, dict)):
                continue
            payload = {**body, "type": responses_type} if responses_type else body
            try:
                event = SSEEvent(json.dumps(payload))
            except (TypeError, ValueError):
                continue
            texts = adapter.stream_texts(event)
            assert all(isinstance(t.text, str) for t in texts)
            new = [t.text if t.kind == "tool_call_arguments_object" else t.text + "!" for t in texts]
            out = adapter.rewrite_stream_event(event, new)
            assert [t.text for t in adapter.stream_texts(decode(out)[0])] == new


@pytest.mark.parametrize(
    "adapter, event",
    [
        (OPENAI, chat_chunk({"content": "a"})),
        (ANTHROPIC, SSEEvent('{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a"}}')),
        (GEMINI, SSEEvent('{"candidates":[{"content":{"parts":[{"text":"a"}]}}]}')),
    ],
    ids=["openai", "anthropic", "gemini"],
)
def test_wrong_texts_are_the_callers_bug(adapter: ProviderAdapter, event: SSEEvent) -> None:
    for texts in ([], ["a", "b"], [None], "a"):
        with pytest.raises(ValueError):
            adapter.rewrite_stream_event(event, texts)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        adapter.rewrite_stream_event(SSEEvent("[DONE]"), ["x"])
    with pytest.raises(ValueError):
        adapter.rewrite_stream_event(event, ["\ud800"])  # a lone surrogate cannot be sent
    assert adapter.rewrite_stream_event(event, ["a"]) == adapter.encode_event(event)
    assert adapter.rewrite_stream_event(event, ("b",)) != adapter.encode_event(event)
