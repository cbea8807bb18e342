"""The Exchange state machine, driven exactly as the servicer drives it, without Envoy and without gRPC.

Everything below the exchange is real: settings from `load_settings`, the shipped Rego policy in an
EmbeddedEngine (or a small policy written by the test), a keys file made with `create_key`, and an
audit log in a temporary file that the tests read back.
"""

from __future__ import annotations

import asyncio
import gzip
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from ztgate.config import load_settings
from ztgate.extproc.actions import PASS, Continue, Reject
from ztgate.extproc.exchange import Exchange
from ztgate.extproc.gateway import Gateway
from ztgate.identity.credentials import CREDENTIAL_HEADERS
from ztgate.identity.keys import KeyStore, create_key
from ztgate.detect.scanner import Scanner
from ztgate.policy.engine import EmbeddedEngine
from ztgate.telemetry.audit import AuditLog


def drive(coro):
    """Run one exchange phase (a coroutine) to its end, as the servicer's event loop does."""
    return asyncio.run(coro)

SHIPPED_POLICY = Path(__file__).resolve().parents[2] / "rego"

# The environment variable each provider's credential is read from (named in the config, on purpose
# not the default OPENAI_API_KEY & co.), and its value. The values are not shaped like any known key,
# so the audit log's credential scrubber could not hide a leak from the audit tests.
CREDENTIAL_ENV = {
    "openai": "ZT_TEST_OPENAI_CREDENTIAL",
    "anthropic": "ZT_TEST_ANTHROPIC_CREDENTIAL",
    "gemini": "ZT_TEST_GEMINI_CREDENTIAL",
    "azure_openai": "ZT_TEST_AZURE_CREDENTIAL",
}
UPSTREAM_CREDENTIAL = {provider: f"upstream-secret-of-{provider}" for provider in CREDENTIAL_ENV}

HI = [{"role": "user", "content": "hi"}]


@dataclass(frozen=True)
class Api:
    """One provider API as its SDK calls it: the path, where the key goes, and a valid body.

    Every body names a model the `developers` group may use and a max_tokens under its cap, so the
    shipped policy allows it without rewriting anything.
    """

    provider: str
    path: str
    key_header: str
    body: dict[str, Any]

    def credential(self, key: str) -> dict[str, str]:
        return {self.key_header: f"Bearer {key}" if self.key_header == "authorization" else key}


OPENAI = Api("openai", "/v1/chat/completions", "authorization", {"model": "gpt-4o", "max_tokens": 100, "messages": HI})
ANTHROPIC = Api(
    "anthropic", "/v1/messages", "x-api-key", {"model": "claude-3-5-haiku-latest", "max_tokens": 100, "messages": HI}
)
GEMINI = Api(
    "gemini",
    "/v1beta/models/gemini-2.0-flash:generateContent",
    "x-goog-api-key",
    {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "generationConfig": {"maxOutputTokens": 100}},
)
AZURE = Api(
    "azure_openai",
    "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
    "api-key",
    {"max_tokens": 100, "messages": HI},
)
APIS = [OPENAI, ANTHROPIC, GEMINI, AZURE]
_ALICE = object()  # "use alice's key" (the default caller)


@dataclass(frozen=True)
class Keys:
    alice: str  # group developers
    ivan: str  # group interns: gpt-4o-mini only
    expired: str
    unknown: str  # well-formed, but not in the keys file
    path: Path


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    path = tmp_path_factory.mktemp("keys") / "keys.json"
    alice = create_key(path, "alice", ["developers"])
    ivan = create_key(path, "ivan", ["interns"])
    expired = create_key(path, "eve", ["developers"], expires=datetime.now(UTC) - timedelta(days=1))
    unknown = create_key(path.with_name("other.json"), "mallory", ["developers"])
    return Keys(alice, ivan, expired, unknown, path)


@pytest.fixture(scope="module")
def shipped_engine() -> EmbeddedEngine:
    return EmbeddedEngine(SHIPPED_POLICY)


class Gate:
    """A real Gateway plus the little the servicer adds: build an Exchange and feed it messages."""

    def __init__(self, gateway: Gateway, audit_path: Path, keys: Keys) -> None:
        self.gateway = gateway
        self.audit_path = audit_path
        self.keys = keys

    def open(
        self,
        api: Api = OPENAI,
        *,
        key: Any = _ALICE,
        path: str | None = None,
        method: str = "POST",
        headers: dict[str, str | None] | None = None,
        end_of_stream: bool = False,
    ) -> tuple[Exchange, Continue | Reject]:
        """A new exchange after its request headers; `headers` adds to, or (None) removes from, the defaults."""
        ex = Exchange(self.gateway)
        ex.add_attributes({"source.address": "127.0.0.1:5555"})
        all_headers: dict[str, str | None] = {
            ":method": method,
            ":path": path or api.path,
            ":authority": "gw",
            "x-request-id": "r1",
            "content-type": "application/json",
            "user-agent": "test-sdk/1.0",
        }
        if key is not None:
            all_headers.update(api.credential(self.keys.alice if key is _ALICE else key))
        all_headers.update(headers or {})
        ex.add_headers({k: v for k, v in all_headers.items() if v is not None})
        return ex, drive(ex.on_request_headers(end_of_stream=end_of_stream))

    def post(self, api: Api = OPENAI, body: Any = None, **kwargs: Any) -> tuple[Exchange, Continue | Reject]:
        """Headers, then the whole body in one message; dicts are sent as JSON."""
        ex, first = self.open(api, **kwargs)
        assert first is None, "a request with a body is decided by the body message"
        raw = orjson.dumps(api.body if body is None else body) if not isinstance(body, bytes) else body
        return ex, drive(ex.on_request_body(raw, True))

    def respond(self, ex: Exchange, *chunks: bytes, status: int = 200) -> list[Continue | Reject]:
        """Feed response chunks; the last one carries end_of_stream. Then finish() (Envoy closes the stream)."""
        ex.add_attributes({"response.code": status})
        actions = [drive(ex.on_response_body(chunk, i == len(chunks) - 1)) for i, chunk in enumerate(chunks)]
        ex.finish()
        return actions

    def audit(self) -> list[dict[str, Any]]:
        if not self.audit_path.exists():
            return []
        return [orjson.loads(line) for line in self.audit_path.read_bytes().splitlines()]

    def last_audit(self) -> dict[str, Any]:
        lines = self.audit()
        assert lines, "no audit line was written"
        return lines[-1]


@pytest.fixture
def make_gate(tmp_path: Path, keys: Keys, shipped_engine: EmbeddedEngine, monkeypatch: pytest.MonkeyPatch):
    """make_gate(env={...}, policy="rego text") -> Gate; by default the shipped policy and all four providers."""
    for provider, var in CREDENTIAL_ENV.items():
        monkeypatch.setenv(var, UPSTREAM_CREDENTIAL[provider])
    for default_var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "AZURE_OPENAI_API_KEY"):
        monkeypatch.setenv(default_var, "the-default-variable-must-not-be-used")
    policies = itertools.count()

    def make(env: dict[str, str] | None = None, policy: str | None = None, scanner: Scanner | None = None) -> Gate:
        settings = load_settings(
            None,
            env={
                **{f"ZTGATE__PROVIDERS__{p.upper()}__CREDENTIAL_ENV": var for p, var in CREDENTIAL_ENV.items()},
                **(env or {}),
            },
        )
        engine = shipped_engine
        if policy is not None:
            policy_dir = tmp_path / f"policy-{next(policies)}"
            policy_dir.mkdir()
            (policy_dir / "policy.rego").write_text(policy)
            engine = EmbeddedEngine(policy_dir)
        audit_path = tmp_path / "audit.jsonl"
        gateway = Gateway(settings, engine, KeyStore.load(keys.path), AuditLog.open(audit_path), scanner)
        return Gate(gateway, audit_path, keys)

    return make


@pytest.fixture
def gate(make_gate) -> Gate:
    return make_gate()


def error_message(action: Continue | Reject, provider: str, status: int) -> str:
    """Check a rejection is `status` with a body in the provider's own error format; return its message."""
    assert isinstance(action, Reject), f"expected a {status} rejection, got {action}"
    assert action.status == status
    assert action.headers["content-type"] == "application/json"
    doc = orjson.loads(action.body)
    if provider == "anthropic":
        assert doc["type"] == "error" and isinstance(doc["error"]["type"], str)
        return doc["error"]["message"]
    if provider == "gemini":
        assert doc["error"]["code"] == status and isinstance(doc["error"]["status"], str)
        return doc["error"]["message"]
    assert set(doc) == {"error"} and isinstance(doc["error"]["type"], str)  # OpenAI and Azure OpenAI
    return doc["error"]["message"]


# ---- allowed requests -----------------------------------------------------------------------------


def test_allowed_openai_chat_swaps_the_client_key_for_the_upstream_credential(gate: Gate) -> None:
    ex, action = gate.post(OPENAI)

    assert isinstance(action, Continue)
    assert action.set_headers["authorization"] == "Bearer upstream-secret-of-openai"
    assert action.set_headers["accept-encoding"] == "identity"
    assert sorted(action.remove_headers) == ["api-key", "x-api-key", "x-goog-api-key"]
    assert action.clear_route_cache is True
    assert action.metadata is not None
    assert {k: action.metadata.get(k) for k in ("allowed", "subject", "model", "provider")} == {
        "allowed": True,
        "subject": "alice",
        "model": "gpt-4o",
        "provider": "openai",
    }
    # Nothing in the body needed changing, so Envoy forwards the client's bytes untouched.
    assert action.body is None
    assert action.set_headers["content-length"] == str(len(ex.request_body)) and ":path" not in action.set_headers


@pytest.mark.parametrize("api", APIS, ids=lambda a: a.provider)
@pytest.mark.parametrize("client_header", CREDENTIAL_HEADERS)
def test_no_client_credential_header_reaches_the_provider(gate: Gate, api: Api, client_header: str) -> None:
    """Whichever header the client put its ztgate key in, it is removed or overwritten by the upstream credential."""
    key = gate.keys.alice
    value = f"Bearer {key}" if client_header == "authorization" else key
    _, action = gate.post(api, key=None, headers={client_header: value})

    assert isinstance(action, Continue)
    for header in CREDENTIAL_HEADERS:
        if header in action.set_headers:
            assert UPSTREAM_CREDENTIAL[api.provider] in action.set_headers[header]
            assert header not in action.remove_headers, "a header being set must not also be removed"
        else:
            assert header in action.remove_headers
    assert all(key not in value for value in action.set_headers.values())


def test_streamed_chat_is_rewritten_to_report_usage(gate: Gate) -> None:
    body = {**OPENAI.body, "stream": True, "stream_options": {"include_obfuscation": False}}
    _, action = gate.post(OPENAI, body)

    assert isinstance(action, Continue) and action.body is not None
    assert orjson.loads(action.body) == {**body, "stream_options": {"include_obfuscation": False, "include_usage": True}}
    assert action.set_headers["content-length"] == str(len(action.body))


def test_streamed_chat_already_reporting_usage_is_not_rewritten(gate: Gate) -> None:
    _, action = gate.post(OPENAI, {**OPENAI.body, "stream": True, "stream_options": {"include_usage": True}})
    assert isinstance(action, Continue) and action.body is None


@pytest.mark.parametrize("key_header", ["x-api-key", "authorization"])
def test_anthropic_accepts_the_ztgate_key_in_x_api_key_or_bearer(gate: Gate, key_header: str) -> None:
    """The anthropic SDK sends x-api-key for api_key= and Authorization: Bearer for auth_token=."""
    value = f"Bearer {gate.keys.alice}" if key_header == "authorization" else gate.keys.alice
    ex, action = gate.post(ANTHROPIC, key=None, headers={key_header: value})

    assert isinstance(action, Continue)
    assert action.set_headers["x-api-key"] == "upstream-secret-of-anthropic"
    assert "authorization" in action.remove_headers
    assert action.metadata is not None and action.metadata["provider"] == "anthropic"
    assert ex.identity is not None and ex.identity.subject == "alice"


def test_gemini_key_header(gate: Gate) -> None:
    _, action = gate.post(GEMINI)

    assert isinstance(action, Continue)
    assert action.set_headers["x-goog-api-key"] == "upstream-secret-of-gemini"
    assert ":path" not in action.set_headers
    assert action.metadata is not None and action.metadata["model"] == "gemini-2.0-flash"


def test_gemini_key_query_parameter_is_dropped_from_the_path(gate: Gate) -> None:
    path = f"/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse&key={gate.keys.alice}"
    ex, action = gate.post(GEMINI, key=None, path=path)

    assert isinstance(action, Continue)
    assert action.set_headers[":path"] == "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse"
    assert action.set_headers["x-goog-api-key"] == "upstream-secret-of-gemini"
    assert ex.identity is not None and ex.identity.subject == "alice"


def test_azure_deployment_path_names_the_model(gate: Gate) -> None:
    _, action = gate.post(AZURE)

    assert isinstance(action, Continue)
    assert action.set_headers["api-key"] == "upstream-secret-of-azure_openai"
    assert "authorization" in action.remove_headers
    assert ":path" not in action.set_headers  # api-version stays
    assert action.metadata is not None
    assert (action.metadata["provider"], action.metadata["model"]) == ("azure_openai", "gpt-4o")


def test_azure_deployment_not_allowed_for_the_group_is_denied(gate: Gate) -> None:
    path = "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"
    _, action = gate.post(AZURE, key=gate.keys.ivan, path=path)
    assert "gpt-4o" in error_message(action, "azure_openai", 403)


def test_keyless_upstream_gets_no_credential_and_no_client_key(make_gate) -> None:
    """A local vLLM is configured without a credential: ztgate sends none, and still strips the client's."""
    gate = make_gate(env={"ZTGATE__PROVIDERS__OPENAI__CREDENTIAL_ENV": "''"})
    _, action = gate.post(OPENAI)

    assert isinstance(action, Continue)
    assert "authorization" in action.remove_headers and "authorization" not in action.set_headers


def test_list_models_without_a_body_is_decided_at_the_headers(gate: Gate) -> None:
    ex, action = gate.open(OPENAI, method="GET", path="/v1/models", end_of_stream=True)

    assert isinstance(action, Continue) and action is not PASS
    assert action.set_headers["authorization"] == "Bearer upstream-secret-of-openai"
    ex.finish()
    line = gate.last_audit()
    assert (line["operation"], line["decision"]["allowed"]) == ("list_models", True)


def test_list_models_without_a_credential_is_denied_at_the_headers(gate: Gate) -> None:
    _, action = gate.open(OPENAI, key=None, method="GET", path="/v1/models", end_of_stream=True)
    assert "not authenticated" in error_message(action, "openai", 401)


# ---- rejections -----------------------------------------------------------------------------------


@pytest.mark.parametrize("api", [OPENAI, ANTHROPIC, GEMINI], ids=lambda a: a.provider)
@pytest.mark.parametrize(
    ("which", "expected"),
    [
        ("unknown", "unknown API key"),
        ("expired", "expired"),
        ("malformed", "malformed API key"),
        ("jwt", "JWT that Envoy did not verify"),
    ],
)
def test_unusable_key_is_401_in_the_provider_format(gate: Gate, api: Api, which: str, expected: str) -> None:
    key = {
        "unknown": gate.keys.unknown,
        "expired": gate.keys.expired,
        "malformed": "sk-not-a-ztgate-key",
        "jwt": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl",
    }[which]
    ex, action = gate.post(api, key=key)

    assert expected in error_message(action, api.provider, 401)
    ex.finish()
    line = gate.last_audit()
    assert (line["status"], line["error"]["kind"]) == (401, "auth")
    assert "decision" not in line, "an unusable key is refused before the policy is asked"


def test_no_credential_is_left_to_the_policy_which_answers_401(gate: Gate) -> None:
    ex, action = gate.post(ANTHROPIC, key=None)

    assert "not authenticated" in error_message(action, "anthropic", 401)
    ex.finish()
    line = gate.last_audit()
    assert line["decision"]["allowed"] is False and line["decision"]["http_status"] == 401
    assert "identity" not in line


def test_disallowed_model_is_403_with_the_policy_reason(gate: Gate) -> None:
    ex, action = gate.post(OPENAI, key=gate.keys.ivan)

    assert error_message(action, "openai", 403) == 'model "gpt-4o" is not allowed for groups ["interns"]'
    assert action.metadata is not None and action.metadata["allowed"] is False
    ex.finish()
    line = gate.last_audit()
    assert line["decision"]["reasons"] == ['model "gpt-4o" is not allowed for groups ["interns"]']
    assert line["identity"]["subject"] == "ivan" and line["status"] == 403
    assert "error" not in line, "a policy denial is a decision, not an error"


@pytest.mark.parametrize(
    ("body", "headers", "status", "fragment"),
    [
        pytest.param(b'{"model": "gpt-4o", "messages": [', {}, 400, "not valid JSON", id="malformed-json"),
        pytest.param(b'{"model": "gpt-4o\xff", "messages": []}', {}, 400, "not valid UTF-8", id="invalid-utf8"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, {}, 400, "not valid JSON", id="nested-100000-deep"),
        pytest.param(b"null", {}, 400, "JSON object", id="null"),
        pytest.param(b"[]", {}, 400, "JSON object", id="list"),
        pytest.param(b"42", {}, 400, "JSON object", id="number"),
        pytest.param(b"", {}, 400, "body is required", id="empty"),
        pytest.param(b'{"messages": []}', {}, 400, "'model' is required", id="missing-model"),
        pytest.param(b'{"model": "gpt-4o"}', {}, 400, "'messages' is required", id="missing-messages"),
        pytest.param(orjson.dumps(OPENAI.body), {"content-type": "text/plain"}, 415, "content-type", id="text-plain"),
        pytest.param(orjson.dumps(OPENAI.body), {"content-encoding": "gzip"}, 415, "gzip", id="gzip-request"),
    ],
)
def test_unusable_body_is_rejected_before_the_policy(
    gate: Gate, body: bytes, headers: dict[str, str], status: int, fragment: str
) -> None:
    ex, action = gate.post(OPENAI, body, headers=headers)

    assert fragment in error_message(action, "openai", status)
    ex.finish()
    line = gate.last_audit()
    assert (line["status"], line["error"]["kind"]) == (status, "bad_request")
    assert "decision" not in line


@pytest.mark.parametrize("api", [ANTHROPIC, GEMINI], ids=lambda a: a.provider)
def test_malformed_json_error_in_the_provider_format(gate: Gate, api: Api) -> None:
    _, action = gate.post(api, b"{")
    assert "not valid JSON" in error_message(action, api.provider, 400)


def test_body_over_the_limit_is_413_and_at_the_limit_is_allowed(make_gate) -> None:
    gate = make_gate(env={"ZTGATE__EXTPROC__MAX_BODY_BYTES": "1000"})
    body = orjson.dumps({**OPENAI.body, "user": ""})
    at_limit = orjson.dumps({**OPENAI.body, "user": "u" * (1000 - len(body))})
    assert len(at_limit) == 1000

    _, action = gate.post(OPENAI, at_limit)
    assert isinstance(action, Continue)
    _, action = gate.post(OPENAI, at_limit[:-1] + b" }")
    assert "exceeds the 1000 byte limit" in error_message(action, "openai", 413)
    _, action = gate.post(ANTHROPIC, b" " * 1001)
    assert "exceeds" in error_message(action, "anthropic", 413)


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v1/completions"), ("POST", "/v2/chat/completions"), ("GET", "/v1/chat/completions"), ("POST", "/")],
)
def test_unknown_route_is_404(gate: Gate, method: str, path: str) -> None:
    ex, action = gate.open(OPENAI, method=method, path=path + "?key=zt-secret", end_of_stream=True)

    message = error_message(action, "openai", 404)
    assert f"{method} {path}" in message and "zt-secret" not in message
    ex.finish()
    line = gate.last_audit()
    assert (line["status"], line["error"]["kind"]) == (404, "rejected")


# ---- the policy engine failing --------------------------------------------------------------------

ERRING_POLICY = """package ztgate
import rego.v1
# A runtime type error: adding a number to the method string.
decision := {"allowed": input.attributes.request.http.method + 1 > 0}
"""
UNDEFINED_POLICY = """package ztgate
import rego.v1
decision := true if input.no_such_field == 1
"""
MALFORMED_POLICY = """package ztgate
import rego.v1
decision := {"allowed": "yes"}
"""
FAILING_POLICIES = [
    # How the engine words an evaluation error varies (the interpreter names it, the compiled VM reports
    # the decision undefined); what the client sees does not.
    pytest.param({"policy": ERRING_POLICY}, "", id="eval-error"),
    pytest.param({"policy": UNDEFINED_POLICY}, "undefined", id="undefined"),
    pytest.param({"policy": MALFORMED_POLICY}, "must be a boolean", id="malformed-decision"),
    pytest.param({"env": {"ZTGATE__POLICY__EVAL_BUDGET_MS": "0.001"}}, "budget", id="over-budget"),
]


@pytest.mark.parametrize(("setup", "fragment"), FAILING_POLICIES)
@pytest.mark.parametrize("api", [OPENAI, ANTHROPIC, GEMINI], ids=lambda a: a.provider)
def test_policy_failure_fails_closed_with_503(make_gate, setup: dict[str, Any], fragment: str, api: Api) -> None:
    gate = make_gate(**setup)
    ex, action = gate.post(api)

    message = error_message(action, api.provider, 503)
    assert "policy evaluation failed" in message and fragment in message
    ex.finish()
    line = gate.last_audit()
    assert (line["status"], line["error"]["kind"]) == (503, "policy")


@pytest.mark.parametrize(("setup", "fragment"), FAILING_POLICIES)
def test_policy_failure_with_fail_open_allows_and_says_so(make_gate, setup: dict[str, Any], fragment: str) -> None:
    env = {**setup.get("env", {}), "ZTGATE__POLICY__FAIL_OPEN": "true"}
    gate = make_gate(env=env, policy=setup.get("policy"))
    ex, action = gate.post(OPENAI)

    assert isinstance(action, Continue)
    assert action.set_headers["authorization"] == "Bearer upstream-secret-of-openai"
    gate.respond(ex, b'{"usage": {"prompt_tokens": 1, "completion_tokens": 1}}')
    decision = gate.last_audit()["decision"]
    assert decision["allowed"] is True
    assert any("fail-open" in reason for reason in decision["reasons"])


@pytest.mark.parametrize("api", APIS, ids=lambda a: a.provider)
def test_configured_but_empty_provider_credential_is_503(gate: Gate, api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CREDENTIAL_ENV[api.provider], "")
    ex, action = gate.post(api)

    assert "no credential configured" in error_message(action, api.provider, 503)
    ex.finish()
    assert gate.last_audit()["error"]["kind"] == "config"


# ---- decisions that rewrite the request -----------------------------------------------------------

REWRITING_POLICY = """package ztgate
import rego.v1
default model := "gpt-4o-mini"
model := "gemini-2.0-flash-lite" if input.llm.provider == "gemini"
decision := {
    "allowed": true,
    "model": model,
    "tools_remove": ["x"],
    "max_output_tokens": 10,
    "headers": {"x-team": "a"},
    "request_headers_to_remove": ["x-drop"],
}
"""


def _function(name: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}


def test_decision_rewrites_openai_body_and_headers(make_gate) -> None:
    gate = make_gate(policy=REWRITING_POLICY)
    body = {"model": "gpt-4o", "messages": HI, "tools": [_function("x"), _function("y")]}
    _, action = gate.post(OPENAI, body, headers={"x-drop": "1"})

    assert isinstance(action, Continue) and action.body is not None
    assert orjson.loads(action.body) == {
        "model": "gpt-4o-mini",
        "messages": HI,
        "tools": [_function("y")],
        "max_completion_tokens": 10,
    }
    assert action.set_headers["content-length"] == str(len(action.body))
    assert action.set_headers["x-team"] == "a"
    assert "x-drop" in action.remove_headers
    assert ":path" not in action.set_headers


def test_decision_model_rewrite_changes_the_gemini_path(make_gate) -> None:
    gate = make_gate(policy=REWRITING_POLICY)
    body = {"contents": GEMINI.body["contents"], "tools": [{"functionDeclarations": [{"name": "x"}, {"name": "y"}]}]}
    path = f"/v1beta/models/gemini-2.0-flash:streamGenerateContent?key={gate.keys.alice}&alt=sse"
    _, action = gate.post(GEMINI, body, key=None, path=path)

    assert isinstance(action, Continue) and action.body is not None
    assert action.set_headers[":path"] == "/v1beta/models/gemini-2.0-flash-lite:streamGenerateContent?alt=sse"
    assert orjson.loads(action.body) == {
        "contents": GEMINI.body["contents"],
        "tools": [{"functionDeclarations": [{"name": "y"}]}],
        "generationConfig": {"maxOutputTokens": 10},
    }


def test_shipped_policy_writes_the_group_token_cap_into_a_request_without_one(gate: Gate) -> None:
    body = {"model": "gpt-4o-mini", "messages": HI}
    _, action = gate.post(OPENAI, body, key=gate.keys.ivan)

    assert isinstance(action, Continue) and action.body is not None
    assert orjson.loads(action.body)["max_completion_tokens"] == 1024


def test_denial_body_from_the_policy_reaches_the_client(make_gate) -> None:
    gate = make_gate(
        policy='package ztgate\nimport rego.v1\ndecision := {"allowed": false, "body": "ask #llm-access"}\n'
    )
    _, action = gate.post(OPENAI)
    assert isinstance(action, Reject) and b"ask #llm-access" in action.body


def test_query_key_never_reaches_the_policy(make_gate) -> None:
    gate = make_gate(
        policy="package ztgate\nimport rego.v1\n"
        'decision := {"allowed": false, "reason": sprintf("%v %v", [input.attributes.request.http.path, input.parsed_query])}\n'
    )
    path = f"/v1beta/models/gemini-2.0-flash:generateContent?key={gate.keys.alice}"
    _, action = gate.post(GEMINI, key=None, path=path)
    assert isinstance(action, Reject) and gate.keys.alice.encode() not in action.body


# ---- the response: usage accounting and the audit line ---------------------------------------------

JSON_RESPONSE = orjson.dumps(
    {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-4o-2024-08-06",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
    }
)
SSE_RESPONSE = (
    'data: {"id":"c1","object":"chat.completion.chunk","model":"gpt-4o-2024-08-06",'
    '"choices":[{"index":0,"delta":{"role":"assistant","content":"Hé"}}]}\n\n'
    'data: {"id":"c1","object":"chat.completion.chunk","model":"gpt-4o-2024-08-06",'
    '"choices":[{"index":0,"delta":{"content":"llo"},"finish_reason":"stop"}]}\r\n\r\n'
    ": keep-alive\n\n"
    'data: {"id":"c1","object":"chat.completion.chunk","model":"gpt-4o-2024-08-06","choices":[],'
    '"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}\n\n'
    "data: [DONE]\n\n"
).encode()
USAGE = {"input_tokens": 9, "output_tokens": 2}


def test_json_response_in_chunks_is_accounted(gate: Gate) -> None:
    ex, _ = gate.post(OPENAI)
    half = len(JSON_RESPONSE) // 2
    actions = gate.respond(ex, JSON_RESPONSE[:half], JSON_RESPONSE[half:], b"")

    assert actions[:2] == [PASS, PASS]
    assert isinstance(actions[2], Continue) and actions[2].metadata == {**USAGE, "response_model": "gpt-4o-2024-08-06"}
    line = gate.last_audit()
    assert line["usage"] == USAGE
    assert (line["status"], line["response_model"]) == (200, "gpt-4o-2024-08-06")
    assert line["identity"]["subject"] == "alice" and line["decision"]["allowed"] is True
    assert "error" not in line


def test_sse_usage_is_the_same_however_the_stream_is_split(gate: Gate) -> None:
    splits = [[SSE_RESPONSE[:i], SSE_RESPONSE[i:], b""] for i in range(1, len(SSE_RESPONSE))]
    splits.append([SSE_RESPONSE[i : i + 1] for i in range(len(SSE_RESPONSE))] + [b""])
    for chunks in splits:
        ex, _ = gate.post(OPENAI, {**OPENAI.body, "stream": True})
        gate.respond(ex, *chunks)

    lines = gate.audit()
    assert len(lines) == len(splits)
    for i, line in enumerate(lines, start=1):
        assert line.get("usage") == USAGE, f"usage lost with the stream split at byte {i}"
        assert line["response_model"] == "gpt-4o-2024-08-06" and "error" not in line


@pytest.mark.parametrize("pieces", [1, 2, 3])
def test_gzip_json_response_is_decoded_for_accounting(gate: Gate, pieces: int) -> None:
    compressed = gzip.compress(JSON_RESPONSE)
    assert compressed[:2] == b"\x1f\x8b"
    size = -(-len(compressed) // pieces)
    chunks = [compressed[i : i + size] for i in range(0, len(compressed), size)]
    ex, _ = gate.post(OPENAI)
    gate.respond(ex, *chunks, b"")
    assert gate.last_audit()["usage"] == USAGE


@pytest.mark.parametrize("first", [1, 10, 20])
def test_gzip_json_response_with_a_tiny_first_chunk_is_accounted(gate: Gate, first: int) -> None:
    compressed = gzip.compress(JSON_RESPONSE)
    ex, _ = gate.post(OPENAI)
    gate.respond(ex, compressed[:first], compressed[first:], b"")
    assert gate.last_audit().get("usage") == USAGE


@pytest.mark.parametrize(
    ("garbage", "recorded"),
    [
        pytest.param(b"\x00\xff\xfe\x80 binary \xc3", False, id="binary"),
        pytest.param(b"{this is not json", True, id="broken-json"),
        pytest.param(b"[" * 100_000, True, id="deeply-nested-json"),
        pytest.param(b"\x1f\x8b\x08\x00broken-gzip", True, id="broken-gzip"),
        pytest.param(b"data: {broken\n\ndata: [1,2\n\n", False, id="broken-sse"),
    ],
)
def test_garbage_response_never_breaks_the_stream(gate: Gate, garbage: bytes, recorded: bool) -> None:
    ex, _ = gate.post(OPENAI)
    actions = gate.respond(ex, garbage[:7], garbage[7:], b"more bytes after the garbage", b"")

    assert actions[:3] == [PASS, PASS, PASS] and isinstance(actions[3], Continue)
    line = gate.last_audit()
    assert line["status"] == 200 and "usage" not in line
    if recorded:
        assert line["error"]["kind"] == "response_parse"


def test_stream_cut_before_its_end_is_audited_as_disconnected(gate: Gate) -> None:
    ex, _ = gate.post(OPENAI, {**OPENAI.body, "stream": True})
    ex.add_attributes({"response.code": 200})
    assert drive(ex.on_response_body(SSE_RESPONSE[:150], False)) is PASS
    ex.finish()  # Envoy closed the stream: the client went away

    line = gate.last_audit()
    assert line["error"]["kind"] == "disconnected"
    assert line["status"] == 200 and line["response_model"] == "gpt-4o-2024-08-06"


def test_finish_twice_writes_one_audit_line(gate: Gate) -> None:
    ex, _ = gate.post(OPENAI)
    gate.respond(ex, JSON_RESPONSE)
    ex.finish()
    assert len(gate.audit()) == 1


def test_audit_line_schema_fields_of_an_allowed_exchange(gate: Gate) -> None:
    ex, _ = gate.post(OPENAI)
    gate.respond(ex, JSON_RESPONSE)
    line = gate.last_audit()

    assert line["request_id"] == "r1" and line["source_address"] == "127.0.0.1:5555"
    assert line["user_agent"] == "test-sdk/1.0"
    assert (line["provider"], line["operation"], line["model"], line["stream"]) == (
        "openai",
        "chat_completions",
        "gpt-4o",
        False,
    )
    assert line["identity"] == {"subject": "alice", "method": "api_key", "groups": ["developers"], "key_id": gate.keys.alice[3:11]}
    assert line["decision"]["policy_revision"] == "ztgate-default-policy-1"
    assert line["latency_ms"] >= line["upstream_latency_ms"] >= 0


def test_audit_log_never_holds_a_client_key_or_an_upstream_credential(gate: Gate) -> None:
    keys = gate.keys
    ex, _ = gate.post(OPENAI)
    gate.respond(ex, JSON_RESPONSE)
    ex, _ = gate.post(ANTHROPIC, key=None, headers={"authorization": f"Bearer {keys.alice}"})
    gate.respond(ex, b'{"type":"message","usage":{"input_tokens":3,"output_tokens":4}}')
    ex, _ = gate.post(GEMINI, key=None, path=f"{GEMINI.path}?key={keys.alice}")
    gate.respond(ex, b'{"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":4}}')
    for key in (keys.ivan, keys.expired, keys.unknown):
        ex, _ = gate.post(OPENAI, key=key)
        ex.finish()

    text = gate.audit_path.read_text()
    assert len(text.splitlines()) == 6
    for key in (keys.alice, keys.ivan, keys.expired, keys.unknown):
        secret = key.split("-", 2)[2]
        assert secret not in text
    for credential in UPSTREAM_CREDENTIAL.values():
        assert credential not in text


# ---- tool calls in the answer: judged whole, before the client gets them ------------------------------

SEND_EMAIL_POLICY = """package ztgate
import rego.v1

default decision := {"allowed": true}

decision := {"allowed": false, "http_status": 403, "reasons": ["send_email may only write to example.com"]} if {
	input.phase == "response"
	some call in input.llm.tool_calls
	call.source == "response"
	call.name == "send_email"
	not endswith(call.arguments.to, "@example.com")
}
"""
TOOLS = [{"type": "function", "function": {"name": "send_email", "parameters": {"type": "object"}}}]


def tool_call_stream(to: str) -> list[bytes]:
    """An OpenAI chat stream: some text, then a send_email call whose arguments arrive in pieces."""
    def chunk(delta: dict, finish: str | None = None) -> bytes:
        body = {"id": "c1", "object": "chat.completion.chunk", "model": "gpt-4o", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return b"data: " + orjson.dumps(body) + b"\n\n"

    arguments = orjson.dumps({"to": to, "body": "hi"}).decode()
    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "send_email", "arguments": ""}}
    return [
        chunk({"role": "assistant", "content": "Sending it now. "}),
        chunk({"tool_calls": [call]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": arguments[:12]}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": arguments[12:]}}]}),
        chunk({}, "tool_calls"),
        b"data: [DONE]\n\n",
    ]


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner.from_config(None)


def test_a_refused_tool_call_never_reaches_the_client_of_a_stream(make_gate, scanner: Scanner) -> None:
    gate = make_gate(policy=SEND_EMAIL_POLICY, scanner=scanner)
    ex, _ = gate.post(OPENAI, {**OPENAI.body, "stream": True, "tools": TOOLS})
    actions = gate.respond(ex, *tool_call_stream("boss@evil.example"), b"")
    sent = b"".join(a.body or b"" for a in actions if isinstance(a, Continue))
    assert b"Sending it now." in sent  # text before the call is not held back
    assert b"evil.example" not in sent and b"send_email may only write to example.com" in sent
    line = gate.last_audit()
    assert line["error"]["kind"] == "output_blocked"


def test_an_allowed_tool_call_streams_through_whole(make_gate, scanner: Scanner) -> None:
    gate = make_gate(policy=SEND_EMAIL_POLICY, scanner=scanner)
    ex, _ = gate.post(OPENAI, {**OPENAI.body, "stream": True, "tools": TOOLS})
    actions = gate.respond(ex, *tool_call_stream("boss@example.com"), b"")
    sent = b"".join(a.body or b"" for a in actions if isinstance(a, Continue))
    events = [orjson.loads(line[6:]) for line in sent.split(b"\n") if line.startswith(b"data: {")]
    arguments = "".join(
        call["function"].get("arguments", "") for e in events for c in e["choices"] for call in c["delta"].get("tool_calls", [])
    )
    assert orjson.loads(arguments) == {"to": "boss@example.com", "body": "hi"}
    assert sent.endswith(b"data: [DONE]\n\n") and "error" not in gate.last_audit()


def test_a_refused_tool_call_in_a_buffered_answer_is_replaced_by_an_error(make_gate, scanner: Scanner) -> None:
    gate = make_gate(policy=SEND_EMAIL_POLICY, scanner=scanner)
    ex, _ = gate.post(OPENAI, {**OPENAI.body, "tools": TOOLS})
    answer = {
        "id": "c1", "object": "chat.completion", "model": "gpt-4o",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "send_email", "arguments": '{"to": "x@evil.example"}'}}]}}],
    }
    actions = gate.respond(ex, orjson.dumps(answer), b"")
    body = actions[-1].body
    assert b"evil.example" not in body
    assert orjson.loads(body)["error"]["message"].startswith("output blocked: send_email may only write to example.com")


# ---- telemetry: every finished exchange reaches the observers with its phases ------------------------


def test_a_finished_exchange_reaches_observers_with_its_phases_and_their_span_ids_reach_the_audit(gate: Gate) -> None:
    records = []

    class Recorder:
        def exchange(self, record):
            records.append(record)
            return "ab" * 16, "cd" * 8

    gate.gateway.observers = [Recorder()]
    ex, _ = gate.post(OPENAI)
    gate.respond(ex, JSON_RESPONSE, b"")
    (record,) = records
    names = [phase.name for phase in record.phases]
    assert names[:4] == ["identify", "parse", "detect", "policy"] and "upstream" in names
    assert all(record.start_ns <= p.start_ns <= p.end_ns <= record.end_ns for p in record.phases)
    assert record.event["decision"]["allowed"] is True and record.groups == ("developers",)
    line = gate.last_audit()
    assert (line["trace_id"], line["span_id"]) == ("ab" * 16, "cd" * 8)
