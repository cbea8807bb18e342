"""One LLM exchange, from the request body to the end of the response, as a small state machine.

Each `on_*` method takes plain values from one Envoy message and returns an action (Continue/Reject).
Nothing here speaks protobuf or gRPC, so every phase is testable without Envoy.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import urlsplit

import orjson

from ..detect.scanner import LocatedFinding, policy_findings
from ..identity import AuthError, Identity
from ..identity.credentials import CREDENTIAL_HEADERS, presented_api_key
from ..policy.decision import Decision
from ..policy.http import HttpInfo
from ..providers import get_adapter, provider_for_unknown_path, resolve_route
from ..providers.base import LLMRequest, LLMResponse, ProviderAdapter, RequestError, RequestRewrite, Route
from ..redact import Vault, redact_request, redaction_modes
from .actions import PASS, Action, Continue, Reject
from .answer import Answer, count_findings, response_status
from .audit_event import build_audit_event
from .gateway import Gateway, PolicyFailure
from .names import DECISION_ID_HEADER, DECISION_ID_KEY, JWT_NAMESPACE, JWT_PAYLOAD_KEY
from .request import http_info, parse_json_body
from ..telemetry.observe import ExchangeRecord, PhaseClock
from ..usage.accountant import Accountant, Admission, Refused, Settled
from ..usage.store import StoreUnavailable

log = logging.getLogger("ztgate.exchange")


class Exchange:
    def __init__(self, gateway: Gateway, trace_context: dict[str, str] | None = None) -> None:
        self.gateway = gateway
        self.policy = gateway.policy  # the policy in force when the exchange began judges all of it
        self.trace_context = trace_context or {}
        self.clock = PhaseClock()  # when it began, and its phase timings (spans, metrics, the audit line)
        self.attributes: dict[str, Any] = {}
        self.metadata: dict[str, Any] = {}
        self.headers: dict[str, str] = {}
        self.route: Route | None = None
        self.adapter: ProviderAdapter | None = None
        self.identity: Identity | None = None
        self.llm: LLMRequest | None = None
        self.decision: Decision | None = None
        self.eval_ms: float | None = None
        self.decision_id = ""  # the request decision's id: decision log, audit line, response header
        self.dry_run = False  # global shadow mode: the decision was logged, not enforced
        self.output_shadow: list[str] = []  # what shadow rules or dry-run would have done to the answer
        self.input_estimate = 0  # estimated input tokens (reserved before forwarding)
        self.admission: Admission | None = None  # what this exchange reserved against its limits
        self.settled: Settled | None = None  # the usage accounted when it ended
        self.anomaly: dict[str, Any] | None = None  # the caller's anomaly assessment
        self.refused_limit: str | None = None
        self.status: int | None = None  # what the client got
        self.error: tuple[str, str] | None = None  # (kind, message) for the audit line
        self.response = LLMResponse()
        self.vault = Vault()  # this exchange's pseudonyms: replaced in the request, restored in the response
        self._located: list[LocatedFinding] = []
        self.findings: dict[str, int] = {}
        self.output_findings: dict[str, int] = {}
        self.redacted = 0
        self.output_redacted = 0
        self.upstream_started: float | None = None
        self._body_chunks: list[bytes] = []
        self._body_size = 0
        self.answer = Answer(self)  # the response side
        self._finished = False

    # ---- inputs from Envoy -------------------------------------------------------------------------

    def add_attributes(self, attributes: dict[str, Any]) -> None:
        self.attributes.update(attributes)

    def add_metadata(self, metadata: dict[str, Any]) -> None:
        self.metadata.update(metadata)

    def add_headers(self, headers: dict[str, str]) -> None:
        self.headers.update(headers)

    def add_response_headers(self, headers: dict[str, str]) -> None:
        if ":status" in headers:
            self.attributes["response.code"] = headers[":status"]
        for name in ("content-type", "content-encoding"):
            if name in headers:
                self.attributes[f"response.headers['{name}']"] = headers[name]

    # ---- phases ------------------------------------------------------------------------------------

    async def on_request_headers(self, end_of_stream: bool) -> Action | None:
        """Decide now when no body follows (GET /v1/models); None: the body will decide."""
        if end_of_stream:
            return await self._decide(None)
        return None

    async def on_request_body(self, chunk: bytes, end_of_stream: bool) -> Action | None:
        """Collect the body (Envoy streams it in chunks); decide at its end. None: not yet.

        The size limit is enforced as chunks arrive, so an oversized upload is refused without
        being held in memory.
        """
        if chunk:
            self._body_size += len(chunk)
            limit = self.gateway.settings.extproc.max_body_bytes
            if self._body_size > limit:
                adapter = get_adapter(self._route_provider())
                return self._reject(adapter, 413, f"request body exceeds the {limit} byte limit", "request_too_large", kind="bad_request")
            self._body_chunks.append(chunk)
        if not end_of_stream:
            return None
        return await self._decide(self.request_body)

    async def on_request_trailers(self) -> Action:
        """Trailers end a body that never said end_of_stream."""
        return await self._decide(self.request_body)

    @property
    def request_body(self) -> bytes:
        """The body as the client sent it (what goes upstream unless the decision rewrites it)."""
        if len(self._body_chunks) != 1:
            self._body_chunks = [b"".join(self._body_chunks)]
        return self._body_chunks[0]

    def on_response_headers(self) -> Action:
        return PASS

    async def on_response_body(self, chunk: bytes, end_of_stream: bool) -> Action:
        return await self.answer.on_body(chunk, end_of_stream)

    def finish(self) -> None:
        """Write the audit line; called once when Envoy closes the stream, however it ends."""
        if self._finished:
            return
        self._finished = True
        if self.status is None:
            self.status = response_status(self.attributes.get("response.code"))
        done = self.answer.done
        self.answer.close()  # nothing reads the answer after this: free the exchange without the cyclic GC
        if self.error is None and self.upstream_started is not None and not done:
            self.error = ("disconnected", "stream ended before the response completed")
        accountant = self.gateway.accountant
        reached = self.upstream_started is not None and (self.status or 0) < 400
        if accountant is not None and reached:
            self.settled = accountant.account(self.llm, self.response, self.input_estimate)
        try:
            event = build_audit_event(self)
            self.gateway.observe(self._record(event))
            self.gateway.audit.write(event)
        except Exception:
            log.exception("audit write failed")
        if accountant is not None and (self.admission is not None or reached):
            self.gateway.spawn(
                accountant.settle(
                    self.admission, self.settled, identity=self.identity, llm=self.llm, findings=self.findings, reached_provider=reached
                )
            )

    def _record(self, event: dict[str, Any]) -> ExchangeRecord:
        groups = tuple(self.identity.groups) if self.identity is not None else ()
        return ExchangeRecord(event, self.clock.finish(), self.trace_context, self.clock.start_ns, time.time_ns(), groups)

    # ---- request decision --------------------------------------------------------------------------

    async def _decide(self, body: bytes | None) -> Action:
        http = self.policy_http()
        route = resolve_route(http.method, http.path)
        if route is None:
            return self._reject(get_adapter(provider_for_unknown_path(http.path)), 404, f"no API route for {http.method} {urlsplit(http.path).path}", "not_found")
        self.route = route
        adapter = self.adapter = get_adapter(route.provider)
        query = urlsplit(self.headers.get(":path", "")).query  # http.path has ?key= removed already

        started = time.perf_counter()
        try:
            self.identity = self.gateway.identify(self.headers, query, self.metadata)
        except AuthError as exc:
            if presented_api_key(self.headers, query) is not None or self._jwt_claims() is not None:
                return self._reject(adapter, 401, exc.message, exc.code, kind="auth")
            self.identity = None  # no credential at all: the policy decides (the default requires one)
        finally:
            self.clock.mark("identify", started)

        body_obj: Any = None
        if route.has_body:
            started = time.perf_counter()
            try:
                body_obj = parse_json_body(body, self.headers, self.gateway.settings.extproc.max_body_bytes)
                self.llm = adapter.parse_request(route, body_obj)
            except RequestError as exc:
                return self._reject(adapter, exc.status, exc.message, exc.code, kind="bad_request")
            finally:
                self.clock.mark("parse", started)
        else:
            self.llm = LLMRequest(route.provider, route.operation, route.model, False, None)

        started = time.perf_counter()
        try:
            findings = self._inspect_request()
        except Exception as exc:  # a detector bug fails closed, like a policy failure
            log.exception("content inspection failed")
            return self._reject(adapter, 503, f"content inspection failed: {type(exc).__name__}", "inspection_error", kind="inspection")
        finally:
            self.clock.mark("detect", started)
        accountant = self.gateway.accountant
        usage_input: dict[str, Any] | None = None
        if accountant is not None and route.has_body:
            started = time.perf_counter()
            try:
                usage_input = await accountant.snapshot(self.identity, self.llm, self.findings)
            except StoreUnavailable as exc:
                return self._reject(adapter, 503, f"usage store unavailable: {exc}", "usage_unavailable", kind="usage")
            finally:
                self.clock.mark("usage", started)
            self.input_estimate = usage_input.get("input_tokens_estimate", 0)
            self.anomaly = usage_input.get("anomaly")
        started = time.perf_counter()
        try:
            evaluation = await self.gateway.decide(self.policy, http, self.identity, self.llm, findings=findings, usage=usage_input)
        except PolicyFailure as exc:
            self.decision_id = exc.decision_id
            return self._reject(adapter, 503, f"policy evaluation failed: {exc}", "policy_error", kind="policy")
        finally:
            self.clock.mark("policy", started)
        self.decision, self.eval_ms = evaluation.decision, evaluation.eval_ms
        self.decision_id, self.dry_run = evaluation.decision_id, evaluation.dry_run
        decision = evaluation.decision
        if not decision.allowed:
            headers = {**decision.headers, **decision.response_headers_to_add}
            reject = self._reject(adapter, decision.http_status, decision.message, "policy_denied", headers=headers, kind="denied")
            reject.metadata = {**decision.dynamic_metadata, **(reject.metadata or {})}
            return reject
        if accountant is not None and route.has_body:
            started = time.perf_counter()
            refused = await self._reserve(accountant, adapter, decision)
            self.clock.mark("usage", started)
            if refused is not None:
                return refused
        return self._allow(http, route, adapter, body_obj, decision)

    async def _reserve(self, accountant: Accountant, adapter: ProviderAdapter, decision: Decision) -> Reject | None:
        """Reserve the decision's limits before forwarding; a limit that does not fit is a 429."""
        caps = [c for c in (decision.max_output_tokens, self.llm.max_output_tokens if self.llm is not None else None) if c]
        cap = min(caps) if caps else None  # the most output the provider may produce
        try:
            admission = await accountant.admit(self.llm, decision.limits, cap, self.input_estimate)
        except StoreUnavailable as exc:
            return self._reject(adapter, 503, f"usage store unavailable: {exc}", "usage_unavailable", kind="usage")
        if isinstance(admission, Refused):
            self.refused_limit = admission.limit
            headers = {"retry-after": str(admission.retry_after_s)}
            return self._reject(adapter, 429, admission.message, "rate_limit_exceeded", headers=headers, kind="limit")
        self.admission = admission
        return None

    def _allow(self, http: HttpInfo, route: Route, adapter: ProviderAdapter, body_obj: Any, decision: Decision) -> Action:
        set_headers: dict[str, str] = {"accept-encoding": "identity"}  # never hand compressed bytes to a parser
        configured, credential = self.gateway.credential(route.provider)
        if configured and not credential:
            return self._reject(adapter, 503, f"ztgate has no credential configured for provider {route.provider}", "no_credential", kind="config")
        if credential:
            set_headers.update(adapter.upstream_auth_headers(credential))
        # The client's credential never reaches the provider, whatever header carried it.
        remove = [h for h in CREDENTIAL_HEADERS if h not in set_headers]

        path = http.path  # already without a ?key= credential
        if decision.model:  # Gemini and Azure carry the model in the path; None for the others
            path = adapter.rewrite_path(path, decision.model) or path
        if path != self.headers.get(":path"):
            set_headers[":path"] = path

        body: bytes | None = None
        if body_obj is not None:
            rewrite = RequestRewrite(
                model=decision.model,
                remove_tools=frozenset(decision.tools_remove),
                max_output_tokens=decision.max_output_tokens,
                include_stream_usage=route.operation == "chat_completions" and bool(self.llm and self.llm.stream),
            )
            changed = not rewrite.is_empty() and adapter.rewrite_request(route, body_obj, rewrite)
            if decision.redactions and self._located:
                changed = self._redact_request(body_obj, decision) or changed
            if changed:
                body = orjson.dumps(body_obj)
            # Envoy streams the body through ztgate, so without this it would go upstream chunked.
            set_headers["content-length"] = str(len(body) if body is not None else self._body_size)
        set_headers.update(decision.headers)
        remove.extend(h.lower() for h in decision.request_headers_to_remove)
        self.upstream_started = time.perf_counter()
        return Continue(
            set_headers=set_headers,
            remove_headers=remove,
            body=body,
            metadata={**decision.dynamic_metadata, **self._decision_metadata(True)},
            clear_route_cache=True,
        )

    def _reject(
        self,
        adapter: ProviderAdapter,
        status: int,
        message: str,
        code: str,
        *,
        headers: dict[str, str] | None = None,
        kind: str = "rejected",
    ) -> Reject:
        self.status = status
        if kind != "denied":
            self.error = (kind, message)
        if self.decision_id:
            headers = {DECISION_ID_HEADER: self.decision_id, **(headers or {})}
        return Reject(
            status=status,
            body=adapter.error_body(status, message, code),
            headers={"content-type": "application/json", **(headers or {})},
            metadata={**self._decision_metadata(False), "formatted": True},
            details=f"ztgate_{kind}",
        )

    def _inspect_request(self) -> list[dict[str, Any]] | None:
        """Run the detectors over every part of the request; the policy sees what and where, not values."""
        scanner = self.policy.scanner
        if scanner is None or self.llm is None or not self.llm.parts:
            return None
        self._located = scanner.scan_request(self.llm)
        self.findings = count_findings(lf.finding for lf in self._located)
        return policy_findings(self._located)

    def _redact_request(self, body_obj: Any, decision: Decision) -> bool:
        assert self.llm is not None
        parts = {part.path: part for part in self.llm.parts}
        pairs = [(parts[lf.path], lf.finding) for lf in self._located if lf.path in parts]
        self.redacted = redact_request(body_obj, pairs, redaction_modes(decision.redactions), self.gateway.redactor, self.vault)
        return self.redacted > 0

    def _route_provider(self) -> str:
        route = resolve_route(self.headers.get(":method", ""), self.headers.get(":path", ""))
        return route.provider if route else provider_for_unknown_path(self.headers.get(":path", ""))

    def _decision_metadata(self, allowed: bool) -> dict[str, Any]:
        meta: dict[str, Any] = {"allowed": allowed, "decision": "allow" if allowed else "deny"}
        if self.decision_id:
            meta[DECISION_ID_KEY] = self.decision_id  # Envoy's route puts it in the response header
        if self.dry_run:
            meta["dry_run"] = True
        if self.identity is not None:
            meta["subject"] = self.identity.subject
            meta["auth_method"] = self.identity.method
        if self.llm is not None and self.llm.model:
            meta["model"] = self.llm.model
        if self.route is not None:
            meta["provider"] = self.route.provider
        return meta

    def policy_http(self) -> HttpInfo:
        """The request's HTTP facts as the policy sees them."""
        return http_info(self.headers, self.attributes, self.metadata)

    def _jwt_claims(self) -> Any:
        return (self.metadata.get(JWT_NAMESPACE) or {}).get(JWT_PAYLOAD_KEY)
