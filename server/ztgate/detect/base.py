"""What every detector returns, and the one interface they share.

Detectors are pure and data-driven (patterns, validators, context words, lists), compiled once at
start-up, and fast enough for every request. They see text, never bodies or providers; the scanner
(detect/scanner.py) runs them over an LLMRequest's parts or a response's text and adds where each
finding sits. Findings reach the policy as type and location only, never the matched value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

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


class Detector(Protocol):
    """A detector scans one text; `direction` is "input" (prompt, tool result) or "output" (model text)."""

    name: str

    def scan(self, text: str, direction: str) -> list[Finding]:
        ...
