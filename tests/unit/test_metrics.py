"""Prometheus metrics (telemetry/metrics.py): finished exchanges in, the scrape text a user reads out."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ztgate.config import ConfigError, MetricsConfig, load_settings
from ztgate.reload import PolicyStatus
from ztgate.telemetry.audit import AuditLog, audit_event
from ztgate.telemetry.metrics import FAST_BUCKETS, Metrics, decision_label
from ztgate.telemetry.observe import PHASES, ExchangeRecord, Phase


@dataclass(frozen=True)
class Caller:
    subject: str
    groups: tuple[str, ...] = ("developers",)
    method: str = "api_key"
    key_id: str | None = "k1"


ALICE = Caller("alice@example.test", ("developers", "ml"))
IVAN = Caller("ivan@example.test", ("interns",))
US = 1000  # ns per microsecond


@dataclass
class Ex:
    """An exchange as extproc/exchange.py ends it: its audit event and the phases its clock marked."""

    caller: Caller | None = ALICE
    provider: str = "openai"
    operation: str = "chat_completions"
    model: str | None = "gpt-4o"
    status: int = 200
    allowed: bool | None = True
    dry_run: bool = False
    shadow: list[str] = field(default_factory=list)
    upstream: bool = True
    stream: bool = False
    usage: dict[str, Any] | None = field(default_factory=lambda: {"input_tokens": 12, "output_tokens": 30, "cost_usd": 0.00033})
    error: tuple[str, str] | None = None
    findings: dict[str, int] | None = None
    output_findings: dict[str, int] | None = None
    anomaly: dict[str, Any] | None = None
    anomaly_output: dict[str, Any] | None = None
    refused_limit: str | None = None
    phases_us: dict[str, float] = field(
        default_factory=lambda: {"identify": 20, "parse": 40, "detect": 300, "usage": 30, "policy": 700, "upstream": 800_000, "response_scan": 90}
    )

    def record(self) -> ExchangeRecord:
        start = time.time_ns()
        decision = None
        if self.allowed is not None or self.error == ("policy", "policy evaluation failed"):
            decision = {"decision_id": "d" * 32, "policy_revision": "rev-1"}
            if self.allowed is not None:
                decision.update(allowed=self.allowed, http_status=200 if self.allowed else self.status, reasons=[])
            if self.shadow:
                decision["shadow_reasons"] = self.shadow
            if self.dry_run:
                decision["dry_run"] = True
        event = audit_event(
            time=start / 1e9,
            request_id="req-1",
            status=self.status,
            latency_ms=900.0,
            identity=self.caller,
            provider=self.provider,
            operation=self.operation,
            model=self.model,
            stream=self.stream if self.model else None,
            decision=decision,  # type: ignore[arg-type]
            upstream_latency_ms=800.0 if self.upstream else None,
            usage=self.usage,  # type: ignore[arg-type]
            error={"kind": self.error[0], "message": self.error[1]} if self.error else None,
            findings=self.findings,
            output_findings=self.output_findings,
            anomaly=self.anomaly,
            refused_limit=self.refused_limit,
        )
        phases, at = [], start
        for name, us in self.phases_us.items():
            phases.append(Phase(name, at, at + int(us * US)))
            at += int(us * US)
        groups = self.caller.groups if self.caller else ()
        return ExchangeRecord(event, phases, {}, start, at + 50 * US, groups, self.anomaly_output)


def scrape(metrics: Metrics) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """{sample name: {sorted label pairs: value}} from the text a Prometheus server would scrape."""
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(metrics.scrape().decode()):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def value(samples: dict, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels` (0 when there are none)."""
    want = set(labels.items())
    return sum(v for key, v in samples.get(name, {}).items() if want <= set(key))


def feed(metrics: Metrics, *exchanges: Ex) -> dict:
    for ex in exchanges:
        assert metrics.exchange(ex.record()) is None
    return scrape(metrics)


def test_exchanges_by_provider_model_decision_and_status() -> None:
    m = Metrics()
    s = feed(
        m,
        Ex(),
        Ex(),
        Ex(caller=IVAN, allowed=False, status=403, upstream=False, usage=None),
        Ex(error=("policy", "policy evaluation failed"), allowed=None, status=503, upstream=False, usage=None),
        Ex(provider="anthropic", operation="messages", model="claude-sonnet-4-5", stream=True),
        Ex(dry_run=True, shadow=["model not allowed"]),
    )
    name = "ztgate_exchanges_total"
    assert value(s, name, provider="openai", model="gpt-4o", decision="allow", status="200") == 2
    assert value(s, name, provider="openai", decision="deny", status="403") == 1
    assert value(s, name, decision="error", status="503") == 1
    assert value(s, name, provider="anthropic", operation="messages", model="claude-sonnet-4-5", decision="allow") == 1
    assert value(s, name, decision="dry_run") == 1
    assert value(s, name) == 6
    assert value(s, "ztgate_streams_total", provider="anthropic") == 1
    assert value(s, "ztgate_errors_total", kind="policy") == 1
    assert value(s, "ztgate_shadow_denials_total") == 1


@pytest.mark.parametrize(
    ("ex", "label"),
    [
        (Ex(), "allow"),
        (Ex(allowed=False, status=403, upstream=False), "deny"),
        (Ex(error=("auth", "unknown key"), allowed=None, status=401, upstream=False), "deny"),
        (Ex(error=("limit", "limit 'daily' reached"), refused_limit="daily", status=429, upstream=False), "deny"),
        (Ex(error=("bad_request", "no model"), allowed=None, status=400, upstream=False), "deny"),
        (Ex(error=("usage", "usage store unavailable"), allowed=None, status=503, upstream=False), "error"),
        (Ex(error=("inspection", "content inspection failed"), allowed=None, status=503, upstream=False), "error"),
        (Ex(error=("output_blocked", "secret in the answer")), "allow"),
        (Ex(error=("disconnected", "stream ended")), "allow"),
        (Ex(dry_run=True), "dry_run"),
        (Ex(allowed=None, status=0, upstream=False), "none"),
    ],
)
def test_decision_label(ex: Ex, label: str) -> None:
    assert decision_label(ex.record().event) == label


def test_tokens_and_cost_by_provider_model_group_and_identity() -> None:
    m = Metrics()
    usage = {"input_tokens": 100, "output_tokens": 20, "cached_input_tokens": 64, "cost_usd": 0.0005}
    s = feed(m, Ex(usage=usage), Ex(usage=usage), Ex(caller=IVAN, model="gpt-4o-mini", usage={"input_tokens": 7, "output_tokens": 3, "cost_usd": 0.00001}))
    assert value(s, "ztgate_tokens_total", direction="input", provider="openai", model="gpt-4o") == 200
    assert value(s, "ztgate_tokens_total", direction="output", model="gpt-4o") == 40
    assert value(s, "ztgate_tokens_total", direction="cached_input", model="gpt-4o") == 128
    assert value(s, "ztgate_tokens_total", direction="input") == 207
    # Alice is in two groups: her tokens count in each (the usage ledger does the same).
    assert value(s, "ztgate_group_tokens_total", direction="input", group="developers") == 200
    assert value(s, "ztgate_group_tokens_total", direction="input", group="ml") == 200
    assert value(s, "ztgate_group_tokens_total", direction="input", group="interns", model="gpt-4o-mini") == 7
    assert value(s, "ztgate_identity_tokens_total", direction="output", identity="alice@example.test") == 40
    assert value(s, "ztgate_identity_tokens_total", direction="output", identity="ivan@example.test") == 3
    assert value(s, "ztgate_cost_usd_total", model="gpt-4o") == pytest.approx(0.001)
    assert value(s, "ztgate_group_cost_usd_total", group="ml") == pytest.approx(0.001)
    assert value(s, "ztgate_identity_cost_usd_total", identity="ivan@example.test") == pytest.approx(0.00001)


def test_histograms_per_phase_policy_detect_and_whole_exchange() -> None:
    m = Metrics()
    s = feed(m, Ex(), Ex(phases_us={"identify": 10, "parse": 30, "detect": 80, "policy": 400}, upstream=False, allowed=False, status=403))
    for phase in ("identify", "parse", "detect", "policy"):
        assert value(s, "ztgate_phase_seconds_count", phase=phase) == 2
    assert value(s, "ztgate_phase_seconds_count", phase="upstream") == 1
    assert value(s, "ztgate_phase_seconds_count", phase="response_policy") == 0  # present from the start, empty
    assert set(PHASES) <= {dict(k)["phase"] for k in s["ztgate_phase_seconds_count"]}
    # 700 us and 400 us: one policy evaluation in the 0.5 ms bucket, both by 1 ms; sum is exact.
    assert value(s, "ztgate_policy_eval_seconds_bucket", phase="request", le="0.0005") == 1
    assert value(s, "ztgate_policy_eval_seconds_bucket", phase="request", le="0.001") == 2
    assert value(s, "ztgate_policy_eval_seconds_sum", phase="request") == pytest.approx(0.0011)
    assert value(s, "ztgate_detect_seconds_count", direction="input") == 2
    assert value(s, "ztgate_detect_seconds_count", direction="output") == 1
    assert value(s, "ztgate_detect_seconds_bucket", direction="input", le="5e-05") == 0
    assert value(s, "ztgate_detect_seconds_bucket", direction="input", le="0.0001") == 1
    # ztgate's own time leaves out the provider's 800 ms.
    assert value(s, "ztgate_processing_seconds_sum") == pytest.approx((20 + 40 + 300 + 30 + 700 + 90 + 10 + 30 + 80 + 400) / 1e6)
    assert value(s, "ztgate_exchange_seconds_count", provider="openai", stream="false") == 2
    assert value(s, "ztgate_exchange_seconds_bucket", le="1.0") == 2 and value(s, "ztgate_exchange_seconds_bucket", le="0.5") == 1
    buckets = {dict(k)["le"] for k in s["ztgate_policy_eval_seconds_bucket"]}
    assert len(buckets) == len(FAST_BUCKETS) + 1 and "5e-05" in buckets and "+Inf" in buckets


def test_findings_limits_and_anomalies() -> None:
    m = Metrics()
    s = feed(
        m,
        Ex(findings={"pii:email": 2, "secrets:aws_access_key": 1}, output_findings={"pii:email": 1}),
        Ex(error=("limit", "limit 'daily-tokens' reached"), refused_limit="daily-tokens", status=429, upstream=False, usage=None),
        Ex(
            anomaly={"score": 0.7, "reasons": ["request_rate 8.2x baseline", "new_tool send_email", "new_tool run_shell"]},
            anomaly_output={"score": 0.4, "reasons": ["output_tokens 12x usual"]},
        ),
    )
    assert value(s, "ztgate_findings_total", detector="pii", direction="input") == 2
    assert value(s, "ztgate_findings_total", detector="secrets", direction="input") == 1
    assert value(s, "ztgate_findings_total", detector="pii", direction="output") == 1
    assert value(s, "ztgate_limit_refusals_total", limit="daily-tokens") == 1
    assert value(s, "ztgate_errors_total", kind="limit") == 1
    assert value(s, "ztgate_anomalies_total", reason_kind="request_rate") == 1
    assert value(s, "ztgate_anomalies_total", reason_kind="new_tool") == 1  # two new tools, one exchange
    assert value(s, "ztgate_anomalies_total", reason_kind="output_tokens") == 1
    assert value(s, "ztgate_anomalous_exchanges_total") == 1


def test_identities_past_the_cap_are_other_and_per_identity_can_be_off() -> None:
    m = Metrics(MetricsConfig(max_identities=2))
    callers = [Caller(f"user{i}@example.test") for i in range(5)]
    s = feed(m, *(Ex(caller=c) for c in callers))
    identities = {dict(k)["identity"] for k in s["ztgate_identity_tokens_total"]}
    assert identities == {"user0@example.test", "user1@example.test", "other"}
    assert value(s, "ztgate_identity_tokens_total", direction="input", identity="other") == 3 * 12
    assert value(s, "ztgate_identity_tokens_total", direction="input") == 5 * 12  # nothing lost

    s = feed(Metrics(MetricsConfig(per_identity=False)), Ex())
    assert "ztgate_identity_tokens_total" not in s and "ztgate_identity_cost_usd_total" not in s
    assert value(s, "ztgate_tokens_total", direction="input") == 12


def test_models_and_groups_are_capped_and_anonymous_junk_cannot_take_the_model_slots() -> None:
    m = Metrics(MetricsConfig(max_models=2, max_groups=1))
    s = feed(
        m,
        Ex(caller=None, model="junk-" + "x" * 50, allowed=False, status=401, upstream=False, usage=None),
        Ex(model="gpt-4o"),
        Ex(caller=Caller("bob@example.test", ("sales",)), model="gpt-4o-mini"),
        Ex(model="o3"),
        Ex(caller=None, model="gpt-4o", allowed=False, status=401, upstream=False, usage=None),
    )
    models = {dict(k)["model"] for k in s["ztgate_exchanges_total"]}
    assert models == {"gpt-4o", "gpt-4o-mini", "other"}
    assert value(s, "ztgate_exchanges_total", model="other") == 2  # the junk one and o3
    assert value(s, "ztgate_exchanges_total", model="gpt-4o") == 2  # a known model keeps its label
    groups = {dict(k)["group"] for k in s["ztgate_group_tokens_total"]}
    assert groups == {"developers", "other"}


def test_policy_reloads_revision_store_and_audit_state_are_read_at_scrape_time(tmp_path) -> None:
    policy = PolicyStatus(revision="rev-1", loaded_at=1_700_000_000.0)
    store = {"backend": "redis", "available": True, "fail_open": True, "queued": 0, "fail_open_events": 0, "outages": 0, "dropped": 0, "replayed": 0, "replay_errors": 0}
    sink = open(tmp_path / "audit.jsonl", "wb")  # noqa: SIM115 - closed below to make a write fail
    audit = AuditLog(sink)
    m = Metrics(policy=policy, store_status=lambda: store, audit=audit, in_flight=lambda: 3)
    s = scrape(m)
    assert value(s, "ztgate_policy_reloads_total", result="success") == 0
    assert value(s, "ztgate_policy_reloads_total", result="failure") == 0
    assert value(s, "ztgate_policy_info", revision="rev-1") == 1
    assert value(s, "ztgate_policy_reload_error") == 0
    assert value(s, "ztgate_usage_store_available", backend="redis") == 1
    assert value(s, "ztgate_exchanges_in_flight") == 3

    # A good reload, then a rejected one (what reload.PolicyReloader does to its status).
    policy.reloads, policy.revision = 1, "rev-2"
    policy.failures, policy.last_error, policy.last_error_at = 1, "rego parse error at broken.rego:3:1", time.time()
    store.update(available=False, queued=17, fail_open_events=5, outages=1)
    sink.close()
    audit.write({"request_id": "x"})  # the stream is closed: the line is lost and counted
    s = scrape(m)
    assert value(s, "ztgate_policy_reloads_total", result="success") == 1
    assert value(s, "ztgate_policy_reloads_total", result="failure") == 1
    assert value(s, "ztgate_policy_reload_error") == 1
    assert set(s["ztgate_policy_info"]) == {(("revision", "rev-2"),)}
    assert value(s, "ztgate_usage_store_available") == 0
    assert value(s, "ztgate_usage_store_queued") == 17
    assert value(s, "ztgate_usage_store_fail_open_events_total") == 5
    assert value(s, "ztgate_usage_store_outages_total") == 1
    assert value(s, "ztgate_audit_write_failures_total") == 1


def test_the_memory_store_status_gives_the_store_gauges() -> None:
    from ztgate.usage.memory_store import MemoryStore

    store = MemoryStore()
    s = scrape(Metrics(store_status=lambda: store.status))
    assert value(s, "ztgate_usage_store_available", backend="memory") == 1
    assert value(s, "ztgate_usage_store_queued") == 0
    assert value(s, "ztgate_usage_store_fail_open_events_total") == 0


def test_two_metrics_are_independent_and_the_text_has_every_family_from_the_start() -> None:
    a, b = Metrics(), Metrics()
    feed(a, Ex())
    text = b.scrape().decode()
    assert "ztgate_exchanges_total{" not in text  # b saw nothing
    for family in ("ztgate_exchanges_total counter", "ztgate_phase_seconds histogram", "ztgate_tokens_total counter"):
        assert f"# TYPE {family}\n" in text
    assert value(scrape(b), "ztgate_anomalous_exchanges_total") == 0


def test_label_values_are_escaped() -> None:
    model = 'evil"model\\with\nnewline'
    s = feed(Metrics(), Ex(model=model, caller=Caller('quote"d\\subject')))
    assert value(s, "ztgate_exchanges_total", model=model) == 1
    assert value(s, "ztgate_identity_tokens_total", identity='quote"d\\subject', direction="input") == 12


def test_a_malformed_record_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    m = Metrics()
    record = Ex().record()
    record.event["usage"] = {"input_tokens": "many"}
    m.exchange(record)
    assert "cannot count an exchange" in caplog.text


def test_metrics_settings(tmp_path) -> None:
    assert load_settings(env={}).metrics == MetricsConfig()
    settings = load_settings(env={"ZTGATE__METRICS__PER_IDENTITY": "false", "ZTGATE__METRICS__MAX_IDENTITIES": "50"})
    assert settings.metrics.per_identity is False and settings.metrics.max_identities == 50
    with pytest.raises(ConfigError, match="metrics.enable"):
        load_settings(env={"ZTGATE__METRICS__ENABLE": "true"})
