"""The committed *_pb2 modules match what scripts/gen_proto.py generates from proto/ today."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_generated_modules_are_fresh() -> None:
    # --check regenerates every proto into a temporary directory and compares it, byte for byte, with
    # the committed files under server/ (stale, missing and orphaned generated files all fail).
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_proto.py"), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"{result.stdout}{result.stderr}"


def test_generator_writes_modules_at_their_proto_package_path(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_proto.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    assert (tmp_path / "ztgate" / "v1" / "audit_pb2.py").is_file()
    assert (tmp_path / "ztgate" / "v1" / "audit_pb2.pyi").is_file()


def test_generated_module_imports_by_its_proto_package() -> None:
    from ztgate.v1 import audit_pb2

    assert audit_pb2.AuditEvent.DESCRIPTOR.full_name == "ztgate.v1.AuditEvent"
    assert audit_pb2.DESCRIPTOR.name == "ztgate/v1/audit.proto"
