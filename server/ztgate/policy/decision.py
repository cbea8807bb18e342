"""The decision: what the policy returned, validated into one typed object the exchange applies.

Rego may return a boolean or an object with opa-envoy-plugin's fields (`allowed`, `http_status`,
`body`, `headers`, `response_headers_to_add`, `request_headers_to_remove`, `dynamic_metadata`) plus
ztgate's LLM fields (`reason`/`reasons`, `model`, `tools_remove`, `max_output_tokens`,
`redactions`, `log_content`, `shadow_reasons`, `limits`, `budget_cutoff`). Anything malformed raises DecisionError so the caller fails closed
with a clear message instead of half-applying a decision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_DENY_STATUS = 403


class DecisionError(ValueError):
    """The policy returned something that is not a valid decision (a policy bug: fail closed)."""


@dataclass(slots=True)
class Decision:
    allowed: bool
    http_status: int = 200  # 403 by default when denied
    reasons: list[str] = field(default_factory=list)
    body: str | None = None  # opa-envoy-plugin: a body for the denial, replacing ztgate's error message
    # opa-envoy-plugin: added to the upstream request when allowed, to the response when denied.
    headers: dict[str, str] = field(default_factory=dict)
    response_headers_to_add: dict[str, str] = field(default_factory=dict)
    request_headers_to_remove: list[str] = field(default_factory=list)
    dynamic_metadata: dict[str, Any] = field(default_factory=dict)
    model: str | None = None  # rewrite the request's model to this
    tools_remove: list[str] = field(default_factory=list)
    max_output_tokens: int | None = None  # a cap the gateway writes into the request
    redactions: list[Any] = field(default_factory=list)  # kept raw; applied by the redaction stage
    log_content: bool = False
    # Denials of rules in shadow (trial) mode: logged and audited, never enforced.
    shadow_reasons: list[str] = field(default_factory=list)
    # Budgets and rate limits the policy states (tokens, requests, cost per window), kept raw.
    limits: list[dict[str, Any]] = field(default_factory=list)
    # End a streamed answer (with the provider's error event) once it passes the output reserved for it.
    budget_cutoff: bool = False

    def as_dry_run(self) -> "Decision":
        """What global shadow mode enforces: allow, unchanged; what the policy wanted becomes shadow
        reasons (like opa-envoy-plugin's dry-run, no mutation is applied either)."""
        would = [] if self.allowed else (self.reasons or [f"denied ({self.http_status})"])
        return Decision(allowed=True, shadow_reasons=would + self.shadow_reasons, log_content=self.log_content, limits=self.limits)

    @property
    def message(self) -> str:
        """The human reason for a denial, for the client's error body: the policy's own body text
        (opa-envoy-plugin's `body`) if it gave one, else its reasons."""
        if self.body:
            return self.body
        return "; ".join(self.reasons) if self.reasons else "denied by policy"


def _allowed(value: dict[str, Any]) -> bool:
    allowed = value.get("allowed")
    alias = value.get("allow")
    if allowed is None and alias is None:
        raise DecisionError("decision has no 'allowed' field")
    if allowed is not None and alias is not None and allowed != alias:
        raise DecisionError("decision sets both 'allowed' and 'allow', to different values")
    result = allowed if allowed is not None else alias
    if not isinstance(result, bool):
        raise DecisionError(f"decision 'allowed' must be a boolean, got {type(result).__name__}")
    return result


def _int(value: Any, name: str) -> int:
    """An integer; JSON numbers may arrive as floats (403.0), booleans never count."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DecisionError(f"decision '{name}' must be an integer, got {type(value).__name__}")
    if isinstance(value, float):
        if not value.is_integer():
            raise DecisionError(f"decision '{name}' must be an integer, got {value}")
        return int(value)
    return value


def _status(value: Any, allowed: bool) -> int:
    if value is None:
        return 200 if allowed else DEFAULT_DENY_STATUS
    status = _int(value, "http_status")
    if not 100 <= status <= 599:
        raise DecisionError(f"decision 'http_status' {status} is not an HTTP status (100-599)")
    if not allowed and status < 400:
        raise DecisionError(f"decision denies with 'http_status' {status}; a denial needs 4xx or 5xx")
    return status


def _strings(value: Any, name: str) -> list[str]:
    """A list of strings; a set or tuple is accepted (an engine may return a Rego set)."""
    if value is None:
        return []
    if not isinstance(value, (list, tuple, set, frozenset)):
        raise DecisionError(f"decision '{name}' must be a list of strings, got {type(value).__name__}")
    for item in value:
        if not isinstance(item, str):
            raise DecisionError(f"decision '{name}' must hold only strings, got {type(item).__name__}")
    return sorted(value) if isinstance(value, (set, frozenset)) else list(value)


def _reasons(value: dict[str, Any]) -> list[str]:
    reasons: list[str] = []
    reason = value.get("reason")
    if reason is not None:
        if not isinstance(reason, str):
            raise DecisionError(f"decision 'reason' must be a string, got {type(reason).__name__}")
        reasons.append(reason)
    reasons.extend(_strings(value.get("reasons"), "reasons"))
    return [reason for reason in reasons if reason]


def _headers(value: Any, name: str) -> dict[str, str]:
    """Header name -> value; opa-envoy-plugin allows a list of values, joined as HTTP does (", ")."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise DecisionError(f"decision '{name}' must be an object of header values, got {type(value).__name__}")
    headers: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(item, str):
            headers[key] = item
        elif isinstance(item, list) and all(isinstance(part, str) for part in item):
            headers[key] = ", ".join(item)
        else:
            raise DecisionError(f"decision '{name}' header {key!r} must be a string or a list of strings")
    return headers


def _optional_int(value: Any, name: str) -> int | None:
    if value is None:
        return None
    number = _int(value, name)
    if number <= 0:
        raise DecisionError(f"decision '{name}' must be positive, got {number}")
    return number


def parse_decision(value: Any) -> Decision:
    """Validate a raw policy result (a boolean or an object) into a Decision; DecisionError if malformed."""
    if isinstance(value, bool):
        return Decision(allowed=True) if value else Decision(allowed=False, http_status=DEFAULT_DENY_STATUS)
    if not isinstance(value, dict):
        raise DecisionError(f"decision must be a boolean or an object, got {type(value).__name__}")
    allowed = _allowed(value)
    body = value.get("body")
    if body is not None and not isinstance(body, str):
        raise DecisionError(f"decision 'body' must be a string, got {type(body).__name__}")
    metadata = value.get("dynamic_metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise DecisionError(f"decision 'dynamic_metadata' must be an object, got {type(metadata).__name__}")
    model = value.get("model")
    if model is not None and (not isinstance(model, str) or not model):
        raise DecisionError("decision 'model' must be a non-empty string")
    redactions = value.get("redactions")
    if redactions is not None and not isinstance(redactions, list):
        raise DecisionError(f"decision 'redactions' must be a list, got {type(redactions).__name__}")
    log_content = _bool(value.get("log_content"), "log_content")
    limits = value.get("limits")
    if limits is not None and not (isinstance(limits, list) and all(isinstance(item, dict) for item in limits)):
        raise DecisionError("decision 'limits' must be a list of objects")
    return Decision(
        allowed=allowed,
        http_status=_status(value.get("http_status"), allowed),
        reasons=_reasons(value),
        body=body,
        headers=_headers(value.get("headers"), "headers"),
        response_headers_to_add=_headers(value.get("response_headers_to_add"), "response_headers_to_add"),
        request_headers_to_remove=_strings(value.get("request_headers_to_remove"), "request_headers_to_remove"),
        dynamic_metadata=metadata or {},
        model=model,
        tools_remove=_strings(value.get("tools_remove"), "tools_remove"),
        max_output_tokens=_optional_int(value.get("max_output_tokens"), "max_output_tokens"),
        redactions=redactions or [],
        log_content=log_content,
        shadow_reasons=_strings(value.get("shadow_reasons"), "shadow_reasons"),
        limits=limits or [],
        budget_cutoff=_bool(value.get("budget_cutoff"), "budget_cutoff"),
    )


def _bool(value: Any, name: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise DecisionError(f"decision '{name}' must be a boolean, got {type(value).__name__}")
    return value
