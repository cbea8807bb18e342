#!/usr/bin/env python3
"""Regenerate ztgate's protobuf modules from proto/ into server/ (the source root).

Layout: a proto at proto/ztgate/v1/x.proto (package ztgate.v1) is compiled with `-Iproto
--python_out=server`, so its module lands at server/ztgate/v1/x_pb2.py and is imported as
`ztgate.v1.x_pb2`. The proto package and the Python package are the same path, which is why protoc's
generated cross-imports (`from ztgate.v1 import y_pb2`) resolve with no sys.path tricks. Well-known
types (google/protobuf/*.proto) come from grpcio-tools and import from the protobuf runtime.

Generated files are committed; tests/unit/test_proto_fresh.py fails when they are stale.

    python scripts/gen_proto.py              # rewrite the committed files
    python scripts/gen_proto.py --check      # exit 1 and list stale files, write nothing
    python scripts/gen_proto.py --out DIR    # generate into DIR instead (what the test does)
"""

from __future__ import annotations

import argparse
import filecmp
import re
import sys
import tempfile
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
OUT_DIR = ROOT / "server"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")
_SERVICE = re.compile(r"^\s*service\s+\w+", re.MULTILINE)


def proto_files() -> list[Path]:
    """Every .proto under proto/, relative to proto/ (the import root)."""
    return sorted(p.relative_to(PROTO_DIR) for p in PROTO_DIR.rglob("*.proto"))


def generate(out_dir: Path) -> list[Path]:
    """Compile every proto into out_dir; returns the generated files relative to out_dir."""
    from grpc_tools import protoc  # a dev/test dependency: only needed to regenerate

    well_known = str(resources.files("grpc_tools") / "_proto")
    out_dir.mkdir(parents=True, exist_ok=True)
    for rel in proto_files():
        args = ["protoc", f"-I{PROTO_DIR}", f"-I{well_known}", f"--python_out={out_dir}", f"--pyi_out={out_dir}"]
        # gRPC stubs only for protos that declare a service (no empty *_pb2_grpc.py files).
        if _SERVICE.search((PROTO_DIR / rel).read_text(encoding="utf-8")):
            args.append(f"--grpc_python_out={out_dir}")
        if protoc.main([*args, str(rel)]) != 0:
            raise RuntimeError(f"protoc failed on {rel}")
    return sorted(p.relative_to(out_dir) for p in out_dir.rglob("*") if p.name.endswith(GENERATED_SUFFIXES))


def stale_files(committed_root: Path = OUT_DIR) -> list[str]:
    """Generated files that differ from, are missing from, or are orphaned in committed_root."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh_root = Path(tmp)
        fresh = generate(fresh_root)
        problems = [
            f"{rel}: {'stale' if (committed_root / rel).exists() else 'missing'}"
            for rel in fresh
            if not (committed_root / rel).exists()
            or not filecmp.cmp(fresh_root / rel, committed_root / rel, shallow=False)
        ]
        packages = {rel.parent for rel in proto_files()}
        for pkg in sorted(packages):
            for path in sorted((committed_root / pkg).glob("*")):
                rel = path.relative_to(committed_root)
                if path.name.endswith(GENERATED_SUFFIXES) and rel not in fresh:
                    problems.append(f"{rel}: orphan (no .proto generates it)")
        return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=None, help="generate into this directory instead of server/")
    parser.add_argument("--check", action="store_true", help="only report stale generated files")
    args = parser.parse_args(argv)
    if args.check:
        problems = stale_files()
        for line in problems:
            print(line)
        if problems:
            print("generated protobuf modules are stale: run python scripts/gen_proto.py", file=sys.stderr)
        return 1 if problems else 0
    for rel in generate(args.out or OUT_DIR):
        print(rel)
    return 0


if __name__ == "__main__":
    sys.exit(main())
