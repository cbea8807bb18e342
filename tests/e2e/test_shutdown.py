"""SIGTERM (how Kubernetes stops a pod): in-flight streams finish, then Envoy and ztgate exit cleanly."""

from __future__ import annotations

import json
import signal
import threading
import time

import openai
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa

from conftest import JwtIssuer, gateway_env, start_gateway, write_config, ztgate_cli


def test_sigterm_lets_an_inflight_stream_finish(tmp_path, fake_provider) -> None:
    issuer = JwtIssuer(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    (tmp_path / "jwks.json").write_text(json.dumps(issuer.jwks()))
    config = write_config(tmp_path, fake_provider.url)
    env = gateway_env()
    key = ztgate_cli(config, "keys", "create", "--subject", "s", "--group", "developers", env=env).stdout.strip()
    process = start_gateway(config, tmp_path / "up.log", env)
    port = yaml.safe_load(config.read_text())["listen"]["port"]
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=key, max_retries=0)
    received: list[str] = []

    def consume() -> None:
        stream = client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "slow stream"}],
            stream=True,
            extra_headers={"x-fake-chunks": "40", "x-fake-chunk-delay-ms": "25"},
        )
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                received.append(chunk.choices[0].delta.content)

    reader = threading.Thread(target=consume)
    reader.start()
    deadline = time.monotonic() + 10
    while not received and time.monotonic() < deadline:
        time.sleep(0.01)
    assert received, "the stream never started"
    process.send_signal(signal.SIGTERM)
    reader.join(30)
    assert len(received) == 40, "the in-flight stream was cut by the shutdown"
    assert process.wait(30) == 0
    assert "draining" in (tmp_path / "up.log").read_text()
