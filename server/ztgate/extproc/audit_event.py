"""Turn a finished Exchange into its audit event (the proto's AuditEvent, as a dict)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..telemetry.audit import ContentFields, DecisionFields, UsageFields, audit_event

if TYPE_CHECKING:
    from .exchange import Exchange


def build_audit_event(ex: "Exchange") -> dict[str, Any]:
    now = time.perf_counter()
    trace_id, span_id = _trace_ids(ex.trace_context.get("traceparent") or ex.headers.get("traceparent", ""))
    decision: DecisionFields | None = None
    if ex.decision is not None or ex.decision_id:
        decision = {"decision_id": ex.decision_id, "policy_revision": ex.policy.revision}
        if ex.decision is not None:
            decision["allowed"] = ex.decision.allowed
            decision["http_status"] = ex.decision.http_status if not ex.decision.allowed else 200
            decision["reasons"] = list(ex.decision.reasons)
            shadow = ex.decision.shadow_reasons + [r for r in ex.output_shadow if r not in ex.decision.shadow_reasons]
            if shadow:
                decision["shadow_reasons"] = shadow
        if ex.dry_run:
            decision["dry_run"] = True
    usage = ex.settled.usage if ex.settled is not None else ex.response.usage
    usage_fields: UsageFields | None = None
    if usage.input_tokens is not None or usage.output_tokens is not None:
        usage_fields = {
            k: v
            for k, v in (
                ("input_tokens", usage.input_tokens),
                ("output_tokens", usage.output_tokens),
                ("cached_input_tokens", usage.cached_input_tokens),
                ("cache_creation_input_tokens", usage.cache_creation_input_tokens),
            )
            if v is not None
        }  # type: ignore[assignment]
        if ex.settled is not None:
            if ex.settled.estimated:
                usage_fields["estimated"] = True
            if ex.settled.cost_usd is not None:
                usage_fields["cost_usd"] = round(ex.settled.cost_usd, 8)
    content: ContentFields | None = None
    if ex.decision is not None and ex.decision.log_content and ex.llm is not None:
        content = {"prompt": [p.text for p in ex.llm.parts], "output": [ex.response.output_text]}
    llm = ex.llm
    return audit_event(
        time=ex.clock.start_ns / 1e9,
        request_id=ex.headers.get("x-request-id", ""),
        status=ex.status or 0,
        latency_ms=(now - ex.clock.started) * 1000,
        identity=ex.identity,
        trace_id=trace_id,
        span_id=span_id,
        provider=ex.route.provider if ex.route else None,
        operation=ex.route.operation if ex.route else None,
        model=llm.model if llm else None,
        response_model=ex.response.model,
        stream=llm.stream if llm else None,
        decision=decision,
        upstream_latency_ms=(now - ex.upstream_started) * 1000 if ex.upstream_started else None,
        usage=usage_fields,
        source_address=str(ex.attributes.get("source.address") or "") or None,
        user_agent=ex.headers.get("user-agent"),
        error={"kind": ex.error[0], "message": ex.error[1]} if ex.error else None,
        content=content,
        findings=ex.findings,
        output_findings=ex.output_findings,
        redacted=ex.redacted,
        output_redacted=ex.output_redacted,
        anomaly=_anomaly(ex.anomaly),
        refused_limit=ex.refused_limit,
    )


def _anomaly(assessment: dict[str, Any] | None) -> dict[str, Any] | None:
    """The audit's anomaly: only when the baseline found something (a score above 0 with reasons)."""
    if not assessment or not assessment.get("score") or not assessment.get("reasons"):
        return None
    return {"score": float(assessment["score"]), "reasons": list(assessment["reasons"])}


def _trace_ids(traceparent: str) -> tuple[str | None, str | None]:
    """W3C traceparent: version-traceid-spanid-flags."""
    parts = traceparent.split("-")
    if len(parts) == 4 and len(parts[1]) == 32 and len(parts[2]) == 16:
        return parts[1], parts[2]
    return None, None
