"""The remote OPA engine (ztgate.policy.remote.RemoteEngine) against an OPA Data API stand-in.

No OPA binary can be installed on this machine, so these tests run tests/opa_server.py: a small
aiohttp server that mirrors OPA's Data API for the calls ztgate makes and evaluates the shipped
rego/ with regorus. It is not OPA: the tests show that the remote engine speaks OPA's protocol and
fails closed on every kind of failure, and that the same inputs get the same decisions through it
as from the embedded engine; they do not show how OPA itself evaluates the policy.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from opa_client import AsyncOpaClient

from ztgate.detect.base import Finding
from ztgate.detect.scanner import LocatedFinding, policy_findings
from ztgate.policy.decision import parse_decision
from ztgate.policy.engine import EmbeddedEngine, Engine, PolicyError
from ztgate.policy.input import build_input
from ztgate.policy.remote import RemoteEngine, data_path

from policy_samples import HTTP, person, request

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))
from opa_server import OpaTestServer  # noqa: E402

REGO = TESTS.parent / "rego"
MANIFEST_REVISION = orjson.loads((REGO / ".manifest").read_bytes())["revision"]

SECRET_MARKER = "sk-this-must-never-appear-in-an-error"


def findings(*found: tuple[str, str, str, float]) -> list[dict[str, Any]]:
    """input.findings as the scanner builds them (detector, type, severity, score)."""
    return policy_findings(
        LocatedFinding(Finding(d, t, s, score, 0, 4, redactable=True), 0, "user", "text", ("messages", 0, "content"))
        for d, t, s, score in found
    )


# Real policy inputs, one per kind of decision the shipped library makes.
CASES: dict[str, dict[str, Any]] = {
    "allowed": build_input(http=HTTP, identity=person("developers"), llm=request("gpt-4o-2024-08-06", max_tokens=4000)),
    "unauthenticated_401": build_input(http=HTTP, identity=None, llm=request("gpt-4o")),
    "model_denied_403": build_input(http=HTTP, identity=person("interns"), llm=request("gpt-4o", max_tokens=100)),
    "too_many_tokens_403": build_input(http=HTTP, identity=person("interns"), llm=request("gpt-4o-mini", max_tokens=5000)),
    "tools_removed": build_input(
        http=HTTP, identity=person("analysts"), llm=request("gpt-4o-mini", tools=["search", "shell", "browser"])
    ),
    "pii_redacted": build_input(
        http=HTTP,
        identity=person("developers"),
        llm=request("gpt-4o"),
        findings=findings(("pii", "credit_card", "high", 1.0), ("pii", "email", "medium", 0.9)),
    ),
    "secret_blocked_403": build_input(
        http=HTTP,
        identity=person("developers"),
        llm=request("gpt-4o"),
        findings=findings(("secrets", "aws_access_key_id", "critical", 1.0)),
    ),
    "output_secret_redacted": build_input(
        http=HTTP,
        identity=person("developers"),
        llm=request("gpt-4o"),
        findings=findings(("secrets", "openai_api_key", "critical", 1.0)),
        phase="response",
    ),
    "headers_phase": build_input(http=HTTP, identity=person("interns"), llm=None),
}


@pytest.fixture(scope="module")
def embedded() -> EmbeddedEngine:
    return EmbeddedEngine(REGO)


@pytest.fixture(scope="module")
async def opa():
    async with OpaTestServer(REGO) as server:
        yield server


@pytest.fixture(autouse=True)
def _no_faults(request: pytest.FixtureRequest):
    yield
    if "opa" in request.fixturenames:
        server: OpaTestServer = request.getfixturevalue("opa")
        server.faults.delay_ms, server.faults.fail_status, server.faults.drop = 0, None, 0


@pytest.fixture
async def remote(opa: OpaTestServer):
    async with RemoteEngine(opa.url) as engine:
        yield engine


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---- same decisions as the embedded engine ---------------------------------------------------------


async def test_decisions_equal_the_embedded_engines(remote: RemoteEngine, embedded: EmbeddedEngine) -> None:
    decisions = {}
    for name, doc in CASES.items():
        value = await remote.evaluate(doc)
        assert value == embedded.evaluate(doc), name
        decisions[name] = parse_decision(value)
    # The cases cover what they claim to: every kind of decision the library makes.
    assert decisions["allowed"].allowed and decisions["headers_phase"].allowed
    assert decisions["unauthenticated_401"].http_status == 401
    for name in ("model_denied_403", "too_many_tokens_403", "secret_blocked_403"):
        assert not decisions[name].allowed and decisions[name].http_status == 403, name
    assert decisions["tools_removed"].tools_remove  # the analysts group may not use them all
    assert ("pii", "credit_card") in [(r["detector"], r["type"]) for r in decisions["pii_redacted"].redactions]
    assert decisions["output_secret_redacted"].redactions


async def test_answer_carries_opas_revision_and_decision_id(remote: RemoteEngine, embedded: EmbeddedEngine) -> None:
    assert isinstance(remote, Engine)
    assert remote.revision == MANIFEST_REVISION == embedded.revision  # learnt at start()
    answer = await remote.decide(CASES["allowed"])
    assert answer.value == embedded.evaluate(CASES["allowed"])
    assert answer.revision == MANIFEST_REVISION
    assert answer.decision_id is not None and uuid.UUID(answer.decision_id)
    assert (await remote.decide(CASES["allowed"])).decision_id != answer.decision_id


async def test_path_may_be_a_rego_reference(opa: OpaTestServer, embedded: EmbeddedEngine) -> None:
    async with RemoteEngine(opa.url + "/", "data.ztgate.decision") as engine:
        assert engine.path == "ztgate/decision" and engine.query == "data.ztgate.decision"
        assert await engine.evaluate(CASES["allowed"]) == embedded.evaluate(CASES["allowed"])


def test_path_forms() -> None:
    assert data_path("ztgate/decision") == data_path("/ztgate/decision/") == ("ztgate", "decision")
    assert data_path("data.ztgate.decision") == data_path("ztgate.decision") == ("ztgate", "decision")
    assert data_path("/v1/data/acme/authz/allow") == ("acme", "authz", "allow")
    with pytest.raises(PolicyError, match="names no document"):
        data_path("/")


# ---- fails closed --------------------------------------------------------------------------------------


async def test_undefined_decision_raises(opa: OpaTestServer) -> None:
    async with RemoteEngine(opa.url, "ztgate/no_such_rule") as engine:
        with pytest.raises(PolicyError, match=r"decision undefined: data\.ztgate\.no_such_rule has no value"):
            await engine.evaluate(CASES["allowed"])


async def test_timeout_fails_within_the_deadline(opa: OpaTestServer) -> None:
    async with RemoteEngine(opa.url, timeout_s=0.05) as engine:
        opa.faults.delay_ms = 400
        started = time.perf_counter()
        with pytest.raises(PolicyError, match=r"OPA at http://127\.0\.0\.1:\d+ did not answer within 50 ms"):
            await engine.evaluate(CASES["allowed"])
        assert time.perf_counter() - started < 0.05 + 0.25
        opa.faults.delay_ms = 0
        assert (await engine.evaluate(CASES["allowed"]))["allowed"]  # the engine is still usable


async def test_server_down_fails_start_and_each_decision() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    engine = RemoteEngine(url)
    with pytest.raises(PolicyError, match=r"OPA at .* is not ready after 0\.2 s: cannot connect to OPA"):
        await engine.start(wait_s=0.2)
    assert not engine.started
    await engine.start(wait_s=0, require=False)  # configured not to require OPA at start-up
    try:
        with pytest.raises(PolicyError, match=r"cannot connect to OPA at http://127\.0\.0\.1:\d+"):
            await engine.evaluate(CASES["allowed"])
    finally:
        await engine.aclose()


async def test_start_waits_for_opa_to_come_up() -> None:
    """A sidecar may start after ztgate: start() retries until OPA answers, within wait_s."""
    port = free_port()
    engine = RemoteEngine(f"http://127.0.0.1:{port}")
    server = OpaTestServer(REGO, port=port)

    async def late_start() -> None:
        await asyncio.sleep(0.3)
        await server.start()

    starter = asyncio.create_task(late_start())
    try:
        await engine.start(wait_s=5)
        assert engine.revision == MANIFEST_REVISION
    finally:
        await starter
        await engine.aclose()
        await server.stop()


async def test_not_started_raises(opa: OpaTestServer) -> None:
    with pytest.raises(PolicyError, match="not started"):
        await RemoteEngine(opa.url).evaluate({})


async def test_error_status_carries_opas_message(opa: OpaTestServer, remote: RemoteEngine) -> None:
    opa.faults.fail_status = 500
    with pytest.raises(PolicyError, match=r"answered HTTP 500: internal_error: injected fault: HTTP 500") as caught:
        await remote.evaluate({**CASES["allowed"], "note": SECRET_MARKER})
    assert SECRET_MARKER not in str(caught.value)


async def test_evaluation_error_names_the_policy_error(tmp_path: Path) -> None:
    (tmp_path / "p.rego").write_text('package ztgate\n\ndecision := {"allowed": input.n / 0 > 1}\n')
    async with OpaTestServer(tmp_path) as server, RemoteEngine(server.url) as engine:
        with pytest.raises(PolicyError) as caught:
            await engine.evaluate({"n": 1, "note": SECRET_MARKER})
    message = str(caught.value)
    assert "HTTP 500: internal_error: error(s) occurred while evaluating query (" in message
    assert "divide by zero" in message and SECRET_MARKER not in message


async def test_bearer_token(tmp_path: Path, embedded: EmbeddedEngine) -> None:
    async with OpaTestServer(REGO, token="s3cret") as server:
        without = RemoteEngine(server.url)
        with pytest.raises(PolicyError, match="HTTP 401: unauthorized: request rejected by administrative policy"):
            await without.start(wait_s=0)
        async with RemoteEngine(server.url, token="s3cret") as engine:
            assert await engine.evaluate(CASES["allowed"]) == embedded.evaluate(CASES["allowed"])


async def test_closed_connection_is_retried_once_within_the_deadline(opa: OpaTestServer, remote: RemoteEngine) -> None:
    opa.faults.drop = 1
    assert (await remote.evaluate(CASES["allowed"]))["allowed"]
    opa.faults.drop = 2
    with pytest.raises(PolicyError, match="closed the connection without answering"):
        await remote.evaluate(CASES["allowed"])


async def _odd_server(status: int, body: bytes, content_type: str):
    async def answer(request: web.Request) -> web.Response:
        return web.Response(status=status, body=body, content_type=content_type)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


@pytest.mark.parametrize(
    ("status", "body", "content_type", "fragment"),
    [
        (200, b"<html>not json</html>", "text/html", "answered with invalid JSON"),
        (200, b"[1, 2]", "application/json", "JSON that is not an object"),
        (502, b"upstream connect error", "text/plain", "answered HTTP 502 Bad Gateway"),
        (404, b'{"code": "resource_not_found", "message": "x"}', "application/json", "HTTP 404: resource_not_found: x"),
    ],
)
async def test_answers_that_are_not_decisions(status: int, body: bytes, content_type: str, fragment: str) -> None:
    runner, url = await _odd_server(status, body, content_type)
    try:
        engine = RemoteEngine(url)
        await engine.start(wait_s=0, require=False)
        try:
            with pytest.raises(PolicyError, match=fragment.replace("(", r"\(").replace("[", r"\[")):
                await engine.evaluate(CASES["allowed"])
        finally:
            await engine.aclose()
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    ("provenance", "revision"),
    [
        ({"version": "1.4.2", "bundles": {"authz": {"revision": "r7"}}}, "r7"),
        ({"version": "1.4.2", "revision": "legacy-3"}, "legacy-3"),  # OPA's legacy single-bundle field
        ({"version": "1.4.2", "bundles": {"b": {"revision": "2"}, "a": {"revision": "1"}}}, "a=1,b=2"),
        ({"version": "1.4.2"}, ""),  # policies not from a bundle
    ],
)
async def test_revision_forms(provenance: dict[str, Any], revision: str) -> None:
    runner, url = await _odd_server(200, orjson.dumps({"result": True, "provenance": provenance}), "application/json")
    try:
        async with RemoteEngine(url) as engine:
            answer = await engine.decide({})
        assert answer.value is True and answer.revision == revision == engine.revision
        assert answer.decision_id is None  # OPA without decision logging sends none
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"url": "opa:8181"}, "must be http://host"),
        ({"url": "ftp://opa:8181"}, "must be http://host"),
        ({"url": "http://user:pw@opa:8181"}, "must not carry credentials"),
        ({"url": "http://opa:8181", "timeout_s": 0}, "timeout must be positive"),
        ({"url": "http://opa:8181", "pool_size": 0}, "pool size must be a positive integer"),
    ],
)
def test_bad_settings_fail_at_construction(kwargs: dict[str, Any], fragment: str) -> None:
    with pytest.raises(PolicyError, match=fragment):
        RemoteEngine(**kwargs)


async def test_unserialisable_input_raises(remote: RemoteEngine) -> None:
    with pytest.raises(PolicyError, match="policy input is not JSON"):
        await remote.evaluate({"x": object()})


# ---- concurrency and the pool ---------------------------------------------------------------------------


async def test_concurrent_decisions_share_the_pool(opa: OpaTestServer, embedded: EmbeddedEngine) -> None:
    docs = list(CASES.values())
    expected = [embedded.evaluate(doc) for doc in docs]
    async with RemoteEngine(opa.url, pool_size=8, timeout_s=5) as engine:
        opa.stats.peers.clear()
        for _ in range(2):
            results = await asyncio.gather(*(engine.evaluate(docs[i % len(docs)]) for i in range(100)))
            assert results == [expected[i % len(docs)] for i in range(100)]
        assert 1 <= len(opa.stats.peers) <= 8  # 200 decisions over at most pool_size connections


# ---- the stand-in itself ------------------------------------------------------------------------------------


async def test_stand_in_answers_an_independent_opa_client(opa: OpaTestServer, embedded: EmbeddedEngine) -> None:
    """opa-python-client's AsyncOpaClient, written against real OPA, reads the stand-in's answers too."""
    async with AsyncOpaClient(host="127.0.0.1", port=opa.port, retries=0) as client:
        assert await client.check_health()
        answer = await client.query_rule(CASES["tools_removed"], "ztgate", "decision", query_params={"provenance": True})
    assert answer["result"] == embedded.evaluate(CASES["tools_removed"])
    assert answer["provenance"]["bundles"] == {"rego": {"revision": MANIFEST_REVISION}}


async def test_stand_in_runs_as_a_script() -> None:
    proc = subprocess.Popen(
        [sys.executable, str(TESTS / "opa_server.py"), "--bundle", str(REGO), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("READY http://127.0.0.1:"), line
        url = line.split()[1]

        async with RemoteEngine(url) as engine:
            assert (await engine.evaluate(CASES["unauthenticated_401"]))["http_status"] == 401
    finally:
        proc.terminate()
        proc.wait(10)
