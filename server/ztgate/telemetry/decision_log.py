"""Decision logs in OPA's shape, so pipelines built for OPA's decision logs ingest ztgate's unchanged.

One JSON line per policy evaluation (request phase and response phase each count):
`decision_id`, `path` (the decision rule, e.g. "ztgate/decision"), `input` (with configured fields
erased, listed in `erased`, as OPA's mask policy does), `result`, `revision` and `bundles` (the policy
revision, both forms OPA has used), `timestamp` (RFC 3339 with nanoseconds), `metrics`
(`timer_rego_query_eval_ns`), `labels` (this instance) and, when the evaluation failed, `error`.
ztgate adds one object of its own, `ztgate`: whether the decision was enforced (false in global
shadow mode) and the phase. The input never carries prompt or output text (see policy/input.py),
and credentials never reach it, so a decision log is safe to ship where audit logs go.

Lines go through the audit log's writer (telemetry/audit.py): line-buffered, O_APPEND, never raising.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .audit import AuditLog

DEFAULT_ERASE = ("/input/attributes/request/http/headers/cookie",)


def rule_path(query: str) -> str:
    """OPA's decision-log path for a query: "data.ztgate.decision" -> "ztgate/decision"."""
    return query.removeprefix("data.").replace(".", "/")


class DecisionLog:
    def __init__(self, sink: AuditLog, *, query: str, erase: Sequence[str] = DEFAULT_ERASE, version: str = "") -> None:
        self._sink = sink
        self._path = rule_path(query)
        self._erase = [_pointer(p) for p in erase]
        self._labels = {"id": f"{socket.gethostname()}:{os.getpid()}", "app": "ztgate", "version": version}

    @classmethod
    def open(cls, target: str | Path | None, **kwargs: Any) -> "DecisionLog":
        """`target` as for AuditLog.open: stdout, or a file appended to."""
        return cls(AuditLog.open(target), **kwargs)

    def write(
        self,
        *,
        decision_id: str,
        input: dict[str, Any],
        result: Any,
        revision: str,
        eval_ns: int,
        enforced: bool,
        log_content: bool = True,
        error: str | None = None,
    ) -> None:
        logged, erased = self._erased(input)
        record: dict[str, Any] = {
            "decision_id": decision_id,
            "path": self._path,
            "input": logged,
            "result": result,
            "revision": revision,
            "bundles": {"ztgate": {"revision": revision}},
            "timestamp": _rfc3339_ns(time.time_ns()),
            "metrics": {"timer_rego_query_eval_ns": eval_ns},
            "labels": self._labels,
            "erased": erased or None,
            "error": {"code": "evaluation_error", "message": error} if error else None,
            "ztgate": {"enforced": enforced, "phase": input.get("phase"), "request_id": _request_id(input)},
        }
        if not log_content:  # the policy asked that this caller's traffic leave no content behind
            record["ztgate"]["log_content"] = False
        self._sink.write(record)

    def _erased(self, input: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """The input with each configured field removed (copying only the dicts on the way)."""
        out = input
        erased: list[str] = []
        for parts in self._erase:
            if parts[0] != "input":
                continue
            copied = _without(out, parts[1:])
            if copied is not None:
                out = copied
                erased.append("/" + "/".join(parts))
        return out, erased

    def close(self) -> None:
        self._sink.close()


def _pointer(path: str) -> tuple[str, ...]:
    """A JSON pointer ("/input/a/b") as its parts (RFC 6901 escapes ~1 and ~0 decoded)."""
    parts = tuple(p.replace("~1", "/").replace("~0", "~") for p in path.strip("/").split("/"))
    if not parts or not parts[0]:
        raise ValueError(f"decision log erase path {path!r} is not a JSON pointer")
    return parts


def _without(doc: dict[str, Any], parts: Sequence[str]) -> dict[str, Any] | None:
    """A copy of doc without the field at parts, or None when there is no such field."""
    head = parts[0]
    if head not in doc:
        return None
    if len(parts) == 1:
        return {k: v for k, v in doc.items() if k != head}
    child = doc[head]
    if not isinstance(child, dict):
        return None
    inner = _without(child, parts[1:])
    if inner is None:
        return None
    return {**doc, head: inner}


def _request_id(input: dict[str, Any]) -> str | None:
    try:
        return input["attributes"]["request"]["http"]["id"] or None
    except (KeyError, TypeError):
        return None


def _rfc3339_ns(ns: int) -> str:
    seconds, rest = divmod(ns, 1_000_000_000)
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(seconds))}.{rest:09d}Z"
