"""Quality floors of the secrets detector on third-party test cases (bench/quality_secrets.py).

The floors sit a little under what the detector scores today (provider recall 0.999, generic
0.996, no false positive on 2,585 benign prompts, 0.09 of the corpora's negatives flagged), so a
regression fails here and the bench shows where.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORPORA = ROOT.parent / "shared" / "corpora"


@pytest.fixture(scope="module")
def result() -> dict:
    if not (CORPORA / "secrets").is_dir():
        pytest.skip(f"corpora not found at {CORPORA}")
    spec = importlib.util.spec_from_file_location("quality_secrets", ROOT / "bench" / "quality_secrets.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module.evaluate(CORPORA)


def rate(t) -> float:  # type: ignore[no-untyped-def]
    return t.hits / t.total


def test_provider_and_cloud_recall(result: dict) -> None:
    t = result["overall"]["provider"]
    assert t.total > 800 and rate(t) >= 0.98, t.missed


def test_generic_recall(result: dict) -> None:
    t = result["overall"]["generic"]
    assert t.total > 400 and rate(t) >= 0.98, t.missed


def test_benign_prompts_false_positive_rate(result: dict) -> None:
    hits = sum(t.hits for t in result["benign"].values())
    total = sum(t.total for t in result["benign"].values())
    assert total > 2000 and hits / total <= 0.005


def test_corpora_negatives(result: dict) -> None:
    for name, t in result["negatives"].items():
        assert rate(t) <= 0.12, (name, t.missed)
