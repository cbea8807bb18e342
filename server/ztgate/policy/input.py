"""The policy input: the versioned JSON document Rego sees as `input` (contract: DESIGN.md).

The HTTP part keeps opa-envoy-plugin's shape (`input.attributes`, `input.parsed_path`,
`input.parsed_query`) so existing Envoy Rego carries over. The LLM part carries summaries only,
never prompt text: a policy decides on who, which model, which tools and what the detectors found
(`input.findings`), so prompts never reach policy logs or a remote OPA.

This runs on every request, so it builds plain dicts and shares the caller's objects (headers,
metadata, claims, tools, findings) instead of copying them: treat the result as read-only.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, unquote

import orjson

from ztgate.identity.base import Identity
from ztgate.policy.http import HttpInfo
from ztgate.providers.base import LLMRequest

INPUT_VERSION = "ztgate.input/v1"

_ANONYMOUS: dict[str, Any] = {
    "authenticated": False,
    "method": "",
    "subject": "",
    "groups": [],
    "key_id": None,
    "claims": {},
}


def build_input(
    *,
    http: HttpInfo,
    identity: Identity | None,
    llm: LLMRequest | None,
    findings: list[dict[str, Any]] | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    usage: dict[str, Any] | None = None,
    phase: str = "request",
) -> dict[str, Any]:
    """The policy input for one decision; `llm` is None before the body is parsed or for non-LLM routes.

    `tool_calls` are the calls the model made in its answer (phase "response", see tool_call); the
    calls in the request's own history are always listed too.
    """
    parsed_path, parsed_query = parse_path(http.path)
    return {
        "version": INPUT_VERSION,
        "attributes": {
            "request": {
                "http": {
                    "id": http.id,
                    "method": http.method,
                    "path": http.path,
                    "host": http.host,
                    "scheme": http.scheme,
                    "headers": http.headers,
                }
            },
            "source": {"address": {"socketAddress": socket_address(http.source_address)}},
            "metadataContext": {"filterMetadata": http.metadata},
        },
        "parsed_path": parsed_path,
        "parsed_query": parsed_query,
        "identity": identity_input(identity),
        "llm": llm_input(llm, tool_calls) if llm is not None else None,
        "findings": findings if findings is not None else [],
        "usage": usage if usage is not None else {},
        "phase": phase,
    }


def parse_path(path: str) -> tuple[list[str], dict[str, list[str]]]:
    """opa-envoy-plugin's parsed_path and parsed_query (Go's url.Parse): decoded segments, values by name.

    "/v1/models?a=1&a=2" gives (["v1", "models"], {"a": ["1", "2"]}); "/" gives ([""], {}).
    """
    path_part, _, query = path.partition("?")
    if "#" in path_part:
        path_part = path_part.partition("#")[0]
    if "%" in path_part:
        path_part = unquote(path_part)
    segments = path_part.lstrip("/").split("/")
    if not query:
        return segments, {}
    return segments, parse_qs(query.partition("#")[0], keep_blank_values=True)


def socket_address(address: str) -> dict[str, Any]:
    """Envoy's "ip:port" (or "[v6]:port") as opa-envoy-plugin's socketAddress; port 0 when absent."""
    host, port = address, 0
    if address.startswith("["):
        end = address.find("]")
        if end > 0:
            host = address[1:end]
            rest = address[end + 1 :]
            if rest.startswith(":") and rest[1:].isdigit():
                port = int(rest[1:])
    elif address.count(":") == 1:
        name, _, digits = address.partition(":")
        if digits.isdigit():
            host, port = name, int(digits)
    return {"address": host, "portValue": port}


def identity_input(identity: Identity | None) -> dict[str, Any]:
    """Who is calling; `authenticated` is false (and the rest empty) for an anonymous caller."""
    if identity is None:
        return dict(_ANONYMOUS)
    return {
        "authenticated": True,
        "method": identity.method,
        "subject": identity.subject,
        "groups": list(identity.groups),
        "key_id": identity.key_id,
        "claims": identity.claims,
    }


def tool_call(name: str | None, arguments: str, source: str, id: str | None = None) -> dict[str, Any]:
    """One tool call as the policy sees it: arguments parsed (null when they are not a JSON object),
    because argument constraints (an allowed e-mail domain for send_email) are the point of showing it."""
    try:
        parsed = orjson.loads(arguments) if arguments else {}
    except orjson.JSONDecodeError:
        parsed = None
    return {"name": name or "", "arguments": parsed if isinstance(parsed, dict) else None, "id": id, "source": source}


def llm_input(llm: LLMRequest, tool_calls: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A summary of the request: what it asks for and how much text it carries, never the text
    (tool call arguments excepted: see tool_call).

    `messages.roles` counts messages that carry text, by role (a message is its index in the
    provider's list; -1, a top-level system prompt, counts as one "system" message).
    """
    seen: set[tuple[int, str]] = set()
    roles: dict[str, int] = {}
    tool_results = 0
    text_chars = 0
    calls: list[dict[str, Any]] = []
    for part in llm.parts:
        text_chars += len(part.text)
        if part.kind == "tool_result":
            tool_results += 1
        elif part.kind == "tool_call_arguments":
            calls.append(tool_call(part.name, part.text, "request"))
        key = (part.message_index, part.role)
        if key not in seen:
            seen.add(key)
            roles[part.role] = roles.get(part.role, 0) + 1
    return {
        "provider": llm.provider,
        "operation": llm.operation,
        "model": llm.model,
        "stream": llm.stream,
        "max_tokens": llm.max_output_tokens,
        "tools": llm.tools,
        "tool_calls": calls + tool_calls if tool_calls else calls,
        "messages": {"count": llm.message_count, "roles": roles},
        "tool_results": tool_results,
        "text_chars": text_chars,
    }
