"""`ztgate audit verify FILE...`: check that audit lines parse and that their hash chains are unbroken.

The chain format is HashChain's (telemetry/audit.py): every line ends with `,"hash":"<alg>:<hex>"}`,
where the hash is SHA-256 (or HMAC-SHA256, keyed) over prev_hash + the line's bytes without that
member, and prev_hash is the hash of the previous line of the same chain_id (64 zeros on a chain's
first line). Files are read in the order given, which should be oldest first (audit.jsonl.5 ...
audit.jsonl.1 audit.jsonl), so chains are followed across rotations.

Every line is checked, in order:
1. it parses as a ztgate.v1.AuditEvent (json_format.Parse, unknown fields rejected);
2. it carries the chain fields, with `hash` as its last member;
3. its hash matches its bytes (else: modified, or forged by someone without the key);
4. it links to its chain: its prev_hash is the hash of the chain's previous line. A broken link is
   told apart as: a duplicate of an earlier line (inserted), a line whose predecessor comes later in
   the file (reordered), lines between a line and its predecessor that do not belong there
   (inserted), or a predecessor that is nowhere in the files (deleted).

The first bad line is reported as `FILE:LINE: <what> ...`, and verification stops there.

What the chain cannot show, by construction: lines cut from the end of a chain (the last lines a
writer wrote, or a whole file) and, in the oldest file given, lines cut from the start of a chain
that continues from an earlier file (reported as a note). Anchor the ends elsewhere (the OTLP copy,
or a record of the last hash, which verify prints) when that matters. Without a key anyone can
recompute a consistent chain over edited lines; with `--key-env` (the writer's audit.chain_key_env)
only a holder of the key can, and unkeyed lines are rejected.

Exit status: 0 every line and link checked out; 1 a line is bad; 2 a file cannot be read, the key
variable is unset, or the lines are keyed and no key was given.
"""

from __future__ import annotations

import argparse
import hmac
import os
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from google.protobuf import json_format

from ..v1.audit_pb2 import AuditEvent
from .audit_chain import GENESIS, HMAC_SHA256, SHA256, chain_digest

OK, BROKEN, UNREADABLE = 0, 1, 2

# The hash member that HashChain appends last: `,"hash":"<alg>:<64 hex>"}` at the end of the line.
_HASH_TAIL = re.compile(rb',"hash":"([a-z0-9-]+:[0-9a-f]{64})"\}$')
_HASH_ANYWHERE = re.compile(rb'"hash":"([a-z0-9-]+:[0-9a-f]{64})"')

Position = tuple[int, int]  # (file index, 1-based line number)


class Unverifiable(Exception):
    """The files cannot be checked (unreadable, or keyed without a key): exit status 2."""


@dataclass
class Problem:
    position: Position
    kind: str  # "malformed" | "unchained" | "modified" | "inserted" | "reordered" | "deleted"
    detail: str


@dataclass
class Result:
    files: list[Path]
    lines: int = 0
    chains: dict[str, tuple[Position, Position, str]] = field(default_factory=dict)  # id: first, last, last hash
    notes: list[str] = field(default_factory=list)
    problem: Problem | None = None

    def where(self, position: Position) -> str:
        return f"{self.files[position[0]]}:{position[1]}"


def verify(files: Sequence[Path], key: bytes | None = None) -> Result:
    """Check the files as one sequence (oldest first); stops at the first bad line."""
    result = Result(list(files))
    index = _index(files)  # every hash -> where it is, to tell reordering from deletion
    last: dict[str, tuple[str, Position]] = {}  # chain_id -> (its last hash, where)
    followed: dict[str, Position] = {}  # hash -> the first line that named it as prev_hash
    seen: dict[str, Position] = {}  # hash -> the first line that has it

    for pos, raw in _lines(files):
        result.lines += 1
        problem = _check_line(pos, raw, key, index, last, followed, seen, result)
        if problem is not None:
            result.problem = problem
            return result
    return result


def _check_line(
    pos: Position,
    raw: bytes,
    key: bytes | None,
    index: dict[str, Position],
    last: dict[str, tuple[str, Position]],
    followed: dict[str, Position],
    seen: dict[str, Position],
    result: Result,
) -> Problem | None:
    if not raw.strip():
        return Problem(pos, "inserted", "empty line (ztgate writes none)")
    event = AuditEvent()
    try:
        json_format.Parse(raw, event, ignore_unknown_fields=False)
    except (json_format.ParseError, UnicodeDecodeError, ValueError) as exc:
        return Problem(pos, "malformed", f"not an AuditEvent ({exc}): modified, truncated or inserted")
    if not event.hash:
        return Problem(pos, "unchained", "no hash: inserted, or written without audit.chain")
    tail = _HASH_TAIL.search(raw.rstrip(b"\r"))
    if tail is None or tail.group(1).decode() != event.hash:
        return Problem(pos, "modified", '"hash" is not the line\'s last member as written (the line was re-serialised or edited)')
    algorithm = event.hash.split(":", 1)[0]
    if key is None and algorithm == HMAC_SHA256:
        raise Unverifiable(f"{result.where(pos)}: the chain is keyed (hmac-sha256): give the key with --key-env")
    if key is not None and algorithm != HMAC_SHA256:
        return Problem(pos, "modified", f"{algorithm} hash where a keyed (hmac-sha256) one was expected: rewritten without the key")
    if algorithm not in (SHA256, HMAC_SHA256):
        return Problem(pos, "modified", f"unknown hash algorithm {algorithm!r}")
    unsigned = raw[: tail.start()] + b"}"
    if not hmac.compare_digest(chain_digest(event.prev_hash, unsigned, key), event.hash):
        how = "edited, or forged without the key" if key is not None else "edited after it was written"
        return Problem(pos, "modified", f"its hash does not match its content ({how})")

    h, prev, chain = event.hash, event.prev_hash, event.chain_id
    if h in seen:
        return Problem(pos, "inserted", f"a copy of {result.where(seen[h])} (replayed)")
    expected = last.get(chain)
    if expected is None:  # the chain's first line in these files
        if prev != GENESIS:
            where = index.get(prev)
            if where is not None and where > pos:
                return Problem(pos, "reordered", f"it follows {result.where(where)}, which comes after it")
            if where is not None:
                return Problem(pos, "inserted", f"it claims to follow {result.where(where)}, a line of another chain")
            result.notes.append(
                f"{result.where(pos)}: chain {chain} continues from an earlier file (prev_hash {prev}); "
                "give the earlier files first to check the join"
            )
    elif prev != expected[0]:
        where = index.get(prev)
        if prev == GENESIS:
            return Problem(pos, "inserted", f"it starts chain {chain} again, which began earlier")
        if where is None:
            return Problem(pos, "deleted", f"the line before it in chain {chain} (hash {prev}) is missing; the chain's previous line here is {result.where(expected[1])}")
        if where > pos:
            return Problem(pos, "reordered", f"it follows {result.where(where)}, which comes after it")
        first_after = followed.get(prev)
        if first_after is not None:
            return Problem(
                first_after,
                "inserted",
                f"{result.where(pos)} follows {result.where(where)} directly, so the chain's lines from here to {result.where(expected[1])} do not belong",
            )
        return Problem(pos, "reordered", f"it follows {result.where(where)}, but the chain's previous line is {result.where(expected[1])}")

    seen[h] = pos
    followed.setdefault(prev, pos)
    last[chain] = (h, pos)
    first = result.chains.get(chain, (pos, pos, h))[0]
    result.chains[chain] = (first, pos, h)
    return None


def _lines(files: Sequence[Path]) -> Iterator[tuple[Position, bytes]]:
    for i, path in enumerate(files):
        try:
            with open(path, "rb") as f:
                for n, line in enumerate(f, 1):
                    yield (i, n), line.rstrip(b"\n")
        except OSError as exc:
            raise Unverifiable(f"{path}: cannot read: {exc.strerror or exc}") from exc


def _index(files: Sequence[Path]) -> dict[str, Position]:
    """Where each hash is (its first occurrence), from a cheap scan: no JSON parsing."""
    index: dict[str, Position] = {}
    for pos, raw in _lines(files):
        match = _HASH_TAIL.search(raw.rstrip(b"\r")) or _HASH_ANYWHERE.search(raw)
        if match is not None:
            index.setdefault(match.group(1).decode(), pos)
    return index


def key_from_env(name: str | None) -> bytes | None:
    if not name:
        return None
    value = os.environ.get(name)
    if not value:
        raise Unverifiable(f"the key variable {name} is not set")
    return value.encode()


def add_audit_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """`ztgate audit verify FILE... [--key-env VAR]`."""
    audit = sub.add_parser("audit", help="check audit logs").add_subparsers()
    p = audit.add_parser(
        "verify",
        help="check that every line is an AuditEvent and the hash chain is unbroken (exit 0 ok, 1 broken, 2 unreadable)",
        description="Files are one sequence, oldest first (e.g. audit.jsonl.2 audit.jsonl.1 audit.jsonl).",
    )
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument("--key-env", metavar="VAR", help="environment variable holding the HMAC key (the writer's audit.chain_key_env)")
    p.add_argument("-q", "--quiet", action="store_true", help="print only a problem")
    p.set_defaults(func=_cmd_verify)


def _cmd_verify(args: argparse.Namespace) -> int:
    return run(args.files, key_env=args.key_env, quiet=args.quiet)


def run(files: Sequence[Path], *, key_env: str | None = None, quiet: bool = False, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        result = verify(files, key_from_env(key_env))
    except Unverifiable as exc:
        print(f"ztgate audit verify: {exc}", file=sys.stderr)
        return UNREADABLE
    if result.problem is not None:
        problem = result.problem
        print(f"{result.where(problem.position)}: {problem.kind}: {problem.detail}", file=out)
        print(f"BROKEN: line {problem.position[1]} of {result.files[problem.position[0]]} ({problem.kind})", file=out)
        return BROKEN
    if not quiet:
        for note in result.notes:
            print(f"note: {note}", file=out)
        for chain, (first, end, h) in result.chains.items():
            print(f"chain {chain}: {result.where(first)} .. {result.where(end)}, last hash {h}", file=out)
        keyed = " (keyed)" if key_env else ""
        print(f"OK: {result.lines} lines, {len(result.chains)} chain(s){keyed}", file=out)
    return OK
