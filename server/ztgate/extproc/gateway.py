"""The services every exchange shares: identity, the policy in force, credentials, the audit log.

One Gateway per worker process. It holds no per-request state; Exchange does. The policy in force
(`ActivePolicy`: the engine and the scanner its data configures) is replaced as a whole on reload;
an exchange keeps the one it started with, so a request and its answer are judged by one policy.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from ..config import Settings
from ..detect.scanner import Scanner
from ..identity import Authenticator, Identity
from ..identity.keys import KeyStore
from ..policy.decision import Decision, DecisionError, parse_decision
from ..policy.engine import Engine, PolicyError
from ..policy.http import HttpInfo
from ..policy.input import build_input
from ..providers.base import LLMRequest
from ..redact import Redactor
from ..telemetry.audit import AuditLog
from ..telemetry.decision_log import DecisionLog
from ..telemetry.observe import ExchangeRecord, Observer
from ..usage.accountant import Accountant
from .names import JWT_PAYLOAD_KEY

log = logging.getLogger("ztgate.gateway")


class PolicyFailure(Exception):
    """The engine erred, timed out or returned something unusable: fail closed (503)."""

    def __init__(self, reason: str, decision_id: str = "") -> None:
        super().__init__(reason)
        self.decision_id = decision_id  # the failed evaluation's id in the decision log


@dataclass(slots=True, frozen=True)
class ActivePolicy:
    """The policy in force: its engine and the detectors its data configures, swapped together."""

    engine: Engine
    scanner: Scanner | None  # None: content inspection off
    detect_config: Any = None  # the policy data the scanner was built from (rebuilt when it changes)

    @property
    def revision(self) -> str:
        return self.engine.revision


@dataclass(slots=True)
class Evaluation:
    decision: Decision  # what is enforced
    eval_ms: float
    decision_id: str = ""
    revision: str = ""
    failure: str | None = None  # set when fail-open let a failed evaluation through
    dry_run: bool = False  # global shadow mode: the policy's decision was logged, not enforced


class Gateway:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        keys: KeyStore,
        audit: AuditLog,
        scanner: Scanner | None = None,
        redactor: Redactor | None = None,
        decision_log: DecisionLog | None = None,
        detect_config: Any = None,
        accountant: Accountant | None = None,
        observers: list[Observer] | None = None,
    ) -> None:
        self.settings = settings
        self.accountant = accountant  # None: no usage accounting or limits
        self.observers = observers or []  # tracing and metrics, handed each finished exchange
        self.policy = ActivePolicy(engine, scanner, detect_config)
        self.keys = keys
        self.audit = audit
        self.decision_log = decision_log
        self.redactor = redactor or Redactor.with_key(None)
        self.authenticator = Authenticator(
            keys,
            jwt_subject_claim=settings.jwt.subject_claim,
            jwt_groups_claim=settings.jwt.groups_claim,
            jwt_payload_key=JWT_PAYLOAD_KEY,  # the key envoy_config tells jwt_authn to write
        )
        self._keys_checked = 0.0
        self._background: set[asyncio.Task[Any]] = set()

    @property
    def engine(self) -> Engine:
        return self.policy.engine

    def identify(self, headers: dict[str, str], query: str, metadata: dict[str, Any]) -> Identity:
        now = time.monotonic()
        if now - self._keys_checked > 1.0:  # new keys from `ztgate keys create` apply within a second
            self._keys_checked = now
            self.keys.reload_if_changed()
        return self.authenticator.identify(headers, query, metadata)

    async def decide(
        self,
        policy: ActivePolicy,
        http: HttpInfo,
        identity: Identity | None,
        llm: LLMRequest | None,
        *,
        findings: list[dict[str, Any]] | None = None,
        tool_calls: list[dict[str, Any]] | None = None,
        usage: dict[str, Any] | None = None,
        phase: str = "request",
    ) -> Evaluation:
        """Ask the policy, log the decision, and return what to enforce (PolicyFailure: fail closed)."""
        policy_input = build_input(
            http=http, identity=identity, llm=llm, findings=findings, tool_calls=tool_calls, usage=usage, phase=phase
        )
        started = time.perf_counter()
        try:
            answer = await policy.engine.decide(policy_input)
            decision = parse_decision(answer.value)
        except (PolicyError, DecisionError) as exc:
            return self._failed(str(exc), started, policy, policy_input)
        except Exception as exc:  # an engine bug must not crash the stream; fail closed
            log.exception("policy evaluation raised")
            return self._failed(f"{type(exc).__name__}: {exc}", started, policy, policy_input)
        eval_ms = (time.perf_counter() - started) * 1000
        # regorus holds the GIL, so a runaway policy cannot be preempted; it is caught here, after the fact,
        # and Envoy's message_timeout bounds what the client waits. A remote OPA has its own timeout.
        if eval_ms > self.settings.policy.eval_budget_ms and self.settings.policy.engine == "embedded":
            reason = f"policy evaluation took {eval_ms:.1f} ms, over the {self.settings.policy.eval_budget_ms} ms budget"
            return self._failed(reason, started, policy, policy_input)
        decision_id = answer.decision_id or os.urandom(16).hex()
        dry_run = self.settings.policy.shadow
        if self.decision_log is not None:
            self.decision_log.write(
                decision_id=decision_id,
                input=policy_input,
                result=answer.value,
                revision=answer.revision,
                eval_ns=int(eval_ms * 1e6),
                enforced=not dry_run,
                log_content=decision.log_content,
            )
        if dry_run:
            decision = decision.as_dry_run()
        return Evaluation(decision, eval_ms, decision_id, answer.revision, dry_run=dry_run)

    def _failed(self, reason: str, started: float, policy: ActivePolicy, policy_input: dict[str, Any]) -> Evaluation:
        eval_ms = (time.perf_counter() - started) * 1000
        decision_id = os.urandom(16).hex()
        log.error("policy failure: %s", reason)
        if self.decision_log is not None:
            self.decision_log.write(
                decision_id=decision_id,
                input=policy_input,
                result=None,
                revision=policy.revision,
                eval_ns=int(eval_ms * 1e6),
                enforced=True,
                error=reason,
            )
        if self.settings.policy.fail_open:
            decision = Decision(allowed=True, reasons=["policy failure; fail-open"])
            return Evaluation(decision, eval_ms, decision_id, policy.revision, failure=reason)
        raise PolicyFailure(reason, decision_id)

    def observe(self, record: ExchangeRecord) -> None:
        """Hand a finished exchange to tracing and metrics; a tracer's span ids go into the audit line."""
        for observer in self.observers:
            try:
                ids = observer.exchange(record)
            except Exception:  # telemetry must never break an exchange
                log.exception("observer %s failed", type(observer).__name__)
                continue
            if ids is not None:
                record.event["trace_id"], record.event["span_id"] = ids

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run work after the exchange's reply (settlement), keeping it referenced until it ends."""
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background work failed: %r", task.exception())

    async def drain(self, timeout_s: float) -> None:
        """Let pending settlements finish at shutdown, so no usage is lost."""
        if self._background:
            await asyncio.wait(set(self._background), timeout=timeout_s)

    def credential(self, provider: str) -> tuple[bool, str | None]:
        """(configured, value): an upstream that needs no key (a local vLLM) is configured with none."""
        config = self.settings.providers.get(provider)
        if config is None or not (config.credential_env or config.credential_file):
            return False, None
        return True, config.credential()
