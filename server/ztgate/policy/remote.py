"""The remote policy engine: decisions from an OPA server's Data API (an OPA sidecar or service).

``RemoteEngine`` sends ``POST <url>/v1/data/<path>?provenance=true`` with ``{"input": ...}`` and
returns OPA's ``result``. It takes the same input and returns the same raw decision as the embedded
engine, so the gateway treats both alike; what differs is that every decision is a network round
trip, so everything that can fail fails closed with a PolicyError the gateway turns into a 503:

- OPA does not answer within ``timeout_s`` (one deadline per call that covers waiting for a pooled
  connection, connecting, sending and reading the answer);
- OPA cannot be reached, or closes the connection without answering;
- OPA answers with a status other than 200 (the error names OPA's ``code`` and ``message`` and the
  messages of its ``errors`` list, cut to a few hundred characters);
- OPA's answer has no ``result`` (the decision is undefined for this input: OPA answers 200 ``{}``);
- the answer is not a JSON object.

Errors never contain the policy input. They can contain OPA's own error text, which is about the
policy (a conflict, a type error), as the embedded engine's regorus messages are.

``decide`` (the Engine protocol) returns an Answer: the value, the bundle revision from OPA's
provenance of that very answer (``provenance.bundles.<name>.revision``, or the legacy single-bundle
``provenance.revision``) and OPA's ``decision_id`` when OPA assigns one (decision logging on), so an
audit line can be joined with OPA's decision log. ``revision`` is the last revision seen: "" while
unknown and when OPA serves policies that are not from a bundle.

Why aiohttp and not opa-python-client
-------------------------------------
opa-python-client 3.0.0's ``AsyncOpaClient`` was read for this (it is pinned, and it is an aiohttp
client underneath); its evaluation call, ``query_rule``, cannot serve the per-request path:

- it calls ``raise_for_status()`` before reading the body, so OPA's error ``code`` and ``message``
  (the reason the audit line needs) are lost on every non-200 answer;
- its connection pool is fixed in ``_init_session`` (aiohttp's default of 100, not configurable);
- its retries sleep 0.3 s, 0.6 s, ... between attempts, which no per-call deadline of
  milliseconds can accommodate (retries=0 turns them off, along with the stale-connection retry);
- it takes host and port, not a URL, so an OPA behind a path prefix cannot be addressed;
- it serialises with the standard ``json`` module and builds the URL on every call.

So this module uses aiohttp directly, the same library the client uses: one ``ClientSession`` for
the engine's lifetime, a keep-alive connection pool of ``pool_size`` connections, the request URL
built once, bodies serialised and parsed with orjson. The tests check the OPA stand-in they run
against with ``AsyncOpaClient`` too, as an independent client of the same API.

Tests: no OPA binary can be installed on the development machine, so tests/opa_server.py, a small
server that mirrors OPA's Data API for the calls made here and evaluates with regorus, stands in
for OPA (see docs/remote-opa.md).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Mapping
from urllib.parse import quote, urlsplit, urlunsplit

import aiohttp
import orjson
from yarl import URL

from ztgate.policy.engine import Answer, PolicyError

log = logging.getLogger(__name__)

DEFAULT_PATH = "ztgate/decision"

# OPA's error text is about the policy, but it is the other side's text: keep it to a line.
_MAX_REASON = 300


def data_path(path: str) -> tuple[str, ...]:
    """The decision's path segments from "ztgate/decision" (OPA's URL form) or "data.ztgate.decision"
    (a Rego reference, as the embedded engine's query). Raises PolicyError when nothing is left."""
    text = path.strip()
    if text.startswith("data.") or ("/" not in text and "." in text):
        text = text.removeprefix("data.").replace(".", "/")
    text = text.removeprefix("/v1/data/").strip("/")
    segments = tuple(part for part in text.split("/") if part)
    if not segments:
        raise PolicyError(f"remote policy path {path!r} names no document (expected e.g. {DEFAULT_PATH!r})")
    return segments


class RemoteEngine:
    """Decisions from OPA over its REST Data API; one instance per worker, shared by all requests.

    ``await start()`` (or ``async with``) before the first decision and ``await aclose()`` at
    shutdown. Safe for any number of concurrent ``evaluate`` calls on the engine's event loop: at
    most ``pool_size`` are in flight to OPA, the others wait for a connection within their deadline.
    """

    def __init__(
        self,
        url: str,
        path: str = DEFAULT_PATH,
        *,
        timeout_s: float = 0.5,
        pool_size: int = 32,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """url: OPA's address, e.g. "http://127.0.0.1:8181" (a sidecar) or
        "http://opa.policy.svc:8181" (a service), "https://..." for TLS, with an optional path prefix.
        path: the decision document, "ztgate/decision" or "data.ztgate.decision".
        timeout_s: the deadline of one decision, end to end. pool_size: keep-alive connections to OPA.
        token: sent as "Authorization: Bearer <token>" (OPA's --authentication=token).
        headers: extra request headers (e.g. for a proxy in front of OPA).
        Raises PolicyError on a setting that cannot work, so start-up fails loudly."""
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise PolicyError(f"remote OPA url {url!r} must be http://host[:port] or https://host[:port]")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise PolicyError(f"remote OPA url {url!r} must not carry credentials, a query or a fragment")
        if not timeout_s > 0:
            raise PolicyError(f"remote OPA timeout must be positive, got {timeout_s!r} s")
        if not isinstance(pool_size, int) or pool_size < 1:
            raise PolicyError(f"remote OPA pool size must be a positive integer, got {pool_size!r}")
        netloc = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        if parts.port is not None:
            netloc = f"{netloc}:{parts.port}"
        base = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
        self._display_url = base
        self._segments = data_path(path)
        encoded = "/".join(quote(segment, safe="") for segment in self._segments)
        self._data_url = URL(f"{base}/v1/data/{encoded}?provenance=true", encoded=True)
        self._health_url = URL(f"{base}/health?bundles", encoded=True)
        self._timeout_s = float(timeout_s)
        self._pool_size = pool_size
        self._headers: dict[str, str] = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            # Decisions are a few hundred bytes: compressing them costs both sides more than it saves.
            "Accept-Encoding": "identity",
            "User-Agent": "ztgate",
            **(dict(headers) if headers else {}),
        }
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._session: aiohttp.ClientSession | None = None
        self._revision = ""

    # ---- properties ----

    @property
    def url(self) -> str:
        """OPA's base URL as configured (normalised, no trailing slash)."""
        return self._display_url

    @property
    def path(self) -> str:
        """The decision document as OPA's Data API path, e.g. "ztgate/decision"."""
        return "/".join(self._segments)

    @property
    def query(self) -> str:
        """The decision document as a Rego reference, e.g. "data.ztgate.decision"."""
        return "data." + ".".join(self._segments)

    @property
    def timeout_s(self) -> float:
        return self._timeout_s

    @property
    def pool_size(self) -> int:
        return self._pool_size

    @property
    def revision(self) -> str:
        """The bundle revision OPA reported last ("" until known, or when OPA has no bundle)."""
        return self._revision

    @property
    def started(self) -> bool:
        return self._session is not None and not self._session.closed

    # ---- lifecycle ----

    async def start(self, *, wait_s: float = 5.0, require: bool = True) -> None:
        """Open the connection pool, then wait up to wait_s for OPA to be ready: ``GET /health?bundles``
        answers 200 (OPA is up and its bundles are activated) and the decision path answers 200 (the
        token is accepted; this also learns the revision).

        OPA unreachable or not ready in time: with require (the default) the pool is closed and
        PolicyError raised, so ``ztgate serve`` fails loudly instead of denying every request; without
        it a warning is logged and each decision fails closed until OPA answers. Calling start() on a
        started engine only checks readiness again.
        """
        if not self.started:
            # One deadline per call (evaluate) governs; the session itself has no timeout.
            connector = aiohttp.TCPConnector(limit=self._pool_size, limit_per_host=self._pool_size)
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers=self._headers,
                timeout=aiohttp.ClientTimeout(total=None),
                auto_decompress=False,
                trust_env=False,  # never route the sidecar hop through an HTTP(S)_PROXY from the environment
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(wait_s, 0.0)
        pause = 0.05
        while True:
            reason = await self._not_ready()
            if reason is None:
                log.info("OPA at %s is ready (policy revision %r)", self._display_url, self._revision)
                return
            if loop.time() + pause > deadline:
                break
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.5)
        message = f"OPA at {self._display_url} is not ready after {wait_s:g} s: {reason}"
        if require:
            await self.aclose()
            raise PolicyError(message)
        log.warning("%s; decisions fail closed until it answers", message)

    async def _not_ready(self) -> str | None:
        """None when OPA is ready, else why not (one health check, then one decision-path probe)."""
        assert self._session is not None
        probe_s = max(self._timeout_s, 1.0)
        try:
            async with asyncio.timeout(probe_s):
                async with self._session.get(self._health_url) as resp:
                    raw = await resp.read()
                    if resp.status != 200:
                        return f"/health?bundles answered {self._status_text(resp.status, resp.reason, raw)}"
                # GET evaluates the decision without input: enough to check access and read provenance.
                async with self._session.get(self._data_url) as resp:
                    raw = await resp.read()
                    if resp.status != 200:
                        return f"{self._data_url.path} answered {self._status_text(resp.status, resp.reason, raw)}"
        except TimeoutError:
            return f"no answer within {probe_s * 1000:g} ms"
        except aiohttp.ClientError as exc:
            return self._client_error_text(exc)
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return f"{self._data_url.path} answered with invalid JSON"
        if isinstance(doc, dict):
            self._note_revision(doc.get("provenance"))
            if "result" not in doc:
                log.warning("%s is undefined at OPA %s without input: check the decision path", self.query, self._display_url)
        return None

    async def aclose(self) -> None:
        """Close the connection pool; the engine can be started again."""
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    async def __aenter__(self) -> RemoteEngine:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ---- decisions ----

    async def evaluate(self, input: dict[str, Any]) -> Any:
        """The raw decision value alone (OPA's ``result``); raises PolicyError when there is none."""
        return (await self.decide(input)).value

    async def decide(self, input: dict[str, Any]) -> Answer:
        """Engine protocol: OPA's ``result`` for this input, with the revision that decided and OPA's
        decision id; raises PolicyError when there is no decision."""
        session = self._session
        if session is None:
            raise PolicyError(f"remote policy engine for OPA at {self._display_url} is not started")
        try:
            body = orjson.dumps({"input": input})
        except TypeError as exc:  # orjson.JSONEncodeError; its message names the type, not the value
            raise PolicyError(f"policy input is not JSON: {exc}") from None
        status, reason, raw = await self._post(session, body)
        if status != 200:
            raise PolicyError(f"OPA at {self._display_url} answered {self._status_text(status, reason, raw)}")
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise PolicyError(f"OPA at {self._display_url} answered with invalid JSON") from None
        if not isinstance(doc, dict):
            raise PolicyError(f"OPA at {self._display_url} answered with JSON that is not an object")
        provenance = doc.get("provenance")
        revision = self._note_revision(provenance) if provenance is not None else self._revision
        if "result" not in doc:
            raise PolicyError(f"decision undefined: {self.query} has no value for this input (OPA at {self._display_url})")
        decision_id = doc.get("decision_id")
        return Answer(doc["result"], revision, decision_id if isinstance(decision_id, str) and decision_id else None)

    async def _post(self, session: aiohttp.ClientSession, body: bytes) -> tuple[int, str | None, bytes]:
        """One round trip under one deadline. A pooled connection that OPA (or a proxy) closed while it
        sat idle fails on reuse; a Data API query reads only, so it is sent once more, within the
        same deadline, on a fresh connection."""
        try:
            async with asyncio.timeout(self._timeout_s):
                try:
                    async with session.post(self._data_url, data=body) as resp:
                        return resp.status, resp.reason, await resp.read()
                except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
                    if isinstance(exc, aiohttp.ClientConnectorError):
                        raise
                async with session.post(self._data_url, data=body) as resp:
                    return resp.status, resp.reason, await resp.read()
        except TimeoutError:
            raise PolicyError(
                f"OPA at {self._display_url} did not answer within {self._timeout_s * 1000:g} ms"
            ) from None
        except aiohttp.ClientError as exc:
            raise PolicyError(self._client_error_text(exc)) from None

    # ---- helpers ----

    def _note_revision(self, provenance: Any) -> str:
        """The revision in one answer's provenance; remembered as the engine's revision."""
        revision = ""
        if isinstance(provenance, dict):
            bundles = provenance.get("bundles")
            if isinstance(bundles, dict) and bundles:
                revisions = {
                    name: info.get("revision") or ""
                    for name, info in bundles.items()
                    if isinstance(info, dict)
                }
                if len(revisions) == 1:
                    revision = next(iter(revisions.values()))
                else:  # several bundles: name each one, in a stable order
                    revision = ",".join(f"{name}={rev}" for name, rev in sorted(revisions.items()))
            elif isinstance(provenance.get("revision"), str):  # OPA's legacy single-bundle field
                revision = provenance["revision"]
        self._revision = revision
        return revision

    def _status_text(self, status: int, reason: str | None, raw: bytes) -> str:
        """"HTTP 500: internal_error: <message> (<detail>; ...)" from OPA's error body
        ({"code", "message", "errors": [{"code", "message", ...}]}, or /health's {"error"})."""
        head = f"HTTP {status}"
        try:
            doc = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            doc = None
        if not isinstance(doc, dict):
            return f"{head} {reason}" if reason else head
        code, message = doc.get("code"), doc.get("message") or doc.get("error")
        text = ": ".join(str(part) for part in (code, message) if part)
        details = doc.get("errors")
        if isinstance(details, list):
            found = [str(e["message"]) for e in details[:3] if isinstance(e, dict) and e.get("message")]
            if found:
                text = f"{text} ({'; '.join(found)})" if text else "; ".join(found)
        if not text:
            return f"{head} {reason}" if reason else head
        text = " ".join(text.split())
        if len(text) > _MAX_REASON:
            text = text[: _MAX_REASON - 3] + "..."
        return f"{head}: {text}"

    def _client_error_text(self, exc: aiohttp.ClientError) -> str:
        if isinstance(exc, aiohttp.ClientConnectorError):
            os_error = exc.os_error
            if isinstance(os_error, ConnectionRefusedError):
                cause = "connection refused"
            else:
                cause = (os_error.strerror or str(os_error)) if os_error else str(exc)
            return f"cannot connect to OPA at {self._display_url}: {cause}"
        if isinstance(exc, aiohttp.ServerDisconnectedError):
            return f"OPA at {self._display_url} closed the connection without answering"
        return f"request to OPA at {self._display_url} failed: {type(exc).__name__}: {exc}"
