"""Prometheus metrics: what every finished exchange adds up to, and the state an operator alerts on.

Why a Prometheus scrape endpoint (`/metrics` on the status port) and not OTLP metrics: Prometheus
scraping is what Kubernetes operators already run (ServiceMonitor / pod annotations, kube-prometheus,
Grafana dashboards, Alertmanager); it is a pull model, so there is nothing to configure in ztgate, no
collector to run beside it and no export that can back up or fail on the hot path (a scrape reads
counters that are already there), and a dead ztgate shows up as a failed scrape (`up == 0`). OTLP is
what the tracing path uses for spans; a team that wants metrics in an OpenTelemetry pipeline scrapes
`/metrics` with the Collector's prometheus receiver, so nothing is lost by choosing the pull model.

Where the numbers come from:
- per exchange: `Metrics.exchange(record)` (the telemetry.observe Observer protocol) reads the
  finished exchange's audit event and phase timings once, when the exchange ends;
- at scrape time: the policy in force and its reload counts (reload.PolicyStatus), the usage store's
  state (its `status` dict: Redis available, queued increments, fail-open events), lost audit lines
  (AuditLog.failures) and, if the wiring gives one, the number of exchanges in flight.

Why not prometheus_client's metric objects: measured (bench/speed_metrics.py), its labelled children
cost ~33 us per exchange (a lock per increment, a histogram walked bucket by bucket), and rendering
4,400 samples (1,000 callers' tokens and cost) took 40-80 ms, a stall of the event loop that every
in-flight request would wait out once per scrape. Here a counter is a float in a dict keyed by its
label values and a histogram is a list of bucket counts found by bisection, updated in place on the
single-threaded event loop; each series renders from a cached `name{labels} ` prefix. The output is
the Prometheus text format 0.0.4 (the unit tests read it back with prometheus_client's parser).

Label cardinality is bounded: provider, operation, decision, status, phase, direction, error kind and
detector come from ztgate's own code (HTTP statuses are at most a few dozen). Values that callers or
policies control are capped per label, first come first kept, and everything past the cap is counted
under "other": models (`max_models`; a model name becomes a label value only when the provider accepted
it or the caller was authenticated, so anonymous junk cannot use up the cap), groups (`max_groups`),
identities (`max_identities`; the per-identity metrics can be turned off with `per_identity: false`),
policy limit names and anomaly reason kinds (fixed caps below).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from ..config import MetricsConfig
from .observe import PHASES, ExchangeRecord
from .prometheus import Capped, Counter, Histogram, Scalar

log = logging.getLogger("ztgate.metrics")

NONE = "none"  # no value (a request without a model, a caller without groups)
ANONYMOUS = "anonymous"  # a caller without an identity

# ztgate's own work takes tens of microseconds to a few milliseconds: buckets from 50 us.
FAST_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)
# Phases include "upstream" (the provider's answer, seconds to minutes): the same, with a long tail.
PHASE_BUCKETS = FAST_BUCKETS + (15.0, 60.0, 300.0)
# A whole exchange is mostly the provider's time.
EXCHANGE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)

UPSTREAM_PHASE = "upstream"  # the provider's time; every other phase is ztgate's own work

# How the audit event's error kind (extproc/exchange.py) turns into the decision label.
REFUSED_KINDS = frozenset({"auth", "bad_request", "limit", "rejected"})  # ztgate refused the caller (4xx)
FAILED_KINDS = frozenset({"policy", "inspection", "usage", "config"})  # ztgate could not decide: fail closed (5xx)

_TOKEN_FIELDS = (
    ("input_tokens", "input"),
    ("output_tokens", "output"),
    ("cached_input_tokens", "cached_input"),
    ("cache_creation_input_tokens", "cache_creation_input"),
)
_SMALL_CAP = 64  # error kinds, detectors, anomaly reason kinds: named by ztgate's code, capped anyway
_LIMIT_CAP = 100  # policy limit names


class PolicyStatusLike(Protocol):
    """What the metrics read of reload.PolicyStatus (telemetry does not import the reloader)."""

    revision: str
    loaded_at: float
    reloads: int
    failures: int
    last_error: str | None


class AuditLike(Protocol):
    failures: int


def decision_label(event: Mapping[str, Any]) -> str:
    """allow | deny | error | dry_run | none, from an audit event.

    deny: the policy denied, or ztgate refused the caller before asking or after it (bad credential,
    malformed request, unknown route, a limit reached: 429). error: ztgate could not decide and failed
    closed (policy, detector or usage-store failure, a missing provider credential). dry_run: global
    shadow mode, the policy's decision was logged and not enforced (the request went through). none: the
    exchange ended before any decision (the client went away). Failures after the request was allowed
    (output blocked, upstream cut, unparsable answer) keep "allow" and count in ztgate_errors_total.
    """
    error = event.get("error")
    kind = error.get("kind") if error else None
    if kind in FAILED_KINDS:
        return "error"
    if kind in REFUSED_KINDS:
        return "deny"
    decision = event.get("decision")
    if not decision:
        return "none"
    allowed = decision.get("allowed")
    if allowed is False:
        return "deny"
    if decision.get("dry_run"):
        return "dry_run"
    return "allow" if allowed else "none"


# ---- the metrics ---------------------------------------------------------------------------------------


class Metrics:
    """The ztgate_* metrics of one process; an Observer of finished exchanges, rendered by scrape()."""

    def __init__(
        self,
        config: MetricsConfig | None = None,
        *,
        policy: PolicyStatusLike | None = None,
        store_status: Callable[[], Mapping[str, Any]] | None = None,
        audit: AuditLike | None = None,
        in_flight: Callable[[], int] | None = None,
    ) -> None:
        config = config or MetricsConfig()
        self._policy, self._store_status, self._audit, self._in_flight = policy, store_status, audit, in_flight
        self._models = Capped(config.max_models)
        self._groups = Capped(config.max_groups)
        self._identities = Capped(config.max_identities) if config.per_identity else None
        self._errors = Capped(_SMALL_CAP)
        self._detectors = Capped(_SMALL_CAP)
        self._anomaly_kinds = Capped(_SMALL_CAP)
        self._limits = Capped(_LIMIT_CAP)

        self.exchanges = Counter(
            "ztgate_exchanges_total", "Finished exchanges by provider, operation, model, decision and HTTP status.",
            ("provider", "operation", "model", "decision", "status"),
        )  # fmt: skip
        self.tokens = Counter(
            "ztgate_tokens_total", "Tokens as the provider reported them (or as ztgate estimated them when it did not).",
            ("direction", "provider", "model"),
        )  # fmt: skip
        self.group_tokens = Counter(
            "ztgate_group_tokens_total",
            "Tokens by the caller's group; a caller in several groups counts in each (do not sum over groups).",
            ("direction", "provider", "model", "group"),
        )  # fmt: skip
        self.cost = Counter("ztgate_cost_usd_total", "Cost in US dollars at the price table's prices.", ("provider", "model"))
        self.group_cost = Counter(
            "ztgate_group_cost_usd_total", "Cost in US dollars by the caller's group (a caller in several groups counts in each).",
            ("provider", "model", "group"),
        )  # fmt: skip
        self.identity_tokens = Counter(
            "ztgate_identity_tokens_total", f"Tokens by caller (the first {config.max_identities} callers; the rest are 'other').",
            ("direction", "identity"),
        )  # fmt: skip
        self.identity_cost = Counter(
            "ztgate_identity_cost_usd_total", "Cost in US dollars by caller (capped like ztgate_identity_tokens_total).", ("identity",)
        )
        self.estimated = Counter(
            "ztgate_usage_estimated_total", "Exchanges whose tokens ztgate estimated because the provider reported none.", ("provider",)
        )
        self.phase = Histogram(
            "ztgate_phase_seconds", "Time per exchange phase (ext_proc processing; 'upstream' is the provider's time).",
            ("phase",), PHASE_BUCKETS,
        )  # fmt: skip
        self.policy_eval = Histogram(
            "ztgate_policy_eval_seconds", "Policy evaluation time (request phase, and the response phase on the answer).",
            ("phase",), FAST_BUCKETS,
        )  # fmt: skip
        self.detect = Histogram(
            "ztgate_detect_seconds", "Content inspection time per exchange (input: the request; output: the answer).",
            ("direction",), FAST_BUCKETS,
        )  # fmt: skip
        self.processing = Histogram(
            "ztgate_processing_seconds", "ztgate's own time per exchange: every phase but 'upstream', summed.", (), FAST_BUCKETS
        )
        self.exchange_seconds = Histogram(
            "ztgate_exchange_seconds", "Whole exchange, from the first ext_proc message to the stream's end.",
            ("provider", "stream"), EXCHANGE_BUCKETS,
        )  # fmt: skip
        self.streams = Counter("ztgate_streams_total", "Streamed (SSE) exchanges.", ("provider",))
        self.errors = Counter("ztgate_errors_total", "Exchanges that ended in an error, by kind (the audit's error.kind).", ("kind",))
        self.findings = Counter("ztgate_findings_total", "Detector findings.", ("detector", "direction"))
        self.limit_refusals = Counter("ztgate_limit_refusals_total", "Requests refused by a usage limit (429), by limit name.", ("limit",))
        self.anomalies = Counter(
            "ztgate_anomalies_total", "Exchanges with an anomaly reason of this kind (e.g. request_rate, new_model).", ("reason_kind",)
        )
        self.anomalous = Counter("ztgate_anomalous_exchanges_total", "Exchanges with at least one anomaly reason.")
        self.shadow = Counter("ztgate_shadow_denials_total", "Exchanges whose decision carried shadow reasons (would have been denied).")
        # Label sets every dashboard expects, present (at zero) from the first scrape.
        for name in PHASES:
            self.phase.child((name,))
        for name in ("request", "response"):
            self.policy_eval.child((name,))
        for direction in ("input", "output"):
            self.detect.child((direction,))
        self.processing.child(())
        self.anomalous.inc((), 0)
        self.shadow.inc((), 0)
        self._families: list[Counter | Histogram] = [
            self.exchanges, self.tokens, self.group_tokens, self.cost, self.group_cost,
            *((self.identity_tokens, self.identity_cost) if self._identities is not None else ()),
            self.estimated, self.phase, self.policy_eval, self.detect, self.processing, self.exchange_seconds,
            self.streams, self.errors, self.findings, self.limit_refusals, self.anomalies, self.anomalous, self.shadow,
        ]  # fmt: skip

    # ---- per exchange ----

    def exchange(self, record: ExchangeRecord) -> None:
        """Count one finished exchange (Observer protocol); never raises into the exchange."""
        try:
            self._count(record)
        except Exception:  # a metrics bug must not break the exchange's end (audit, settlement)
            log.exception("metrics: cannot count an exchange")

    def _count(self, record: ExchangeRecord) -> None:
        event = record.event
        provider = event.get("provider") or NONE
        status = event.get("status") or 0
        identity = event.get("identity")
        reached = event.get("upstream_latency_ms") is not None and 0 < status < 400
        raw_model = event.get("model") or event.get("response_model")
        model = self._models(raw_model, reached or identity is not None) if raw_model else NONE
        self.exchanges.inc((provider, event.get("operation") or NONE, model, decision_label(event), status))

        usage = event.get("usage")
        if usage:
            groups = [self._groups(g) for g in record.groups] if record.groups else [NONE]
            who = None
            if self._identities is not None:
                who = self._identities(identity["subject"]) if identity else ANONYMOUS
            for field, direction in _TOKEN_FIELDS:
                n = usage.get(field)
                if n:
                    n = float(n)
                    self.tokens.inc((direction, provider, model), n)
                    for group in groups:
                        self.group_tokens.inc((direction, provider, model, group), n)
                    if who is not None:
                        self.identity_tokens.inc((direction, who), n)
            cost = usage.get("cost_usd")
            if cost:
                cost = float(cost)
                self.cost.inc((provider, model), cost)
                for group in groups:
                    self.group_cost.inc((provider, model, group), cost)
                if who is not None:
                    self.identity_cost.inc((who,), cost)
            if usage.get("estimated"):
                self.estimated.inc((provider,))

        own = 0
        observe = self.phase.observe
        for phase in record.phases:
            ns = phase.end_ns - phase.start_ns
            seconds = ns / 1e9
            name = phase.name
            observe((name,), seconds)
            if name == UPSTREAM_PHASE:
                continue
            own += ns
            if name == "policy":
                self.policy_eval.observe(("request",), seconds)
            elif name == "response_policy":
                self.policy_eval.observe(("response",), seconds)
            elif name == "detect":
                self.detect.observe(("input",), seconds)
            elif name == "response_scan":
                self.detect.observe(("output",), seconds)
        if record.phases:
            self.processing.observe((), own / 1e9)
        stream = event.get("stream")
        self.exchange_seconds.observe((provider, "true" if stream else "false"), (record.end_ns - record.start_ns) / 1e9)
        if stream:
            self.streams.inc((provider,))

        error = event.get("error")
        if error:
            self.errors.inc((self._errors(error.get("kind") or "unknown"),))
        found = event.get("findings")
        if found:
            for name, n in found.items():
                self.findings.inc((self._detectors(name.partition(":")[0]), "input"), n)
        found = event.get("output_findings")
        if found:
            for name, n in found.items():
                self.findings.inc((self._detectors(name.partition(":")[0]), "output"), n)
        limit = event.get("refused_limit")
        if limit:
            self.limit_refusals.inc((self._limits(limit),))
        anomaly, output_anomaly = event.get("anomaly"), record.anomaly_output
        if anomaly or output_anomaly:
            kinds = {r.partition(" ")[0] for r in (anomaly or {}).get("reasons", ())}
            kinds.update(r.partition(" ")[0] for r in (output_anomaly or {}).get("reasons", ()))
            for kind in kinds:
                self.anomalies.inc((self._anomaly_kinds(kind),))
            if kinds:
                self.anomalous.inc(())
        decision = event.get("decision")
        if decision and decision.get("shadow_reasons"):
            self.shadow.inc(())

    # ---- scrape ----

    def scrape(self) -> bytes:
        """Every metric in the Prometheus text format (serve it as CONTENT_TYPE)."""
        out: list[str] = []
        for family in self._families:
            family.render(out)
        self._render_state(out)
        return "".join(out).encode()

    def _render_state(self, out: list[str]) -> None:
        """What is read at scrape time: the policy, the usage store, the audit log, exchanges in flight."""
        policy = self._policy
        if policy is not None:
            _RELOADS.render(out, [(("success",), policy.reloads), (("failure",), policy.failures)])
            _POLICY_INFO.render(out, [((policy.revision or NONE,), 1)])
            _RELOAD_ERROR.render(out, [((), 1 if policy.last_error else 0)])
            _LOADED_AT.render(out, [((), policy.loaded_at)])
        if self._store_status is not None:
            try:
                status = self._store_status()
            except Exception:
                log.exception("metrics: cannot read the usage store's status")
            else:
                _STORE_AVAILABLE.render(out, [((str(status.get("backend", NONE)),), 1 if status.get("available", True) else 0)])
                _STORE_QUEUED.render(out, [((), status.get("queued") or 0)])
                for key, family in _STORE_COUNTERS:
                    if key in status or key == "fail_open_events":
                        family.render(out, [((), status.get(key) or 0)])
        if self._audit is not None:
            _AUDIT_FAILURES.render(out, [((), self._audit.failures)])
        if self._in_flight is not None:
            _IN_FLIGHT.render(out, [((), self._in_flight())])


_RELOADS = Scalar(
    "ztgate_policy_reloads_total", "Policy reloads (after the first load) by result; a failure keeps the old policy.", "counter", ("result",)
)
_POLICY_INFO = Scalar("ztgate_policy_info", "The policy revision in force (always 1).", "gauge", ("revision",))
_RELOAD_ERROR = Scalar("ztgate_policy_reload_error", "1 while the last reload was rejected (the old policy is still in force).", "gauge")
_LOADED_AT = Scalar("ztgate_policy_loaded_timestamp_seconds", "When the policy in force was loaded (Unix time).", "gauge")
_STORE_AVAILABLE = Scalar("ztgate_usage_store_available", "1 while the usage store answers (Redis reachable).", "gauge", ("backend",))
_STORE_QUEUED = Scalar("ztgate_usage_store_queued", "Usage increments waiting for Redis to come back.", "gauge")
_STORE_COUNTERS = tuple(
    (key, Scalar(f"ztgate_usage_store_{key}_total", doc, "counter"))
    for key, doc in (
        ("fail_open_events", "Reservations admitted with local accounting because Redis was down (fail_open: true)."),
        ("outages", "Times the usage store lost Redis."),
        ("replayed", "Queued increments written to Redis after an outage."),
        ("dropped", "Increments lost because the outage queue was full."),
        ("replay_errors", "Queued increments Redis refused on replay."),
    )
)
_AUDIT_FAILURES = Scalar("ztgate_audit_write_failures_total", "Audit lines lost to write errors (disk full, closed pipe).", "counter")
_IN_FLIGHT = Scalar("ztgate_exchanges_in_flight", "Exchanges (ext_proc streams) in progress.", "gauge")
