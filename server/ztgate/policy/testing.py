"""`ztgate policy test` and `ztgate policy eval`: run a policy directory's Rego tests, or one input.

Tests follow OPA's convention so the same files pass under `opa test`: every rule whose name starts
with `test_`, in any package, is a test, and it passes iff it evaluates to true.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import orjson

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


def _rule_name(rule: dict[str, Any]) -> str | None:
    """The name of a plain (non-function) rule from regorus's AST, or None."""
    spec = rule.get("Spec")
    if not isinstance(spec, dict):
        return None
    head = spec.get("head") or {}
    compr = head.get("Compr")  # complete rules; Set/Func/... heads are never tests
    if not isinstance(compr, dict):
        return None
    var = (compr.get("refr") or {}).get("Var")
    return var.get("value") if isinstance(var, dict) else None


def _package_name(ref: dict[str, Any]) -> str:
    """`a.b.c` from a package reference (nested RefDot nodes around a Var)."""
    if "Var" in ref:
        return str(ref["Var"]["value"])
    dot = ref["RefDot"]
    return f"{_package_name(dot['refr'])}.{dot['field'][1]}"


def discover_tests(modules: Iterable[dict[str, Any]]) -> list[tuple[str, str]]:
    """(package, test name) for every test rule in regorus's AST, in source order, without repeats."""
    found: dict[tuple[str, str], None] = {}
    for module in modules:
        ast = module["ast"]
        package = "data." + _package_name(ast["package"]["refr"])
        for rule in ast.get("rules", []):
            name = _rule_name(rule)
            if name and _TEST_NAME.fullmatch(name):
                found[(package, name)] = None
    return list(found)


def run_tests(policy_dir: Path, *, match: str | None = None) -> list[TestResult]:
    """Run every Rego test under policy_dir (optionally only rules whose path contains `match`).

    Raises PolicyError when the directory does not load: that is not a test failure but a broken policy.
    """
    bundle = load_bundle(policy_dir, include_tests=True)
    engine = bundle.build()
    try:
        modules = orjson.loads(engine.get_ast_as_json())
    except Exception as exc:
        raise PolicyError(f"cannot read the policy AST: {regorus_message(exc)}") from None
    results: list[TestResult] = []
    for package, name in discover_tests(modules):
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
    return results


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


def evaluate_file(policy_dir: Path, input_path: Path, query: str = DEFAULT_QUERY) -> Any:
    """Evaluate the policy on a JSON input file, as the server would (`ztgate policy eval`)."""
    try:
        input_value = orjson.loads(Path(input_path).read_bytes())
    except OSError as exc:
        raise PolicyError(f"cannot read {input_path}: {exc}") from None
    except orjson.JSONDecodeError as exc:
        raise PolicyError(f"{input_path} is not valid JSON: {exc}") from None
    if not isinstance(input_value, dict):
        raise PolicyError(f"{input_path}: the policy input must be a JSON object")
    return EmbeddedEngine(policy_dir, query).evaluate(input_value)
