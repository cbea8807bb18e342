"""PII detector: Presidio-style pattern recognizers (detect/pii_rules.py), run where they can match.

Why triggers: in Python every regex pass over a 4 KB prompt costs tens of microseconds, so thirty
recognizers each scanning the whole text would cost a millisecond per message. Instead a few cheap
passes (detect/pii_triggers.py) find where anything can be, and each recognizer runs only inside the
windows of its `scope` (with pos/endpos, so offsets stay those of the text): near runs of digits whose
shape it can match (a rule that needs context only when one of its context words sits near the run),
on ASCII tokens of its length, near hex groups, near its `requires` literals (found by the one
Aho-Corasick pass over the folded text that the scanner's detectors share, base.KeywordIndex), or on
the whole text for patterns that start with a literal the regex engine skips to ("@"). Ordinary chat
text therefore costs a handful of C-level passes, and every pattern starts at a token boundary with
bounded quantifiers, so the work stays linear in the text.

Scoring follows Presidio: a validated match gets its rule's base score, context words shortly before
(or after) it add CONTEXT_BOOST, and findings below `min_score` are not reported. Overlapping findings
are resolved like Presidio's analyzer: a finding inside another one of higher rank is dropped.

Phone numbers: candidates (7-15 digits in phone-like groups) are confirmed with libphonenumber
(parse + is_valid_number) on the candidate only, trying `phone_regions` in order (numbers written
with + need none). A candidate libphonenumber rejects is still reported when phone context words
surround it (score 0.2 + boost), since many real numbers are written without a region prefix.

`direction` does not change what is PII; it is accepted for the Detector protocol.
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
import regex

from . import pii_triggers as triggers
from .base import SEVERITIES, Finding, KeywordIndex, fold_word
from .pii_rules import (
    CONTEXT_AFTER, CONTEXT_BEFORE, CONTEXT_BOOST, DIGIT_MARGINS, RULES, RUN_CHARS, RUN_DIGITS, RUN_GROUP,
    TOKEN_CHARS, Rule,
)  # fmt: skip

DEFAULT_PHONE_REGIONS: tuple[str, ...] = ("US", "GB")
CUSTOM_TIMEOUT_S = 0.1  # a custom pattern (policy data) that backtracks this long fails the scan
_NO_KWARGS: dict = {}
_CUSTOM_KEYS = {"type", "pattern", "severity", "score", "context"}
_PHONE_SEPARATORS = frozenset(" -.()/+")
_NANP = regex.compile(r"1?[2-9][0-9]{2}[2-9][0-9]{6}(?:ext\.?[0-9]{1,6}|extension[0-9]{1,6})?")
# A date or timestamp ("2015-12-22 04" before ":05") that some region's numbering plan would accept.
_DATE_LIKE = regex.compile(r"(?:[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}|[0-9]{1,2}[./-][0-9]{1,2}[./-](?:[0-9]{4}|[0-9]{2}))(?:[ T][0-9]{1,2})?")
_WORD_CHAR = regex.compile(r"\w")


@dataclass(frozen=True, slots=True)
class _Compiled:
    index: int
    rule: Rule
    regex: regex.Pattern
    context_words: frozenset[str]  # fold_word()ed, like the text they are looked up in
    requires: frozenset[str]  # fold_word()ed
    custom: bool
    needs_context: bool  # base score below min_score: reportable only with context
    run_digits: tuple[int, int]
    run_group: int  # longest group of digits without a separator the run must hold
    run_chars: str  # separators the run must hold one of
    margins: tuple[int, int]  # scope "digits": chars before/after a run; "token": token length range
    lead: bool  # the pattern captures a "lead" group that moves the start back


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
        keywords: KeywordIndex | None = None,
    ) -> None:
        """keywords: the index the scanner shares between its detectors (one pass per text)."""
        self.min_score = min_score
        self.phone_regions = tuple(phone_regions)
        rules = [(r, False) for r in RULES] + [(_custom_rule(i, e), True) for i, e in enumerate(custom or [])]
        compiled = [self._compile(i, r, c) for i, (r, c) in enumerate(rules)]
        self._digit_rules = [cr for cr in compiled if cr.rule.scope == "digits" and not cr.rule.requires]
        self._other_rules = [cr for cr in compiled if cr not in self._digit_rules]
        self._by_shape: dict[triggers.Shape, tuple[list[_Compiled], list[_Compiled]]] = {}  # run shape -> rules
        # Literals: the `requires` words of "near" rules (in the keyword index: the whole text) and the
        # rules' context words (searched only around digit runs and matches).
        self._requires = frozenset(lit for cr in compiled for lit in cr.requires)
        self._keywords = keywords if keywords is not None else KeywordIndex()
        self._keywords.add(self._requires)
        words = {w for cr in compiled for w in cr.context_words}
        self._context_words = triggers.automaton(words)
        self._longest_word = max(map(len, words), default=0)

    def _compile(self, index: int, rule: Rule, custom: bool) -> _Compiled:
        pattern = regex.compile(rule.pattern)
        margins = TOKEN_CHARS.get(rule.label, (0, 0)) if rule.scope == "token" else DIGIT_MARGINS.get(rule.label, (4, 12))
        if rule.scope == "token" and margins[0] < triggers.TOKEN_MIN:
            raise ValueError(f"pii rule {rule.label}: tokens shorter than {triggers.TOKEN_MIN} are not looked for")
        return _Compiled(
            index, rule, pattern, frozenset(map(fold_word, rule.context)), frozenset(map(fold_word, rule.requires)),
            custom, rule.score < self.min_score,
            RUN_DIGITS.get(rule.label, (4, 255)), RUN_GROUP.get(rule.label, 0), RUN_CHARS.get(rule.label, ""), margins,
            "lead" in pattern.groupindex,
        )  # fmt: skip

    def scan(self, text: str, direction: str = "input") -> list[Finding]:
        """Findings in `text` (str offsets), at most one per span, highest-ranked first kept."""
        return [f for _, f in self.matches(text)]

    def matches(self, text: str) -> list[tuple[str, Finding]]:
        """Like scan, with each finding's recognizer label ("es_dni", "us_ssn", ...): what fired."""
        if not text:
            return []
        haystack, hits = self._keywords.hits(text)  # folded text: same length, same offsets
        found: dict[tuple[int, int, int], tuple[tuple, str, Finding]] = {}
        for cr, spans in self._digit_windows(text, haystack):
            self._run(cr, text, haystack, spans, found)
        seen: dict[str, list[int]] | None = None
        codes: bytes | None = None  # the text one byte per character, for the hexsep and token triggers
        hexsep: list[tuple[int, int]] | None = None
        tokens: list[tuple[int, int]] | None = None
        for cr in self._other_rules:
            rule = cr.rule
            if cr.requires:
                if seen is None:
                    seen = triggers.literal_starts(hits, self._requires)
                if cr.requires.isdisjoint(seen):  # iterates the (few) literals seen
                    continue
                spans = triggers.near_windows(seen, cr.requires, cr.rule.near, len(text))
            elif rule.scope == "hexsep":
                codes = triggers.ascii_codes(text) if codes is None else codes
                hexsep = triggers.hexsep_windows(codes) if hexsep is None else hexsep
                spans = hexsep
            elif rule.scope == "token":
                codes = triggers.ascii_codes(text) if codes is None else codes
                tokens = triggers.alnum_tokens(codes) if tokens is None else tokens
                low_len, high_len = cr.margins
                spans = [(s, e) for s, e in tokens if low_len <= e - s <= high_len]
            else:
                spans = [(0, len(text))]
            self._run(cr, text, haystack, spans, found)
        return _resolve(list(found.values()))

    def _digit_windows(self, text: str, haystack: str) -> list[tuple[_Compiled, list[tuple[int, int]]]]:
        """(rule, merged windows) for every digit rule that some run of digits can hold; `haystack` is
        the folded text, where context words are looked for."""
        by_shape: dict[triggers.Shape, list[tuple[int, int]]] = {}  # runs of one shape suit the same rules
        for s, e, shape in triggers.digit_runs(text):
            by_shape.setdefault(shape, []).append((s, e))
        todo: dict[int, list[tuple[int, int]]] = {}
        for shape, runs in by_shape.items():
            plain, contextual = self._shape(shape)
            for cr in plain:
                todo.setdefault(cr.index, []).extend(runs)
            if not contextual:
                continue
            for s, e in runs:
                near = self._context_near(haystack, s - CONTEXT_BEFORE - 3, e + CONTEXT_AFTER)
                if near:
                    for cr in contextual:
                        if not cr.context_words.isdisjoint(near):
                            todo.setdefault(cr.index, []).append((s, e))
        out: list[tuple[_Compiled, list[tuple[int, int]]]] = []
        merged: dict[tuple, list[tuple[int, int]]] = {}  # most rules share their runs and margins
        for cr in self._digit_rules:
            if cr.index in todo:
                key = (tuple(todo[cr.index]), cr.margins)
                spans = merged.get(key)
                if spans is None:
                    spans = merged[key] = triggers.merge(todo[cr.index], *cr.margins, len(text))
                out.append((cr, spans))
        return out

    def _shape(self, shape: triggers.Shape) -> tuple[list[_Compiled], list[_Compiled]]:
        """(rules without, rules with a context requirement) that may match near a run of this shape
        (see pii_triggers.digit_runs): at least the rule's fewest digits, the digits of one number it
        can hold within the rule's range, its longest group of digits in a row and its separator."""
        hit = self._by_shape.get(shape)
        if hit is None:
            nd, sums, group, seps = shape
            fits = [
                cr for cr in self._digit_rules
                if cr.run_digits[0] <= nd and group >= cr.run_group
                and (sums is None or any(cr.run_digits[0] <= n <= cr.run_digits[1] for n in sums))
                and (not cr.run_chars or any(c in seps for c in cr.run_chars))
            ]  # fmt: skip
            hit = ([cr for cr in fits if not cr.needs_context], [cr for cr in fits if cr.needs_context])
            if len(self._by_shape) < 4096:
                self._by_shape[shape] = hit
        return hit

    def _context_near(self, haystack: str, start: int, end: int) -> set[str]:
        """Context words that start in [start, end] of the folded text."""
        words: set[str] = set()
        if not self._longest_word:
            return words
        start = max(0, start)
        # A slice: pyahocorasick reads the whole string it is given, even with start/end.
        for last, word in self._context_words.iter(haystack[start : end + self._longest_word]):
            if start + last - len(word) + 1 <= end:
                words.add(word)
        return words

    def _has_context(self, cr: _Compiled, text: str, haystack: str, s: int, e: int) -> bool:
        """Whether one of the rule's context words, as a whole word in any case, ends within
        CONTEXT_BEFORE characters before [s, e) or starts within CONTEXT_AFTER after it: an
        Aho-Corasick pass over those few characters of the folded text, each hit checked on the text."""
        if not cr.context_words:
            return False
        return self._context_in(cr, text, haystack, max(0, s - CONTEXT_BEFORE), s) or self._context_in(
            cr, text, haystack, e, min(len(text), e + CONTEXT_AFTER)
        )

    def _context_in(self, cr: _Compiled, text: str, haystack: str, lo: int, hi: int) -> bool:
        """A context word of the rule inside [lo, hi), not glued to a word character (the window's
        end counts as a boundary, as a regex search with endpos would)."""
        for last, word in self._context_words.iter(haystack[lo:hi]):  # a slice (see _context_near)
            if word not in cr.context_words:
                continue
            a, b = lo + last - len(word) + 1, lo + last + 1
            if (a and _WORD_CHAR.match(text, a - 1)) or (b < hi and _WORD_CHAR.match(text, b)):
                continue
            if " " in word and text[a:b].lower() != word:  # folded text has other spaces as " "
                continue
            return True
        return False

    def _run(self, cr: _Compiled, text: str, haystack: str, spans: list[tuple[int, int]],
             found: dict[tuple[int, int, int], tuple[tuple, str, Finding]]) -> None:
        """Run one rule in its windows; score its validated matches into `found`."""
        rule = cr.rule
        for s, e, score in self._rule_hits(cr, text, haystack, spans):
            if score < 1.0 and self._has_context(cr, text, haystack, s, e):
                score = min(1.0, score + CONTEXT_BOOST)
            if score + 1e-9 < self.min_score or (cr.index, s, e) in found:
                continue
            finding = Finding("pii", rule.type, rule.severity, round(score, 3), s, e, redactable=True)
            found[(cr.index, s, e)] = ((score, e - s, -cr.index), rule.label, finding)

    def _rule_hits(
        self, cr: _Compiled, text: str, haystack: str, spans: list[tuple[int, int]]
    ) -> list[tuple[int, int, float]]:
        """(start, end, base score) of validated matches of one rule inside its windows."""
        rule, hits = cr.rule, []
        kwargs = {"timeout": CUSTOM_TIMEOUT_S} if cr.custom else _NO_KWARGS
        search = cr.regex.search  # a search loop is finditer without its per-call setup (~0.4 us)
        for start, end in spans:
            last = pos = start  # a lead group may look back over an earlier match: keep matches apart
            while pos <= end:
                m = search(text, pos, end, **kwargs)
                if m is None:
                    break
                pos = m.end() if m.end() > m.start() else m.end() + 1
                if m.end() == end < len(text):  # the window may have cut the match short: look further
                    whole = cr.regex.match(text, m.start(), min(len(text), end + 256), **kwargs)
                    if whole is None:  # it matched only because the window ended ("1234" of "12345")
                        pos = m.start() + 1
                        continue
                    m = whole
                s, e = m.span(rule.group) if rule.group else m.span()
                if cr.lead and m.start("lead") >= 0:
                    s = m.start("lead")
                    if s < last:
                        continue
                if s == e:
                    continue
                last = e
                if rule.refine == "phone":
                    hits += self._phone_hits(cr, text, haystack, s, e)
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

    def _phone_hits(self, cr: _Compiled, text: str, haystack: str, s: int, e: int) -> list[tuple[int, int, float]]:
        """Confirm a phone candidate with libphonenumber; fall back to context-only (score 0.2).

        The candidate regex already bounds the number (no letter or digit glued to either end), so
        parse + is_valid_number is what PhoneNumberMatcher's leniency VALID checks, at a fifth of its
        cost (~20 us against ~95 us per call). A candidate that swallowed a following number
        ("415-555-0132 2") is retried without its last group. A bare run of digits ("4500012345")
        with no phone word near it is not looked up: valid (0.45) or not (0.2), it stays under
        min_score, so an order number or an id costs a context check, not a parse."""
        if text[max(0, s - 2) : s] == "(+":  # the pattern starts at a digit, so it is fast to find
            s -= 2
        elif s and text[s - 1] in "+(" and (s < 2 or not text[s - 2].isalnum()):
            s -= 1
        candidate = text[s:e]
        if not 7 <= _phone_digits(candidate) <= 15 or _DATE_LIKE.fullmatch(candidate):
            return []
        if (
            self.min_score > 0.45 and not _PHONE_SEPARATORS.intersection(candidate)
            and not self._has_context(cr, text, haystack, s, e)
        ):  # fmt: skip
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
        compact = value.translate(triggers.RUN_SEPARATORS)
        # parse skips the punctuation anyway, and is a quarter faster without it; a number with an
        # extension is parsed as written ("ext" is read from the text)
        query = compact if compact.lstrip("+").isdigit() else value
        for i, region in enumerate(self.phone_regions if national else self.phone_regions[:1]):
            if i and not value.lstrip("(").startswith("0"):
                break
            if region == "US" and national and not _NANP.fullmatch(compact.split("x")[0]):
                continue  # area code and exchange start 2-9: rejects a third of look-alikes without parsing
            try:
                number = phonenumbers.parse(query, region)
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


def _phone_digits(value: str) -> int:
    """Digits of the number itself, not of an extension."""
    for mark in ("x", "ext"):
        value = value.split(mark)[0]
    return sum(c.isdigit() for c in value)


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
