"""The fake upstream provider speaks each provider's wire format well enough for the real SDKs.

The SDK clients point straight at the fake (no Envoy, no ztgate). The fake runs on its own event
loop in a background thread (``with FakeProvider()``), so the sync SDK clients can be called
directly from the tests.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import anthropic
import openai
import orjson
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fake_provider import DEFAULT_CREDENTIALS, FakeProvider, words  # noqa: E402

OPENAI_KEY = DEFAULT_CREDENTIALS["openai"]
ANTHROPIC_KEY = DEFAULT_CREDENTIALS["anthropic"]
GEMINI_KEY = DEFAULT_CREDENTIALS["gemini"]
AZURE_KEY = DEFAULT_CREDENTIALS["azure_openai"]

WEATHER_SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "days": {"type": "integer"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["city"],
}
WEATHER_ARGS = {"city": "fake", "days": 1, "unit": "celsius"}
OPENAI_TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER_SCHEMA}}]


@pytest.fixture(scope="module")
def fp():
    with FakeProvider() as server:
        yield server


@pytest.fixture(autouse=True)
def _clear(fp):
    fp.clear()
    fp.defaults.clear()


@pytest.fixture
def oai(fp):
    return openai.OpenAI(base_url=fp.url + "/v1", api_key=OPENAI_KEY, max_retries=0)


@pytest.fixture
def ant(fp):
    return anthropic.Anthropic(base_url=fp.url, api_key=ANTHROPIC_KEY, max_retries=0)


@pytest.fixture
def gem(fp):
    return genai.Client(api_key=GEMINI_KEY, http_options=genai_types.HttpOptions(base_url=fp.url))


# ---------------------------------------------------------------------------------------------
# OpenAI
# ---------------------------------------------------------------------------------------------


def test_openai_chat_completion(fp, oai):
    r = oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "hello there world"}]},
        ],
    )
    assert r.object == "chat.completion"
    assert r.model == "gpt-4o-mini"
    assert r.choices[0].message.role == "assistant"
    assert r.choices[0].message.content == "echo: hello there world"
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.prompt_tokens == 2 + 3 + 3  # words("be brief") + words("hello there world") + 3
    assert r.usage.completion_tokens == 4
    assert r.usage.total_tokens == 12

    rec = fp.last
    assert (rec.method, rec.path, rec.provider, rec.status) == ("POST", "/v1/chat/completions", "openai", 200)
    assert rec.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert rec.json["model"] == "gpt-4o-mini"
    assert orjson.loads(rec.body) == rec.json
    assert rec.answer == "echo: hello there world"
    assert rec.usage == {"input_tokens": 8, "output_tokens": 4, "cache_read_input_tokens": 0}


def test_openai_chat_stream_with_usage(fp, oai):
    chunks = list(
        oai.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "stream me please"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert all(c.object == "chat.completion.chunk" and c.model == "gpt-4o" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    content = [c.choices[0].delta.content for c in chunks[1:] if c.choices and c.choices[0].delta.content]
    assert len(content) == 5  # default x-fake-chunks
    assert "".join(content) == "echo: stream me please"
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish == ["stop"]
    # every chunk but the last carries usage null; the last has no choices and the usage
    assert all(c.usage is None for c in chunks[:-1])
    assert chunks[-1].choices == []
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (3 + 3, 4)


def test_openai_chat_stream_without_usage_and_chunks_knob(fp, oai):
    chunks = list(
        oai.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            extra_headers={"x-fake-chunks": "200"},
        )
    )
    content = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content) == 200
    text = "".join(content)
    assert text.startswith("echo: hi") and len(text) == 200  # padded with filler to reach 200 chunks
    assert all(c.usage is None for c in chunks)
    assert fp.last.answer == text and fp.last.usage["output_tokens"] == words(text)


def test_openai_chat_tool_call(fp, oai):
    r = oai.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "weather? CALL_TOOL"}],
        tools=OPENAI_TOOLS,
    )
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.function.name == "get_weather"
    assert orjson.loads(call.function.arguments) == WEATHER_ARGS
    assert r.usage.completion_tokens == words(f"get_weather {call.function.arguments}")

    # the tool result comes back: no new tool call, the result is echoed
    r2 = oai.chat.completions.create(
        model="gpt-4o",
        messages=[
            {"role": "user", "content": "weather? CALL_TOOL"},
            {"role": "assistant", "tool_calls": [call.model_dump()]},
            {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
        ],
        tools=OPENAI_TOOLS,
    )
    assert r2.choices[0].message.content == "echo: sunny"


def test_openai_chat_tool_call_streamed(fp, oai):
    with oai.chat.completions.stream(
        model="gpt-4o",
        messages=[{"role": "user", "content": "CALL_TOOL"}],
        tools=OPENAI_TOOLS,
    ) as stream:
        deltas = [e for e in stream if e.type == "tool_calls.function.arguments.delta"]
        final = stream.get_final_completion()
    assert len(deltas) > 1  # streamed as fragments
    call = final.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert orjson.loads(call.function.arguments) == WEATHER_ARGS
    assert final.choices[0].finish_reason == "tool_calls"


def test_openai_responses(fp, oai):
    r = oai.responses.create(model="gpt-4.1", instructions="be nice", input="what is up")
    assert r.object == "response" and r.status == "completed"
    assert r.model == "gpt-4.1"
    assert r.output_text == "echo: what is up"
    assert (r.usage.input_tokens, r.usage.output_tokens, r.usage.total_tokens) == (2 + 3 + 3, 4, 12)

    r = oai.responses.create(
        model="gpt-4.1",
        input=[{"role": "user", "content": [{"type": "input_text", "text": "list form"}]}],
        extra_headers={"x-fake-cache-read": "2"},
    )
    assert r.output_text == "echo: list form"
    assert r.usage.input_tokens_details.cached_tokens == 2


def test_openai_responses_stream(fp, oai):
    with oai.responses.stream(model="gpt-4.1", input="stream it") as stream:
        types_ = [e.type for e in stream]
        final = stream.get_final_response()
    assert types_ == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * 5,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert final.output_text == "echo: stream it"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (2 + 3, 3)

    # raw stream events carry increasing sequence numbers
    events = list(oai.responses.create(model="gpt-4.1", input="x", stream=True))
    assert [e.sequence_number for e in events] == list(range(len(events)))


def test_openai_responses_tool_call(fp, oai):
    tools = [{"type": "function", "name": "get_weather", "parameters": WEATHER_SCHEMA, "strict": False}]
    r = oai.responses.create(model="gpt-4.1", input="CALL_TOOL", tools=tools)
    call = r.output[0]
    assert call.type == "function_call" and call.name == "get_weather"
    assert orjson.loads(call.arguments) == WEATHER_ARGS

    with oai.responses.stream(model="gpt-4.1", input="CALL_TOOL", tools=tools) as stream:
        deltas = [e for e in stream if e.type == "response.function_call_arguments.delta"]
        final = stream.get_final_response()
    assert len(deltas) > 1
    assert final.output[0].type == "function_call"
    assert orjson.loads(final.output[0].arguments) == WEATHER_ARGS


def test_openai_embeddings_and_models(fp, oai):
    e = oai.embeddings.create(model="text-embedding-3-small", input=["one two", "three"])  # base64 by default
    assert [len(d.embedding) for d in e.data] == [1536, 1536]
    assert e.usage.prompt_tokens == 3
    e = oai.embeddings.create(model="text-embedding-3-small", input="a b c", dimensions=8, encoding_format="float")
    assert len(e.data[0].embedding) == 8
    ids = [m.id for m in oai.models.list()]
    assert "gpt-4o-mini" in ids


def test_azure_openai_chat(fp):
    az = openai.AzureOpenAI(
        azure_endpoint=fp.url, api_key=AZURE_KEY, api_version="2024-10-21", azure_deployment="prod-gpt4o", max_retries=0
    )
    r = az.chat.completions.create(model="prod-gpt4o", messages=[{"role": "user", "content": "hi azure"}])
    assert r.choices[0].message.content == "echo: hi azure"
    assert fp.last.path == "/openai/deployments/prod-gpt4o/chat/completions?api-version=2024-10-21"
    assert fp.last.headers["api-key"] == AZURE_KEY and fp.last.provider == "azure_openai"
    chunks = list(
        az.chat.completions.create(
            model="prod-gpt4o", messages=[{"role": "user", "content": "hi azure"}], stream=True
        )
    )
    assert chunks[0].choices == []  # Azure's prompt_filter_results chunk comes first
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "echo: hi azure"


# ---------------------------------------------------------------------------------------------
# Anthropic
# ---------------------------------------------------------------------------------------------

ANTHROPIC_TOOLS = [{"name": "get_weather", "description": "weather", "input_schema": WEATHER_SCHEMA}]


def test_anthropic_messages(fp, ant):
    m = ant.messages.create(
        model="claude-haiku-4-5",
        max_tokens=64,
        system="you are terse",
        messages=[{"role": "user", "content": "hello claude"}],
        extra_headers={"x-fake-cache-read": "7"},
    )
    assert m.type == "message" and m.role == "assistant" and m.model == "claude-haiku-4-5"
    assert m.content[0].type == "text" and m.content[0].text == "echo: hello claude"
    assert m.stop_reason == "end_turn"
    assert (m.usage.input_tokens, m.usage.output_tokens, m.usage.cache_read_input_tokens) == (3 + 2 + 3, 3, 7)
    # the current SDK sends the API key as a bearer token; the version header is required
    assert fp.last.headers["authorization"] == f"Bearer {ANTHROPIC_KEY}"
    assert "anthropic-version" in fp.last.headers
    assert fp.last.usage == {"input_tokens": 8, "output_tokens": 3, "cache_read_input_tokens": 7}


def test_anthropic_stream(fp, ant):
    with ant.messages.stream(
        model="claude-haiku-4-5", max_tokens=64, messages=[{"role": "user", "content": "stream claude"}]
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) == 5
    assert "".join(pieces) == "echo: stream claude" == final.content[0].text
    assert final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens, final.usage.cache_read_input_tokens) == (5, 3, 0)

    raw = list(
        ant.messages.create(
            model="claude-haiku-4-5", max_tokens=64, messages=[{"role": "user", "content": "x"}], stream=True
        )
    )
    assert [e.type for e in raw] == [
        "message_start",
        "content_block_start",
        *["content_block_delta"] * 5,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]


def test_anthropic_tool_use(fp, ant):
    msgs = [{"role": "user", "content": "CALL_TOOL for paris"}]
    m = ant.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=msgs, tools=ANTHROPIC_TOOLS)
    assert m.stop_reason == "tool_use"
    block = m.content[0]
    assert block.type == "tool_use" and block.name == "get_weather" and block.input == WEATHER_ARGS

    with ant.messages.stream(model="claude-sonnet-4-6", max_tokens=64, messages=msgs, tools=ANTHROPIC_TOOLS) as s:
        json_deltas = [e for e in s if e.type == "content_block_delta" and e.delta.type == "input_json_delta"]
        final = s.get_final_message()
    assert len(json_deltas) > 2
    assert final.content[0].type == "tool_use" and final.content[0].input == WEATHER_ARGS

    # the tool result: echoed, no new tool call
    m2 = ant.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=64,
        tools=ANTHROPIC_TOOLS,
        messages=[
            *msgs,
            {"role": "assistant", "content": [block.model_dump(exclude_none=True)]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": block.id, "content": "rainy"}]},
        ],
    )
    assert m2.content[0].text == "echo: rainy"


# ---------------------------------------------------------------------------------------------
# Gemini
# ---------------------------------------------------------------------------------------------


def test_gemini_generate_content(fp, gem):
    r = gem.models.generate_content(
        model="gemini-2.5-flash",
        contents="hello gemini",
        config=genai_types.GenerateContentConfig(system_instruction="be kind"),
    )
    assert r.text == "echo: hello gemini"
    assert r.model_version == "gemini-2.5-flash"
    assert r.candidates[0].finish_reason == genai_types.FinishReason.STOP
    u = r.usage_metadata
    assert (u.prompt_token_count, u.candidates_token_count, u.total_token_count) == (2 + 2 + 3, 3, 10)
    assert fp.last.headers["x-goog-api-key"] == GEMINI_KEY
    assert fp.last.path.endswith("/models/gemini-2.5-flash:generateContent")


def test_gemini_stream(fp, gem):
    chunks = list(gem.models.generate_content_stream(model="gemini-2.5-pro", contents="stream gemini"))
    assert len(chunks) == 5
    assert "".join(c.text for c in chunks) == "echo: stream gemini"
    assert all(c.usage_metadata is None for c in chunks[:-1])
    assert chunks[-1].usage_metadata.prompt_token_count == 5
    assert chunks[-1].usage_metadata.candidates_token_count == 3
    assert fp.last.query == "alt=sse"


def test_gemini_v1beta_tool_call_and_models(fp):
    client = genai.Client(
        api_key=GEMINI_KEY, http_options=genai_types.HttpOptions(base_url=fp.url, api_version="v1beta")
    )
    tool = genai_types.Tool(
        function_declarations=[genai_types.FunctionDeclaration(name="get_weather", parameters_json_schema=WEATHER_SCHEMA)]
    )
    r = client.models.generate_content(
        model="gemini-2.5-flash", contents="CALL_TOOL please", config=genai_types.GenerateContentConfig(tools=[tool])
    )
    assert fp.last.path.startswith("/v1beta/models/gemini-2.5-flash:generateContent")
    call = r.function_calls[0]
    assert call.name == "get_weather" and call.args == WEATHER_ARGS
    chunks = list(
        client.models.generate_content_stream(
            model="gemini-2.5-flash", contents="CALL_TOOL please", config=genai_types.GenerateContentConfig(tools=[tool])
        )
    )
    assert chunks[-1].function_calls[0].args == WEATHER_ARGS
    assert "models/gemini-2.5-flash" in [m.name for m in client.models.list()]


# ---------------------------------------------------------------------------------------------
# Credentials, errors and knobs
# ---------------------------------------------------------------------------------------------


def test_wrong_credentials_are_rejected_in_each_format(fp):
    with pytest.raises(openai.AuthenticationError) as e:
        openai.OpenAI(base_url=fp.url + "/v1", api_key="sk-client-key", max_retries=0).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "x"}]
        )
    assert e.value.status_code == 401 and e.value.code == "invalid_api_key"
    with pytest.raises(anthropic.AuthenticationError) as e2:
        anthropic.Anthropic(base_url=fp.url, api_key="wrong", max_retries=0).messages.create(
            model="claude-haiku-4-5", max_tokens=8, messages=[{"role": "user", "content": "x"}]
        )
    assert e2.value.body["error"]["type"] == "authentication_error"
    bad_gemini = genai.Client(api_key="wrong", http_options=genai_types.HttpOptions(base_url=fp.url))
    with pytest.raises(genai_errors.ClientError) as e3:
        bad_gemini.models.generate_content(model="gemini-2.5-flash", contents="x")
    assert e3.value.code == 401 and e3.value.status == "UNAUTHENTICATED"
    with pytest.raises(openai.AuthenticationError):
        openai.AzureOpenAI(
            azure_endpoint=fp.url, api_key="wrong", api_version="2024-10-21", max_retries=0
        ).chat.completions.create(model="d", messages=[{"role": "user", "content": "x"}])
    assert [r.status for r in fp.requests] == [401, 401, 401, 401]


def test_anthropic_x_api_key_header_and_stale_client_credential(fp):
    def post(headers):
        req = urllib.request.Request(
            fp.url + "/v1/messages",
            data=orjson.dumps({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}),
            headers={"content-type": "application/json", "anthropic-version": "2023-06-01", **headers},
        )
        try:
            with urllib.request.urlopen(req) as resp:
                return resp.status
        except urllib.error.HTTPError as err:
            return err.code

    assert post({"x-api-key": ANTHROPIC_KEY}) == 200
    # an injected upstream key next to a client credential that was not stripped is refused
    assert post({"x-api-key": ANTHROPIC_KEY, "authorization": "Bearer client-key"}) == 401
    assert post({}) == 401


def test_status_knob_gives_provider_errors_without_sdk_retries(fp):
    t0 = time.monotonic()
    with pytest.raises(openai.RateLimitError) as e:
        openai.OpenAI(base_url=fp.url + "/v1", api_key=OPENAI_KEY).chat.completions.create(  # default retries
            model="gpt-4o", messages=[{"role": "user", "content": "x"}], extra_headers={"x-fake-status": "429"}
        )
    assert e.value.code == "rate_limit_exceeded"
    with pytest.raises(anthropic.RateLimitError):
        anthropic.Anthropic(base_url=fp.url, api_key=ANTHROPIC_KEY).messages.create(
            model="c", max_tokens=8, messages=[{"role": "user", "content": "x"}], extra_headers={"x-fake-status": "429"}
        )
    failing_gemini = genai.Client(
        api_key=GEMINI_KEY, http_options=genai_types.HttpOptions(base_url=fp.url, headers={"x-fake-status": "503"})
    )
    with pytest.raises(genai_errors.ServerError) as e3:
        failing_gemini.models.generate_content(model="gemini-2.5-flash", contents="x")
    assert e3.value.code == 503 and e3.value.status == "UNAVAILABLE"
    assert len(fp.requests) == 3  # nobody retried
    assert time.monotonic() - t0 < 3


def test_gzip_knob(fp, oai, ant, gem):
    raw = oai.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "zip it"}], extra_headers={"x-fake-gzip": "1"}
    )
    assert raw.headers["content-encoding"] == "gzip"
    assert raw.parse().choices[0].message.content == "echo: zip it"
    chunks = list(
        oai.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "zip it"}],
            stream=True,
            extra_headers={"x-fake-gzip": "1"},
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "echo: zip it"
    with ant.messages.stream(
        model="c", max_tokens=8, messages=[{"role": "user", "content": "zip it"}], extra_headers={"x-fake-gzip": "1"}
    ) as s:
        assert s.get_final_message().content[0].text == "echo: zip it"
    fp.defaults["x-fake-gzip"] = "1"  # server-wide default knob
    assert "".join(c.text for c in gem.models.generate_content_stream(model="g", contents="zip it")) == "echo: zip it"

    # the body really is gzip on the wire, whatever the client asked for
    req = urllib.request.Request(
        fp.url + "/v1/models", headers={"authorization": f"Bearer {OPENAI_KEY}", "accept-encoding": "identity"}
    )
    with urllib.request.urlopen(req) as resp:
        assert resp.headers["content-encoding"] == "gzip"
        assert orjson.loads(gzip.decompress(resp.read()))["object"] == "list"


def test_body_bytes_answer_and_tool_args_knobs(fp, oai):
    req = urllib.request.Request(
        fp.url + "/v1/chat/completions",
        data=orjson.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "pad me"}]}),
        headers={
            "authorization": f"Bearer {OPENAI_KEY}",
            "content-type": "application/json",
            "x-fake-body-bytes": "2048",
        },
    )
    with urllib.request.urlopen(req) as resp:
        body = resp.read()
    assert abs(len(body) - 2048) <= 8
    answer = orjson.loads(body)["choices"][0]["message"]["content"]
    assert answer.startswith("echo: pad me ") and orjson.loads(body)["usage"]["completion_tokens"] == words(answer)

    r = oai.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "x"}],
        extra_headers={"x-fake-answer": "card 4111 1111 1111 1111"},
    )
    assert r.choices[0].message.content == "card 4111 1111 1111 1111"
    assert r.usage.completion_tokens == 5

    r = oai.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "CALL_TOOL"}],
        tools=OPENAI_TOOLS,
        extra_headers={"x-fake-tool-args": '{"city": "AKIA0000000000000000"}'},
    )
    assert orjson.loads(r.choices[0].message.tool_calls[0].function.arguments) == {"city": "AKIA0000000000000000"}
    assert fp.last.tool_call == {"name": "get_weather", "arguments": '{"city": "AKIA0000000000000000"}'}


def test_echo_is_truncated_and_unknown_routes_are_recorded(fp, oai):
    long_text = "y" * 500
    r = oai.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": long_text}])
    assert r.choices[0].message.content == "echo: " + "y" * 200
    with pytest.raises(openai.NotFoundError):
        oai.post("/nope", cast_to=object, body={})
    assert [(r.path, r.status) for r in fp.requests] == [("/v1/chat/completions", 200), ("/v1/nope", 404)]
    fp.clear()
    assert fp.requests == []


async def test_in_process_async_mode():
    async with FakeProvider(credentials={"openai": "other-key"}) as fake:
        client = openai.AsyncOpenAI(base_url=fake.url + "/v1", api_key="other-key", max_retries=0)
        r = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "async"}])
        assert r.choices[0].message.content == "echo: async"
        stream = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "async"}], stream=True
        )
        assert "".join([c.choices[0].delta.content or "" async for c in stream]) == "echo: async"
        await client.close()
        assert fake.url.startswith("http://127.0.0.1:") and len(fake.requests) == 2


def test_script_mode():
    script = Path(__file__).resolve().parents[1] / "fake_provider.py"
    proc = subprocess.Popen(
        [sys.executable, str(script), "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        line = proc.stdout.readline().split()
        assert line[0] == "READY"
        req = urllib.request.Request(
            line[1] + "/v1/messages",
            data=orjson.dumps({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "script"}]}),
            headers={"x-api-key": ANTHROPIC_KEY, "anthropic-version": "2023-06-01", "content-type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert orjson.loads(resp.read())["content"][0]["text"] == "echo: script"
    finally:
        proc.terminate()
        assert proc.wait(5) == 0
