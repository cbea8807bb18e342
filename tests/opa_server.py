#!/usr/bin/env python3
"""A stand-in for OPA's REST Data API, for testing ztgate's remote policy engine. THIS IS NOT OPA.

No OPA binary can be installed on the development machine, so the remote engine
(ztgate.policy.remote.RemoteEngine) is tested against this small aiohttp server. It mirrors OPA's
Data API for the calls ztgate makes, with OPA's request and response shapes, and evaluates the
policy with regorus (the same interpreter as ztgate's embedded engine), loading the policy
directory with ztgate.policy.engine.load_bundle (``*_test.rego`` excluded, as in OPA bundles).
What it shows is that the remote engine speaks OPA's protocol and handles its answers and failures;
it does not show how OPA itself evaluates a policy.

What it implements, as OPA v1 does:

- ``POST /v1/data/{path}`` with ``{"input": ...}``: 200 ``{"decision_id": "<uuid4>", "result": ...}``;
  ``result`` is left out when the document is undefined (OPA answers 200 ``{}``); without an
  ``input`` key (or with ``"input": null``) the answer carries OPA's
  ``{"warning": {"code": "api_usage_warning", "message": "'input' key missing from the request"}}``;
- ``GET /v1/data/{path}`` (no input, or ``?input=<JSON>``), same answers;
- ``?provenance`` / ``?provenance=true``: ``"provenance": {"version": ..., "bundles": {"<name>":
  {"revision": "<.manifest revision>"}}}`` (revision "" without a manifest, as in OPA);
- a body that is not a JSON object: 400 ``{"code": "invalid_parameter", "message": "body contains
  malformed input document: ..."}``; an evaluation error: 500 ``{"code": "internal_error",
  "message": "error(s) occurred while evaluating query", "errors": [{"code": "eval_error",
  "message": ...}]}``;
- ``GET /health`` (and ``?bundles``): 200 ``{}``;
- with a token: requests without ``Authorization: Bearer <token>`` get 401 ``{"code":
  "unauthorized", "message": "request rejected by administrative policy"}``.

Faults for tests (Data API routes only; /health stays healthy), changeable while running:
``delay_ms`` (sleep before answering), ``fail_status`` (answer with that status and an OPA error
body), ``drop`` (close the connection without answering, for that many requests).

Use it in-process::

    async with OpaTestServer(Path("rego")) as opa:     # on the running event loop
        ... opa.url ...; opa.faults.delay_ms = 200
    with OpaTestServer(Path("rego")) as opa:           # on its own loop in a background thread
        ...

or as a script (prints ``READY <url>`` when it listens)::

    python tests/opa_server.py --bundle rego --port 8181 [--host 127.0.0.1] [--token T]
        [--delay-ms N] [--fail-status 500] [--bundle-name NAME]

``build_app(policy_dir, ...)`` returns the aiohttp Application alone.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import socket
import sys
import threading
import uuid
from dataclasses import dataclass, field
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any, Iterable

import orjson
import regorus
from aiohttp import web

_ROOT = Path(__file__).resolve().parents[1]
if str(_ROOT / "server") not in sys.path:  # run as a script from a checkout without an install
    sys.path.insert(0, str(_ROOT / "server"))

if str(_ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(_ROOT / "tests"))

from threaded import ThreadedServer, serve_until_signalled  # noqa: E402
from ztgate.policy.engine import PolicyBundle, load_bundle, regorus_message  # noqa: E402

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_UNDEFINED = '"<undefined>"'  # regorus's answer for an undefined rule
MSG_EVALUATION_ERROR = "error(s) occurred while evaluating query"
MSG_INPUT_KEY_MISSING = "'input' key missing from the request"
MSG_UNAUTHORIZED = "request rejected by administrative policy"


def _regorus_version() -> str:
    try:
        return package_version("gordon-to-regorus")
    except Exception:  # noqa: BLE001 - only for the provenance string
        return "unknown"


VERSION = f"not-opa: ztgate tests/opa_server.py (regorus {_regorus_version()})"


class EvaluationError(Exception):
    """The policy failed to evaluate (OPA answers 500 internal_error)."""


@dataclass
class Faults:
    """Injected faults, read on every Data API request (change them while the server runs)."""

    delay_ms: float = 0.0
    fail_status: int | None = None
    drop: int = 0  # close the connection without answering, for this many requests


@dataclass
class Stats:
    requests: int = 0  # Data API requests answered or dropped
    peers: set[str] = field(default_factory=set)  # client "ip:port" seen: one per TCP connection


def data_query(segments: Iterable[str]) -> str:
    """OPA's path-to-reference rule: /v1/data/a/b/0 is data.a.b[0]; other segments are string keys."""
    query = "data"
    for segment in segments:
        if segment.isdigit():
            query += f"[{int(segment)}]"
        elif _IDENTIFIER.fullmatch(segment):
            query += f".{segment}"
        else:
            query += f"[{orjson.dumps(segment).decode()}]"
    return query


class Evaluator:
    """Evaluates Data API queries over one policy bundle with regorus.

    regorus engines are bound to the thread that made them, so each thread builds its own, lazily.
    The decision rule runs on regorus's RVM when it compiles (as ztgate's embedded engine does);
    packages, data documents and anything the compiler refuses run on the interpreter.
    """

    def __init__(self, bundle: PolicyBundle) -> None:
        self.bundle = bundle
        self._data_json = orjson.dumps(bundle.data).decode()
        self._local = threading.local()

    def _engines(self) -> Any:
        local = self._local
        if not hasattr(local, "with_input"):
            local.with_input = self.bundle.build()
            local.without_input = self.bundle.build()  # regorus keeps the last input: one engine never gets one
            local.vms = {}
        return local

    def _vm(self, query: str) -> regorus.Rvm | None:
        vms = self._engines().vms
        if query not in vms:
            program = self.bundle.compile(query)
            vm = None
            if program is not None:
                vm = regorus.Rvm()
                vm.load_program(program)
                vm.set_data_json(self._data_json)
            vms[query] = vm
        return vms[query]

    def evaluate(self, query: str, input: Any, has_input: bool) -> tuple[bool, Any]:
        """(defined, value); raises EvaluationError."""
        local = self._engines()
        try:
            if has_input:
                vm = self._vm(query)
                if vm is not None:
                    vm.set_input_json(orjson.dumps(input).decode())
                    raw = vm.execute()
                    if raw != _UNDEFINED:
                        return True, orjson.loads(raw)
                    # Undefined or failed: the interpreter tells which (and names the error).
                engine = local.with_input
                engine.set_input(input)
            else:
                engine = local.without_input
            results = orjson.loads(engine.eval_query_as_json(query)).get("result") or []
        except BaseException as exc:  # regorus panics are BaseExceptions
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            raise EvaluationError(regorus_message(exc)) from None
        if not results:
            return False, None
        return True, results[0]["expressions"][0]["value"]


def _manifest_revision(root: Path) -> str:
    """The bundle revision as OPA reports it: the .manifest's, else ""."""
    try:
        manifest = orjson.loads((root / ".manifest").read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return ""
    revision = manifest.get("revision") if isinstance(manifest, dict) else None
    return revision if isinstance(revision, str) else ""


def _bool_param(request: web.Request, name: str) -> bool:
    """OPA's getBoolParam: present without a value means true; otherwise any value equal to "true"."""
    values = request.query.getall(name, [])
    if len(values) == 1 and values[0] == "":
        return True
    return any(value.lower() == "true" for value in values)


def _json(status: int, body: dict[str, Any]) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body) + b"\n", content_type="application/json")


def _error(status: int, code: str, message: str, errors: list[dict[str, Any]] | None = None) -> web.Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if errors:
        body["errors"] = errors
    return _json(status, body)


APP_STATE = web.AppKey("opa_state", dict)


def build_app(
    policy_dir: Path,
    *,
    token: str | None = None,
    faults: Faults | None = None,
    stats: Stats | None = None,
    bundle_name: str | None = None,
) -> web.Application:
    """The aiohttp Application serving OPA's Data API for the policy directory (see the module docstring)."""
    root = Path(policy_dir)
    bundle = load_bundle(root)
    evaluator = Evaluator(bundle)
    faults = faults if faults is not None else Faults()
    stats = stats if stats is not None else Stats()
    name = bundle_name or root.resolve().name
    provenance = {"version": VERSION, "bundles": {name: {"revision": _manifest_revision(root)}}}
    expected_auth = f"Bearer {token}" if token else None

    @web.middleware
    async def authenticate(request: web.Request, handler: Any) -> web.StreamResponse:
        if expected_auth is not None and request.headers.get("Authorization") != expected_auth:
            return _error(401, "unauthorized", MSG_UNAUTHORIZED)
        return await handler(request)

    async def health(request: web.Request) -> web.Response:
        return _json(200, {})

    async def data(request: web.Request) -> web.StreamResponse:
        stats.requests += 1
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if peer:
            stats.peers.add(f"{peer[0]}:{peer[1]}")
        raw = await request.read() if request.method == "POST" else b""
        if faults.delay_ms > 0:
            await asyncio.sleep(faults.delay_ms / 1000)
        if faults.drop > 0:
            faults.drop -= 1
            if request.transport is not None:
                request.transport.close()
            raise asyncio.CancelledError  # nothing is written to the closed connection
        if faults.fail_status is not None:
            return _error(faults.fail_status, "internal_error", f"injected fault: HTTP {faults.fail_status}")

        segments = [part for part in request.match_info.get("path", "").split("/") if part]
        has_input, value = False, None
        if request.method == "POST":
            if raw.strip():
                try:
                    body = orjson.loads(raw)
                except orjson.JSONDecodeError as exc:
                    return _error(400, "invalid_parameter", f"body contains malformed input document: {exc}")
                if not isinstance(body, dict):
                    return _error(
                        400,
                        "invalid_parameter",
                        "body contains malformed input document: the request body must be a JSON object",
                    )
                value = body.get("input")
                has_input = value is not None
        elif "input" in request.query:
            try:
                value = orjson.loads(request.query.getall("input")[-1])
            except orjson.JSONDecodeError as exc:
                return _error(400, "invalid_parameter", f"parameter contains malformed input document: {exc}")
            has_input = value is not None

        try:
            defined, result = evaluator.evaluate(data_query(segments), value, has_input)
        except EvaluationError as exc:
            return _error(500, "internal_error", MSG_EVALUATION_ERROR, [{"code": "eval_error", "message": str(exc)}])
        answer: dict[str, Any] = {"decision_id": str(uuid.uuid4())}
        if _bool_param(request, "provenance"):
            answer["provenance"] = provenance
        if defined:
            answer["result"] = result
        if request.method == "POST" and not has_input:
            answer["warning"] = {"code": "api_usage_warning", "message": MSG_INPUT_KEY_MISSING}
        return _json(200, answer)

    app = web.Application(middlewares=[authenticate], client_max_size=64 * 1024 * 1024)
    app[APP_STATE] = {"faults": faults, "stats": stats, "bundle": bundle, "provenance": provenance}
    app.router.add_get("/health", health)
    app.router.add_route("POST", "/v1/data", data)
    app.router.add_route("GET", "/v1/data", data)
    app.router.add_route("POST", "/v1/data/{path:.*}", data)
    app.router.add_route("GET", "/v1/data/{path:.*}", data)
    return app


class OpaTestServer(ThreadedServer):
    """The OPA stand-in on a local port: ``url``, ``faults`` and ``stats`` (see the module docstring)."""

    thread_name = "opa-test-server"

    def __init__(
        self,
        policy_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        bundle_name: str | None = None,
        faults: Faults | None = None,
    ) -> None:
        self.policy_dir = Path(policy_dir)
        self.host = host
        self.port = port
        self.token = token
        self.bundle_name = bundle_name
        self.faults = faults if faults is not None else Faults()
        self.stats = Stats()
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> OpaTestServer:
        app = build_app(self.policy_dir, token=self.token, faults=self.faults, stats=self.stats, bundle_name=self.bundle_name)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock, backlog=1024).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> OpaTestServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def _parse_args(argv: Iterable[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="A stand-in for OPA's Data API evaluating with regorus, for ztgate's tests (this is not OPA)."
    )
    p.add_argument("--bundle", type=Path, required=True, help="policy directory (OPA bundle layout), e.g. rego")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8181, help="0 picks a free port (printed in the READY line)")
    p.add_argument("--token", default=None, help="require Authorization: Bearer TOKEN")
    p.add_argument("--bundle-name", default=None, help="bundle name in provenance (default: the directory name)")
    p.add_argument("--delay-ms", type=float, default=0.0, help="sleep this long before each Data API answer")
    p.add_argument("--fail-status", type=int, default=None, help="answer every Data API request with this status")
    return p.parse_args(list(argv) if argv is not None else None)


async def _serve(args: argparse.Namespace) -> None:
    server = OpaTestServer(
        args.bundle,
        host=args.host,
        port=args.port,
        token=args.token,
        bundle_name=args.bundle_name,
        faults=Faults(delay_ms=args.delay_ms, fail_status=args.fail_status),
    )
    await server.start()
    await serve_until_signalled(server, server.url)


def main(argv: Iterable[str] | None = None) -> int:
    asyncio.run(_serve(_parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
