"""`ztgate policy test --coverage`: which lines of policy the tests never evaluated.

regorus records, per loaded file, the lines it evaluated and the lines it could have evaluated but
did not (`Engine.set_enable_coverage`, `get_coverage_report_as_json`). The runner turns coverage on,
runs every test, and reports the policy files (tests excluded) with the lines left unevaluated.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson


@dataclass(slots=True, frozen=True)
class FileCoverage:
    path: str  # as loaded, relative to the policy directory
    covered: tuple[int, ...]
    not_covered: tuple[int, ...]
    lines: tuple[str, ...]  # the file's text, for showing what was not evaluated

    @property
    def total(self) -> int:
        return len(self.covered) + len(self.not_covered)

    @property
    def percent(self) -> float:
        return 100.0 * len(self.covered) / self.total if self.total else 100.0


@dataclass(slots=True, frozen=True)
class Coverage:
    root: Path
    files: tuple[FileCoverage, ...]

    @property
    def covered(self) -> int:
        return sum(len(f.covered) for f in self.files)

    @property
    def total(self) -> int:
        return sum(f.total for f in self.files)

    @property
    def percent(self) -> float:
        return 100.0 * self.covered / self.total if self.total else 100.0

    @property
    def not_covered(self) -> dict[str, tuple[int, ...]]:
        """file -> lines never evaluated, for files that have any."""
        return {f.path: f.not_covered for f in self.files if f.not_covered}


def from_report(report_json: str, root: Path) -> Coverage:
    """Coverage of the policy files (not `*_test.rego`) from regorus's JSON coverage report."""
    report: dict[str, Any] = orjson.loads(report_json)
    files = []
    for entry in report.get("files", []):
        path = str(entry.get("path", ""))
        if path.endswith("_test.rego"):
            continue
        files.append(
            FileCoverage(
                path=path,
                covered=tuple(sorted(entry.get("covered") or [])),
                not_covered=tuple(sorted(entry.get("not_covered") or [])),
                lines=tuple(str(entry.get("code", "")).splitlines()),
            )
        )
    files.sort(key=lambda f: f.path)
    return Coverage(Path(root), tuple(files))


def ranges(lines: tuple[int, ...]) -> str:
    """(3, 4, 5, 9) -> "3-5, 9"."""
    parts: list[str] = []
    start = prev = None
    for line in lines:
        if prev is not None and line == prev + 1:
            prev = line
            continue
        if start is not None:
            parts.append(f"{start}-{prev}" if prev != start else str(start))
        start = prev = line
    if start is not None:
        parts.append(f"{start}-{prev}" if prev != start else str(start))
    return ", ".join(parts)


def format_coverage(coverage: Coverage, *, show_source: bool = True) -> str:
    """A total line, then each file with unevaluated lines: its share, the line ranges, the lines."""
    out = [f"coverage: {coverage.percent:.1f}% ({coverage.covered} of {coverage.total} policy lines evaluated)"]
    for f in coverage.files:
        if not f.not_covered:
            continue
        out.append(f"{coverage.root / f.path}: {f.percent:.1f}%, not evaluated: {ranges(f.not_covered)}")
        if show_source:
            width = len(str(f.not_covered[-1]))
            for line in f.not_covered:
                text = f.lines[line - 1] if 0 < line <= len(f.lines) else ""
                out.append(f"    {line:>{width}} | {text.rstrip()}")
    return "\n".join(out)
