"""The Prometheus text exposition format (0.0.4), written directly: counters, histograms and
scrape-time families as plain dicts and lists, updated in place on the event loop. Nothing here
knows ztgate; telemetry/metrics.py defines the ztgate_* metrics with these (and says why they are
not prometheus_client's objects)."""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # the Prometheus text format
OTHER = "other"  # the label value past a label's cap


class Capped:
    """A label's values: the first `limit` distinct ones are kept, the rest are OTHER."""

    __slots__ = ("known", "limit")

    def __init__(self, limit: int) -> None:
        self.known: set[str] = set()
        self.limit = max(0, limit)

    def __call__(self, value: str, admit: bool = True) -> str:
        if value in self.known:
            return value
        if admit and len(self.known) < self.limit:
            self.known.add(value)
            return value
        return OTHER


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if value == float("inf"):
        return "+Inf"
    if value != value:
        return "NaN"
    return repr(float(value))


def _series(name: str, labels: tuple[str, ...], values: tuple[Any, ...], extra: str = "") -> str:
    """`name{a="x",b="y"}` (with `extra` label text appended inside the braces, e.g. 'le="0.5"')."""
    parts = [f'{label}="{_escape_label(str(value))}"' for label, value in zip(labels, values)]
    if extra:
        parts.append(extra)
    return f"{name}{{{','.join(parts)}}}" if parts else name


def _header(out: list[str], name: str, doc: str, kind: str) -> None:
    out.append(f"# HELP {name} {_escape_help(doc)}\n# TYPE {name} {kind}\n")


class Counter:
    """A counter family: {label values: value}. Incremented in place (`values[key] = get + n`)."""

    __slots__ = ("name", "doc", "labels", "values", "_prefixes")

    def __init__(self, name: str, doc: str, labels: tuple[str, ...] = ()) -> None:
        self.name, self.doc, self.labels = name, doc, labels
        self.values: dict[tuple[Any, ...], float] = {}
        self._prefixes: dict[tuple[Any, ...], str] = {}

    def inc(self, key: tuple[Any, ...], amount: float = 1.0) -> None:
        values = self.values
        values[key] = values.get(key, 0.0) + amount

    def render(self, out: list[str]) -> None:
        _header(out, self.name, self.doc, "counter")
        prefixes = self._prefixes
        for key, value in list(self.values.items()):
            prefix = prefixes.get(key)
            if prefix is None:
                prefix = prefixes[key] = _series(self.name, self.labels, key) + " "
            out.append(f"{prefix}{_number(value)}\n")


class Histogram:
    """A histogram family: {label values: [count per bucket ..., count above the last bound, sum]}."""

    __slots__ = ("name", "doc", "labels", "bounds", "children", "_lines")

    def __init__(self, name: str, doc: str, labels: tuple[str, ...], bounds: tuple[float, ...]) -> None:
        self.name, self.doc, self.labels, self.bounds = name, doc, labels, bounds
        self.children: dict[tuple[Any, ...], list[float]] = {}
        self._lines: dict[tuple[Any, ...], tuple[list[str], str, str]] = {}

    def child(self, key: tuple[Any, ...]) -> list[float]:
        counts = self.children.get(key)
        if counts is None:
            counts = self.children[key] = [0] * (len(self.bounds) + 1) + [0.0]
        return counts

    def observe(self, key: tuple[Any, ...], value: float) -> None:
        counts = self.children.get(key) or self.child(key)
        counts[bisect_left(self.bounds, value)] += 1  # the first bound >= value: Prometheus's le
        counts[-1] += value

    def render(self, out: list[str]) -> None:
        _header(out, self.name, self.doc, "histogram")
        for key, counts in list(self.children.items()):
            lines = self._lines.get(key)
            if lines is None:
                les = [_number(b) for b in self.bounds] + ["+Inf"]
                buckets = [_series(self.name + "_bucket", self.labels, key, f'le="{le}"') + " " for le in les]
                lines = self._lines[key] = (
                    buckets,
                    _series(self.name + "_count", self.labels, key) + " ",
                    _series(self.name + "_sum", self.labels, key) + " ",
                )
            buckets, count_prefix, sum_prefix = lines
            total = 0
            for prefix, n in zip(buckets, counts):
                total += n
                out.append(f"{prefix}{total}\n")
            out.append(f"{count_prefix}{total}\n{sum_prefix}{_number(counts[-1])}\n")


class Scalar:
    """A family whose samples are read at scrape time: [(label values, value)] from a function."""

    __slots__ = ("name", "doc", "kind", "labels")

    def __init__(self, name: str, doc: str, kind: str, labels: tuple[str, ...] = ()) -> None:
        self.name, self.doc, self.kind, self.labels = name, doc, kind, labels

    def render(self, out: list[str], samples: list[tuple[tuple[Any, ...], float]]) -> None:
        _header(out, self.name, self.doc, self.kind)
        for key, value in samples:
            out.append(f"{_series(self.name, self.labels, key)} {_number(value)}\n")
