"""The request as ztgate reads it: the HTTP facts the policy sees, and the JSON body, checked."""

from __future__ import annotations

from typing import Any

import orjson

from ..identity.credentials import CREDENTIAL_HEADERS, strip_key_param
from ..policy.http import HttpInfo
from ..providers.base import RequestError

_JSON_TYPES = ("application/json", "text/json")
_CREDENTIAL_SET = frozenset(CREDENTIAL_HEADERS)


def http_info(headers: dict[str, str], attributes: dict[str, Any], metadata: dict[str, Any]) -> HttpInfo:
    """The request's HTTP facts for the policy (opa-envoy-plugin's attributes): never a credential."""
    return HttpInfo(
        id=headers.get("x-request-id", ""),
        method=headers.get(":method", ""),
        path=strip_key_param(headers.get(":path", "")),  # a Gemini ?key= credential never reaches the policy
        host=headers.get(":authority", ""),
        scheme=str(attributes.get("request.scheme") or headers.get(":scheme", "http")),
        # Pseudo-headers are in the fields above; credentials never reach the policy or its logs.
        headers={k: v for k, v in headers.items() if k[0] != ":" and k not in _CREDENTIAL_SET},
        source_address=str(attributes.get("source.address") or ""),
        metadata=metadata,
    )


def parse_json_body(body: bytes | None, headers: dict[str, str], limit: int) -> Any:
    """The body as JSON, or RequestError with the 4xx the client should get."""
    if not body:
        raise RequestError("a JSON request body is required", 400)
    if len(body) > limit:  # normally refused while the chunks arrive
        raise RequestError(f"request body exceeds the {limit} byte limit", 413, "request_too_large")
    content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type and content_type not in _JSON_TYPES:
        raise RequestError(f"content-type must be application/json, got {content_type!r}", 415, "unsupported_media_type")
    encoding = headers.get("content-encoding", "identity").lower()
    if encoding not in ("", "identity"):
        raise RequestError(f"compressed request bodies ({encoding}) are not accepted", 415, "unsupported_media_type")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        reason = "not valid UTF-8" if "utf-8" in str(exc).lower() else str(exc)
        raise RequestError(f"request body is not valid JSON: {reason}", 400, "invalid_json") from None
    except RecursionError:
        raise RequestError("request body is nested too deeply", 400, "invalid_json") from None
