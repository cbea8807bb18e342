"""Bad input through the real Envoy: a clear 4xx in the provider's format, never a crash or a hang."""

from __future__ import annotations

import socket
import time

import httpx2 as httpx
import pytest

from conftest import Gateway

CHAT = "/v1/chat/completions"


def post(gw: Gateway, path: str, content: bytes, *, key: str | None = None, headers: dict | None = None) -> httpx.Response:
    all_headers = {"content-type": "application/json", **(headers or {})}
    if key is not None:
        all_headers["authorization"] = f"Bearer {key}"
    return httpx.post(f"{gw.url}{path}", content=content, headers=all_headers, timeout=30)


def openai_error(response: httpx.Response, *, from_envoy: bool = False) -> str:
    body = response.json()
    assert set(body) == {"error"}, body
    # ztgate's own errors are passed through as written, not re-wrapped by Envoy's local reply mapper.
    assert (body["error"]["type"] == "gateway_error") is from_envoy, body
    return body["error"]["message"]


@pytest.mark.parametrize(
    ("content", "status", "fragment"),
    [
        (b'{"model": "gpt-4o", "messages": [', 400, "not valid JSON"),
        (b'{"messages": [{"role": "user", "content": "hi"}]}', 400, "model"),
        (b'{"model": "gpt-4o", "messages": "not a list"}', 400, "messages"),
        (b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "\xff\xfe"}]}', 400, "UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, 400, "JSON"),
        (b"null", 400, ""),
        (b"", 400, "body"),
    ],
    ids=["truncated", "no-model", "messages-type", "invalid-utf8", "deep-nesting", "null", "empty"],
)
def test_malformed_bodies_get_openai_format_400(gateway: Gateway, content: bytes, status: int, fragment: str) -> None:
    response = post(gateway, CHAT, content, key=gateway.keys["dev"])
    assert response.status_code == status, response.text
    assert fragment in openai_error(response)


def test_wrong_content_type(gateway: Gateway) -> None:
    response = post(gateway, CHAT, b"model=gpt-4o", key=gateway.keys["dev"], headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 415
    assert "application/json" in openai_error(response)


def test_body_over_the_limit(gateway: Gateway) -> None:
    big = b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "' + b"a" * (3 * 1024 * 1024) + b'"}]}'
    response = post(gateway, CHAT, big, key=gateway.keys["dev"])
    assert response.status_code == 413
    assert "limit" in openai_error(response)


def test_huge_upload_is_refused_while_it_streams(gateway: Gateway) -> None:
    """ztgate counts the body as Envoy streams it and refuses past the limit, without holding it all."""
    huge = b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "' + b"a" * (24 * 1024 * 1024) + b'"}]}'
    response = post(gateway, CHAT, huge, key=gateway.keys["dev"])
    assert response.status_code == 413
    assert "limit" in openai_error(response)


def test_one_mib_prompt_passes(gateway: Gateway) -> None:
    prompt = "word " * (1024 * 1024 // 5)
    body = b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "' + prompt.encode() + b'"}]}'
    response = post(gateway, CHAT, body, key=gateway.keys["dev"])
    assert response.status_code == 200, response.text[:300]


def test_unknown_path(gateway: Gateway) -> None:
    response = httpx.get(f"{gateway.url}/v1/nothing-here", headers={"authorization": f"Bearer {gateway.keys['dev']}"})
    assert response.status_code == 404
    assert openai_error(response)
    gemini_style = httpx.post(f"{gateway.url}/v1beta/nothing", json={})
    assert gemini_style.status_code == 404
    assert gemini_style.json()["error"]["code"] == 404


def test_missing_credential_is_401(gateway: Gateway) -> None:
    response = post(gateway, CHAT, b'{"model": "gpt-4o", "messages": []}')
    assert response.status_code == 401
    assert openai_error(response)


def test_client_disconnect_mid_stream(gateway: Gateway) -> None:
    body = b'{"model": "gpt-4o", "stream": true, "messages": [{"role": "user", "content": "long stream"}]}'
    host, port = gateway.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        request = (
            f"POST {CHAT} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {gateway.keys['dev']}\r\nx-fake-chunks: 200\r\nx-fake-delay-ms: 20\r\n"
            f"x-request-id: disconnect-test-1\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        sock.sendall(request)
        assert b"200 OK" in sock.recv(4096)
    # The gateway stays healthy, and the audit line records the cut.
    audit = gateway.audit_for("disconnect-test-1", timeout=15)
    assert audit["error"]["kind"] == "disconnected"
    time.sleep(0.2)
    ok = post(gateway, CHAT, b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "still up"}]}', key=gateway.keys["dev"])
    assert ok.status_code == 200
