"""The official openai SDK through the real Envoy + ztgate, against the fake provider."""

from __future__ import annotations

import json
import time

import openai
import pytest

from conftest import UPSTREAM_KEYS, Gateway


def client(gw: Gateway, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=key, max_retries=0, timeout=20)


def last_upstream(gw: Gateway, path: str):
    seen = [r for r in gw.provider.requests if r.path.split("?")[0] == path]
    assert seen, f"the provider never saw {path}"
    return seen[-1]


def test_allowed_chat_returns_the_providers_answer(gateway: Gateway) -> None:
    raw = client(gateway, gateway.keys["dev"]).chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hello from the gateway test"}]
    )
    completion = raw.parse()
    assert "hello from the gateway test" in completion.choices[0].message.content
    assert completion.model == "gpt-4o"
    request_id = raw.headers["x-request-id"]
    audit = gateway.audit_for(request_id)
    assert audit["identity"]["subject"] == "alice@example.test"
    assert audit["identity"]["method"] == "api_key"
    assert audit["provider"] == "openai"
    assert audit["model"] == "gpt-4o"
    assert audit["decision"]["allowed"] is True
    assert audit["status"] == 200
    assert audit["usage"]["input_tokens"] == completion.usage.prompt_tokens
    assert audit["usage"]["output_tokens"] == completion.usage.completion_tokens


def test_provider_sees_injected_credential_never_the_clients_key(gateway: Gateway) -> None:
    key = gateway.keys["dev"]
    client(gateway, key).chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    upstream = last_upstream(gateway, "/v1/chat/completions")
    assert upstream.headers["authorization"] == f"Bearer {UPSTREAM_KEYS['openai']}"
    assert all(key not in value for value in upstream.headers.values())
    assert key not in gateway.audit_path.read_text()
    assert key not in gateway.log()


def test_model_outside_allow_list_is_denied_with_the_policys_reason(gateway: Gateway) -> None:
    with pytest.raises(openai.PermissionDeniedError) as exc:
        client(gateway, gateway.keys["intern"]).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
        )
    assert exc.value.status_code == 403
    assert 'model "gpt-4o" is not allowed' in str(exc.value)
    assert exc.value.body["message"] == exc.value.message or "not allowed" in str(exc.value.body)


def test_bad_and_expired_keys_raise_authentication_error(gateway: Gateway) -> None:
    for key in ("zt-00000000-not-a-real-key-at-all-000000000000000", "sk-garbage", gateway.keys["expired"]):
        with pytest.raises(openai.AuthenticationError) as exc:
            client(gateway, key).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
        assert exc.value.status_code == 401
    assert "expired" in str(exc.value)


def test_streamed_chat_returns_every_chunk_and_usage(gateway: Gateway) -> None:
    stream = client(gateway, gateway.keys["dev"]).chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "stream me a few words please"}],
        stream=True,
        extra_headers={"x-fake-chunks": "12"},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content_chunks) == 12
    assert "stream me a few words please" in text
    usage = [c.usage for c in chunks if c.usage]
    assert usage, "ztgate sets stream_options.include_usage, so usage always comes back"
    upstream = last_upstream(gateway, "/v1/chat/completions")
    assert upstream.json["stream_options"]["include_usage"] is True


def test_streamed_usage_is_accounted_in_the_audit_line(gateway: Gateway) -> None:
    raw = client(gateway, gateway.keys["dev"]).chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "count my tokens"}], stream=True
    )
    chunks = list(raw.parse())
    usage = [c.usage for c in chunks if c.usage][0]
    audit = gateway.audit_for(raw.headers["x-request-id"])
    assert audit["usage"]["input_tokens"] == usage.prompt_tokens
    assert audit["usage"]["output_tokens"] == usage.completion_tokens
    assert audit["stream"] is True


def test_jwt_authenticated_call(gateway: Gateway) -> None:
    token = gateway.jwt.token("svc-reporting", ["developers"])
    raw = client(gateway, token).chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "jwt hello"}]
    )
    assert "jwt hello" in raw.parse().choices[0].message.content
    audit = gateway.audit_for(raw.headers["x-request-id"])
    assert audit["identity"]["method"] == "jwt"
    assert audit["identity"]["subject"] == "svc-reporting"
    upstream = last_upstream(gateway, "/v1/chat/completions")
    assert token not in str(upstream.headers)


def test_jwt_signed_by_an_unknown_key_is_rejected(gateway: Gateway) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    forged = gateway.jwt.token("mallory", ["developers"], key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    with pytest.raises(openai.AuthenticationError):
        client(gateway, forged).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])


def test_jwt_groups_drive_the_policy(gateway: Gateway) -> None:
    token = gateway.jwt.token("intern-bot", ["interns"])
    with pytest.raises(openai.PermissionDeniedError):
        client(gateway, token).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])


def test_tools_not_allowed_are_stripped(gateway: Gateway) -> None:
    tools = [
        {"type": "function", "function": {"name": name, "parameters": {"type": "object", "properties": {}}}}
        for name in ("search", "delete_files")
    ]
    completion = client(gateway, gateway.keys["analyst"]).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "find things"}], tools=tools
    )
    assert completion.choices[0].message.content
    upstream = last_upstream(gateway, "/v1/chat/completions")
    assert [t["function"]["name"] for t in upstream.json["tools"]] == ["search"]


def test_output_token_cap_is_enforced(gateway: Gateway) -> None:
    with pytest.raises(openai.PermissionDeniedError) as exc:
        client(gateway, gateway.keys["intern"]).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], max_completion_tokens=50000
        )
    assert "50000" in str(exc.value)
    # Without a limit of its own, the request gets the group's cap written in.
    client(gateway, gateway.keys["intern"]).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )
    upstream = last_upstream(gateway, "/v1/chat/completions")
    assert upstream.json.get("max_completion_tokens") == 1024


def test_responses_api(gateway: Gateway) -> None:
    response = client(gateway, gateway.keys["dev"]).responses.create(model="gpt-4o", input="responses api hello")
    assert "responses api hello" in response.output_text
    with pytest.raises(openai.PermissionDeniedError):
        client(gateway, gateway.keys["intern"]).responses.create(model="o3", input="hi")


def test_list_models_requires_a_key(gateway: Gateway) -> None:
    models = client(gateway, gateway.keys["dev"]).models.list()
    assert len(list(models)) > 0
    with pytest.raises(openai.AuthenticationError):
        client(gateway, "zt-ffffffff-unknown-key-unknown-key-unknown-key00").models.list()


def test_embeddings(gateway: Gateway) -> None:
    result = client(gateway, gateway.keys["dev"]).embeddings.create(model="gpt-4o-embed", input="embed me")
    assert result.data and result.data[0].embedding


def test_provider_error_passes_through_in_openai_format(gateway: Gateway) -> None:
    with pytest.raises(openai.RateLimitError):
        client(gateway, gateway.keys["dev"]).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}], extra_headers={"x-fake-status": "429"}
        )


def test_gzip_upstream_is_still_accounted(gateway: Gateway) -> None:
    raw = client(gateway, gateway.keys["dev"]).chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "zipped answer"}], extra_headers={"x-fake-gzip": "1"}
    )
    completion = raw.parse()
    assert "zipped answer" in completion.choices[0].message.content
    audit = gateway.audit_for(raw.headers["x-request-id"])
    assert audit["usage"]["output_tokens"] == completion.usage.completion_tokens


def test_envoy_access_log_carries_ztgates_metadata(gateway: Gateway) -> None:
    raw = client(gateway, gateway.keys["dev"]).chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "access log words"}]
    )
    usage = raw.parse().usage
    request_id = raw.headers["x-request-id"]
    access_log = gateway.config.parent / "envoy-access.jsonl"
    deadline = time.monotonic() + 5
    line = None
    while line is None and time.monotonic() < deadline:
        if access_log.exists():
            line = next((json.loads(l) for l in access_log.read_text().splitlines() if request_id in l), None)
        time.sleep(0.05)
    assert line is not None, "Envoy wrote no access log line for the request"
    assert (line["subject"], line["model"], line["decision"], line["provider"]) == ("alice@example.test", "gpt-4o", "allow", "openai")
    assert (line["input_tokens"], line["output_tokens"]) == (usage.prompt_tokens, usage.completion_tokens)
