"""The official anthropic and google-genai SDKs through the real Envoy + ztgate."""

from __future__ import annotations

import time

import anthropic
import httpx2 as httpx
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from conftest import UPSTREAM_KEYS, Gateway


def claude(gw: Gateway, key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gw.url, api_key=key, max_retries=0, timeout=20)


def gemini(gw: Gateway, key: str) -> genai.Client:
    return genai.Client(api_key=key, http_options=types.HttpOptions(base_url=gw.url, timeout=20_000))


def upstream(gw: Gateway, fragment: str):
    seen = [r for r in gw.provider.requests if fragment in r.path]
    assert seen, f"the provider never saw {fragment}"
    return seen[-1]


def test_anthropic_message(gateway: Gateway) -> None:
    message = claude(gateway, gateway.keys["dev"]).messages.create(
        model="claude-haiku-4-5", max_tokens=256, messages=[{"role": "user", "content": "hello claude"}]
    )
    assert "hello claude" in message.content[0].text
    seen = upstream(gateway, "/v1/messages")
    assert seen.headers["x-api-key"] == UPSTREAM_KEYS["anthropic"]
    assert gateway.keys["dev"] not in str(seen.headers)


def test_anthropic_stream_returns_text_and_usage(gateway: Gateway) -> None:
    with claude(gateway, gateway.keys["dev"]).messages.stream(
        model="claude-haiku-4-5", max_tokens=256, messages=[{"role": "user", "content": "stream claude"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert "stream claude" in text
    assert final.usage.output_tokens > 0


def test_anthropic_denied_model(gateway: Gateway) -> None:
    with pytest.raises(anthropic.PermissionDeniedError) as exc:
        claude(gateway, gateway.keys["intern"]).messages.create(
            model="claude-opus-4-1", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
        )
    assert "claude-opus-4-1" in str(exc.value)


def test_anthropic_bad_key(gateway: Gateway) -> None:
    with pytest.raises(anthropic.AuthenticationError):
        claude(gateway, "sk-ant-not-a-ztgate-key").messages.create(
            model="claude-haiku-4-5", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )


def test_anthropic_missing_max_tokens_is_a_bad_request(gateway: Gateway) -> None:
    response = httpx.post(
        f"{gateway.url}/v1/messages",
        headers={"x-api-key": gateway.keys["dev"], "anthropic-version": "2023-06-01"},
        json={"model": "claude-haiku-4-5", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert response.status_code == 400
    assert response.json()["type"] == "error"
    assert "max_tokens" in response.json()["error"]["message"]


def test_gemini_generate_content(gateway: Gateway) -> None:
    client = gemini(gateway, gateway.keys["dev"])  # a genai.Client closes itself when garbage-collected
    result = client.models.generate_content(model="gemini-2.0-flash", contents="hello gemini")
    assert "hello gemini" in result.text
    assert result.usage_metadata.prompt_token_count > 0
    seen = upstream(gateway, ":generateContent")
    assert seen.headers["x-goog-api-key"] == UPSTREAM_KEYS["gemini"]


def test_gemini_stream(gateway: Gateway) -> None:
    client = gemini(gateway, gateway.keys["dev"])
    chunks = list(client.models.generate_content_stream(model="gemini-2.0-flash", contents="stream gemini"))
    assert len(chunks) > 1
    assert "stream gemini" in "".join(c.text or "" for c in chunks)


def test_gemini_denied_model(gateway: Gateway) -> None:
    client = gemini(gateway, gateway.keys["intern"])
    with pytest.raises(genai_errors.ClientError) as exc:
        client.models.generate_content(model="gemini-2.5-pro", contents="hi")
    assert exc.value.code == 403
    assert "gemini-2.5-pro" in str(exc.value)


def test_gemini_key_query_parameter_never_reaches_the_provider(gateway: Gateway) -> None:
    key = gateway.keys["dev"]
    response = httpx.post(
        f"{gateway.url}/v1beta/models/gemini-2.0-flash:generateContent?key={key}",
        json={"contents": [{"role": "user", "parts": [{"text": "query key"}]}]},
    )
    assert response.status_code == 200, response.text
    seen = upstream(gateway, ":generateContent")
    assert key not in seen.path
    assert "key=" not in seen.path


def test_gemini_bad_key(gateway: Gateway) -> None:
    client = gemini(gateway, "AIza-not-a-ztgate-key")
    with pytest.raises(genai_errors.ClientError) as exc:
        client.models.generate_content(model="gemini-2.0-flash", contents="hi")
    assert exc.value.code == 401


def test_a_key_in_the_query_never_reaches_envoys_access_log_even_when_refused(gateway: Gateway) -> None:
    """Envoy moves ?key= into x-goog-api-key before anything else sees the path, and logs paths
    without their query: neither a good key nor a wrong one lands in the access log."""
    good, wrong = gateway.keys["dev"], "zt-00000000-wrong-key-but-still-secret-123456"
    for key, status in ((good, 200), (wrong, 401)):
        response = httpx.post(
            f"{gateway.url}/v1beta/models/gemini-2.0-flash:generateContent?alt=json&key={key}",
            json={"contents": [{"role": "user", "parts": [{"text": "query key"}]}]},
        )
        assert response.status_code == status, response.text
    request_id = response.headers["x-request-id"]
    access_log = gateway.config.parent / "envoy-access.jsonl"
    deadline = time.monotonic() + 5
    while request_id not in (access_log.read_text() if access_log.exists() else "") and time.monotonic() < deadline:
        time.sleep(0.05)
    text = access_log.read_text()
    assert request_id in text
    assert good not in text and wrong not in text
