"""Per-identity anomaly baselines: what policy sees as input.usage.anomaly."""

from __future__ import annotations

import random
import time

from ztgate.usage.anomaly import Baselines, Observation

MINUTE = 60.0


def exchange(b: Baselines, obs: Observation) -> tuple[dict, dict]:
    """What the gateway does per exchange: assess before, observe after."""
    return b.assess(obs), b.observe(obs)


def steady(b: Baselines, subject: str = "alice", n: int = 120, every: float = MINUTE, start: float = 0.0) -> float:
    """n ordinary requests, one every `every` seconds; returns the time after the last."""
    t = start
    for _ in range(n):
        exchange(b, Observation(subject, "gpt-4o", ("search",), 500, 300, {"pii:email": 0}, t))
        t += every
    return t


def test_steady_traffic_is_not_an_anomaly() -> None:
    b = Baselines()
    t = steady(b)
    verdict = b.assess(Observation("alice", "gpt-4o", ("search",), 520, 0, {}, t))
    assert verdict["score"] == 0.0
    assert verdict["reasons"] == []
    assert verdict["warming_up"] is False
    assert verdict["input_tokens_usual"] == 500.0


def test_random_steady_traffic_stays_quiet() -> None:
    rng = random.Random(7)
    b = Baselines()
    t, scores = 0.0, []
    for i in range(600):
        t += rng.expovariate(3 / MINUTE)  # Poisson, 3 a minute
        obs = Observation("bob", "gpt-4o", (), int(rng.lognormvariate(6, 0.5)), 200, {}, t)
        verdict, _ = exchange(b, obs)
        if i > 50:
            scores.append(verdict["score"])
    scores.sort()
    assert scores[int(len(scores) * 0.95)] < 0.1
    assert scores[-1] < 0.5


def test_a_10x_burst_scores_high_with_the_reason() -> None:
    b = Baselines()
    t = steady(b)  # one a minute for two hours
    verdict = {}
    for _ in range(10):  # ten in the next minute
        verdict, _ = exchange(b, Observation("alice", "gpt-4o", ("search",), 500, 300, {}, t))
        t += 6
    assert verdict["score"] >= 0.6
    assert any(r.startswith("request_rate ") and r.endswith("x baseline") for r in verdict["reasons"])
    assert verdict["request_rate"] > 5 * verdict["request_rate_baseline"]


def test_one_request_after_a_quiet_week_is_no_burst() -> None:
    b = Baselines()
    t = steady(b, n=30)
    verdict = b.assess(Observation("alice", "gpt-4o", ("search",), 500, 0, {}, t + 7 * 86400))
    assert verdict["score"] == 0.0


def test_a_new_model_and_a_new_tool_are_reasons() -> None:
    b = Baselines()
    t = steady(b)
    verdict = b.assess(Observation("alice", "o3", ("search", "send_email"), 500, 0, {}, t))
    assert verdict["new_model"] is True
    assert verdict["new_tools"] == ["send_email"]
    assert "new_model o3" in verdict["reasons"]
    assert "new_tool send_email" in verdict["reasons"]
    assert 0.3 < verdict["score"] < 0.7  # a hint, not a verdict
    b.observe(Observation("alice", "o3", ("search", "send_email"), 500, 300, {}, t))
    again = b.assess(Observation("alice", "o3", ("send_email",), 500, 0, {}, t + MINUTE))
    assert again["new_model"] is False and again["new_tools"] == [] and again["score"] == 0.0


def test_a_jump_in_findings_is_a_reason() -> None:
    b = Baselines()
    t = steady(b)
    verdict = b.assess(Observation("alice", "gpt-4o", ("search",), 500, 0, {"pii:email": 9, "pii:phone": 3}, t))
    assert "pii_findings 12 vs 0.0 usual" in verdict["reasons"]
    assert verdict["score"] >= 0.9
    # The same count is unremarkable for someone whose prompts always carry that much.
    b2 = Baselines()
    t2 = 0.0
    for _ in range(60):
        exchange(b2, Observation("carol", "gpt-4o", (), 500, 300, {"pii:email": 10}, t2))
        t2 += MINUTE
    assert b2.assess(Observation("carol", "gpt-4o", (), 500, 0, {"pii:email": 12}, t2))["score"] == 0.0


def test_an_unusually_large_prompt_is_a_reason() -> None:
    b = Baselines()
    t = steady(b)
    verdict = b.assess(Observation("alice", "gpt-4o", ("search",), 10_000, 0, {}, t))
    assert "input_tokens 20x usual" in verdict["reasons"]


def test_a_much_larger_answer_is_reported_after_the_exchange() -> None:
    b = Baselines()
    t = steady(b)
    after = b.observe(Observation("alice", "gpt-4o", ("search",), 500, 4500, {}, t))
    assert after["reasons"] == ["output_tokens 15x usual"]
    assert after["score"] > 0.2
    usual = b.observe(Observation("alice", "gpt-4o", ("search",), 500, 350, {}, t + MINUTE))
    assert usual["score"] == 0.0 and usual["reasons"] == []


def test_nothing_is_flagged_while_the_baseline_warms_up() -> None:
    b = Baselines(min_samples=20)
    first = b.assess(Observation("dave", "gpt-4o", (), 500, 0, {"secrets:aws_access_key": 5}, 0.0))
    assert first["score"] == 0.0 and first["reasons"] == [] and first["warming_up"] is True
    t = steady(b, "dave", n=19)
    verdict = b.assess(Observation("dave", "o3", ("shell",), 50_000, 0, {"pii:email": 30}, t))
    assert verdict["warming_up"] is True and verdict["score"] == 0.0 and verdict["reasons"] == []
    assert verdict["new_model"] is False
    steady(b, "dave", n=1, start=t)
    assert b.assess(Observation("dave", "o3", (), 500, 0, {}, t + MINUTE))["warming_up"] is False


def test_identities_have_their_own_baselines() -> None:
    b = Baselines()
    steady(b, "alice")
    verdict = b.assess(Observation("mallory", "o3", ("shell",), 50_000, 0, {"pii:email": 30}, 0.0))
    assert verdict["score"] == 0.0 and verdict["warming_up"] is True


def test_exchanges_finishing_out_of_order_are_accounted() -> None:
    b = Baselines()
    t = steady(b)
    b.observe(Observation("alice", "gpt-4o", ("search",), 500, 300, {}, t + 30))
    b.observe(Observation("alice", "gpt-4o", ("search",), 500, 300, {}, t + 10))  # a stream that ended later
    verdict = b.assess(Observation("alice", "gpt-4o", ("search",), 500, 0, {}, t + 40))
    assert verdict["samples"] == 122 and verdict["score"] == 0.0


def test_memory_is_bounded_by_an_lru_of_identities() -> None:
    b = Baselines(max_identities=100, min_samples=1)
    for i in range(1000):
        b.observe(Observation(f"user-{i}", "gpt-4o", (), 10, 10, {}, float(i)))
    assert len(b) == 100
    b.observe(Observation("user-900", "gpt-4o", (), 10, 10, {}, 1000.0))  # recently used: kept
    b.observe(Observation("newcomer", "gpt-4o", (), 10, 10, {}, 1001.0))
    assert b.assess(Observation("user-900", "gpt-4o", (), 10, 0, {}, 1002.0))["samples"] == 2
    assert b.assess(Observation("user-901", "gpt-4o", (), 10, 0, {}, 1002.0))["samples"] == 0  # evicted


def test_one_identity_remembers_a_bounded_number_of_tools() -> None:
    b = Baselines()
    for i in range(2000):
        b.observe(Observation("alice", "gpt-4o", (f"tool_{i}",), 10, 10, {f"pii:type_{i}": 1}, float(i)))
    st = b._ids["alice"]
    assert len(st.tools) <= 256 and len(st.models) == 1 and len(st.findings_mean) == 1


def test_assess_is_cheap() -> None:
    b = Baselines()
    t = steady(b)
    obs = Observation("alice", "gpt-4o", ("search", "fetch"), 500, 0, {"pii:email": 1, "secrets:x": 1}, t)
    runs = 2000
    t0 = time.process_time()
    for _ in range(runs):
        b.assess(obs)
    per_call = (time.process_time() - t0) / runs
    assert per_call < 20e-6, f"{per_call * 1e6:.1f} us"
