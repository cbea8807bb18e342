"""The same decisions through Envoy whichever engine decides: embedded regorus, or a remote OPA.

The remote OPA here is tests/opa_server.py, a stand-in for OPA's Data API that evaluates with
regorus: no OPA binary can be installed on this machine. It shows that ztgate speaks OPA's protocol
and enforces its answers; `opa test rego/` on a real OPA is the check that OPA evaluates the library
the same way.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import httpx2 as httpx
import openai
import pytest

from conftest import ROOT, Gateway, free_port, launch_gateway

AWS_KEY = "AKIAZ7Q3XJ5NWB4LK2MT"
HELLO = [{"role": "user", "content": "hello"}]
REVISION = json.loads((ROOT / "rego" / ".manifest").read_text())["revision"]


def start_opa(port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "opa_server.py"), "--bundle", str(ROOT / "rego"), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("READY"), line
    return process


@pytest.fixture(scope="module", params=["embedded", "remote"])
def engine_gateway(request, tmp_path_factory: pytest.TempPathFactory, fake_provider) -> Iterator[tuple[str, Gateway, subprocess.Popen | None]]:
    tmp = tmp_path_factory.mktemp(f"engine-{request.param}")
    opa = None
    policy = {"dir": str(ROOT / "rego")}
    if request.param == "remote":
        port = free_port()
        opa = start_opa(port)
        policy |= {"engine": "remote", "remote": {"url": f"http://127.0.0.1:{port}", "timeout_ms": 1000}}
    try:
        with launch_gateway(tmp, fake_provider, policy=policy) as gw:
            yield request.param, gw, opa
    finally:
        if opa is not None and opa.poll() is None:
            opa.terminate()
            opa.wait(10)


def client(gw: Gateway, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=key, max_retries=0, timeout=20)


def test_an_allowed_request_names_the_policy_revision(engine_gateway) -> None:
    _, gw, _ = engine_gateway
    raw = client(gw, gw.keys["dev"]).chat.completions.with_raw_response.create(model="gpt-4o", messages=HELLO)
    assert raw.http_response.status_code == 200
    audit = gw.audit_for(raw.headers["x-request-id"])
    assert audit["decision"]["allowed"] is True and audit["decision"]["policy_revision"] == REVISION
    assert audit["decision"]["decision_id"] == raw.headers["x-ztgate-decision-id"]


def test_a_model_outside_the_group_is_denied_with_the_reason(engine_gateway) -> None:
    _, gw, _ = engine_gateway
    with pytest.raises(openai.PermissionDeniedError) as exc:
        client(gw, gw.keys["intern"]).chat.completions.create(model="gpt-4o", messages=HELLO)
    assert "gpt-4o" in str(exc.value)


def test_an_anonymous_caller_gets_401(engine_gateway) -> None:
    _, gw, _ = engine_gateway
    response = httpx.post(f"{gw.url}/v1/chat/completions", json={"model": "gpt-4o", "messages": HELLO})
    assert response.status_code == 401 and response.json()["error"]["type"] == "authentication_error"


def test_a_secret_is_blocked_and_pii_is_masked_before_the_provider(engine_gateway) -> None:
    _, gw, _ = engine_gateway
    before = len(gw.provider.requests)
    with pytest.raises(openai.PermissionDeniedError):
        client(gw, gw.keys["dev"]).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": f"key {AWS_KEY}"}])
    assert len(gw.provider.requests) == before
    client(gw, gw.keys["dev"]).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "card 4111 1111 1111 1111"}])
    assert "4111 1111 1111 1111" not in str(gw.provider.requests[-1].json)


def test_tools_outside_the_group_are_removed(engine_gateway) -> None:
    _, gw, _ = engine_gateway
    tools = [{"type": "function", "function": {"name": name, "parameters": {"type": "object"}}} for name in ("search", "shell")]
    client(gw, gw.keys["analyst"]).chat.completions.create(model="gpt-4o-mini", messages=HELLO, tools=tools)
    sent = [tool["function"]["name"] for tool in gw.provider.requests[-1].json.get("tools", [])]
    assert sent == ["search"]


def test_with_opa_gone_requests_fail_closed_with_the_reason_in_the_audit(engine_gateway) -> None:
    name, gw, opa = engine_gateway
    if name != "remote":
        pytest.skip("the remote engine's failure mode")
    opa.terminate()
    opa.wait(10)
    before = len(gw.provider.requests)
    with pytest.raises(openai.InternalServerError) as exc:
        client(gw, gw.keys["dev"]).chat.completions.create(model="gpt-4o", messages=HELLO)
    assert exc.value.status_code == 503 and "OPA" in str(exc.value)
    assert len(gw.provider.requests) == before
    audit = gw.audit_for(exc.value.response.headers["x-request-id"])
    assert audit["error"]["kind"] == "policy" and "cannot connect to OPA" in audit["error"]["message"]
