"""PII detector: Presidio-style pattern recognizers (detect/pii_rules.py), run where they can match.

Why windows: in Python every regex pass over a 4 KB prompt costs tens of microseconds, so thirty
recognizers each scanning the whole text would cost a millisecond per message. Instead a few cheap
triggers find where anything can be (runs of 4+ digits; colon/dash/dot-separated hex groups; the
literals "@", "0x", "bc1"), and each recognizer runs only inside those windows (with pos/endpos, so
offsets stay those of the text). Recognizers that need context are skipped when none of their context
words occurs in the text at all. Ordinary chat text therefore costs a handful of passes, and every
pattern starts at a token boundary with bounded quantifiers, so the work stays linear in the text.

Scoring follows Presidio: a validated match gets its rule's base score, context words shortly before
(or after) it add CONTEXT_BOOST, and findings below `min_score` are not reported. Overlapping findings
are resolved like Presidio's analyzer: a finding inside another one of higher rank is dropped.

Phone numbers: candidates (7-15 digits in phone-like groups) are confirmed with libphonenumber's
PhoneNumberMatcher at leniency VALID on the candidate only, trying `phone_regions` in order (numbers
written with + need none). A candidate libphonenumber rejects is still reported when phone context
words surround it (score 0.2 + boost), since many real numbers are written without a region prefix.

`direction` does not change what is PII; it is accepted for the Detector protocol.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import ahocorasick
import phonenumbers
import regex

from .base import SEVERITIES, Finding
from .pii_rules import CONTEXT_AFTER, CONTEXT_BEFORE, CONTEXT_BOOST, DIGIT_MARGINS, RULES, RUN_DIGITS, Rule

DEFAULT_PHONE_REGIONS: tuple[str, ...] = ("US", "GB")
CUSTOM_TIMEOUT_S = 0.1  # a custom pattern (policy data) that backtracks this long fails the scan

# trigger name -> (patterns or literals, chars before, chars after). Each trigger pattern starts with
# a literal or a digit, which the regex engine skips to quickly; an alternation of them would not be.
_TRIGGERS: dict[str, tuple[tuple, int, int]] = {
    "digits": ((regex.compile(r"[0-9](?:[ \-./()]{0,2}[0-9]){3,255}"),), 32, 24),
    "hexsep": (
        (
            regex.compile(r":[0-9A-Fa-f]{0,4}:"),
            regex.compile(r"-[0-9A-Fa-f]{2}-[0-9A-Fa-f]{2}-"),
            regex.compile(r"\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}"),
        ),
        45,
        50,
    ),
    "at": (("@",), 70, 260),
}
_NO_KWARGS: dict = {}
_CUSTOM_KEYS = {"type", "pattern", "severity", "score", "context"}
_PHONE_SEPARATORS = frozenset(" -.()/+")
_NANP = regex.compile(r"1?[2-9][0-9]{2}[2-9][0-9]{6}(?:ext\.?[0-9]{1,6}|extension[0-9]{1,6})?")
# A date or timestamp ("2015-12-22 04" before ":05") that some region's numbering plan would accept.
_DATE_LIKE = regex.compile(r"(?:[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}|[0-9]{1,2}[./-][0-9]{1,2}[./-](?:[0-9]{4}|[0-9]{2}))(?:[ T][0-9]{1,2})?")


@dataclass(frozen=True, slots=True)
class _Compiled:
    index: int
    rule: Rule
    regex: regex.Pattern
    context: regex.Pattern | None
    custom: bool
    needs_context: bool  # base score below min_score: reportable only with context
    run_digits: tuple[int, int]


class PiiDetector:
    """Finds personal data: email, phone_number, credit_card, iban, us_ssn, ip_address, mac_address,
    date_of_birth, national_id, passport, crypto_wallet, postal_code, street_address, person_name,
    plus custom types from policy data. All findings are redactable."""

    name = "pii"

    def __init__(
        self,
        custom: list[dict] | None = None,
        *,
        min_score: float = 0.5,
        phone_regions: tuple[str, ...] = DEFAULT_PHONE_REGIONS,
    ) -> None:
        self.min_score = min_score
        self.phone_regions = tuple(phone_regions)
        rules = [(r, False) for r in RULES] + [(_custom_rule(i, e), True) for i, e in enumerate(custom or [])]
        self._rules = [self._compile(i, r, c) for i, (r, c) in enumerate(rules)]
        # One Aho-Corasick pass over the lowered text finds every `requires` literal and every context
        # word of the rules that need context (a Python `in` per literal would cost ~2 us each).
        self._literals = ahocorasick.Automaton()
        words = {lit for r, _ in rules for lit in r.requires}
        words |= {w for cr in self._rules if cr.needs_context for w in cr.rule.context}
        for word in words:
            self._literals.add_word(word, word)
        self._literals.make_automaton()

    def _compile(self, index: int, rule: Rule, custom: bool) -> _Compiled:
        ctx = None
        if rule.context:
            words = "|".join(regex.escape(w) for w in sorted(rule.context, key=len, reverse=True))
            ctx = regex.compile(r"(?<!\w)(?:" + words + r")(?!\w)", regex.IGNORECASE)
        needs = rule.score < self.min_score
        return _Compiled(index, rule, regex.compile(rule.pattern), ctx, custom, needs, RUN_DIGITS.get(rule.label, (4, 255)))

    def scan(self, text: str, direction: str = "input") -> list[Finding]:
        """Findings in `text` (str offsets), at most one per span, highest-ranked first kept."""
        return [f for _, f in self.matches(text)]

    def matches(self, text: str) -> list[tuple[str, Finding]]:
        """Like scan, with each finding's recognizer label ("es_dni", "us_ssn", ...): what fired."""
        if not text:
            return []
        seen = self._find_literals(text)  # literal/context word -> start offsets in text.lower()
        windows: dict[str, list[tuple[int, int]]] = {}
        runs: list[tuple[int, int, int, bool]] | None = None
        found: dict[tuple[int, int, int], tuple[tuple, str, Finding]] = {}
        for cr in self._rules:
            rule = cr.rule
            if rule.scope == "digits":
                if runs is None:
                    runs = _digit_runs(text)
                low, high = cr.run_digits
                todo = [(s, e) for s, e, nd, spaced in runs if low <= nd and (spaced or nd <= high)]
                if cr.needs_context:  # only runs with one of the rule's context words close by
                    near = sorted(i for w in rule.context for i in seen.get(w, ()))
                    todo = [(s, e) for s, e in todo if _any_between(near, s - CONTEXT_BEFORE - 3, e + CONTEXT_AFTER)]
                spans = _merge(todo, *DIGIT_MARGINS.get(rule.label, (4, 12)), len(text))
            elif rule.requires:
                if not any(lit in seen for lit in rule.requires):
                    continue
                spans = _near_windows(text, seen, rule)
            else:
                if rule.scope not in windows:
                    windows[rule.scope] = _windows(text, rule.scope)
                spans = windows[rule.scope]
            for start, end in spans:
                for s, e, score in self._rule_hits(cr, text, start, end):
                    if cr.context is not None and score < 1.0 and _has_context(cr.context, text, s, e):
                        score = min(1.0, score + CONTEXT_BOOST)
                    if score + 1e-9 < self.min_score or (cr.index, s, e) in found:
                        continue
                    finding = Finding("pii", rule.type, rule.severity, round(score, 3), s, e, redactable=True)
                    found[(cr.index, s, e)] = ((score, e - s, -cr.index), rule.label, finding)
        return _resolve(list(found.values()))

    def _find_literals(self, text: str) -> dict[str, list[int]]:
        seen: dict[str, list[int]] = {}
        low = text.lower()
        if len(low) != len(text):  # a few characters lower to two; offsets would drift: search everywhere
            return {lit: [-1] for _, lit in self._literals.iter(low)}
        if not self._literals:
            return seen
        for end, lit in self._literals.iter(low):
            seen.setdefault(lit, []).append(end - len(lit) + 1)
        return seen

    def _rule_hits(self, cr: _Compiled, text: str, start: int, end: int) -> list[tuple[int, int, float]]:
        """(start, end, base score) of validated matches of one rule inside one window."""
        rule, hits = cr.rule, []
        kwargs = {"timeout": CUSTOM_TIMEOUT_S} if cr.custom else _NO_KWARGS
        for m in cr.regex.finditer(text, start, end, **kwargs):
            if m.end() == end < len(text):  # the window may have cut the match short: look further
                m = cr.regex.match(text, m.start(), min(len(text), end + 256), **kwargs) or m
            s, e = m.span(rule.group) if rule.group else m.span()
            if "lead" in cr.regex.groupindex and m.start("lead") >= 0:
                s = m.start("lead")
            if s == e:
                continue
            if rule.refine == "phone":
                hits += self._phone_hits(text, s, e)
                continue
            value = text[s:e]
            if rule.validator is not None and not rule.validator(value):
                if not rule.shrink:
                    continue
                value = _shrink(value, rule.validator)
                if value is None:
                    continue
                e = s + len(value)
            hits.append((s, e, rule.score_of(value) if rule.score_of else rule.score))
        return hits

    def _phone_hits(self, text: str, s: int, e: int) -> list[tuple[int, int, float]]:
        """Confirm a phone candidate with libphonenumber; fall back to context-only (score 0.2).

        The candidate regex already bounds the number (no letter or digit glued to either end), so
        parse + is_valid_number is what PhoneNumberMatcher's leniency VALID checks, at a fifth of its
        cost (~20 us against ~95 us per call). A candidate that swallowed a following number
        ("415-555-0132 2") is retried without its last group."""
        if text[max(0, s - 2) : s] == "(+":  # the pattern starts at a digit, so it is fast to find
            s -= 2
        elif s and text[s - 1] in "+(" and (s < 2 or not text[s - 2].isalnum()):
            s -= 1
        candidate = text[s:e]
        if not 7 <= _phone_digits(candidate) <= 15 or _DATE_LIKE.fullmatch(candidate):
            return []
        value = candidate
        for _ in range(3):
            if self._phone_valid(value):
                return [(s, s + len(value), 0.7 if _PHONE_SEPARATORS.intersection(value) else 0.45)]
            cut = max(value.rfind(" "), value.rfind("-"), value.rfind("."))
            if cut <= 0:
                break
            value = value[:cut].rstrip(" (")
            if _phone_digits(value) < 7:
                break
        return [(s, e, 0.2)]

    def _phone_valid(self, value: str) -> bool:
        """Valid in the first region, or (numbers written with a trunk 0) in a later one; numbers with
        + need no region. Trying later regions only for 0-prefixed numbers keeps the cost down."""
        national = not value.lstrip("(").startswith("+")
        for i, region in enumerate(self.phone_regions if national else self.phone_regions[:1]):
            if i and not value.lstrip("(").startswith("0"):
                break
            if region == "US" and national and not _NANP.fullmatch(value.translate(_RUN_SEPARATORS).split("x")[0]):
                continue  # area code and exchange start 2-9: rejects a third of look-alikes without parsing
            try:
                number = phonenumbers.parse(value, region)
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_valid_number(number):
                return True
        return False


def _custom_rule(i: int, entry: object) -> Rule:
    """A recognizer from policy data; anything malformed is a ValueError naming the entry."""
    where = f"pii custom pattern #{i}"
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: expected an object, got {type(entry).__name__}")
    where += f" ({entry.get('type')!r})"
    unknown = set(entry) - _CUSTOM_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)} (allowed: {sorted(_CUSTOM_KEYS)})")
    type_, pattern = entry.get("type"), entry.get("pattern")
    severity, score, context = entry.get("severity", "medium"), entry.get("score", 0.8), entry.get("context", [])
    if not isinstance(type_, str) or not type_:
        raise ValueError(f"{where}: 'type' must be a non-empty string")
    if not isinstance(pattern, str) or not pattern:
        raise ValueError(f"{where}: 'pattern' must be a non-empty string")
    if severity not in SEVERITIES:
        raise ValueError(f"{where}: 'severity' must be one of {SEVERITIES}")
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not 0 <= score <= 1:
        raise ValueError(f"{where}: 'score' must be a number in [0, 1]")
    if not isinstance(context, list) or not all(isinstance(w, str) and w for w in context):
        raise ValueError(f"{where}: 'context' must be a list of non-empty strings")
    try:
        compiled = regex.compile(pattern)
    except (regex.error, TypeError) as exc:
        raise ValueError(f"{where}: bad regex {pattern!r}: {exc}") from None
    if compiled.match(""):
        raise ValueError(f"{where}: pattern {pattern!r} matches the empty string")
    return Rule(type_, type_, severity, pattern, float(score), None, tuple(w.lower() for w in context), scope="text")


_RUN_SEPARATORS = str.maketrans("", "", " -./()")


def _digit_runs(text: str) -> list[tuple[int, int, int, bool]]:
    """(start, end, number of digits, has a space) of each run the "digits" trigger finds.

    A run of more than 40 digits with no separator cannot hold an entity (each needs a non-digit on
    both sides, and none is that long), so it is dropped: a 64 KB string of digits costs one pass."""
    runs = []
    for m in _TRIGGERS["digits"][0][0].finditer(text):
        run = m.group()
        digits = len(run.translate(_RUN_SEPARATORS))
        if digits <= 40 or digits != len(run):
            runs.append((m.start(), m.end(), digits, " " in run))
    return runs


def _any_between(sorted_positions: list[int], low: int, high: int) -> bool:
    """Whether a position lies in [low, high]; -1 (offsets unknown) counts as anywhere."""
    if sorted_positions and sorted_positions[0] == -1:
        return True
    i = bisect.bisect_left(sorted_positions, low)
    return i < len(sorted_positions) and sorted_positions[i] <= high


def _phone_digits(value: str) -> int:
    """Digits of the number itself, not of an extension."""
    for mark in ("x", "ext"):
        value = value.split(mark)[0]
    return sum(c.isdigit() for c in value)


def _windows(text: str, scope: str) -> list[tuple[int, int]]:
    """Merged [start, end) windows where a rule of this scope can match."""
    if scope == "text":
        return [(0, len(text))]
    triggers, before, after = _TRIGGERS[scope]
    spans: list[tuple[int, int]] = []
    for trigger in triggers:
        if isinstance(trigger, str):
            i = text.find(trigger)
            while i >= 0:
                spans.append((i, i + len(trigger)))
                i = text.find(trigger, i + 1)
        else:
            spans += [m.span() for m in trigger.finditer(text)]
    return _merge(spans, before, after, len(text))


def _near_windows(text: str, seen: dict[str, list[int]], rule: Rule) -> list[tuple[int, int]]:
    """Windows around each occurrence of the rule's `requires` literals."""
    starts = [i for lit in rule.requires for i in seen.get(lit, ())]
    if -1 in starts:
        return [(0, len(text))]
    before, after = rule.near
    return _merge([(i, i + 1) for i in starts], before, after, len(text))


def _merge(spans: list[tuple[int, int]], before: int, after: int, n: int) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        s, e = max(0, s - before), min(n, e + after)
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def _has_context(ctx: regex.Pattern, text: str, s: int, e: int) -> bool:
    return bool(ctx.search(text, max(0, s - CONTEXT_BEFORE), s) or ctx.search(text, e, e + CONTEXT_AFTER))


def _shrink(value: str, validator: object) -> str | None:
    """Drop trailing separated groups ("4111 1111 1111 1111 2" -> the card) until the value validates."""
    for _ in range(3):
        cut = max(value.rfind(" "), value.rfind("-"))
        if cut <= 0:
            return None
        value = value[:cut]
        if validator(value):  # type: ignore[operator]
            return value
    return None


def _resolve(found: list[tuple[tuple, str, Finding]]) -> list[tuple[str, Finding]]:
    """Drop every finding contained in a higher-ranked one (rank: score, length, rule order).

    A sweep over findings sorted by start keeps only those still open; each rule's matches never
    overlap, so at most one per rule is open at any point and the sweep is linear in the findings."""
    found.sort(key=lambda x: (x[2].start, -x[2].end, tuple(-v for v in x[0])))
    active: list[tuple[tuple, str, Finding]] = []
    kept: list[tuple[str, Finding]] = []
    for item in found:
        rank, label, f = item
        active = [a for a in active if a[2].end > f.start]
        if not any(a[2].end >= f.end and a[0] > rank for a in active):
            kept.append((label, f))
        active.append(item)
    return kept
