"""The shipped Rego library's own tests, run through `ztgate policy test`'s runner."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from ztgate.policy.engine import PolicyError
from ztgate.policy.testing import TestResult, evaluate_file, format_results, run_tests

REGO = Path(__file__).resolve().parents[2] / "rego"


@pytest.fixture(scope="module")
def results() -> list[TestResult]:
    return run_tests(REGO)


def test_every_rego_test_passes(results: list[TestResult]) -> None:
    failed = [r for r in results if not r.passed]
    assert not failed, format_results(failed, verbose=True)


def test_every_policy_file_has_tests(results: list[TestResult]) -> None:
    packages = {r.package for r in results}
    for policy in sorted(REGO.rglob("*.rego")):
        if policy.name.endswith("_test.rego"):
            continue
        test_file = policy.with_name(policy.stem + "_test.rego")
        assert test_file.is_file(), f"{policy} has no {test_file.name} beside it"
        package = test_file.read_text().split("package ", 1)[1].split()[0]
        assert f"data.{package}" in packages, f"{test_file} defines no test_ rule"


def test_concerns_are_covered(results: list[TestResult]) -> None:
    counts: dict[str, int] = {}
    for r in results:
        counts[r.package] = counts.get(r.package, 0) + 1
    for concern in (
        "authn", "access", "models", "tokens", "limits", "tools", "tool_args", "content", "topics", "compliance", "decision",
    ):
        assert counts.get(f"data.ztgate.{concern}_test", 0) >= 3, concern


def test_format_results(results: list[TestResult]) -> None:
    text = format_results(results)
    lines = text.splitlines()
    assert lines[0].startswith("PASS data.ztgate.") and lines[0].endswith("ms)")
    assert lines[-1] == f"{len(results)} passed, 0 failed"
    assert format_results(results, verbose=False) == lines[-1]


def test_a_failing_test_is_reported(tmp_path: Path) -> None:
    (tmp_path / "p.rego").write_text("package demo\n\nanswer := 42\n")
    (tmp_path / "p_test.rego").write_text(
        "package demo_test\n\n"
        "import data.demo\n\n"
        "test_right if demo.answer == 42\n\n"
        "test_wrong if demo.answer == 41\n\n"
        "test_not_boolean := 7\n\n"
        'test_error if demo.answer == 1 / 0\n\n'
        "test_helper(x) if x\n\n"  # a function is not a test
        "todo_test_later if false\n"  # OPA skips todo_ tests
    )
    by_name = {r.name: r for r in run_tests(tmp_path)}
    assert set(by_name) == {"test_right", "test_wrong", "test_not_boolean", "test_error"}
    assert by_name["test_right"].passed and by_name["test_right"].error is None
    assert not by_name["test_wrong"].passed and by_name["test_wrong"].error == "undefined"
    assert not by_name["test_not_boolean"].passed and "not true" in (by_name["test_not_boolean"].error or "")
    assert not by_name["test_error"].passed and "divide by zero" in (by_name["test_error"].error or "")
    report = format_results(list(by_name.values()))
    assert "FAIL data.demo_test.test_wrong (" in report
    assert report.splitlines()[-1] == "1 passed, 3 failed"


def test_match_filter() -> None:
    only = run_tests(REGO, match="models_test")
    assert only and all("models_test" in r.rule for r in only)


def test_broken_directory_raises(tmp_path: Path) -> None:
    (tmp_path / "p_test.rego").write_text("package x\n\ntest_a if {\n")
    with pytest.raises(PolicyError):
        run_tests(tmp_path)


def test_evaluate_file(tmp_path: Path) -> None:
    doc = {
        "identity": {"authenticated": True, "method": "api_key", "subject": "ivan", "groups": ["interns"]},
        "llm": {"provider": "openai", "operation": "chat_completions", "model": "o3", "max_tokens": None, "tools": []},
    }
    path = tmp_path / "input.json"
    path.write_bytes(orjson.dumps(doc))
    decision = evaluate_file(REGO, path)
    assert decision["allowed"] is False
    assert decision["reasons"] == ['model "o3" is not allowed for groups ["interns"]']
    assert evaluate_file(REGO, path, "data.ztgate.models.deny") == [
        {"reason": 'model "o3" is not allowed for groups ["interns"]', "rule": "models.not_allowed", "status": 403}
    ]


def test_evaluate_file_errors(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read"):
        evaluate_file(REGO, tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("[1]")
    with pytest.raises(PolicyError, match="must be a JSON object"):
        evaluate_file(REGO, bad)
