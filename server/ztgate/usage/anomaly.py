"""Per-identity usage baselines, and how far one exchange departs from them (input.usage.anomaly).

Each identity (subject) keeps time-decayed statistics of its own traffic: its request rate, input and
output tokens per request, findings per request by detector ("pii", "secrets", ... from keys such as
"pii:email"), and the models and tools it has used. An exchange is judged against them twice:

  assess(obs)   before the request goes upstream (what Rego sees): request-rate burst, a model or tool
                the identity never used, a jump in findings, an unusually large prompt;
  observe(obs)  after the exchange: folds it into the baselines and judges the one thing known only
                then, an answer much larger than usual.

Both return {"score": 0..1, "reasons": ["request_rate 8.2x baseline", "new_model gpt-4o", ...], ...}.
Each rule gives a score in [0, 1] (0 at its threshold, 1 at its "high" ratio, log-scaled between)
times its weight; the scores combine as 1 - prod(1 - s), so two weak signals make a stronger one:

  rule            fires when                                               high at  weight  reason
  request_rate    rate over ~the last interval >= 3x the long-run rate     8x       1.0     request_rate 8.2x baseline
  new_model       a model this identity has not used                       -        0.35    new_model gpt-4o
  new_tools       a tool this identity has not been offered                -        0.35    new_tool send_email
  findings        >= 3 findings of a detector and >= 4x its usual          20x      1.0     pii_findings 12 vs 0.3 usual
  input_tokens    input tokens >= 4x the usual                             20x      0.6     input_tokens 15x usual
  output_tokens   (observe) output tokens >= 4x the usual                  20x      0.6     output_tokens 15x usual

Rates are decayed counts with bias correction for young baselines; the long-run rate has half-life
half_life_s, the recent one a time constant of interval_s. A long-run rate below one request per
interval counts as one (a lone request after a quiet week is no burst), and token means below 100 count
as 100 (a 40-token prompt after 10-token ones is no anomaly). Token and findings means are decayed with
the same half-life, so a new steady level becomes the baseline in a few half-lives.

Cold start: until an identity has min_samples observations every result has score 0, no reasons,
"warming_up": true (the other fields are filled in as far as known), so policy reads no anomaly.

State lives in this process's memory only (restarts forget it; workers don't share it), bounded by an
LRU of max_identities (~1.2 KB each with a few models, tools and detectors; names interned); the lead may persist it later.
Not thread-safe: one event loop owns it. Times are seconds on any one clock (time.time()).
"""

from __future__ import annotations

import math
import sys
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_MAX_MODELS = 64  # models remembered per identity (LRU)
_MAX_TOOLS = 256  # tools remembered per identity (LRU)
_MAX_DETECTORS = 32  # detector kinds with a findings mean per identity
_MAX_REASONS_TOOLS = 5

RATE_LOW, RATE_HIGH, RATE_WEIGHT = 3.0, 8.0, 1.0
NEW_MODEL_WEIGHT = NEW_TOOLS_WEIGHT = 0.35
FINDINGS_MIN, FINDINGS_LOW, FINDINGS_HIGH, FINDINGS_FLOOR, FINDINGS_WEIGHT = 3, 4.0, 20.0, 0.5, 1.0
TOKENS_LOW, TOKENS_HIGH, TOKENS_FLOOR, TOKENS_WEIGHT = 4.0, 20.0, 100.0, 0.6


@dataclass(slots=True)
class Observation:
    """One exchange of one identity. Pass assess and observe the same kind of numbers, so the baseline
    compares like with like: findings, counts by "detector:type" of the request; input_tokens, the whole
    prompt (for Anthropic input + cache read + cache write tokens, as a request estimate counts it)."""

    subject: str
    model: str | None
    tools: tuple[str, ...] = ()
    input_tokens: int = 0
    output_tokens: int = 0
    findings: Mapping[str, int] = field(default_factory=dict)
    at: float = field(default_factory=time.time)


@dataclass(slots=True)
class _Identity:
    first: float
    last: float
    samples: int = 0
    fast: float = 0.0  # requests, decayed with time constant interval_s, as of `last`
    slow: float = 0.0  # requests, decayed with the half-life, as of `last`: also the weight of the means
    input_mean: float = 0.0
    output_mean: float = 0.0
    findings_mean: dict[str, float] = field(default_factory=dict)
    models: dict[str, None] = field(default_factory=dict)  # insertion order = LRU order
    tools: dict[str, None] = field(default_factory=dict)


def _scaled(ratio: float, low: float, high: float) -> float:
    """0 at or below low, 1 at or above high, log-linear between."""
    if ratio <= low:
        return 0.0
    if ratio >= high:
        return 1.0
    return math.log(ratio / low) / math.log(high / low)


def _combine(scores: list[float]) -> float:
    rest = 1.0
    for s in scores:
        rest *= 1.0 - s
    return round(1.0 - rest, 3)


def _by_detector(findings: Mapping[str, int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for key, n in findings.items():
        if isinstance(n, int) and n > 0:
            det = key.split(":", 1)[0]
            out[det] = out.get(det, 0) + n
    return out


def _touch(lru: dict[str, None], key: str, cap: int) -> None:
    lru.pop(key, None)
    lru[key] = None
    if len(lru) > cap:
        del lru[next(iter(lru))]


class Baselines:
    """Per-identity baselines; see the module docstring for the rules and their reasons."""

    def __init__(
        self,
        *,
        half_life_s: float = 3600,
        interval_s: float = 60,
        min_samples: int = 20,
        max_identities: int = 100_000,
    ) -> None:
        if half_life_s <= 0 or interval_s <= 0 or max_identities <= 0:
            raise ValueError("half_life_s, interval_s and max_identities must be positive")
        self.interval_s = float(interval_s)
        self.min_samples = int(min_samples)
        self.max_identities = int(max_identities)
        self._tau_slow = half_life_s / math.log(2)
        self._ids: OrderedDict[str, _Identity] = OrderedDict()

    def __len__(self) -> int:
        return len(self._ids)

    def _rates(self, st: _Identity, at: float) -> tuple[float, float]:
        """(recent, long-run) requests per interval at `at`, counting one more request then."""
        dt = max(at - st.last, 0.0)
        age = max(at - st.first, 0.0)
        tf, ts = self.interval_s, self._tau_slow
        fast = st.fast * math.exp(-dt / tf) + 1.0
        slow = st.slow * math.exp(-dt / ts) + 1.0
        # Bias correction: a baseline younger than its time constant has seen only `age` seconds.
        win_f = max(tf * -math.expm1(-age / tf), 1.0)
        win_s = max(ts * -math.expm1(-age / ts), 1.0)
        return fast / win_f * tf, slow / win_s * tf

    def assess(self, obs: Observation) -> dict[str, Any]:
        """How unusual this request is for its identity, before it goes upstream. Reads, never updates."""
        st = self._ids.get(obs.subject)
        if st is None:
            return {
                "score": 0.0, "reasons": [], "warming_up": True, "samples": 0, "new_model": False,
                "new_tools": [], "request_rate": 0.0, "request_rate_baseline": 0.0, "input_tokens_usual": 0.0,
            }  # fmt: skip
        scores: list[float] = []
        reasons: list[str] = []
        recent, baseline = self._rates(st, obs.at)
        ratio = recent / max(baseline, 1.0)
        if (s := _scaled(ratio, RATE_LOW, RATE_HIGH) * RATE_WEIGHT) > 0:
            scores.append(s)
            reasons.append(f"request_rate {ratio:.1f}x baseline")
        new_model = bool(obs.model) and obs.model not in st.models
        if new_model:
            scores.append(NEW_MODEL_WEIGHT)
            reasons.append(f"new_model {obs.model}")
        new_tools = [t for t in dict.fromkeys(obs.tools) if t not in st.tools]
        if new_tools:
            scores.append(NEW_TOOLS_WEIGHT)
            reasons += [f"new_tool {t}" for t in new_tools[:_MAX_REASONS_TOOLS]]
        for det, n in _by_detector(obs.findings).items():
            usual = st.findings_mean.get(det, 0.0)
            if n >= FINDINGS_MIN and (s := _scaled(n / max(usual, FINDINGS_FLOOR), FINDINGS_LOW, FINDINGS_HIGH)) > 0:
                scores.append(s * FINDINGS_WEIGHT)
                reasons.append(f"{det}_findings {n} vs {usual:.1f} usual")
        in_ratio = (obs.input_tokens or 0) / max(st.input_mean, TOKENS_FLOOR)
        if (s := _scaled(in_ratio, TOKENS_LOW, TOKENS_HIGH) * TOKENS_WEIGHT) > 0:
            scores.append(s)
            reasons.append(f"input_tokens {in_ratio:.0f}x usual")
        warming = st.samples < self.min_samples
        return {
            "score": 0.0 if warming else _combine(scores),
            "reasons": [] if warming else reasons,
            "warming_up": warming,
            "samples": st.samples,
            "new_model": new_model and not warming,
            "new_tools": [] if warming else new_tools,
            "request_rate": round(recent, 3),
            "request_rate_baseline": round(baseline, 3),
            "input_tokens_usual": round(st.input_mean, 1),
        }

    def observe(self, obs: Observation) -> dict[str, Any]:
        """Fold a finished exchange into its identity's baselines; returns the output-size judgement
        (made against the baseline before this exchange): {"score", "reasons", "warming_up",
        "output_tokens_usual"}."""
        st = self._ids.get(obs.subject)
        if st is None:
            st = self._ids[obs.subject] = _Identity(first=obs.at, last=obs.at)
            while len(self._ids) > self.max_identities:
                self._ids.popitem(last=False)
        else:
            self._ids.move_to_end(obs.subject)

        warming = st.samples < self.min_samples
        usual = st.output_mean
        out_ratio = (obs.output_tokens or 0) / max(usual, TOKENS_FLOOR)
        s = 0.0 if warming else _scaled(out_ratio, TOKENS_LOW, TOKENS_HIGH) * TOKENS_WEIGHT
        result: dict[str, Any] = {
            "score": round(s, 3),
            "reasons": [f"output_tokens {out_ratio:.0f}x usual"] if s > 0 else [],
            "warming_up": warming,
            "output_tokens_usual": round(usual, 1),
        }

        # An exchange that finished later than one observed after it (streams overlap) is added with
        # its decayed weight, without moving the clock back: decayed sums are exact either way.
        dt = obs.at - st.last
        if dt >= 0:
            keep_f, keep_s, w = math.exp(-dt / self.interval_s), math.exp(-dt / self._tau_slow), 1.0
            st.last = obs.at
        else:
            keep_f = keep_s = 1.0
            w = math.exp(dt / self._tau_slow)
        st.fast = st.fast * keep_f + math.exp(min(dt, 0.0) / self.interval_s)
        old = st.slow * keep_s
        st.slow = old + w
        st.input_mean = (st.input_mean * old + max(obs.input_tokens or 0, 0) * w) / st.slow
        st.output_mean = (st.output_mean * old + max(obs.output_tokens or 0, 0) * w) / st.slow
        counts = _by_detector(obs.findings)
        means = st.findings_mean
        for det in means.keys() | counts.keys():
            if det in means or len(means) < _MAX_DETECTORS:
                means[det] = (means.get(det, 0.0) * old + counts.get(det, 0) * w) / st.slow
        st.samples += 1
        if obs.model:
            _touch(st.models, sys.intern(obs.model), _MAX_MODELS)
        for tool in obs.tools:
            _touch(st.tools, sys.intern(tool), _MAX_TOOLS)
        st.first = min(st.first, obs.at)
        return result
