"""The `ztgate` command as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import ROOT


def ztgate(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ztgate", *args], capture_output=True, text=True, cwd=cwd, timeout=60, check=False)


def test_policy_test_passes_on_the_shipped_library() -> None:
    result = ztgate("policy", "test", "rego")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS data.ztgate." in result.stdout
    assert " 0 failed" in result.stdout


def test_policy_test_fails_on_a_failing_rule(tmp_path: Path) -> None:
    (tmp_path / "p.rego").write_text("package demo\n\nanswer := 41\n")
    (tmp_path / "p_test.rego").write_text("package demo_test\n\ntest_answer if data.demo.answer == 42\n")
    result = ztgate("policy", "test", str(tmp_path))
    assert result.returncode == 1
    assert "FAIL data.demo_test.test_answer" in result.stdout


def test_policy_test_reports_a_broken_policy(tmp_path: Path) -> None:
    (tmp_path / "p.rego").write_text("package demo\n\nanswer := \n")
    result = ztgate("policy", "test", str(tmp_path))
    assert result.returncode != 0
    assert "p.rego" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_policy_eval_prints_the_decision(tmp_path: Path) -> None:
    policy_input = {
        "attributes": {"request": {"http": {"method": "POST", "path": "/v1/chat/completions", "headers": {}}}},
        "identity": {"authenticated": True, "method": "api_key", "subject": "ivan", "groups": ["interns"]},
        "llm": {"provider": "openai", "operation": "chat_completions", "model": "gpt-4o", "stream": False,
                "max_tokens": None, "tools": [], "messages": {"count": 1, "roles": {"user": 1}}},
        "findings": [], "usage": {}, "phase": "request",
    }
    path = tmp_path / "input.json"
    path.write_text(json.dumps(policy_input))
    result = ztgate("policy", "eval", "--input", str(path), "--dir", "rego")
    assert result.returncode == 0, result.stderr
    decision = json.loads(result.stdout)
    assert decision["allowed"] is False
    assert any("gpt-4o" in reason for reason in decision["reasons"])


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    config = tmp_path / "ztgate.yaml"
    config.write_text("keys_file: keys.json\n")
    created = ztgate("-c", str(config), "keys", "create", "--subject", "bob", "--group", "analysts")
    assert created.returncode == 0
    key = created.stdout.strip()
    assert key.startswith("zt-")
    assert key not in (tmp_path / "keys.json").read_text()
    key_id = key.split("-")[1]
    listed = ztgate("-c", str(config), "keys", "list")
    assert key_id in listed.stdout and "bob" in listed.stdout and key not in listed.stdout
    assert ztgate("-c", str(config), "keys", "revoke", key_id).returncode == 0
    assert "disabled" in ztgate("-c", str(config), "keys", "list").stdout


def test_config_errors_are_reported_without_a_traceback(tmp_path: Path) -> None:
    config = tmp_path / "ztgate.yaml"
    config.write_text("listen: {port: eighty}\n")
    result = ztgate("-c", str(config), "envoy-config")
    assert result.returncode == 2
    assert "listen.port" in result.stderr
    assert "Traceback" not in result.stderr
