"""One LLM exchange, from the request body to the end of the response, as a small state machine.

Each `on_*` method takes plain values from one Envoy message and returns an action (Continue/Reject).
Nothing here speaks protobuf or gRPC, so every phase is testable without Envoy.
"""

from __future__ import annotations

import logging
import time
import zlib
from typing import Any
from urllib.parse import urlsplit

import orjson

from ..envoy_config import JWT_NAMESPACE
from ..identity import AuthError, Identity
from ..identity.credentials import CREDENTIAL_HEADERS, presented_api_key, strip_key_param
from ..policy.decision import Decision
from ..policy.http import HttpInfo
from ..providers import get_adapter, provider_for_unknown_path, resolve_route
from ..providers.base import LLMRequest, LLMResponse, ProviderAdapter, RequestError, RequestRewrite, Route
from ..providers.sse import SSEDecoder
from .actions import PASS, Action, Continue, Reject
from .gateway import Gateway, PolicyFailure
from .audit_event import build_audit_event

log = logging.getLogger("ztgate.exchange")

_CREDENTIAL_SET = frozenset(CREDENTIAL_HEADERS)
_MAX_RESPONSE_BYTES = 64 * 1024 * 1024  # past this, a buffered response is passed on but no longer parsed
_JSON_TYPES = ("application/json", "text/json")


class Exchange:
    def __init__(self, gateway: Gateway, trace_context: dict[str, str] | None = None) -> None:
        self.gateway = gateway
        self.trace_context = trace_context or {}
        self.started = time.perf_counter()
        self.started_wall = time.time()
        self.attributes: dict[str, Any] = {}
        self.metadata: dict[str, Any] = {}
        self.headers: dict[str, str] = {}
        self.route: Route | None = None
        self.adapter: ProviderAdapter | None = None
        self.identity: Identity | None = None
        self.llm: LLMRequest | None = None
        self.decision: Decision | None = None
        self.eval_ms: float | None = None
        self.status: int | None = None  # what the client got
        self.error: tuple[str, str] | None = None  # (kind, message) for the audit line
        self.response = LLMResponse()
        self.upstream_started: float | None = None
        self._sse: SSEDecoder | None = None
        self._json: list[bytes] | None = None
        self._json_size = 0
        self._gunzip: Any = None
        self._body_chunks: list[bytes] = []
        self._body_size = 0
        self._response_started = False
        self._encoding_known = False
        self._head = b""
        self._format_known = False
        self._response_done = False
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

    def on_request_headers(self, end_of_stream: bool) -> Action | None:
        """Decide now when no body follows (GET /v1/models); None: the body will decide."""
        if end_of_stream:
            return self._decide(None)
        return None

    def on_request_body(self, chunk: bytes, end_of_stream: bool) -> Action | None:
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
        return self._decide(self.request_body)

    def on_request_trailers(self) -> Action:
        """Trailers end a body that never said end_of_stream."""
        return self._decide(self.request_body)

    @property
    def request_body(self) -> bytes:
        """The body as the client sent it (what goes upstream unless the decision rewrites it)."""
        if len(self._body_chunks) != 1:
            self._body_chunks = [b"".join(self._body_chunks)]
        return self._body_chunks[0]

    def on_response_headers(self) -> Action:
        return PASS

    def on_response_body(self, chunk: bytes, end_of_stream: bool) -> Action:
        if not self._response_started:
            self._start_response()
        try:
            self._consume(chunk, end_of_stream)
        except Exception as exc:  # a malformed upstream body must never break the client's stream
            log.warning("response parsing failed: %s", exc)
            self.error = ("response_parse", str(exc)[:200])
            self._sse = None
            self._json = None
        if end_of_stream:
            return Continue(metadata=self._usage_metadata())
        return PASS

    def finish(self) -> None:
        """Write the audit line; called once when Envoy closes the stream, however it ends."""
        if self._finished:
            return
        self._finished = True
        if self.status is None:
            self.status = _status(self.attributes.get("response.code"))
        if self.error is None and self.upstream_started is not None and not self._response_done:
            self.error = ("disconnected", "stream ended before the response completed")
        try:
            self.gateway.audit.write(build_audit_event(self))
        except Exception:
            log.exception("audit write failed")

    # ---- request decision --------------------------------------------------------------------------

    def _decide(self, body: bytes | None) -> Action:
        http = self._http_info()
        route = resolve_route(http.method, http.path)
        if route is None:
            return self._reject(get_adapter(provider_for_unknown_path(http.path)), 404, f"no API route for {http.method} {urlsplit(http.path).path}", "not_found")
        self.route = route
        adapter = self.adapter = get_adapter(route.provider)
        query = urlsplit(self.headers.get(":path", "")).query  # http.path has ?key= removed already

        try:
            self.identity = self.gateway.identify(self.headers, query, self.metadata)
        except AuthError as exc:
            if presented_api_key(self.headers, query) is not None or self._jwt_claims() is not None:
                return self._reject(adapter, 401, exc.message, exc.code, kind="auth")
            self.identity = None  # no credential at all: the policy decides (the default requires one)

        body_obj: Any = None
        if route.has_body:
            try:
                body_obj = self._parse_body(body)
                self.llm = adapter.parse_request(route, body_obj)
            except RequestError as exc:
                return self._reject(adapter, exc.status, exc.message, exc.code, kind="bad_request")
        else:
            self.llm = LLMRequest(route.provider, route.operation, route.model, False, None)

        try:
            evaluation = self.gateway.decide(http, self.identity, self.llm)
        except PolicyFailure as exc:
            return self._reject(adapter, 503, f"policy evaluation failed: {exc}", "policy_error", kind="policy")
        self.decision, self.eval_ms = evaluation.decision, evaluation.eval_ms
        decision = evaluation.decision
        if not decision.allowed:
            headers = {**decision.headers, **decision.response_headers_to_add}
            reject = self._reject(adapter, decision.http_status, decision.message, "policy_denied", headers=headers, kind="denied")
            reject.metadata = {**decision.dynamic_metadata, **(reject.metadata or {})}
            return reject
        return self._allow(http, route, adapter, body_obj, decision)

    def _parse_body(self, body: bytes | None) -> Any:
        limit = self.gateway.settings.extproc.max_body_bytes
        if not body:
            raise RequestError("a JSON request body is required", 400)
        if len(body) > limit:  # normally refused while the chunks arrive
            raise RequestError(f"request body exceeds the {limit} byte limit", 413, "request_too_large")
        content_type = self.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if content_type and content_type not in _JSON_TYPES:
            raise RequestError(f"content-type must be application/json, got {content_type!r}", 415, "unsupported_media_type")
        encoding = self.headers.get("content-encoding", "identity").lower()
        if encoding not in ("", "identity"):
            raise RequestError(f"compressed request bodies ({encoding}) are not accepted", 415, "unsupported_media_type")
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            reason = "not valid UTF-8" if "utf-8" in str(exc).lower() else str(exc)
            raise RequestError(f"request body is not valid JSON: {reason}", 400, "invalid_json") from None
        except RecursionError:
            raise RequestError("request body is nested too deeply", 400, "invalid_json") from None

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
            if not rewrite.is_empty() and adapter.rewrite_request(route, body_obj, rewrite):
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
        return Reject(
            status=status,
            body=adapter.error_body(status, message, code),
            headers={"content-type": "application/json", **(headers or {})},
            metadata={**self._decision_metadata(False), "formatted": True},
            details=f"ztgate_{kind}",
        )

    def _route_provider(self) -> str:
        route = resolve_route(self.headers.get(":method", ""), self.headers.get(":path", ""))
        return route.provider if route else provider_for_unknown_path(self.headers.get(":path", ""))

    def _decision_metadata(self, allowed: bool) -> dict[str, Any]:
        meta: dict[str, Any] = {"allowed": allowed, "decision": "allow" if allowed else "deny"}
        if self.identity is not None:
            meta["subject"] = self.identity.subject
            meta["auth_method"] = self.identity.method
        if self.llm is not None and self.llm.model:
            meta["model"] = self.llm.model
        if self.route is not None:
            meta["provider"] = self.route.provider
        return meta

    def _http_info(self) -> HttpInfo:
        h = self.headers
        return HttpInfo(
            id=h.get("x-request-id", ""),
            method=h.get(":method", ""),
            path=strip_key_param(h.get(":path", "")),  # a Gemini ?key= credential never reaches the policy
            host=h.get(":authority", ""),
            scheme=str(self.attributes.get("request.scheme") or h.get(":scheme", "http")),
            # Pseudo-headers are in the fields above; credentials never reach the policy or its logs.
            headers={k: v for k, v in h.items() if k[0] != ":" and k not in _CREDENTIAL_SET},
            source_address=str(self.attributes.get("source.address") or ""),
            metadata=self.metadata,
        )

    def _jwt_claims(self) -> Any:
        return (self.metadata.get(JWT_NAMESPACE) or {}).get("jwt_payload")

    # ---- response ----------------------------------------------------------------------------------

    def _start_response(self) -> None:
        self._response_started = True
        self.status = _status(self.attributes.get("response.code")) or self.status

    def _decode(self, chunk: bytes) -> bytes:
        """Undo gzip if the upstream used it despite accept-encoding: identity (its magic bytes say so).

        Envoy does not send response header attributes while response headers are skipped, and asking
        for the headers would cost a round trip per exchange; the body's first bytes say enough.
        """
        if not self._encoding_known:
            chunk = self._head + chunk
            if len(chunk) < 2:  # the magic may straddle chunks
                self._head = chunk
                return b""
            self._encoding_known = True
            if chunk[:2] == b"\x1f\x8b":
                self._gunzip = zlib.decompressobj(16 + zlib.MAX_WBITS)
        if self._gunzip is not None and chunk:
            return self._gunzip.decompress(chunk, _MAX_RESPONSE_BYTES)
        return chunk

    def _choose_reader(self, data: bytes) -> None:
        """JSON or SSE, from the first non-blank decoded bytes."""
        if self.adapter is None or not data.strip():
            return
        self._format_known = True
        if data.lstrip()[:1] in (b"{", b"["):
            self._json = []
        else:
            self._sse = SSEDecoder()

    def _consume(self, chunk: bytes, end_of_stream: bool) -> None:
        data = self._decode(chunk)
        if end_of_stream and not self._encoding_known:  # a one-byte body
            data, self._encoding_known = self._head, True
        if not self._format_known:
            self._choose_reader(data)
        if self._sse is not None and self.adapter is not None:
            events = self._sse.feed(data) if data else []
            if end_of_stream:
                events += self._sse.close()
            for event in events:
                self.adapter.parse_stream_event(event, self.response)
        elif self._json is not None and data:
            self._json_size += len(data)
            if self._json_size > _MAX_RESPONSE_BYTES:
                self._json = None
                self.error = ("response_too_large", "response body too large to account")
            else:
                self._json.append(data)
        if end_of_stream:
            self._response_done = True
            if self._json is not None and self.adapter is not None:
                raw = b"".join(self._json)
                parsed = orjson.loads(raw) if raw else None
                if isinstance(parsed, (dict, list)):  # Gemini streams a JSON array without alt=sse
                    self.adapter.parse_response(parsed, self.response)

    def _usage_metadata(self) -> dict[str, Any]:
        usage = self.response.usage
        meta: dict[str, Any] = {}
        if usage.input_tokens is not None:
            meta["input_tokens"] = usage.input_tokens
        if usage.output_tokens is not None:
            meta["output_tokens"] = usage.output_tokens
        if self.response.model:
            meta["response_model"] = self.response.model
        return meta


def _status(value: Any) -> int | None:
    try:
        return int(value) or None
    except (TypeError, ValueError):
        return None
