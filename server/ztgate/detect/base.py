"""What every detector returns, and the one interface they share.

Detectors are pure and data-driven (patterns, validators, context words, lists), compiled once at
start-up, and fast enough for every request. They see text, never bodies or providers; the scanner
(detect/scanner.py) runs them over an LLMRequest's parts or a response's text and adds where each
finding sits. Findings reach the policy as type and location only, never the matched value.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import ahocorasick

# Severity levels, lowest first; the policy compares them by rank.
SEVERITIES = ("low", "medium", "high", "critical")


@dataclass(slots=True, frozen=True)
class Finding:
    """One match in one text. start/end index the text the detector was given (str offsets)."""

    detector: str  # "pii" | "secrets" | "injection" | "smuggling" | "topics" | "exfil"
    type: str  # e.g. "email", "credit_card", "aws_access_key", "instruction_override", "unicode_tags"
    severity: str  # one of SEVERITIES
    score: float  # confidence 0..1 (a validated checksum is 1.0; a bare pattern less)
    start: int
    end: int
    # Redaction may replace [start, end) (PII and secrets); presence findings (an injection phrase, a
    # smuggling technique) are reported but never rewritten.
    redactable: bool = False
    # Set when the match was found in decoded text (base64, hex, rot13, URL, leetspeak): the span then
    # covers the encoded segment in the original text.
    encoding: str | None = None


_last_lowered: tuple[str, str] = ("", "")
# str.lower() of each Latin-1 character (each is one Latin-1 character again).
_LATIN1_LOWER = bytes(ord(chr(b).lower()) for b in range(256))


def lowered(text: str) -> str:
    """text.lower(), remembered for the last text: the scanner runs several detectors on the same
    text object, and lowering 4 KB of non-ASCII text costs ~12 us each time. One tuple, replaced
    whole, so concurrent callers never see a text paired with another text's lower case."""
    global _last_lowered
    last = _last_lowered
    if last[0] is text:
        return last[1]
    low = None
    if not text.isascii():  # Latin-1 text (German, French...) lowers through a byte table, 5x faster
        try:
            low = text.encode("latin-1").translate(_LATIN1_LOWER).decode("latin-1")
        except UnicodeEncodeError:
            pass
    if low is None:
        low = text.lower()
    _last_lowered = (text, low)
    return low


_WHITESPACE_CHARS = "\n\t\r\x0b\x0c\u00a0"
_WHITESPACE = str.maketrans(dict.fromkeys(_WHITESPACE_CHARS, " "))


def folded(text: str) -> str:
    """The text as keyword lists are matched: lower case, every whitespace character a space, and
    the same length as text (the few characters that lower to two keep their case), so offsets
    stay valid."""
    low = lowered(text)
    if len(low) != len(text):
        low = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
    for ws in _WHITESPACE_CHARS:
        if ws in low:
            low = low.replace(ws, " ")
    return low


# Characters by how often they occur in text. pyahocorasick looks a character up among a node's
# children in the order they were added, so adding words in this order finds common characters
# first (~10% off a pass).
_FREQUENT = " etaoinsrhldcumfpgwybvkxjqz0123456789.,-_/:'\"()="
_RANK = {c: i for i, c in enumerate(_FREQUENT)}


def _by_frequency(word: str) -> list[int]:
    return [_RANK.get(c, len(_FREQUENT) + ord(c)) for c in word]


def fold_word(word: str) -> str:
    """A keyword as folded() text spells it."""
    return word.lower().translate(_WHITESPACE)


class KeywordIndex:
    """The keyword lists of several detectors in one Aho-Corasick automaton over folded() text.

    Reading a 4 KB text through an automaton costs 20-40 us whatever the number of words (the cost
    is per character), so the scanner gives its detectors one shared index and a text is read once,
    not once per detector. Each detector keeps its own word -> meaning map and skips the others'
    hits. The last text's hits are remembered (by identity, one tuple replaced whole)."""

    def __init__(self) -> None:
        self._words: set[str] = set()
        self._automaton: ahocorasick.Automaton | None = None
        self._last: tuple[str | None, str, list[tuple[int, str]]] = (None, "", [])

    def add(self, words: Iterable[str]) -> None:
        """Register words (already fold_word()ed); the automaton is rebuilt on the next search."""
        new = set(words) - self._words
        if new:
            self._words |= new
            self._automaton = None
            self._last = (None, "", [])

    def hits(self, text: str) -> tuple[str, list[tuple[int, str]]]:
        """(folded(text), [(index of the last character, word)] of every occurrence of every word)."""
        last = self._last
        if last[0] is text:
            return last[1], last[2]
        automaton = self._automaton
        if automaton is None and self._words:
            automaton = ahocorasick.Automaton()
            for word in sorted(self._words, key=_by_frequency):
                automaton.add_word(word, word)
            automaton.make_automaton()
            self._automaton = automaton
        haystack = folded(text)
        found = list(automaton.iter(haystack)) if automaton is not None else []
        self._last = (text, haystack, found)
        return haystack, found


class Detector(Protocol):
    """A detector scans one text; `direction` is "input" (prompt, tool result) or "output" (model text)."""

    name: str

    def scan(self, text: str, direction: str) -> list[Finding]:
        ...
