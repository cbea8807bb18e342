"""The injection detector's model: its words, its features and the linear model over them.

Pure Python at run time (no numpy). scripts/train_injection.py fits the weights with scikit-learn on
exactly `features`; `LinearModel.logit` computes the same dot product faster, from per-word sums
cached across texts (a word's unigram weight plus its character n-grams' weights) and bigram weights
looked up by word pair. `_Tokens` is shared with the rules (detect/injection.py), so that both see the
same words, and hands out word offsets only when the rules ask for them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate, compress, count, islice, repeat
from pathlib import Path

import orjson

MODEL_PATH = Path(__file__).with_name("models") / "injection.json"
MODEL_FORMAT = "ztgate-injection-linear/1"

# Words: what both the rules' dispatch and the model see (lowercased). The standard library's `re`
# splits text about a third faster than `regex`; a word is a run of str.isalnum() characters and "_".
_TOKEN = re.compile(r"\w+")
_SPLIT = re.compile(r"(\w+)")  # separators and words alternate; their lengths give word offsets
_WORD_CACHE_MAX = 200_000  # word -> model contribution and word -> candidate rules, per process


# --- model features (shared with scripts/train_injection.py, which must featurise identically) ---------


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    char_min: int = 3
    char_max: int = 5
    max_word_chars: int = 30  # longer tokens (hashes, base64) get no character n-grams


def char_ngrams(word: str, spec: FeatureSpec) -> list[str]:
    """The character n-grams of one word, padded with a space at each end (repeats kept)."""
    if len(word) > spec.max_word_chars:
        return []
    padded = f" {word} "
    size = len(padded)
    return [padded[i : i + n] for n in range(spec.char_min, spec.char_max + 1) for i in range(size - n + 1)]


# Latin-1 byte -> itself if str.isalnum() or "_" (what `re` calls a word character), else a space.
_SPACE_NON_WORD = bytes(b if chr(b).isalnum() or b == 0x5F else 0x20 for b in range(256))


class _Tokens:
    """A text's lowercased words, with their offsets in the text computed only when asked for (the
    rules need the offsets of the few words that can start a rule; the model needs none).

    Text within Latin-1 (most European prose and code) is split without a regular expression: its
    non-word characters are turned into spaces by a byte table and the result split on single
    spaces, which keeps every offset (one item per separator character) at a third of the cost of
    `re.split`. Other text is split by `re`; both give the same words."""

    __slots__ = ("low", "words", "_items", "_latin", "_index", "_k", "_pos", "_starts")

    def __init__(self, text: str) -> None:
        self.low = low = text.lower()
        self._starts: list[int] | None = None
        self._index: list[int] | None = None
        self._k = self._pos = 0
        if len(low) != len(text):  # lowercasing changed the length (e.g. "İ"): offsets from the original
            self.words, self._starts = [], []
            for m in _TOKEN.finditer(text):
                self.words.append(m.group().lower())
                self._starts.append(m.start())
            return
        try:
            spaced = low.encode("latin-1").translate(_SPACE_NON_WORD).decode("latin-1")
        except UnicodeEncodeError:
            self._items = _SPLIT.split(low)  # [sep, word, sep, word, ..., sep]
            self.words = self._items[1::2]
            self._latin = False
            self._pos = len(self._items[0])
        else:
            self._items = spaced.split(" ")  # words and "" (one item per separator character)
            self.words = list(filter(None, self._items))
            self._latin = True

    def start(self, k: int) -> int:
        """The offset of word k. Asked in increasing order, all the calls together cost one pass."""
        if self._starts is not None:
            return self._starts[k]
        if self._latin:
            # Every item before word k is followed by one separator character, and the empty items
            # have no length: offset = (items before it) + (lengths of the words before it).
            if self._index is None:
                self._index = list(compress(count(), self._items))
            if k < self._k:
                self._k = self._pos = 0
            if k > self._k:
                self._pos += sum(map(len, self.words[self._k : k]))
                self._k = k
            return self._index[k] + self._pos
        if k < self._k:
            self._k, self._pos = 0, len(self._items[0])
        if k > self._k:
            self._pos += sum(map(len, self._items[2 * self._k + 1 : 2 * k + 1]))
            self._k = k
        return self._pos


def tokenize(text: str) -> list[str]:
    """The words the model sees, exactly as the detector splits them."""
    return _Tokens(text).words


def features(text: str, spec: FeatureSpec = FeatureSpec()) -> dict[str, float]:
    """The model's feature vector of a whole text: counts of "w:"word, "b:"bigram, "c:"char n-gram,
    scaled by 1/sqrt(words + 1). Training uses this; inference computes the same dot product faster."""
    return window_features(tokenize(text), spec)


def window_features(words: list[str], spec: FeatureSpec = FeatureSpec()) -> dict[str, float]:
    counts: dict[str, float] = {}
    for w in words:
        key = "w:" + w
        counts[key] = counts.get(key, 0.0) + 1.0
        for g in char_ngrams(w, spec):
            key = "c:" + g
            counts[key] = counts.get(key, 0.0) + 1.0
    for a, b in zip(words, words[1:]):
        key = f"b:{a} {b}"
        counts[key] = counts.get(key, 0.0) + 1.0
    scale = 1.0 / math.sqrt(len(words) + 1)
    return {k: v * scale for k, v in counts.items()}


class LinearModel:
    """Logistic regression over `features`, from the shipped weights file."""

    def __init__(self, data: dict) -> None:
        if data.get("format") != MODEL_FORMAT:
            raise ValueError(f"injection model: unknown format {data.get('format')!r}")
        f = data["features"]
        self.spec = FeatureSpec(int(f["char_min"]), int(f["char_max"]), int(f["max_word_chars"]))
        self.window = int(data["window_tokens"])
        q = float(data["quantum"])  # weights are stored as integers times this
        self.bias = float(data["bias"])
        self.offset = float(data["offset"])  # logit of the operating point (probability 0.5 there)
        self.unigrams = {k: v * q for k, v in data["unigrams"].items()}
        # Bigrams keyed by word pairs: a tuple of two words hashes from the words' cached hashes, so
        # looking up every adjacent pair of a text builds no strings.
        self.bigrams = {tuple(k.split(" ")): v * q for k, v in data["bigrams"].items()}
        self.chars = {k: v * q for k, v in data["chars"].items()}
        self.meta = data.get("meta", {})
        self._word: dict[str, float] = {}

    @classmethod
    def load(cls, path: Path) -> LinearModel:
        return cls(orjson.loads(path.read_bytes()))

    def word_weight(self, word: str) -> float:
        """Unigram weight plus the weights of the word's character n-grams (cached per word)."""
        cached = self._word.get(word)
        if cached is not None:
            return cached
        get = self.chars.get
        value = self.unigrams.get(word, 0.0) + sum(get(g, 0.0) for g in char_ngrams(word, self.spec))
        if len(self._word) >= _WORD_CACHE_MAX:
            self._word.clear()
        self._word[word] = value
        return value

    def _per_word(self, words: list[str]) -> list[float]:
        values = list(map(self._word.get, words))  # C speed when every word is cached
        if None in values:
            ww = self.word_weight
            values = [ww(w) if v is None else v for w, v in zip(words, values)]
        return values

    def logit(self, words: list[str]) -> tuple[float, int, int]:
        """(best window's logit before calibration, its first word, its end word index)."""
        n = len(words)
        per_word = self._per_word(words)
        # pair[i] = weight of the bigram (words[i], words[i+1])
        pairs = zip(words, islice(words, 1, None))
        if n <= self.window:
            total = sum(per_word) + sum(map(self.bigrams.get, pairs, repeat(0.0)))
            return self.bias + total / math.sqrt(n + 1), 0, n
        pair = list(map(self.bigrams.get, pairs, repeat(0.0)))
        # Windows of `window` words, half overlapping; prefix sums keep it linear.
        pw = [0.0, *accumulate(per_word)]
        pp = [0.0, *accumulate(pair)]
        size, step = self.window, max(self.window // 2, 1)
        norm = 1.0 / math.sqrt(size + 1)
        best, best_at = -math.inf, 0
        starts = list(range(0, n - size + 1, step))
        if starts[-1] != n - size:
            starts.append(n - size)
        for a in starts:
            b = a + size
            z = (pw[b] - pw[a] + pp[b - 1] - pp[a]) * norm
            if z > best:
                best, best_at = z, a
        return self.bias + best, best_at, best_at + size

    def probability(self, logit: float) -> float:
        """Calibrated: 0.5 at the operating point chosen in training."""
        z = logit - self.offset
        if z < -60:
            return 0.0
        return 1.0 / (1.0 + math.exp(-z))


@lru_cache(maxsize=4)
def _load_model(path: str) -> LinearModel:
    return LinearModel.load(Path(path))
