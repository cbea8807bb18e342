"""Tool-call argument constraints through the real Envoy: the model's call is judged whole, and a
refused call never reaches the client (policy data: tools.constraints.send_email.to.domains)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import anthropic
import openai
import pytest

from conftest import Gateway, launch_gateway, policy_copy

EVIL = json.dumps({"to": "boss@evil.example", "body": "the quarterly numbers"})
GOOD = json.dumps({"to": "boss@example.com", "body": "the quarterly numbers"})
SEND_EMAIL = {"name": "send_email", "description": "send an e-mail", "parameters": {"type": "object", "properties": {"to": {"type": "string"}, "body": {"type": "string"}}}}
PROMPT = "CALL_TOOL: mail the numbers to my boss"


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, fake_provider) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("toolargs")
    constraints = {"send_email": {"to": {"required": True, "domains": ["example.com"]}}}
    policy_dir = policy_copy(tmp, lambda data: data["tools"].update(constraints=constraints))
    with launch_gateway(tmp, fake_provider, policy={"dir": str(policy_dir)}) as gateway:
        yield gateway


def oai(gw: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=gw.keys["dev"], max_retries=0, timeout=20)


def test_openai_stream_with_a_refused_call_is_cut_before_the_call_arrives(gw: Gateway) -> None:
    stream = oai(gw).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": PROMPT}], tools=[{"type": "function", "function": SEND_EMAIL}],
        stream=True, extra_headers={"x-fake-tool-args": EVIL},
    )
    arguments = ""
    with pytest.raises(openai.APIError) as exc:
        for chunk in stream:
            for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
                arguments += call.function.arguments or ""
    assert "boss@evil.example" not in arguments
    assert "example.com" in str(exc.value)


def test_openai_buffered_answer_with_a_refused_call_never_shows_it(gw: Gateway) -> None:
    raw = oai(gw).chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": PROMPT}], tools=[{"type": "function", "function": SEND_EMAIL}],
        extra_headers={"x-fake-tool-args": EVIL},
    )
    body = raw.http_response.content
    assert b"boss@evil.example" not in body and b"tool_calls" not in body
    assert "send_email" in raw.http_response.json()["error"]["message"]
    assert gw.audit_for(raw.headers["x-request-id"])["error"]["kind"] == "output_blocked"


def test_an_allowed_call_arrives_whole(gw: Gateway) -> None:
    answer = oai(gw).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": PROMPT}], tools=[{"type": "function", "function": SEND_EMAIL}],
        extra_headers={"x-fake-tool-args": GOOD},
    )
    call = answer.choices[0].message.tool_calls[0]
    assert call.function.name == "send_email" and json.loads(call.function.arguments)["to"] == "boss@example.com"


def test_anthropic_stream_with_a_refused_call_raises(gw: Gateway) -> None:
    client = anthropic.Anthropic(base_url=gw.url, api_key=gw.keys["dev"], max_retries=0, timeout=20)
    tool = {"name": "send_email", "description": "send an e-mail", "input_schema": SEND_EMAIL["parameters"]}
    with pytest.raises(anthropic.APIError) as exc:
        with client.messages.stream(
            model="claude-3-5-sonnet-latest", max_tokens=200, messages=[{"role": "user", "content": PROMPT}], tools=[tool],
            extra_headers={"x-fake-tool-args": EVIL},
        ) as stream:
            for _ in stream:
                pass
    assert "example.com" in str(exc.value)
