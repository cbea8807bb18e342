"""Sensitive topics: phrase and keyword lists per topic, from policy data, matched in one pass.

Every phrase of every topic goes into ONE Aho-Corasick automaton (base.KeywordIndex, which the
scanner shares with the PII and secrets keywords), so a text is read once whatever the number of
topics and phrases. Matching is case-insensitive, accent-insensitive for phrases written with accents
("posologie"/"posologíe" style variants are added at build time), treats any single whitespace
character as a space, and only counts hits on word boundaries (the characters around a hit must not
be letters, digits or "_"), so "bomb" does not fire in "bombastic".

Config, per topic name (the finding type)::

    {"weapons": {"severity": "high", "phrases": ["build a bomb", ...], "keywords": ["sarin"],
                 "score": 0.9, "directions": ["input", "output"]}}

`phrases` score `score` (default 0.9); `keywords` (single words, usually more ambiguous) score
`keyword_score` (default 0.6). `directions` limits a topic to input or output text (default both).
Findings are presence findings: never redactable.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from .base import SEVERITIES, Finding, KeywordIndex

DEFAULT_PHRASE_SCORE = 0.9
DEFAULT_KEYWORD_SCORE = 0.6
# Presence findings: the policy needs to know a topic is there, not every occurrence of it.
MAX_FINDINGS_PER_TOPIC = 16

_DIRECTIONS = ("input", "output")


class TopicsError(ValueError):
    """A topics configuration that cannot be used."""


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


def _fold_phrase(phrase: str) -> str:
    """A phrase as the automaton stores it: lower case, single spaces."""
    return " ".join(phrase.lower().split())


def _is_word_char(c: str) -> bool:
    return c.isalnum() or c == "_"


class TopicsDetector:
    name = "topics"

    def __init__(
        self, topics: dict[str, dict[str, Any]] | None = None, *, keywords: KeywordIndex | None = None
    ) -> None:
        """keywords: the index the scanner shares between its detectors (one pass per text)."""
        topics = topics or {}
        # One entry per topic: (type, severity, directions)
        self._topics: list[tuple[str, str, frozenset[str]]] = []
        # folded phrase -> list of (topic index, score); one phrase may belong to several topics.
        entries: dict[str, dict[int, float]] = {}
        for name, spec in topics.items():
            if not isinstance(spec, dict):
                raise TopicsError(f"topic {name!r}: expected an object, got {type(spec).__name__}")
            severity = spec.get("severity", "medium")
            if severity not in SEVERITIES:
                raise TopicsError(f"topic {name!r}: severity must be one of {SEVERITIES}, not {severity!r}")
            directions = spec.get("directions", _DIRECTIONS)
            if isinstance(directions, str):
                directions = [directions]
            bad = [d for d in directions if d not in _DIRECTIONS]
            if bad:
                raise TopicsError(f"topic {name!r}: unknown directions {bad}")
            index = len(self._topics)
            self._topics.append((str(name), severity, frozenset(directions)))
            phrase_score = float(spec.get("score", DEFAULT_PHRASE_SCORE))
            keyword_score = float(spec.get("keyword_score", DEFAULT_KEYWORD_SCORE))
            for key, score in (("phrases", phrase_score), ("keywords", keyword_score)):
                words = spec.get(key, [])
                if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
                    raise TopicsError(f"topic {name!r}: {key} must be a list of strings")
                for word in words:
                    folded = _fold_phrase(word)
                    if not folded:
                        continue
                    for variant in {folded, _strip_accents(folded)}:
                        by_topic = entries.setdefault(variant, {})
                        by_topic[index] = max(score, by_topic.get(index, 0.0))
        self.phrase_count = len(entries)
        # folded phrase -> (length, ((topic index, score), ...))
        self._entries = {phrase: (len(phrase), tuple(by_topic.items())) for phrase, by_topic in entries.items()}
        self._keywords = keywords if keywords is not None else KeywordIndex()
        self._keywords.add(self._entries)

    @property
    def topic_names(self) -> list[str]:
        return [t[0] for t in self._topics]

    def scan(self, text: str, direction: str = "input") -> list[Finding]:
        if not self._entries or not text:
            return []
        haystack, hits = self._keywords.hits(text)
        n = len(haystack)
        topics, entries = self._topics, self._entries
        # topic index -> findings so far (in order of end offset)
        found: dict[int, list[Finding]] = {}
        for last, phrase in hits:
            entry = entries.get(phrase)
            if entry is None:  # another detector's keyword
                continue
            length, by_topic = entry
            end = last + 1
            start = end - length
            if start > 0 and _is_word_char(haystack[start - 1]):
                continue
            if end < n and _is_word_char(haystack[end]):
                continue
            for index, score in by_topic:
                name, severity, directions = topics[index]
                if direction not in directions:
                    continue
                hits = found.setdefault(index, [])
                if hits:
                    prev = hits[-1]
                    if start < prev.end:  # overlaps the previous hit of this topic: keep the better one
                        if score > prev.score or (score == prev.score and end - start > prev.end - prev.start):
                            hits[-1] = Finding(self.name, name, severity, score, start, end)
                        continue
                    if len(hits) >= MAX_FINDINGS_PER_TOPIC:
                        continue
                hits.append(Finding(self.name, name, severity, score, start, end))
        if not found:
            return []
        out: list[Finding] = []
        for hits in found.values():
            out += hits
        return out
