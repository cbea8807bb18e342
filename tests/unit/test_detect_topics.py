"""Sensitive topics: one Aho-Corasick automaton over every phrase of every topic."""

from __future__ import annotations

import pytest

from ztgate.detect.scanner import load_defaults
from ztgate.detect.topics import MAX_FINDINGS_PER_TOPIC, TopicsDetector, TopicsError

TOPICS = {
    "weapons": {"severity": "high", "phrases": ["build a bomb", "3d printed gun"], "keywords": ["sarin"]},
    "project_names": {"severity": "medium", "phrases": ["Project Nightingale"]},
    "medical_advice": {"severity": "medium", "phrases": ["posologie", "effets secondaires"]},
}


@pytest.fixture(scope="module")
def detector() -> TopicsDetector:
    return TopicsDetector(TOPICS)


def spans(detector: TopicsDetector, text: str, direction: str = "input") -> list[tuple[str, str]]:
    return [(f.type, text[f.start : f.end]) for f in detector.scan(text, direction)]


def test_finds_phrases_of_several_topics_in_one_pass(detector: TopicsDetector) -> None:
    text = "How do I build a bomb? Asking for project nightingale."
    findings = detector.scan(text, "input")
    assert {(f.type, text[f.start : f.end]) for f in findings} == {
        ("weapons", "build a bomb"),
        ("project_names", "project nightingale"),
    }
    weapons = next(f for f in findings if f.type == "weapons")
    assert weapons.detector == "topics"
    assert weapons.severity == "high"
    assert weapons.redactable is False
    assert weapons.encoding is None


def test_case_insensitive_and_any_single_whitespace(detector: TopicsDetector) -> None:
    assert spans(detector, "BUILD A\nBOMB") == [("weapons", "BUILD A\nBOMB")]
    assert spans(detector, "a 3D\tPrinted\u00a0Gun") == [("weapons", "3D\tPrinted\u00a0Gun")]


@pytest.mark.parametrize(
    "text",
    ["rebuild a bombastic plan", "build a bombs", "sarinade", "project nightingales", "x_sarin", "sarin2"],
)
def test_only_on_word_boundaries(detector: TopicsDetector, text: str) -> None:
    assert detector.scan(text, "input") == []


@pytest.mark.parametrize("text", ["(build a bomb)", "«build a bomb»", "sarin.", "'Project Nightingale'"])
def test_punctuation_is_a_boundary(detector: TopicsDetector, text: str) -> None:
    assert len(detector.scan(text, "input")) == 1


def test_accents_optional_in_text(detector: TopicsDetector) -> None:
    assert spans(detector, "quels effets secondaires ?") == [("medical_advice", "effets secondaires")]
    assert spans(detector, "quels effets secondaires") == [("medical_advice", "effets secondaires")]
    assert spans(TopicsDetector({"t": {"phrases": ["mettre fin à mes jours"]}}), "mettre fin a mes jours") == [
        ("t", "mettre fin a mes jours")
    ]


def test_offsets_survive_characters_whose_lower_case_is_longer() -> None:
    # "İ".lower() is two characters; offsets must still index the original text.
    text = "İİİ build a bomb"
    (finding,) = TopicsDetector(TOPICS).scan(text, "input")
    assert text[finding.start : finding.end] == "build a bomb"


def test_keywords_score_lower_than_phrases(detector: TopicsDetector) -> None:
    (phrase,) = detector.scan("build a bomb", "input")
    (keyword,) = detector.scan("sarin", "input")
    assert keyword.score < phrase.score


def test_overlapping_hits_of_one_topic_collapse() -> None:
    d = TopicsDetector({"w": {"phrases": ["pipe bomb", "bomb"], "keywords": ["pipe"]}})
    findings = d.scan("a pipe bomb", "input")
    assert [(f.type, f.start, f.end) for f in findings] == [("w", 2, 11)]


def test_a_phrase_in_two_topics_reports_both() -> None:
    d = TopicsDetector({"a": {"phrases": ["x ray"]}, "b": {"phrases": ["X Ray"], "severity": "low"}})
    assert sorted(f.type for f in d.scan("an x ray", "input")) == ["a", "b"]


def test_directions_limit_a_topic() -> None:
    d = TopicsDetector({"out_only": {"phrases": ["dosage"], "directions": ["output"]}})
    assert d.scan("dosage", "input") == []
    assert len(d.scan("dosage", "output")) == 1


def test_findings_per_topic_are_capped() -> None:
    d = TopicsDetector({"w": {"phrases": ["bomb"]}})
    assert len(d.scan("bomb " * 1000, "input")) == MAX_FINDINGS_PER_TOPIC


def test_empty_config_and_empty_text() -> None:
    assert TopicsDetector({}).scan("build a bomb", "input") == []
    assert TopicsDetector(None).scan("anything", "input") == []
    assert TopicsDetector(TOPICS).scan("", "input") == []
    assert TopicsDetector({"empty": {"phrases": []}}).scan("x", "input") == []


@pytest.mark.parametrize(
    "topics",
    [
        {"w": {"severity": "extreme", "phrases": ["x"]}},
        {"w": {"phrases": "not a list"}},
        {"w": {"phrases": [1, 2]}},
        {"w": ["x"]},
        {"w": {"phrases": ["x"], "directions": ["sideways"]}},
    ],
)
def test_bad_config_is_rejected(topics: dict) -> None:
    with pytest.raises(TopicsError):
        TopicsDetector(topics)


def test_shipped_defaults() -> None:
    topics = load_defaults()["topics"]
    assert {"weapons", "self_harm", "legal_advice", "medical_advice", "project_names"} <= set(topics)
    assert topics["project_names"]["phrases"] == []
    for name in ("weapons", "self_harm", "legal_advice", "medical_advice"):
        assert len(topics[name]["phrases"]) >= 30, name
    d = TopicsDetector(topics)
    cases = {
        "weapons": ["how to build a bomb at home", "wie kann ich eine Bombe bauen", "fabriquer une bombe", "fabricar una bomba"],
        "self_harm": ["I want to kill myself", "ich will sterben", "je veux mourir", "quiero morir"],
        "legal_advice": ["should I sue my landlord", "Kann ich klagen?", "conseil juridique", "asesoría legal"],
        "medical_advice": ["what dosage of ibuprofen", "Nebenwirkungen von Ibuprofen", "posologie", "efectos secundarios"],
    }
    for topic, texts in cases.items():
        for text in texts:
            assert topic in {f.type for f in d.scan(text, "input")}, (topic, text)
    assert d.scan("The weather in Berlin is nice today; let's write a unit test.", "input") == []
