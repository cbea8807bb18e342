"""The services every exchange shares: identity, the policy engine, credentials, the audit log.

One Gateway per worker process. It holds no per-request state; Exchange does.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from ..config import Settings
from ..identity import Authenticator, Identity
from ..identity.keys import KeyStore
from ..policy.decision import Decision, DecisionError, parse_decision
from ..policy.engine import Engine, PolicyError
from ..policy.http import HttpInfo
from ..policy.input import build_input
from ..detect.scanner import Scanner
from ..providers.base import LLMRequest
from ..redact import Redactor
from .names import JWT_PAYLOAD_KEY
from ..telemetry.audit import AuditLog

log = logging.getLogger("ztgate.gateway")


class PolicyFailure(Exception):
    """The engine erred, timed out or returned something unusable: fail closed (503)."""


@dataclass(slots=True)
class Evaluation:
    decision: Decision
    eval_ms: float
    failure: str | None = None  # set when fail-open let a failed evaluation through


class Gateway:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        keys: KeyStore,
        audit: AuditLog,
        scanner: Scanner | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.keys = keys
        self.audit = audit
        self.scanner = scanner  # None: content inspection off
        self.redactor = redactor or Redactor.with_key(None)
        self.authenticator = Authenticator(
            keys,
            jwt_subject_claim=settings.jwt.subject_claim,
            jwt_groups_claim=settings.jwt.groups_claim,
            jwt_payload_key=JWT_PAYLOAD_KEY,  # the key envoy_config tells jwt_authn to write
        )
        self._keys_checked = 0.0

    def identify(self, headers: dict[str, str], query: str, metadata: dict[str, Any]) -> Identity:
        now = time.monotonic()
        if now - self._keys_checked > 1.0:  # new keys from `ztgate keys create` apply within a second
            self._keys_checked = now
            self.keys.reload_if_changed()
        return self.authenticator.identify(headers, query, metadata)

    def decide(
        self,
        http: HttpInfo,
        identity: Identity | None,
        llm: LLMRequest | None,
        *,
        findings: list[dict[str, Any]] | None = None,
        phase: str = "request",
    ) -> Evaluation:
        policy_input = build_input(http=http, identity=identity, llm=llm, findings=findings, phase=phase)
        started = time.perf_counter()
        try:
            raw = self.engine.evaluate(policy_input)
            decision = parse_decision(raw)
        except (PolicyError, DecisionError) as exc:
            return self._failed(str(exc), started)
        except Exception as exc:  # an engine bug must not crash the stream; fail closed
            log.exception("policy evaluation raised")
            return self._failed(f"{type(exc).__name__}: {exc}", started)
        eval_ms = (time.perf_counter() - started) * 1000
        # regorus holds the GIL, so a runaway policy cannot be preempted; it is caught here, after the fact,
        # and Envoy's message_timeout bounds what the client waits.
        if eval_ms > self.settings.policy.eval_budget_ms:
            return self._failed(f"policy evaluation took {eval_ms:.1f} ms, over the {self.settings.policy.eval_budget_ms} ms budget", started)
        return Evaluation(decision, eval_ms)

    def _failed(self, reason: str, started: float) -> Evaluation:
        eval_ms = (time.perf_counter() - started) * 1000
        log.error("policy failure: %s", reason)
        if self.settings.policy.fail_open:
            return Evaluation(Decision(allowed=True, reasons=["policy failure; fail-open"]), eval_ms, failure=reason)
        raise PolicyFailure(reason)

    def credential(self, provider: str) -> tuple[bool, str | None]:
        """(configured, value): an upstream that needs no key (a local vLLM) is configured with none."""
        config = self.settings.providers.get(provider)
        if config is None or not (config.credential_env or config.credential_file):
            return False, None
        return True, config.credential()
