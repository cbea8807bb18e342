"""`ztgate policy test` and `ztgate policy eval`: run a policy directory's Rego tests, or one input.

Tests follow OPA's convention so the same files pass under `opa test`: every rule whose name starts
with `test_`, in any package, is a test, and it passes iff it evaluates to true. `policy check` is in
check.py, test coverage in coverage.py, `policy eval --explain` in explain.py.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import orjson

from ztgate.policy import rego_ast
from ztgate.policy.coverage import Coverage, from_report
from ztgate.policy.engine import DEFAULT_QUERY, EmbeddedEngine, PolicyError, load_bundle, regorus_message

_TEST_NAME = re.compile(r"test_\w*")


@dataclass(slots=True, frozen=True)
class TestResult:
    """One Rego test's outcome. `error` is set when it failed for a reason other than being false."""

    __test__ = False  # not a pytest test class

    package: str  # "data.ztgate.models_test"
    name: str  # "test_wildcard_allows_prefix"
    passed: bool
    error: str | None
    duration: float  # seconds

    @property
    def rule(self) -> str:
        return f"{self.package}.{self.name}"


def discover_tests(modules: Iterable[dict[str, Any]]) -> list[tuple[str, str]]:
    """(package, test name) for every test rule in regorus's AST, in source order, without repeats.

    Tests are complete rules (`test_x if ...`); functions and partial rules named test_* are not.
    """
    found: dict[tuple[str, str], None] = {}
    for rule in rego_ast.rules(modules):
        if rule.kind == "complete" and _TEST_NAME.fullmatch(rule.name):
            found[(rule.package, rule.name)] = None
    return list(found)


def run_tests(policy_dir: Path, *, match: str | None = None) -> list[TestResult]:
    """Run every Rego test under policy_dir (optionally only rules whose path contains `match`).

    Raises PolicyError when the directory does not load: that is not a test failure but a broken policy.
    """
    return _run(policy_dir, match=match, coverage=False)[0]


def run_tests_with_coverage(policy_dir: Path, *, match: str | None = None) -> tuple[list[TestResult], Coverage]:
    """run_tests, and which lines of the policy files (tests excluded) the tests evaluated."""
    results, coverage = _run(policy_dir, match=match, coverage=True)
    assert coverage is not None
    return results, coverage


def _run(policy_dir: Path, *, match: str | None, coverage: bool) -> tuple[list[TestResult], Coverage | None]:
    bundle = load_bundle(policy_dir, include_tests=True)
    engine = bundle.build()
    if coverage:
        engine.set_enable_coverage(True)
    results: list[TestResult] = []
    for package, name in discover_tests(rego_ast.modules(engine)):
        if match and match not in f"{package}.{name}":
            continue
        start = time.perf_counter()
        error: str | None = None
        try:
            value = engine.eval_rule(f"{package}.{name}")
        except Exception as exc:
            value, error = None, regorus_message(exc)
        duration = time.perf_counter() - start
        if error is None and value is not True:
            error = "undefined" if value is None else f"evaluated to {value!r}, not true"
        results.append(TestResult(package, name, value is True and error is None, error, duration))
    if not coverage:
        return results, None
    try:
        report = engine.get_coverage_report_as_json()
    except Exception as exc:
        raise PolicyError(f"cannot read the coverage report: {regorus_message(exc)}") from None
    return results, from_report(report, bundle.root)


def format_results(results: list[TestResult], *, verbose: bool = True) -> str:
    """`PASS data.pkg.test_x (0.1ms)` lines (failures only unless verbose) and `N passed, M failed`."""
    lines: list[str] = []
    for result in results:
        if result.passed and not verbose:
            continue
        status = "PASS" if result.passed else "FAIL"
        lines.append(f"{status} {result.rule} ({result.duration * 1000:.1f}ms)")
        if result.error and result.error != "undefined":
            lines.extend("    " + line for line in result.error.splitlines())
    passed = sum(1 for result in results if result.passed)
    lines.append(f"{passed} passed, {len(results) - passed} failed")
    return "\n".join(lines)


def read_input(input_path: Path) -> dict[str, Any]:
    """A policy input document from a JSON file; PolicyError when it is unreadable or not an object."""
    try:
        input_value = orjson.loads(Path(input_path).read_bytes())
    except OSError as exc:
        raise PolicyError(f"cannot read {input_path}: {exc}") from None
    except orjson.JSONDecodeError as exc:
        raise PolicyError(f"{input_path} is not valid JSON: {exc}") from None
    if not isinstance(input_value, dict):
        raise PolicyError(f"{input_path}: the policy input must be a JSON object")
    return input_value


def evaluate_file(policy_dir: Path, input_path: Path, query: str = DEFAULT_QUERY) -> Any:
    """Evaluate the policy on a JSON input file, as the server would (`ztgate policy eval`)."""
    return EmbeddedEngine(policy_dir, query).evaluate(read_input(input_path))
