"""`ztgate scan`: run the detectors over texts from a file or stdin and print what they find.

Input is plain text (one text per line) or JSONL (one object per line with "text" and optionally
"role", "direction" and "id"); the format is taken from the first non-blank line unless --format says.
Output is one JSON line per input: its line number, id/role when given, the direction, the injection
score and the findings (detector, type, severity, score, start/end in the text, encoding). Like the
policy input, it never prints the matched values, so it is safe to run over real traffic.

With --fail-on SEVERITY the exit status is 1 when any finding reaches that severity (for CI).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import orjson

from .base import SEVERITIES
from .scanner import DIRECTIONS, Scanner, ScannerConfigError

HELP = "run the content detectors over texts (lines or JSONL) and print findings as JSONL"


def add_scan_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `scan` on the CLI's subparsers (its func is run_scan)."""
    p = subparsers.add_parser("scan", help=HELP, description=HELP)
    _arguments(p)
    p.set_defaults(func=run_scan)
    return p


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", nargs="?", default="-", help="input file (default: stdin)")
    p.add_argument("--direction", choices=DIRECTIONS, default="input", help="input (prompts) or output (model text)")
    # dest differs from the top-level -c/--config (ztgate.yaml) so the two never overwrite each other.
    p.add_argument(
        "--config", dest="detect_config", type=Path, metavar="FILE",
        help="detector config as JSON (data.ztgate.config.detect), merged over the shipped defaults",
    )  # fmt: skip
    p.add_argument("--format", dest="input_format", choices=("auto", "text", "jsonl"), default="auto")
    p.add_argument("--fail-on", choices=SEVERITIES, help="exit 1 when a finding reaches this severity")


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="ztgate scan", description=HELP)
    _arguments(p)
    return p.parse_args(list(argv))


def _records(lines: Iterator[str], input_format: str) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, record or error message) for every non-blank line."""
    jsonl: bool | None = {"text": False, "jsonl": True}.get(input_format)
    for number, line in enumerate(lines, 1):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        if jsonl is None:
            jsonl = _is_record(line)
        if not jsonl:
            yield number, {"text": line}
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield number, f"invalid JSON: {exc}"
            continue
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            yield number, 'expected an object with a string "text"'
            continue
        yield number, record


def _is_record(line: str) -> bool:
    if not line.lstrip().startswith("{"):
        return False
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return isinstance(record, dict) and "text" in record


def _load_config(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        config = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ScannerConfigError(f"cannot read detector config {path}: {exc}") from exc
    if not isinstance(config, dict):
        raise ScannerConfigError(f"detector config {path} must be a JSON object")
    return config


def scan_stream(scanner: Scanner, source: IO[str], out: Any, *, direction: str, input_format: str = "auto") -> str | None:
    """Scan every record of source, write one JSON line each to out; return the worst severity seen."""
    worst = -1
    for number, record in _records(iter(source), input_format):
        if isinstance(record, str):
            out.write(orjson.dumps({"line": number, "error": record}) + b"\n")
            continue
        record_direction = record.get("direction", direction)
        if record_direction not in DIRECTIONS:
            out.write(orjson.dumps({"line": number, "error": f"direction must be one of {DIRECTIONS}"}) + b"\n")
            continue
        findings, injection_score = scanner.scan_text_scored(record["text"], record_direction)
        line: dict[str, Any] = {"line": number}
        if "id" in record:
            line["id"] = record["id"]
        if "role" in record:
            line["role"] = record["role"]
        line["direction"] = record_direction
        line["injection_score"] = round(injection_score, 3)
        line["findings"] = [
            {
                "detector": f.detector,
                "type": f.type,
                "severity": f.severity,
                "score": round(f.score, 3),
                "start": f.start,
                "end": f.end,
                "encoding": f.encoding,
            }
            for f in findings
        ]
        for f in findings:
            if f.severity in SEVERITIES:
                worst = max(worst, SEVERITIES.index(f.severity))
        out.write(orjson.dumps(line) + b"\n")
    return SEVERITIES[worst] if worst >= 0 else None


class _BinaryOut:
    """stdout as bytes: its buffer when it has one (a console, a pipe), else encoded onto the text stream."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._buffer = getattr(stream, "buffer", None)
        stream.flush()

    def write(self, data: bytes) -> None:
        if self._buffer is not None:
            self._buffer.write(data)
        else:
            self._stream.write(data.decode())

    def flush(self) -> None:
        self._stream.flush()
        if self._buffer is not None:
            self._buffer.flush()


def run_scan(args: argparse.Namespace | Sequence[str] | None = None) -> int:
    """The `scan` subcommand: args from add_scan_parser's parser, or an argv list (e.g. ["-", "--direction", "output"])."""
    if args is None:
        args = sys.argv[1:]
    if not isinstance(args, argparse.Namespace):
        args = _parse(args)
    try:
        scanner = Scanner.from_config(_load_config(getattr(args, "detect_config", None)))
    except (ScannerConfigError, ValueError) as exc:
        print(f"ztgate scan: {exc}", file=sys.stderr)
        return 2
    except (ImportError, OSError) as exc:  # a detector module or its data file is missing
        print(f"ztgate scan: cannot build the detectors: {exc}", file=sys.stderr)
        return 2
    path = getattr(args, "file", "-") or "-"
    out = _BinaryOut(sys.stdout)
    try:
        if path == "-":
            # Undecodable bytes reach the detectors as surrogates instead of stopping the scan.
            if hasattr(sys.stdin, "buffer"):
                source: IO[str] = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="surrogateescape")
            else:
                source = sys.stdin
            context: Any = contextlib.nullcontext(source)
        else:
            context = source = open(path, encoding="utf-8", errors="surrogateescape")
    except OSError as exc:
        print(f"ztgate scan: {exc}", file=sys.stderr)
        return 2
    try:
        with context:
            worst = scan_stream(
                scanner, source, out, direction=args.direction, input_format=getattr(args, "input_format", "auto")
            )
    finally:
        if path == "-" and source is not sys.stdin:
            source.detach()  # type: ignore[attr-defined]  # leave sys.stdin's buffer open
    out.flush()
    fail_on = getattr(args, "fail_on", None)
    if fail_on and worst is not None and SEVERITIES.index(worst) >= SEVERITIES.index(fail_on):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run_scan())
