"""`ztgate policy test|check|eval` as a policy author runs them: exit codes, what they print."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ztgate.cli import main
from ztgate.policy.check import check_policy, parse_regorus_error
from ztgate.policy.coverage import ranges
from ztgate.policy.explain import explain
from ztgate.policy.testing import run_tests_with_coverage

REGO = Path(__file__).resolve().parents[2] / "rego"


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- policy test ---

DEMO = {
    "demo.rego": (
        "package demo\n"
        "\n"
        "allow if input.user == \"admin\"\n"
        "\n"
        "level := \"high\" if {\n"
        "\tinput.score > 9\n"
        "\tinput.verified\n"
        "}\n"
    ),
    "demo_test.rego": (
        "package demo_test\n"
        "\n"
        "test_admin_allowed if data.demo.allow with input as {\"user\": \"admin\"}\n"
        "\n"
        "test_guest_denied if not data.demo.allow with input as {\"user\": \"guest\"}\n"
    ),
}


def test_policy_test_passes_with_a_summary_and_exit_0(capsys, tmp_path: Path) -> None:
    code, out, _ = run(capsys, "policy", "test", str(write(tmp_path, DEMO)))
    assert code == 0
    assert "PASS data.demo_test.test_admin_allowed" in out
    assert out.splitlines()[-1] == "2 passed, 0 failed"


def test_policy_test_fails_with_exit_1_and_quiet_shows_failures_only(capsys, tmp_path: Path) -> None:
    files = {**DEMO, "more_test.rego": "package more_test\n\ntest_wrong if data.demo.level == \"low\"\n"}
    code, out, _ = run(capsys, "policy", "test", "-q", str(write(tmp_path, files)))
    assert code == 1
    assert out.splitlines() == ["FAIL data.more_test.test_wrong (" + out.split("test_wrong (")[1].split("\n")[0], "2 passed, 1 failed"]


def test_policy_test_run_filter(capsys, tmp_path: Path) -> None:
    code, out, _ = run(capsys, "policy", "test", "--run", "guest", str(write(tmp_path, DEMO)))
    assert code == 0
    assert "test_guest_denied" in out and "test_admin_allowed" not in out
    assert out.splitlines()[-1] == "1 passed, 0 failed"


def test_policy_test_coverage_names_the_lines_never_evaluated(capsys, tmp_path: Path) -> None:
    code, out, _ = run(capsys, "policy", "test", "--coverage", str(write(tmp_path, DEMO)))
    assert code == 0
    lines = out.splitlines()
    summary = next(line for line in lines if line.startswith("coverage: "))
    assert summary.endswith("policy lines evaluated)") and "100.0%" not in summary
    assert f"{tmp_path / 'demo.rego'}: " in out and "not evaluated: 5-7" in out
    assert "    6 | \tinput.score > 9" in lines
    assert "demo_test.rego" not in out.split("coverage: ")[1]  # tests are not policy


def test_coverage_api_and_full_coverage(tmp_path: Path) -> None:
    files = {**DEMO, "level_test.rego": "package level_test\n\ntest_high if data.demo.level == \"high\" with input as {\"score\": 10, \"verified\": true}\n"}
    results, coverage = run_tests_with_coverage(write(tmp_path, files))
    assert all(r.passed for r in results)
    assert coverage.not_covered == {} and coverage.percent == 100.0
    assert [f.path for f in coverage.files] == ["demo.rego"]


def test_shipped_library_is_fully_covered_by_its_tests() -> None:
    results, coverage = run_tests_with_coverage(REGO)
    assert all(r.passed for r in results)
    assert coverage.not_covered == {}, coverage.not_covered


def test_ranges() -> None:
    assert ranges((3, 4, 5, 9, 11, 12)) == "3-5, 9, 11-12"
    assert ranges(()) == ""


# --- policy check ---


def test_check_passes_on_the_shipped_library(capsys) -> None:
    code, out, _ = run(capsys, "policy", "check", str(REGO))
    assert code == 0
    assert "note: data.ztgate.decision compiles for the RVM" in out
    assert out.splitlines()[-1].endswith("files checked, no errors")


def test_check_reports_every_broken_file_as_file_line_col(capsys, tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "app/syntax.rego": "package app.syntax\n\nx := 1 +\n",
            "app/unsafe.rego": "package app.unsafe\n\ny if {\n\tz\n}\n",
            "app/ok.rego": "package app.ok\n\nw := 1\n",
            "app/config/data.json": '{"a": 1,\n  "b": }\n',
        },
    )
    code, out, _ = run(capsys, "policy", "check", str(tmp_path))
    assert code == 1
    lines = out.splitlines()
    assert f"{tmp_path / 'app/syntax.rego'}:4:1: expecting expression" in lines
    # regorus counts a tab as four columns
    assert f"{tmp_path / 'app/unsafe.rego'}:4:5: use of undefined variable `z` is unsafe" in lines
    assert f"{tmp_path / 'app/config/data.json'}:2:8: invalid JSON: unexpected character, expected a JSON value" in lines
    assert lines[-1] == "3 errors in 4 files"


def test_check_compiles_every_rule_and_finds_unknown_functions(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "p.rego": "package p\n\nimport rego.v1\n\na if {\n\tinput.x\n\tnot_a_builtin(1)\n}\n\nb := data.q.f(2) if input.y\n\nc := upper(\"x\")\n",
            "p_test.rego": "package p_test\n\ntest_c if data.p.c == \"X\" with input as {}\n",  # `with` is the tests' business, not the RVM's
        },
    )
    result = check_policy(tmp_path)
    assert [str(p) for p in result.problems] == [
        f"{tmp_path / 'p.rego'}:7:5: Unknown function: 'not_a_builtin'",
        f"{tmp_path / 'p.rego'}:10:14: Unknown function: 'data.q.f'",
    ]
    assert result.notes == [f"data.ztgate.decision names no rule in {tmp_path}"]


def test_check_enforces_the_manifest_roots(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            ".manifest": '{"revision": "r1", "roots": ["app"]}',
            "app/a.rego": "package app.a\n\nx := 1\n",
            "other.rego": "package other\n\ny := 2\n",
            "stray/data.json": '{"k": 1}',
            "data.json": '{"app": {"ok": true}, "elsewhere": 1}',
        },
    )
    problems = [str(p) for p in check_policy(tmp_path).problems]
    assert f"{tmp_path / 'other.rego'}:1:1: package other is outside the manifest roots ['app']" in problems
    assert f"{tmp_path / 'stray/data.json'}: data path stray is outside the manifest roots ['app']" in problems
    assert f"{tmp_path / 'data.json'}: data path elsewhere is outside the manifest roots ['app']" in problems
    assert len(problems) == 3


def test_check_reports_data_conflicts_and_missing_policy(tmp_path: Path) -> None:
    write(tmp_path / "conflict", {"p.rego": "package p\n\nx := 1\n", "data.json": '{"a": {"b": 1}}', "a/data.json": '{"b": 2}'})
    problems = [p.message for p in check_policy(tmp_path / "conflict").problems]
    assert problems == ["data conflict: data.a.b is set by more than one data file"]
    (tmp_path / "empty").mkdir()
    assert [p.message for p in check_policy(tmp_path / "empty").problems] == ["no .rego files"]
    assert [p.message for p in check_policy(tmp_path / "missing").problems] == ["not a directory"]


def test_parse_regorus_error_without_a_position() -> None:
    problem = parse_regorus_error("something odd\nStack backtrace:\n 0: x", Path("rego"), "a.rego")
    assert str(problem) == "rego/a.rego: something odd"


# --- policy eval ---


def input_file(tmp_path: Path, document: dict) -> Path:
    path = tmp_path / "input.json"
    path.write_text(json.dumps(document))
    return path


INTERN = {
    "phase": "request",
    "identity": {"authenticated": True, "method": "api_key", "subject": "ivan", "groups": ["interns"], "key_id": "k1", "claims": {}},
    "llm": {
        "provider": "openai", "operation": "chat_completions", "model": "o3", "stream": False, "max_tokens": 5000,
        "tools": ["shell"], "tool_calls": [], "messages": {"count": 1, "roles": {"user": 1}}, "tool_results": 0, "text_chars": 2,
    },
    "findings": [{"detector": "pii", "type": "email", "severity": "medium", "score": 0.9, "redactable": True, "encoding": None}],
    "usage": {},
}


def test_eval_prints_the_decision(capsys, tmp_path: Path) -> None:
    code, out, _ = run(capsys, "policy", "eval", "--input", str(input_file(tmp_path, INTERN)), "--data", str(REGO))
    assert code == 0
    decision = json.loads(out)
    assert decision["allowed"] is False and decision["http_status"] == 403
    assert set(decision) >= {"reasons", "shadow_reasons", "log_content", "limits", "tools_remove", "redactions"}


def test_eval_explain_shows_denials_with_outcomes_and_outputs(capsys, tmp_path: Path) -> None:
    code, out, _ = run(capsys, "policy", "eval", "--input", str(input_file(tmp_path, INTERN)), "--dir", str(REGO), "--explain")
    assert code == 0
    result = json.loads(out)
    assert result["decision"]["allowed"] is False
    explained = result["explain"]
    assert explained["phase"] == "request"
    assert {(d["package"], d["rule"], d["outcome"]) for d in explained["denials"]} == {
        ("data.ztgate.models", "models.not_allowed", "enforced"),
        ("data.ztgate.tokens", "tokens.max_output_tokens", "enforced"),
    }
    assert explained["outputs"]["data.ztgate.content.redactions"] == [{"detector": "pii", "mode": "pseudonym", "type": "email"}]
    assert explained["outputs"]["data.ztgate.tools.remove"] == ["shell"]
    assert "data.ztgate.compliance.log_content" not in explained["outputs"]  # false is left out


def test_explain_marks_shadow_and_unconsulted_denials(tmp_path: Path) -> None:
    policy = tmp_path / "rego"
    shutil.copytree(REGO, policy)
    data_path = policy / "ztgate" / "config" / "data.json"
    data = json.loads(data_path.read_text())
    data["shadow_rules"] = ["tokens.max_output_tokens"]
    data_path.write_text(json.dumps(data))
    result = explain(policy, INTERN)
    outcomes = {d["rule"]: d["outcome"] for d in result["explain"]["denials"]}
    assert outcomes == {"models.not_allowed": "enforced", "tokens.max_output_tokens": "shadow"}
    assert result["decision"]["shadow_reasons"] == ["max_tokens 5000 exceeds the cap of 1024 output tokens for groups [\"interns\"]"]

    anonymous = {**INTERN, "identity": {"authenticated": False, "method": "", "subject": "", "groups": [], "key_id": None, "claims": {}}}
    outcomes = {d["rule"]: d["outcome"] for d in explain(policy, anonymous)["explain"]["denials"]}
    assert outcomes["authn.unauthenticated"] == "enforced"
    assert outcomes["models.not_allowed"] == "not consulted"


def test_explain_without_denials_bookkeeping(tmp_path: Path) -> None:
    write(tmp_path, {"p.rego": "package p\n\nimport rego.v1\n\ndeny contains \"no\" if input.bad\n\ndecision := count(deny) == 0\n"})
    result = explain(tmp_path, {"bad": True}, "data.p.decision")
    assert result["decision"] is False
    assert result["explain"]["denials"] == [{"package": "data.p", "value": "no"}]


def test_eval_errors_are_reported_without_a_traceback(capsys, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    code, _, err = run(capsys, "policy", "eval", "--input", str(bad), "--data", str(REGO), "--explain")
    assert code == 2
    assert "must be a JSON object" in err and "Traceback" not in err
