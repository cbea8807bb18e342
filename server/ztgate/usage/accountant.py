"""Admission by reservation, settlement, and the usage the policy sees.

Per exchange:

1. `snapshot` (before the decision): the caller's counters (their own, each group's, the model's, per
   window) and their anomaly assessment, as `input.usage`, so Rego can decide on them (downgrade a
   model, throttle an anomalous caller) rather than only be told "over budget" afterwards.
2. `admit` (after an allowing decision): every limit the decision lists becomes a charge, reserved
   atomically in the store: estimated input tokens plus the most output the request may produce
   (its own max_tokens, the policy's cap, or `default_output_reserve`), its cost at list price, one
   request, one concurrent slot. One limit that does not fit refuses the request (429) and reserves
   nothing, so N concurrent requests against a budget that allows K admit at most K, across
   replicas sharing a Redis store.
3. `settle` (when the exchange ends, however): the reservation is corrected to what was used (the
   provider's usage, or an estimate when it gave none), the concurrent slot is freed, the per-day
   ledger gets the exchange (for `ztgate usage`), and the caller's baseline learns from it.

The counters a limit uses are named by what they count (scope, key, window, metric), not by the
limit: two limits on "alice's tokens today" share one counter.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..identity.base import Identity
from ..providers.base import LLMRequest, LLMResponse, Usage
from .anomaly import Baselines, Observation
from .estimate import estimate_request_tokens, estimate_tokens
from .pricing import PriceTable
from .store import WINDOWS, Charge, Counter, LedgerEntry, Refusal, UsageStore

log = logging.getLogger("ztgate.usage")

_FLOW_METRICS = ("tokens", "requests", "cost_usd")  # counted per window; "concurrent" has none
_COUNTER_CACHE = 10_000  # callers x models whose snapshot counters are kept built
_METRIC_UNITS = {"tokens": "tokens", "requests": "requests", "cost_usd": "USD", "concurrent": "requests in flight"}


@dataclass(slots=True)
class Admission:
    """What one exchange reserved: settled against what it used when it ends."""

    at: float
    charges: list[Charge] = field(default_factory=list)
    input_estimate: int = 0
    output_reserve: int = 0
    cost_reserve: float = 0.0


@dataclass(slots=True, frozen=True)
class Refused:
    """A limit the request does not fit: the client gets 429 with Retry-After."""

    limit: str
    message: str
    retry_after_s: int


@dataclass(slots=True, frozen=True)
class Settled:
    """The exchange's usage as accounted: the provider's numbers, or ztgate's estimate."""

    usage: Usage
    estimated: bool
    cost_usd: float | None


class Accountant:
    def __init__(
        self,
        store: UsageStore,
        prices: PriceTable,
        baselines: Baselines | None = None,
        *,
        default_output_reserve: int = 4096,
    ) -> None:
        self.store = store
        self.prices = prices
        self.baselines = baselines
        self.default_output_reserve = default_output_reserve
        self._counters: dict[Any, list[Counter]] = {}

    # ---- before the decision ------------------------------------------------------------------------

    async def snapshot(self, identity: Identity | None, llm: LLMRequest | None, findings: Mapping[str, int]) -> dict[str, Any]:
        """`input.usage`: the counters the caller's limits are likely to use, and the anomaly score."""
        now = time.time()
        counters = self._snapshot_counters(identity, llm.model if llm is not None else None)
        values = await self.store.read(counters, now) if counters else []
        usage: dict[str, Any] = {"identity": {}, "groups": {}, "model": {}}
        for counter, value in zip(counters, values):
            holder = usage["groups"].setdefault(counter.key, {}) if counter.scope == "group" else usage[counter.scope]
            if counter.metric == "concurrent":
                holder["concurrent"] = value
            else:
                holder.setdefault(counter.window, {})[counter.metric] = value
        usage["input_tokens_estimate"] = estimate_request_tokens(llm, exact=False) if llm is not None else 0
        if self.baselines is not None and identity is not None:
            usage["anomaly"] = self.baselines.assess(self._observation(identity, llm, findings, usage["input_tokens_estimate"], 0, now))
        return usage

    def _snapshot_counters(self, identity: Identity | None, model: str | None) -> list[Counter]:
        """The counters input.usage shows for a caller and model, built once per combination."""
        key = (identity.subject, tuple(identity.groups)) if identity is not None else None, model
        counters = self._counters.get(key)
        if counters is not None:
            return counters
        owners: list[tuple[str, str]] = []
        if identity is not None:
            owners.append(("identity", identity.subject))
            owners.extend(("group", group) for group in identity.groups)
        if model:
            owners.append(("model", model))
        counters = [Counter(scope, k, window, metric) for scope, k in owners for window in WINDOWS for metric in _FLOW_METRICS]
        counters += [Counter(scope, k, "none", "concurrent") for scope, k in owners]
        if len(self._counters) >= _COUNTER_CACHE:
            self._counters.clear()
        self._counters[key] = counters
        return counters

    # ---- after an allowing decision -------------------------------------------------------------

    async def admit(
        self, llm: LLMRequest | None, limits: Sequence[Mapping[str, Any]], output_cap: int | None, input_estimate: int
    ) -> Admission | Refused:
        """Reserve against every limit at once; Refused names the first limit that does not fit.

        StoreUnavailable propagates: the store is down and configured to fail closed (503).
        """
        now = time.time()
        output_reserve = output_cap or self.default_output_reserve
        cost = 0.0
        if llm is not None:
            cost = self.prices.cost(llm.model, llm.provider, input_tokens=input_estimate, output_tokens=output_reserve) or 0.0
        amounts = {"tokens": float(input_estimate + output_reserve), "requests": 1.0, "cost_usd": cost, "concurrent": 1.0}
        # Limits that count the same thing share its counter: charge it once, against the tightest.
        tightest: dict[Counter, tuple[float, str]] = {}
        for limit in limits:
            parsed = _limit_counter(limit)
            if parsed is None:
                continue
            counter, maximum = parsed
            if counter not in tightest or maximum < tightest[counter][0]:
                tightest[counter] = (maximum, str(limit.get("name") or _describe(counter)))
        charges = [Charge(counter, amounts[counter.metric], maximum) for counter, (maximum, _) in tightest.items()]
        names = {counter: name for counter, (_, name) in tightest.items()}
        admission = Admission(now, charges, input_estimate, output_reserve, cost)
        if not charges:
            return admission
        refusal = await self.store.reserve(charges, now)
        if refusal is None:
            return admission
        return _refused(refusal, names.get(refusal.counter, _describe(refusal.counter)), amounts[refusal.counter.metric])

    # ---- when the exchange ends ---------------------------------------------------------------

    def account(self, llm: LLMRequest | None, response: LLMResponse, input_estimate: int) -> Settled:
        """The exchange's usage: the provider's own numbers where it gave them, else estimates."""
        usage = response.usage
        estimated = False
        accounted = Usage(usage.input_tokens, usage.output_tokens, usage.cached_input_tokens, usage.cache_creation_input_tokens)
        if accounted.input_tokens is None:  # rare (an aborted stream): worth the tokenizer's exact count
            accounted.input_tokens = estimate_request_tokens(llm) if llm is not None else input_estimate
            estimated = True
        if accounted.output_tokens is None:
            model, provider = (llm.model, llm.provider) if llm is not None else (None, None)
            # The answer's text is joined only here, when there is no usage to take (most answers have it).
            output_text = response.output_text + "".join(call.arguments for call in response.tool_calls)
            accounted.output_tokens = estimate_tokens(output_text, model, provider) if output_text else 0
            estimated = True
        cost = None
        if llm is not None:
            cost = self.prices.cost(
                llm.model,
                llm.provider,
                input_tokens=accounted.input_tokens,
                output_tokens=accounted.output_tokens,
                cached_input_tokens=accounted.cached_input_tokens or 0,
                cache_creation_input_tokens=accounted.cache_creation_input_tokens or 0,
            )
        return Settled(accounted, estimated, cost)

    async def settle(
        self,
        admission: Admission | None,
        settled: Settled | None,
        *,
        identity: Identity | None,
        llm: LLMRequest | None,
        findings: Mapping[str, int],
        reached_provider: bool,
    ) -> dict[str, Any] | None:
        """Correct the reservation, free the slot, write the ledger, teach the baseline.

        Returns what the baseline found unusual about the answer (output size), if anything.
        """
        used_tokens = used_cost = 0.0
        if settled is not None and reached_provider:
            usage = settled.usage
            used_tokens = float((usage.input_tokens or 0) + (usage.output_tokens or 0))
            used_cost = settled.cost_usd or 0.0
        if admission is not None and admission.charges:
            used = {"tokens": used_tokens, "requests": 1.0 if reached_provider else 0.0, "cost_usd": used_cost, "concurrent": 0.0}
            deltas = [(c.counter, used[c.counter.metric] - c.amount) for c in admission.charges if used[c.counter.metric] != c.amount]
            if deltas:
                await self.store.adjust(deltas, admission.at)
        if settled is None or not reached_provider or identity is None:
            return None
        usage = settled.usage
        now = time.time()
        await self.store.record(
            LedgerEntry(
                day=datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d"),
                subject=identity.subject,
                groups=tuple(identity.groups),
                model=llm.model if llm is not None else None,
                provider=llm.provider if llm is not None else None,
                input_tokens=usage.input_tokens or 0,
                output_tokens=usage.output_tokens or 0,
                cached_input_tokens=usage.cached_input_tokens or 0,
                cost_usd=settled.cost_usd or 0.0,
                requests=1,
                estimated=settled.estimated,
            )
        )
        if self.baselines is None:
            return None
        prompt = usage.input_tokens or 0
        if llm is not None and llm.provider == "anthropic":  # Anthropic counts cached prompt tokens apart
            prompt += (usage.cached_input_tokens or 0) + (usage.cache_creation_input_tokens or 0)
        observation = self._observation(identity, llm, findings, prompt, usage.output_tokens or 0, now)
        return self.baselines.observe(observation)

    @staticmethod
    def _observation(
        identity: Identity, llm: LLMRequest | None, findings: Mapping[str, int], input_tokens: int, output_tokens: int, at: float
    ) -> Observation:
        return Observation(
            subject=identity.subject,
            model=llm.model if llm is not None else None,
            tools=tuple(llm.tools) if llm is not None else (),
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            findings=findings,
            at=at,
        )


def _limit_counter(limit: Mapping[str, Any]) -> tuple[Counter, float] | None:
    """A decision limit ({"scope", "key", "window", <metric>: n}) as the counter it uses and its maximum."""
    scope, key = limit.get("scope"), limit.get("key")
    if scope not in ("identity", "group", "model") or not isinstance(key, str):
        log.warning("ignoring a malformed limit in the decision: %r", dict(limit))
        return None
    for metric in ("tokens", "requests", "cost_usd", "concurrent"):
        value = limit.get(metric)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            window = "none" if metric == "concurrent" else limit.get("window")
            if window != "none" and window not in WINDOWS:
                break
            return Counter(scope, key, window, metric), float(value)
    log.warning("ignoring a malformed limit in the decision: %r", dict(limit))
    return None


def _describe(counter: Counter) -> str:
    window = "" if counter.window == "none" else f" per {counter.window}"
    return f"{counter.metric}{window} for {counter.scope} {counter.key}"


def _refused(refusal: Refusal, name: str, wanted: float) -> Refused:
    unit = _METRIC_UNITS[refusal.counter.metric]
    used, limit = _amount(refusal.used, refusal.counter.metric), _amount(refusal.limit, refusal.counter.metric)
    message = (
        f"limit '{name}' reached: {used} of {limit} {unit} used"
        f"{'' if refusal.counter.window == 'none' else ' this ' + refusal.counter.window}"
        f", this request needs up to {_amount(wanted, refusal.counter.metric)}"
    )
    return Refused(name, message, max(1, int(math.ceil(refusal.retry_after_s))))


def _amount(value: float, metric: str) -> str:
    return f"{value:.2f}" if metric == "cost_usd" else f"{int(value):,}"
