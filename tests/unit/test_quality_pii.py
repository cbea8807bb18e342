"""Quality floors of the PII detector on third-party labelled data (bench/quality_pii.py measures).

Floors sit slightly below what the detector achieves (see the bench's tables), on the structured
types only; skipped when ../shared/corpora is not there.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from ztgate.detect.pii import PiiDetector

_ROOT = Path(__file__).resolve().parents[2]
_CORPORA = _ROOT.parent / "shared" / "corpora" / "pii"


def _bench():
    spec = importlib.util.spec_from_file_location("quality_pii", _ROOT / "bench" / "quality_pii.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@pytest.fixture(scope="module")
def bench():
    if not _CORPORA.is_dir():
        pytest.skip(f"PII corpora not found at {_CORPORA}")
    return _bench()


def _f1(tally) -> float:
    p = tally.tp_pred / tally.pred if tally.pred else 0.0
    r = tally.tp_gold / tally.gold if tally.gold else 0.0
    return 2 * p * r / (p + r) if p + r else 0.0


# Achieved (bench/quality_pii.py, min_score 0.5): 1.000, 0.983, 0.996, 1.000, 1.000, 1.000.
SYNTH_FLOORS = {
    "email": 0.97,
    "phone_number": 0.95,
    "credit_card": 0.97,
    "iban": 0.97,
    "us_ssn": 0.95,
    "ip_address": 0.95,
}
# Achieved: 1.000, 0.947, 1.000, 0.994, 1.000, 1.000, 0.727. The SSN recall is bounded by Presidio's
# "very weak" cases (bare 9 digits, 3-6 and 5-4 groupings) that ztgate reports only with context.
CASES_FLOORS = {
    "email": 0.95,
    "phone_number": 0.92,
    "credit_card": 0.95,
    "ip_address": 0.95,
    "mac_address": 0.95,
    "crypto_wallet": 0.95,
    "us_ssn": 0.70,
}


def test_synthetic_sentences_structured_types(bench) -> None:
    tallies = bench.synth(PiiDetector(), _CORPORA / "presidio_research_synth_v2.json")
    scores = {typ: round(_f1(tallies[typ]), 3) for typ in SYNTH_FLOORS}
    assert all(scores[t] >= floor for t, floor in SYNTH_FLOORS.items()), scores


def test_recognizer_cases_structured_types(bench) -> None:
    tallies = bench.cases(PiiDetector(), _CORPORA / "presidio_recognizer_cases.jsonl")
    scores = {typ: round(_f1(tallies[typ]), 3) for typ in CASES_FLOORS}
    assert all(scores[t] >= floor for t, floor in CASES_FLOORS.items()), scores
    # Checksum and range negatives (Luhn-invalid cards, invalid SSN areas, bad IPs...) never fire.
    fired = {t: tallies[t].neg_fired for t in CASES_FLOORS if tallies[t].neg_fired}
    assert not fired, fired
