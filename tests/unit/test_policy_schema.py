"""rego/schema/input.json describes the policy input ztgate really builds: inputs made from real request
bodies (every provider and operation, through the provider adapters and the detectors), every kind of
identity and both phases validate against it, and inputs with a mistake do not."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from ztgate.detect.scanner import Scanner, finding_dict
from ztgate.identity.base import Identity
from ztgate.identity.jwt import JWT_AUTHN_NAMESPACE, identity_from_jwt_metadata
from ztgate.identity.keys import KeyStore, create_key
from ztgate.identity.mtls import identity_from_xfcc
from ztgate.policy.http import HttpInfo
from ztgate.policy.input import build_input, tool_call
from ztgate.providers import get_adapter, resolve_route
from ztgate.providers.base import LLMRequest

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "rego" / "schema" / "input.json"

SEND_EMAIL = {"type": "function", "function": {"name": "send_email", "parameters": {"type": "object", "properties": {}}}}

# (method, path, body): one real body per provider and operation (None for routes without a body).
REQUESTS: list[tuple[str, str, dict[str, Any] | None]] = [
    (
        "POST",
        "/v1/chat/completions",
        {
            "model": "gpt-4o",
            "stream": True,
            "max_tokens": 256,
            "messages": [
                {"role": "developer", "content": "be terse"},
                {"role": "user", "content": "mail the plan to bob@example.com"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "call_1", "type": "function", "function": {"name": "send_email", "arguments": '{"to": "bob@example.com"}'}},
                        {"id": "call_2", "type": "function", "function": {"name": "send_email", "arguments": "{not json"}},
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "sent"},
            ],
            "tools": [SEND_EMAIL],
        },
    ),
    (
        "POST",
        "/v1/responses",
        {
            "model": "gpt-4o-mini",
            "instructions": "answer briefly",
            "input": [
                {"role": "user", "content": "what is the weather in Paris?"},
                {"type": "function_call", "call_id": "fc_1", "name": "weather", "arguments": '{"city": "Paris"}'},
                {"type": "function_call_output", "call_id": "fc_1", "output": "sunny"},
            ],
            "tools": [{"type": "function", "name": "weather", "parameters": {"type": "object", "properties": {}}}],
            "max_output_tokens": 100,
        },
    ),
    ("POST", "/v1/embeddings", {"model": "text-embedding-3-small", "input": ["first text", "second text"]}),
    ("GET", "/v1/models", None),
    (
        "POST",
        "/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21",
        {"messages": [{"role": "user", "content": "hello azure"}], "max_completion_tokens": 64},
    ),
    (
        "POST",
        "/v1/messages",
        {
            "model": "claude-sonnet-4-5",
            "max_tokens": 512,
            "system": "you are a careful assistant",
            "messages": [
                {"role": "user", "content": "look up order 42"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"order": 42}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "shipped"}]},
            ],
            "tools": [{"name": "lookup", "input_schema": {"type": "object", "properties": {}}}],
        },
    ),
    (
        "POST",
        "/v1beta/models/gemini-2.0-flash:generateContent",
        {
            "systemInstruction": {"parts": [{"text": "be precise"}]},
            "contents": [
                {"role": "user", "parts": [{"text": "find flights to Lisbon"}]},
                {"role": "model", "parts": [{"functionCall": {"name": "search_flights", "args": {"to": "LIS"}}}]},
                {"role": "user", "parts": [{"functionResponse": {"name": "search_flights", "response": {"count": 3}}}]},
            ],
            "tools": [{"functionDeclarations": [{"name": "search_flights"}]}],
            "generationConfig": {"maxOutputTokens": 300},
        },
    ),
    ("POST", "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", {"contents": [{"parts": [{"text": "stream"}]}]}),
    ("GET", "/v1beta/models", None),
]


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner.from_config(None)


def identities(tmp_path: Path) -> dict[str, Identity | None]:
    keys = tmp_path / "keys.json"
    key = create_key(keys, "alice@example.com", ["developers"])
    jwt = identity_from_jwt_metadata(
        {JWT_AUTHN_NAMESPACE: {"jwt_payload": {"iss": "https://idp.example.com", "sub": "svc-reports", "groups": ["analysts"], "exp": 2000000000}}}
    )
    mtls = identity_from_xfcc('By=spiffe://cluster.local/ns/ztgate/sa/gw;Hash=abc;Subject="CN=payments,OU=fin";URI=spiffe://cluster.local/ns/payments/sa/checkout')
    return {"anonymous": None, "api_key": KeyStore.load(keys).authenticate(key), "jwt": jwt, "mtls": mtls}


def llm_request(method: str, path: str, body: dict[str, Any] | None) -> LLMRequest:
    route = resolve_route(method, path)
    assert route is not None, path
    if body is None:  # as the exchange does for a route without a body
        return LLMRequest(route.provider, route.operation, route.model, False, None)
    return get_adapter(route.provider).parse_request(route, copy.deepcopy(body))


def http_info(method: str, path: str, source: str = "10.1.2.3:45678") -> HttpInfo:
    return HttpInfo(
        id="3f1c-request-id",
        method=method,
        path=path,
        host="gateway.example.com",
        scheme="https",
        headers={"content-type": "application/json", "user-agent": "OpenAI/Python 1.99"},
        source_address=source,
        metadata={"envoy.filters.http.jwt_authn": {"jwt_payload": {"sub": "svc-reports"}}},
    )


def errors(validator: jsonschema.protocols.Validator, document: dict[str, Any]) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


@pytest.mark.parametrize(("method", "path", "body"), REQUESTS, ids=[f"{m} {p}" for m, p, _ in REQUESTS])
def test_request_phase_inputs_validate(method: str, path: str, body: dict[str, Any] | None, validator, scanner, tmp_path: Path) -> None:
    llm = llm_request(method, path, body)
    findings = scanner.policy_findings(scanner.scan_request(llm))
    for name, identity in identities(tmp_path).items():
        document = json.loads(json.dumps(build_input(http=http_info(method, path), identity=identity, llm=llm, findings=findings)))
        assert errors(validator, document) == [], name


def test_the_samples_exercise_every_part_of_the_schema(scanner) -> None:
    providers, operations, sources, located = set(), set(), set(), False
    for method, path, body in REQUESTS:
        llm = llm_request(method, path, body)
        document = build_input(http=http_info(method, path), identity=None, llm=llm, findings=scanner.policy_findings(scanner.scan_request(llm)))
        providers.add(llm.provider)
        operations.add(llm.operation)
        sources.update(call["source"] for call in document["llm"]["tool_calls"])
        located = located or any("location" in f for f in document["findings"])
    assert providers == {"openai", "azure_openai", "anthropic", "gemini"}
    assert operations == {"chat_completions", "responses", "embeddings", "list_models", "messages", "generate_content"}
    assert sources == {"request"} and located


def test_response_phase_inputs_validate(validator, scanner, tmp_path: Path) -> None:
    method, path, body = REQUESTS[0]
    llm = llm_request(method, path, body)
    output = scanner.scan_text("reach me at carol@example.com, key AKIAIOSFODNN7EXAMPLE", "output")
    assert output
    calls = [
        tool_call("send_email", '{"to": "<EMAIL_1>", "cc": ["x@example.com"]}', "response", "call_9"),
        tool_call("send_email", '["not", "an", "object"]', "response", None),
        tool_call(None, "", "response", "call_10"),
    ]
    for identity in identities(tmp_path).values():
        document = build_input(
            http=http_info(method, path, "[2001:db8::7]:443"),
            identity=identity,
            llm=llm,
            findings=[finding_dict(f) for f in output],
            tool_calls=calls,
            phase="response",
        )
        document = json.loads(json.dumps(document))
        assert errors(validator, document) == []
        assert {c["source"] for c in document["llm"]["tool_calls"]} == {"request", "response"}


def test_input_without_an_llm_request_validates(validator) -> None:
    document = build_input(http=http_info("GET", "/healthz", ""), identity=None, llm=None)
    assert errors(validator, json.loads(json.dumps(document))) == []


def valid_document(tmp_path: Path) -> dict[str, Any]:
    method, path, body = REQUESTS[0]
    identity = identities(tmp_path)["api_key"]
    return json.loads(json.dumps(build_input(http=http_info(method, path), identity=identity, llm=llm_request(method, path, body))))


@pytest.mark.parametrize(
    ("mistake", "where"),
    [
        (lambda d: d.pop("phase"), ""),
        (lambda d: d.update(phase="answer"), "phase"),
        (lambda d: d.update(extra=1), ""),
        (lambda d: d["identity"].update(groups="developers"), "identity/groups"),
        (lambda d: d["identity"].update(authenticated=False), "identity"),
        (lambda d: d["identity"].update(method="password"), "identity/method"),
        (lambda d: d["llm"].update(provider="mistral"), "llm"),
        (lambda d: d["llm"].update(max_tokens="256"), "llm"),
        (lambda d: d["llm"]["tool_calls"][0].update(source="history"), "llm"),
        (lambda d: d["llm"]["tool_calls"][0].pop("arguments"), "llm"),
        (lambda d: d["llm"]["messages"]["roles"].update(model=1), "llm"),
        (lambda d: d["attributes"]["source"]["address"]["socketAddress"].update(portValue="443"), "attributes/source/address/socketAddress/portValue"),
        (lambda d: d["attributes"]["request"]["http"]["headers"].update({"X-Upper": "1"}), "attributes/request/http/headers"),
        (lambda d: d["findings"].append({"detector": "pii", "type": "email", "severity": "severe", "score": 0.9, "redactable": True, "encoding": None}), "findings/0/severity"),
        (lambda d: d["findings"].append({"detector": "pii", "type": "email", "severity": "low", "score": 2, "redactable": True, "encoding": None}), "findings/0/score"),
        (lambda d: d["findings"].append({"detector": "pii", "type": "email", "severity": "low", "score": 1, "redactable": True, "encoding": None, "value": "x@y.z"}), "findings/0"),
    ],
)
def test_mistakes_are_caught(mistake, where: str, validator, tmp_path: Path) -> None:
    document = valid_document(tmp_path)
    assert errors(validator, document) == []
    mistake(document)
    found = errors(validator, document)
    assert found, "the schema accepted a broken input"
    assert any(e.startswith(where) for e in found), found
