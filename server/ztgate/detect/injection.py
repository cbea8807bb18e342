"""Prompt injection and jailbreak detection: phrase rules plus a small linear model, pure Python.

Two kinds of evidence, combined into one score in 0..1:

* **Rules** (detect/injection_rules.py): phrases per technique and language (English, German, French,
  Spanish; the core override phrase in Italian, Portuguese, Dutch, Russian, Serbo-Croatian and
  Polish), each with a weight. A rule is tried only at the words that can start it (an anchored match
  at a token), and only where the neighbouring words and the text's vocabulary allow it (the start
  conditions and NEEDS of injection_rules.py), so a text costs one tokenisation and a handful of
  anchored attempts, linear in its length. Rules compile with the standard library's `re` where it
  can (a failed attempt costs a quarter of what it costs in `regex`), else with `regex`.
* **Model** (detect/injection_model.py): logistic regression over word unigrams, word bigrams and
  character 3-5-grams of words, trained by scripts/train_injection.py on the training half of the
  corpora in ../shared/corpora and shipped as detect/models/injection.json (weights only; no
  download, no numpy at run time). Texts longer than `window_tokens` words are scored per window (the
  highest window counts), so an instruction buried in a long document is not averaged away.

Combination (noisy-OR of independent evidence): rule matches that do not overlap combine as
1 - prod(1 - weight); the model's probability is calibrated so that 0.5 is its operating point; the
text's score is 1 - (1 - rules)(1 - model). The detector reports findings when the score reaches the
threshold (default 0.5): one per technique whose own evidence (its rules with the model) reaches it,
typed by technique ("instruction_override", "jailbreak_persona", "prompt_extraction",
"role_delimiter", "indirect_injection"), or "injection_classifier" when only the model fired.

`score(text)` is the number the policy compares with its own threshold; the scanner calls it right
after `scan` on the same text, so the last analysis is memoised (one entry).

The detector does no text normalisation of its own: the scanner hands it text with invisible
characters removed and homoglyphs folded (detect/normalize.py), and rescans decoded payloads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import compress
from pathlib import Path

import regex

from .base import Finding
from .injection_model import (  # the model's names are re-exported (scripts/train_injection.py, tests)
    _WORD_CACHE_MAX,
    MODEL_FORMAT,
    MODEL_PATH,
    FeatureSpec,
    LinearModel,
    _load_model,
    _Tokens,
    char_ngrams,
    features,
    tokenize,
    window_features,
)
from .injection_rules import NEEDS, RULES, TECHNIQUES

__all__ = [
    "CLASSIFIER_TYPE", "DEFAULT_THRESHOLD", "MODEL_FORMAT", "MODEL_PATH", "Analysis", "FeatureSpec",
    "InjectionDetector", "LinearModel", "RuleMatch", "char_ngrams", "features", "tokenize", "window_features",
]

DEFAULT_THRESHOLD = 0.5
CLASSIFIER_TYPE = "injection_classifier"

# An anchored rule may not match more than this many characters after the word it starts at. Every
# rule is far shorter; the bound keeps each attempt constant-time (the `regex` engine otherwise looks
# ahead for a pattern's required literal through the rest of the text, which made many attempts on a
# long text quadratic).
MATCH_WINDOW = 600
# After this many anchored attempts in one text, failed attempts are remembered by (rule, the window
# of text they saw), so a text that repeats itself ("ignore ignore ignore ...") costs one attempt per
# distinct window instead of one per word. Ordinary texts never get there.
MEMO_AFTER_ATTEMPTS = 2_000


# --- rules ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _CompiledRule:
    id: str
    technique: str
    weight: float
    pattern: re.Pattern | regex.Pattern
    looks_behind: bool  # the match depends on text before its start, not only on what follows


@dataclass(frozen=True, slots=True)
class _RuleSet:
    rules: tuple[_CompiledRule, ...]
    # first two letters of a word (or the whole 1-letter word) -> [(rule index, word or prefix, exact?,
    # prefixes the next word must have or None, prefixes the previous word must have or None)]
    by_key: dict[str, tuple[tuple[int, str, bool, tuple[str, ...] | None, tuple[str, ...] | None], ...]]
    # rules searched over the whole text when one of their gate strings occurs (lowercase)
    searched: tuple[tuple[int, tuple[str, ...]], ...]
    # per rule: words one of which the text must contain, or None (injection_rules.NEEDS)
    needs: tuple[frozenset[str] | None, ...]


def _compile(pattern: str, case_sensitive: bool) -> re.Pattern | regex.Pattern:
    """The standard library's `re` when it can compile the pattern (a failed anchored attempt costs
    about a quarter of what it costs in `regex`, which looks ahead for the pattern's required literal
    before matching), else `regex` (variable-width lookbehind)."""
    try:
        return re.compile(pattern, 0 if case_sensitive else re.IGNORECASE)
    except re.error:
        return regex.compile(pattern, regex.V0 if case_sensitive else regex.V0 | regex.IGNORECASE)


def _compile_rules(rules=RULES, needs=NEEDS) -> _RuleSet:
    compiled: list[_CompiledRule] = []
    by_key: dict[str, list[tuple[int, str, bool, tuple[str, ...] | None, tuple[str, ...] | None]]] = {}
    searched: list[tuple[int, tuple[str, ...]]] = []
    for i, rule in enumerate(rules):
        if rule.technique not in TECHNIQUES:
            raise ValueError(f"injection rule {rule.id}: unknown technique {rule.technique}")
        compiled.append(_CompiledRule(
            rule.id, rule.technique, rule.weight, _compile(rule.pattern, rule.id.endswith(":cs")), "(?<" in rule.pattern
        ))
        gates = []
        for start in rule.starts.split():
            if start.startswith("~"):
                gates.append(start[1:].lower())
                continue
            # "[prev|prev<][=]word[/next|next]": see injection_rules.py
            before, _, start = start.lower().rpartition("<")
            exact = start.startswith("=")
            word, _, following = start.lstrip("=").partition("/")
            key = word if len(word) < 2 else word[:2]
            if not exact and len(word) < 2:
                raise ValueError(f"injection rule {rule.id}: prefix {start!r} is too short")
            nexts = tuple(following.split("|")) if following else None
            prevs = tuple(before.split("|")) if before else None
            by_key.setdefault(key, []).append((i, word, exact, nexts, prevs))
        if gates:
            searched.append((i, tuple(gates)))
    unknown = set(needs) - {r.id for r in rules}
    if unknown:
        raise ValueError(f"injection rules NEEDS: unknown rule ids {sorted(unknown)}")
    return _RuleSet(
        tuple(compiled),
        {k: tuple(v) for k, v in by_key.items()},
        tuple(searched),
        tuple(frozenset(needs[r.id].split()) if r.id in needs else None for r in rules),
    )


@lru_cache(maxsize=1)
def _default_rules() -> _RuleSet:
    return _compile_rules()


@dataclass(frozen=True, slots=True)
class RuleMatch:
    rule: str
    technique: str
    weight: float
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Analysis:
    """Everything the detector concluded about one text."""

    score: float  # combined, 0..1
    rule_score: float
    model_score: float  # calibrated probability (0.5 at the operating point)
    matches: tuple[RuleMatch, ...]
    model_span: tuple[int, int]  # the scored window in the text (the whole text unless it is long)


_Context = tuple[tuple[tuple[str, ...] | None, tuple[str, ...] | None], ...]


def _context_ok(context: _Context, words: list[str], k: int, last: int) -> bool:
    """Whether the words around word k meet one of a rule's (next word, previous word) conditions."""
    for nexts, prevs in context:
        if nexts is not None and (k == last or not words[k + 1].startswith(nexts)):
            continue
        if prevs is not None and (k == 0 or not words[k - 1].startswith(prevs)):
            continue
        return True
    return False


def _noisy_or(matches: list[RuleMatch]) -> float:
    """Non-overlapping matches combine as independent evidence; overlapping ones count once (best)."""
    kept: list[RuleMatch] = []
    for m in sorted(matches, key=lambda m: -m.weight):
        if all(m.end <= k.start or m.start >= k.end for k in kept):
            kept.append(m)
    rest = 1.0
    for m in kept:
        rest *= 1.0 - m.weight
    return 1.0 - rest


class InjectionDetector:
    """Detector "injection". Stateless apart from per-process caches; share one per worker."""

    name = "injection"

    def __init__(self, threshold: float = DEFAULT_THRESHOLD, model_path: Path | str | None = MODEL_PATH) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError("injection threshold must be in (0, 1]")
        self.threshold = threshold
        self._rules = _default_rules()
        self._model = _load_model(str(model_path)) if model_path is not None else None
        self._rule_cache: dict[str, tuple[tuple[int, _Context | None], ...]] = {}
        self._memo: tuple[str, Analysis] | None = None

    # -- public API --

    def scan(self, text: str, direction: str = "input") -> list[Finding]:
        """Findings when the text's score reaches the threshold, else none. Both directions are judged
        alike (an instruction to the model in model output is as suspect as in a tool result); the
        policy sees the part and direction in the finding's location."""
        a = self.analyze(text)
        if a.score < self.threshold:
            return []
        return self._findings(a)

    def score(self, text: str) -> float:
        """The combined score in 0..1, also under the threshold (what the policy compares)."""
        return self.analyze(text).score

    def analyze(self, text: str) -> Analysis:
        memo = self._memo
        if memo is not None and (memo[0] is text or memo[0] == text):
            return memo[1]
        a = self._analyze(text)
        self._memo = (text, a)
        return a

    # -- internals --

    def _analyze(self, text: str) -> Analysis:
        if not text:
            return Analysis(0.0, 0.0, 0.0, (), (0, 0))
        tokens = _Tokens(text)
        words = tokens.words
        matches = self._match_rules(text, tokens)
        rule_score = _noisy_or(matches) if matches else 0.0
        model_score, span = 0.0, (0, len(text))
        if self._model is not None and words:
            z, a, b = self._model.logit(words)
            model_score = self._model.probability(z)
            if b - a < len(words):
                end_word = b - 1
                span = (tokens.start(a), min(len(text), tokens.start(end_word) + len(words[end_word])))
        score = 1.0 - (1.0 - rule_score) * (1.0 - model_score)
        return Analysis(score, rule_score, model_score, tuple(matches), span)

    def _candidates(self, word: str) -> tuple[tuple[int, _Context | None], ...]:
        """The rules that may start at this word: (rule index, None when nothing else is asked, else
        the alternatives of (prefixes the next word must have, prefixes the previous word must have))."""
        cache = self._rule_cache
        hit = cache.get(word)
        if hit is not None:
            return hit
        entries = self._rules.by_key.get(word if len(word) < 2 else word[:2], ())
        conds: dict[int, list | None] = {}
        for i, w, exact, nexts, prevs in entries:
            if word == w if exact else word.startswith(w):
                if nexts is None and prevs is None:
                    conds[i] = None
                elif i not in conds or conds[i] is not None:
                    conds.setdefault(i, []).append((nexts, prevs))  # type: ignore[union-attr]
        found = tuple((i, None if c is None else tuple(c)) for i, c in sorted(conds.items()))
        if len(cache) >= _WORD_CACHE_MAX:
            cache.clear()
        cache[word] = found
        return found

    def _match_rules(self, text: str, tokens: _Tokens) -> list[RuleMatch]:
        rules = self._rules.rules
        words = tokens.words
        done: set[int] = set()
        out: list[RuleMatch] = []
        cands = list(map(self._rule_cache.get, words))  # C speed when every word is cached
        if None in cands:
            cand = self._candidates
            cands = [cand(w) if c is None else c for w, c in zip(words, cands)]
        size = len(text)
        last = len(words) - 1
        attempts = 0
        failed: set[tuple[int, str]] = set()
        needs, present, vocabulary = self._rules.needs, {}, None
        for k in compress(range(len(cands)), cands):  # the words that can start a rule, in order
            pos = -1
            for i, context in cands[k]:
                if i in done:
                    continue
                if context is not None and not _context_ok(context, words, k, last):
                    continue
                if needs[i] is not None:
                    ok = present.get(i)
                    if ok is None:
                        if vocabulary is None:
                            vocabulary = set(words)
                        ok = present[i] = not vocabulary.isdisjoint(needs[i])
                    if not ok:
                        continue
                if pos < 0:
                    pos = tokens.start(k)
                r = rules[i]
                end = min(size, pos + MATCH_WINDOW)
                attempts += 1
                key = None
                if attempts > MEMO_AFTER_ATTEMPTS and not r.looks_behind:
                    key = (i, text[pos:end])
                    if key in failed:
                        continue
                m = r.pattern.match(text, pos, end)
                if m is not None and m.end() > m.start():
                    out.append(RuleMatch(r.id, r.technique, r.weight, m.start(), m.end()))
                    done.add(i)
                elif key is not None:
                    failed.add(key)
        low = tokens.low
        for i, gates in self._rules.searched:
            # a one-character search is a memchr, many times faster than a longer one that fails
            if i not in done and any(g[0] in low and g in low for g in gates):
                m = rules[i].pattern.search(text)
                if m is not None and m.end() > m.start():
                    r = rules[i]
                    out.append(RuleMatch(r.id, r.technique, r.weight, m.start(), m.end()))
        return out

    def _findings(self, a: Analysis) -> list[Finding]:
        by_tech: dict[str, list[RuleMatch]] = {}
        for m in a.matches:
            by_tech.setdefault(m.technique, []).append(m)
        keep: list[tuple[str, float, int, int]] = []
        for tech, ms in by_tech.items():
            s = 1.0 - (1.0 - _noisy_or(ms)) * (1.0 - a.model_score)
            best = max(ms, key=lambda m: (m.weight, -m.start))
            if s >= self.threshold:
                keep.append((tech, s, best.start, best.end))
        if not keep:
            if by_tech:  # several weak techniques together: report the strongest, with the total
                tech, ms = max(by_tech.items(), key=lambda kv: _noisy_or(kv[1]))
                best = max(ms, key=lambda m: (m.weight, -m.start))
                keep.append((tech, a.score, best.start, best.end))
            else:
                keep.append((CLASSIFIER_TYPE, a.score, a.model_span[0], a.model_span[1]))
        return [
            Finding(self.name, tech, "high" if s >= 0.9 else "medium", round(s, 4), start, end)
            for tech, s, start, end in sorted(keep, key=lambda k: (k[2], k[0]))
        ]
