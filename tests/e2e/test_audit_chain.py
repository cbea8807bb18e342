"""The tamper-evident audit log end to end: `ztgate up` with audit.chain writes chained lines for real
SDK calls, `ztgate audit verify` accepts the file, and rejects it once a line is edited or removed."""

from __future__ import annotations

import json

import openai
import pytest

from conftest import launch_gateway, ztgate_cli


def test_chained_audit_log_verifies_and_tampering_is_caught(tmp_path, fake_provider) -> None:
    audit_path = tmp_path / "audit.jsonl"
    with launch_gateway(tmp_path, fake_provider, audit={"sink": "file", "path": str(audit_path), "chain": True}) as gw:
        client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=gw.keys["dev"], max_retries=0, timeout=20)
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-4o", messages=[{"role": "user", "content": "first chained exchange"}]
        )
        allowed = gw.audit_for(raw.headers["x-request-id"])
        intern = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=gw.keys["intern"], max_retries=0, timeout=20)
        with pytest.raises(openai.PermissionDeniedError) as exc:
            intern.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "second"}])
        denied = gw.audit_for(exc.value.response.headers["x-request-id"])

        assert allowed["status"] == 200 and denied["status"] == 403
        assert denied["prev_hash"] == allowed["hash"] and denied["chain_id"] == allowed["chain_id"]
        assert allowed["hash"].startswith("sha256:")

        result = ztgate_cli(gw.config, "audit", "verify", str(audit_path))
        assert result.returncode == 0, result.stdout + result.stderr
        assert "OK: 2 lines, 1 chain(s)" in result.stdout

    original = audit_path.read_bytes()
    lines = original.splitlines(keepends=True)
    assert len(lines) == 2
    # Edit the first line (the allowed call becomes someone else's): the hash no longer matches.
    audit_path.write_bytes(original.replace(b"alice@example.test", b"mallory@example.test", 1))
    result = ztgate_cli(gw.config, "audit", "verify", str(audit_path))
    assert result.returncode == 1
    assert f"{audit_path}:1: modified" in result.stdout
    # Remove the first line: the second names a predecessor that is gone.
    audit_path.write_bytes(lines[1])
    result = ztgate_cli(gw.config, "audit", "verify", str(audit_path))
    assert result.returncode == 0 and "continues from an earlier file" in result.stdout  # cut at the start: a note
    audit_path.write_bytes(lines[1] + lines[0])
    result = ztgate_cli(gw.config, "audit", "verify", str(audit_path))
    assert result.returncode == 1 and f"{audit_path}:1: reordered" in result.stdout
    # Unreadable.
    result = ztgate_cli(gw.config, "audit", "verify", str(tmp_path / "missing.jsonl"))
    assert result.returncode == 2
    assert json.loads(lines[0])["prev_hash"] == "0" * 64
