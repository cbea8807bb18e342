"""The content scanner: one per worker, built once from the detector config, run on every text.

For one text and a direction ("input": prompts, history, tool results; "output": model text) it

1. normalises the text (detect/normalize.py): smuggling findings (invisible characters, bidi
   controls, tag characters, homoglyphs, ANSI escapes, ...) come back in original offsets;
2. runs the direction's detectors on the normalised text and maps their spans back to the original
   (a detector that sets `scans_original_text = True`, like exfil, reads the original instead);
   the pii, secrets and topics keyword lists and the decoder's rot13 words are one Aho-Corasick
   automaton (base.KeywordIndex), so the text is read for keywords once, not once per detector;
3. scans text hidden in Unicode tag characters (found by the normaliser) as its own text, the
   findings covering the tag run in the original, encoding "unicode_tags";
4. rescans every decoded payload (detect/decode.py: base64, hex, rot13, URL, leetspeak) with the
   rescan detectors (pii, secrets, injection by default), the findings covering the encoded segment in
   the original and carrying its `encoding`;
5. dedupes overlapping findings of one type (the highest score wins; a redactable finding's span grows
   to cover what it replaced, so redaction never leaves part of a match behind).

Work is bounded: a text over `max_text_chars` is not scanned (one "oversized_text" finding instead,
for the policy to decide on), decoding is capped in depth and bytes, and every step is linear in the
text. Results for long texts are cached by a digest of the text (never the text itself), because a
chat client resends the whole history on every turn.

The policy sees findings through `policy_findings`: detector, type, severity, score, where (message
index, role, part kind) and encoding, never the matched value.
"""

from __future__ import annotations

import hashlib
import json
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..providers.base import JsonPath, LLMRequest, TextPart
from .base import SEVERITIES, Detector, Finding, KeywordIndex

DEFAULTS_PATH = Path(__file__).with_name("defaults.json")

ALL_DETECTORS = ("pii", "secrets", "injection", "smuggling", "topics", "exfil")
INPUT_DETECTORS = ("pii", "secrets", "injection", "smuggling", "topics")
OUTPUT_DETECTORS = ("pii", "secrets", "smuggling", "exfil", "topics")
RESCAN_DETECTORS = ("pii", "secrets", "injection")  # run on decoded payloads and hidden tag text
DIRECTIONS = ("input", "output")

DEFAULT_MAX_TEXT_CHARS = 262_144
DEFAULT_CACHE_ENTRIES = 1024
CACHE_MIN_CHARS = 512  # shorter texts are cheaper to scan than to hash
# Presence findings (not redactable) of one type kept per text: the policy needs presence and a count,
# not the thousandth URL.
MAX_PRESENCE_PER_TYPE = 32

_SEPARATOR = "\n\n"  # between payloads rescanned together

# What a normaliser and a decoder look like (detect/normalize.py, detect/decode.py).
Normalizer = Callable[[str], tuple[Any, list[Finding]]]
Decoder = Callable[..., list[Any]]


@dataclass(slots=True, frozen=True)
class LocatedFinding:
    """A finding and the request part it was found in."""

    finding: Finding
    message_index: int
    role: str
    kind: str  # "text" | "tool_result" | "tool_call_arguments"
    path: JsonPath


class ScanResult(list[LocatedFinding]):
    """The located findings of a request (a plain list) plus the highest injection score over its parts,
    also below the injection threshold, for the policy to compare with its own."""

    __slots__ = ("injection_score",)

    def __init__(self, items: Iterable[LocatedFinding] = (), injection_score: float = 0.0) -> None:
        super().__init__(items)
        self.injection_score = injection_score


class ScannerConfigError(ValueError):
    """The detector configuration cannot be used."""


# --- config ---


def load_defaults() -> dict[str, Any]:
    """The shipped default detector config (detect/defaults.json)."""
    return json.loads(DEFAULTS_PATH.read_text(encoding="utf-8"))


def merge_config(base: Mapping[str, Any], override: Mapping[str, Any] | None) -> dict[str, Any]:
    """override deep-merged over base: objects merge key by key, anything else replaces, and a null
    removes the key (e.g. {"topics": {"legal_advice": null}} drops one default topic)."""
    merged = dict(base)
    for key, value in (override or {}).items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_config(merged[key], value)
        else:
            merged[key] = value
    return merged


def _section(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = config.get(name) or {}
    if not isinstance(value, Mapping):
        raise ScannerConfigError(f"detect.{name} must be an object")
    return dict(value)


# --- findings ---


def dedupe(findings: list[Finding], max_presence: int = MAX_PRESENCE_PER_TYPE) -> list[Finding]:
    """Overlapping findings of one type collapse into the one with the highest score (a redactable one
    keeps a span covering all of them); at most max_presence non-redactable findings per type.
    Returns the findings ordered by position."""
    if len(findings) < 2:
        return findings
    findings = sorted(findings, key=lambda f: (f.type, f.start, -f.end))
    out: list[Finding] = []
    kept: Finding | None = None
    presence: dict[str, int] = {}
    for f in findings:
        if kept is not None and f.type == kept.type and f.start < kept.end:
            best = f if f.score > kept.score else kept
            if best.redactable or kept.redactable or f.redactable:
                start, end = kept.start, max(kept.end, f.end)
                if (start, end) != (best.start, best.end) or not best.redactable:
                    best = Finding(
                        best.detector, best.type, best.severity, best.score, start, end,
                        True, best.encoding,
                    )  # fmt: skip
            if best is not kept:
                out[-1] = kept = best
            continue
        if not f.redactable:
            n = presence.get(f.type, 0)
            if n >= max_presence:
                continue
            presence[f.type] = n + 1
        out.append(f)
        kept = f
    out.sort(key=lambda f: (f.start, f.end))
    return out


def finding_dict(f: Finding) -> dict[str, Any]:
    """One finding as the policy sees it: what was found, never the matched value."""
    return {
        "detector": f.detector,
        "type": f.type,
        "severity": f.severity,
        "score": round(f.score, 3),
        "redactable": f.redactable,
        "encoding": f.encoding,
    }


def policy_findings(located: Iterable[LocatedFinding]) -> list[dict[str, Any]]:
    """`input.findings` for the policy: what was found and where, never the matched value."""
    return [
        {**finding_dict(lf.finding), "location": {"message_index": lf.message_index, "role": lf.role, "part": lf.kind}}
        for lf in located
    ]


def summary(located: Iterable[LocatedFinding]) -> dict[str, Any]:
    """{"injection_score": highest over the parts, "counts": {type: n}, "max_severity": ...}.

    The injection score is the ScanResult's (which includes scores under the threshold); for a plain
    list it is the highest score of its injection findings.
    """
    counts: dict[str, int] = {}
    worst = -1
    injection = 0.0
    for lf in located:
        f = lf.finding
        counts[f.type] = counts.get(f.type, 0) + 1
        rank = SEVERITIES.index(f.severity) if f.severity in SEVERITIES else 0
        worst = max(worst, rank)
        if f.detector == "injection" and f.score > injection:
            injection = f.score
    score = getattr(located, "injection_score", None)
    if score is not None:
        injection = max(injection, score)
    return {
        "injection_score": round(injection, 3),
        "counts": counts,
        "max_severity": SEVERITIES[worst] if worst >= 0 else None,
    }


# --- the scanner ---


class Scanner:
    """Runs the detectors over texts and requests. Build once per worker (from_config), share freely
    within the worker: the only state is a bounded result cache."""

    def __init__(
        self,
        detectors: Mapping[str, Detector] | Iterable[Detector] = (),
        *,
        normalizer: Normalizer | None = None,
        decoder: Decoder | None = None,
        input_detectors: Iterable[str] = INPUT_DETECTORS,
        output_detectors: Iterable[str] = OUTPUT_DETECTORS,
        rescan_detectors: Iterable[str] = RESCAN_DETECTORS,
        decode_max_depth: int = 2,
        decode_max_bytes: int = 65536,
        max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
        cache_entries: int = DEFAULT_CACHE_ENTRIES,
        keywords: KeywordIndex | None = None,
    ) -> None:
        """detectors by name (or detector objects, named by their .name). Names in the direction lists
        without a detector are skipped, so a scanner runs with whatever detectors exist; "smuggling"
        is the normaliser's own findings and needs a normaliser. keywords: the keyword index the
        detectors share (from_config builds one), kept for measurement."""
        if not isinstance(detectors, Mapping):
            detectors = {d.name: d for d in detectors}
        self.detectors: dict[str, Detector] = dict(detectors)
        self.normalizer = normalizer
        self.decoder = decoder
        self.decode_max_depth = decode_max_depth
        self.decode_max_bytes = decode_max_bytes
        self.max_text_chars = max_text_chars
        self.keywords = keywords
        self._injection = self.detectors.get("injection")
        self._injection_scores = callable(getattr(self._injection, "score", None))
        # direction -> (smuggling on?, [(name, detector, scans original?)], [rescan detectors])
        self._plans: dict[str, tuple[bool, list[tuple[str, Detector, bool]], list[tuple[str, Detector]]]] = {}
        rescan = tuple(rescan_detectors)
        for direction, names in (("input", tuple(input_detectors)), ("output", tuple(output_detectors))):
            unknown = [n for n in names if n not in ALL_DETECTORS and n not in self.detectors]
            if unknown:
                raise ScannerConfigError(f"unknown detectors for {direction}: {unknown}")
            run = [
                (n, self.detectors[n], bool(getattr(self.detectors[n], "scans_original_text", False)))
                for n in names
                if n in self.detectors and n != "smuggling"
            ]
            again = [(n, self.detectors[n]) for n in rescan if n in names and n in self.detectors]
            self._plans[direction] = ("smuggling" in names and normalizer is not None, run, again)
        self._cache: OrderedDict[bytes, tuple[tuple[Finding, ...], float]] | None = (
            OrderedDict() if cache_entries > 0 else None
        )
        self._cache_entries = cache_entries

    # --- construction from policy data ---

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None = None, *, merge_defaults: bool = True) -> "Scanner":
        """A scanner for `data.ztgate.config.detect`, merged over the shipped defaults (defaults.json).

        Imports only the detector modules the config enables.
        """
        cfg = merge_config(load_defaults(), config) if merge_defaults else dict(config or {})
        enabled = cfg.get("enabled", list(ALL_DETECTORS))
        if not isinstance(enabled, list) or not all(isinstance(n, str) for n in enabled):
            raise ScannerConfigError("detect.enabled must be a list of detector names")
        unknown = sorted(set(enabled) - set(ALL_DETECTORS))
        if unknown:
            raise ScannerConfigError(f"detect.enabled: unknown detectors {unknown} (known: {list(ALL_DETECTORS)})")
        directions = _section(cfg, "directions")
        detectors: dict[str, Detector] = {}
        keywords = KeywordIndex()  # one Aho-Corasick pass per text for the pii, secrets and topics words
        if "pii" in enabled:
            from .pii import PiiDetector

            detectors["pii"] = PiiDetector(custom=_section(cfg, "pii").get("custom") or None, keywords=keywords)
        if "secrets" in enabled:
            from .secrets import SecretsDetector

            detectors["secrets"] = SecretsDetector(keywords=keywords)
        if "injection" in enabled:
            from .injection import InjectionDetector

            threshold = _section(cfg, "injection").get("threshold")
            detectors["injection"] = (
                InjectionDetector() if threshold is None else InjectionDetector(threshold=float(threshold))
            )
        if "topics" in enabled:
            from .topics import TopicsDetector

            detectors["topics"] = TopicsDetector(_section(cfg, "topics"), keywords=keywords)
        if "exfil" in enabled:
            from .exfil import ExfilDetector

            detectors["exfil"] = ExfilDetector(list(_section(cfg, "exfil").get("allowed_domains") or []))

        normalizer = None
        if cfg.get("normalize", True) or "smuggling" in enabled:
            from .normalize import normalize

            normalizer = normalize
        decode = _section(cfg, "decode")
        max_depth = int(decode.get("max_depth", 2))
        decoder = None
        if max_depth > 0 and decode.get("enabled", True):
            from .decode import decoder_for

            decoder = decoder_for(keywords)
        scanner_cfg = _section(cfg, "scanner")

        def names(direction: str, default: tuple[str, ...]) -> list[str]:
            listed = directions.get(direction, list(default))
            return [n for n in listed if n in enabled]

        return cls(
            detectors,
            normalizer=normalizer,
            decoder=decoder,
            input_detectors=names("input", INPUT_DETECTORS),
            output_detectors=names("output", OUTPUT_DETECTORS),
            rescan_detectors=decode.get("rescan", RESCAN_DETECTORS),
            decode_max_depth=max_depth,
            decode_max_bytes=int(decode.get("max_bytes", 65536)),
            max_text_chars=int(scanner_cfg.get("max_text_chars", DEFAULT_MAX_TEXT_CHARS)),
            cache_entries=int(scanner_cfg.get("cache_entries", DEFAULT_CACHE_ENTRIES)),
            keywords=keywords,
        )

    def detectors_for(self, direction: str) -> list[str]:
        """The names of what runs for a direction (smuggling included when the normaliser runs)."""
        smuggling, run, _ = self._plan(direction)
        return (["smuggling"] if smuggling else []) + [name for name, _, _ in run]

    # --- scanning ---

    def scan_text(self, text: str, direction: str) -> list[Finding]:
        """Every finding in one text, spans in the text's own offsets, ordered by position."""
        return list(self.scan_text_scored(text, direction)[0])

    def scan_text_scored(self, text: str, direction: str) -> tuple[tuple[Finding, ...], float]:
        """(findings, injection score of this text, 0.0 when injection does not run)."""
        if len(text) > self.max_text_chars:
            return (Finding("scanner", "oversized_text", "medium", 1.0, 0, len(text)),), 0.0
        cache = self._cache
        key = None
        if cache is not None and len(text) >= CACHE_MIN_CHARS:
            key = hashlib.blake2b(
                text.encode("utf-8", "surrogatepass"), digest_size=16, person=direction.encode()[:16]
            ).digest()
            hit = cache.get(key)
            if hit is not None:
                cache.move_to_end(key)
                return hit
        result = self._scan(text, direction)
        if key is not None:
            cache[key] = result
            if len(cache) > self._cache_entries:
                cache.popitem(last=False)
        return result

    def scan_parts(self, parts: Iterable[TextPart], direction: str = "input") -> ScanResult:
        """Located findings over text parts (a request's, or a response's text wrapped in TextParts)."""
        result = ScanResult()
        best = 0.0
        for part in parts:
            findings, score = self.scan_text_scored(part.text, direction)
            if score > best:
                best = score
            for f in findings:
                result.append(LocatedFinding(f, part.message_index, part.role, part.kind, part.path))
        result.injection_score = best
        return result

    def scan_request(self, llm: LLMRequest) -> ScanResult:
        """Every part of a request (system, user, assistant history, tool results, tool call
        arguments) as input."""
        return self.scan_parts(llm.parts, "input")

    policy_findings = staticmethod(policy_findings)
    summary = staticmethod(summary)

    def _plan(self, direction: str) -> tuple[bool, list[tuple[str, Detector, bool]], list[tuple[str, Detector]]]:
        plan = self._plans.get(direction)
        if plan is None:
            raise ValueError(f"direction must be one of {DIRECTIONS}, not {direction!r}")
        return plan

    def _scan(self, text: str, direction: str) -> tuple[tuple[Finding, ...], float]:
        smuggling, run, rescan = self._plan(direction)
        if not text:
            return (), 0.0
        findings: list[Finding] = []
        scanned = text
        to_original: Callable[[int, int], tuple[int, int]] | None = None
        normalized: Any = None
        if self.normalizer is not None:
            normalized, smuggled = self.normalizer(text)
            if smuggling:
                findings += smuggled
            if normalized.text is not text:
                scanned = normalized.text
                # Homoglyph folding keeps offsets: the text changes, the map stays the identity.
                if not getattr(normalized, "is_identity", False):
                    to_original = normalized.to_original
        injection_score = 0.0
        for name, detector, original in run:
            source = text if original else scanned
            found = detector.scan(source, direction)
            if to_original is not None and not original and found:
                found = [_moved(f, *to_original(f.start, f.end)) for f in found]
            findings += found
            if name == "injection":
                injection_score = max(injection_score, self._score(source, found))
        if rescan:
            payloads = list(self._hidden(normalized, scanned, to_original, text))
            if payloads:
                found, score = self._rescan(payloads, rescan, direction)
                findings += found
                injection_score = max(injection_score, score)
        return tuple(dedupe(findings)), injection_score

    def _rescan(
        self, payloads: list[tuple[int, int, str, str]], rescan: list[tuple[str, Detector]], direction: str
    ) -> tuple[list[Finding], float]:
        """Scan decoded/hidden payloads: all of them joined into one text (blank lines between), one
        call per detector, so a text with hundreds of small payloads costs one scan of their total
        (bounded by decode max_bytes), not hundreds of calls; a payload split over several segments is
        also seen whole. Each finding takes the original span (and encoding) of the segments it
        touches."""
        if len(payloads) == 1:
            joined = payloads[0][3]
            offsets = [0]
        else:
            offsets = []
            pieces = []
            pos = 0
            for _, _, _, payload in payloads:
                offsets.append(pos)
                pieces.append(payload)
                pos += len(payload) + len(_SEPARATOR)
            joined = _SEPARATOR.join(pieces)
        out: list[Finding] = []
        score = 0.0
        for name, detector in rescan:
            found = detector.scan(joined, direction)
            for f in found:
                first = max(0, bisect_right(offsets, f.start) - 1)
                last = max(first, bisect_right(offsets, max(f.start, f.end - 1)) - 1)
                start = min(payloads[k][0] for k in range(first, last + 1))
                end = max(payloads[k][1] for k in range(first, last + 1))
                out.append(_moved(f, start, end, payloads[first][2]))
            if name == "injection":
                score = max(score, self._score(joined, found))
        return out, score

    def _score(self, text: str, found: list[Finding]) -> float:
        """The injection score of a text: the detector's own score when it has one (it is the number
        the policy compares, under the threshold too), else the best injection finding."""
        if self._injection_scores:
            return float(self._injection.score(text))  # type: ignore[union-attr]
        return max((f.score for f in found), default=0.0)

    def _hidden(
        self,
        normalized: Any,
        scanned: str,
        to_original: Callable[[int, int], tuple[int, int]] | None,
        text: str,
    ) -> Iterable[tuple[int, int, str, str]]:
        """(start, end in the original, encoding, payload) for text hidden in invisible characters
        (tag characters, variation-selector bytes: spans already original) and for every decoded
        segment of the normalised text."""
        for start, end, payload in getattr(normalized, "hidden", None) or ():
            encoding = "unicode_tags" if start < len(text) and 0xE0000 <= ord(text[start]) <= 0xE007F else (
                "variation_selectors"
            )
            yield start, end, encoding, payload
        if self.decoder is None:
            return
        for seg in self.decoder(scanned, max_depth=self.decode_max_depth, max_bytes=self.decode_max_bytes):
            start, end = (seg.start, seg.end) if to_original is None else to_original(seg.start, seg.end)
            yield start, end, seg.encoding, seg.text


def _moved(f: Finding, start: int, end: int, encoding: str | None = None) -> Finding:
    """f with another span (and, for a decoded payload, its encoding)."""
    if start == f.start and end == f.end and encoding is None:
        return f
    return Finding(f.detector, f.type, f.severity, f.score, start, end, f.redactable, encoding or f.encoding)
