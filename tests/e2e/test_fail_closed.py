"""Fail closed: with ztgate unreachable, Envoy answers 503 in the provider's format and forwards nothing."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator

import httpx2 as httpx
import openai
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from conftest import JwtIssuer, write_config
from ztgate import envoy_config
from ztgate.config import load_settings
from ztgate.up import envoy_binary


@pytest.fixture(scope="module")
def envoy_without_ztgate(tmp_path_factory: pytest.TempPathFactory, fake_provider) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("failclosed")
    issuer = JwtIssuer(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    (tmp / "jwks.json").write_text(json.dumps(issuer.jwks()))
    settings = load_settings(write_config(tmp, fake_provider.url), env={})  # its ext_proc port has no server
    path = envoy_config.write(settings, tmp / "envoy.yaml")
    process = subprocess.Popen(
        [envoy_binary(), "-c", str(path), "--disable-hot-restart", "--log-level", "error"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_ready(f"http://127.0.0.1:{settings.admin.port}/ready")
        yield f"http://127.0.0.1:{settings.listen.port}"
    finally:
        process.terminate()
        process.wait(10)


def _wait_ready(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.read().strip() == b"LIVE":
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("envoy not ready")


def test_openai_sdk_gets_503_and_nothing_is_forwarded(envoy_without_ztgate: str, fake_provider) -> None:
    before = len(fake_provider.requests)
    client = openai.OpenAI(base_url=f"{envoy_without_ztgate}/v1", api_key="sk-upstream-openai", max_retries=0)
    with pytest.raises(openai.InternalServerError) as exc:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert exc.value.status_code == 503
    assert len(fake_provider.requests) == before


def test_anthropic_and_gemini_paths_get_their_own_error_format(envoy_without_ztgate: str) -> None:
    response = httpx.post(f"{envoy_without_ztgate}/v1/messages", json={"model": "m", "max_tokens": 1, "messages": []})
    assert response.status_code == 503
    assert response.json()["type"] == "error"
    response = httpx.post(f"{envoy_without_ztgate}/v1beta/models/gemini-2.0-flash:generateContent", json={"contents": []})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == 503
