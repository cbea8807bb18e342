"""How long content inspection takes per text: the full Scanner and each step of it.

    .venv/bin/python bench/speed_detect.py                # 4 KB and 64 KB, input and output
    .venv/bin/python bench/speed_detect.py --iterations 2000 --sizes 4096,16384,65536
    .venv/bin/python bench/speed_detect.py --check        # exit 3 when 4 KB input misses its target

Targets (input direction, all detectors, cache off): 4 KB prompt p50 <= 1 ms, p99 <= 3 ms; 64 KB
about 16x that (linear). The texts are synthetic but realistic: prose in four languages, code, JSON,
a stack trace, an email address, phone number, URLs and a base64 blob, none of which is a secret, so
the numbers show the cost of reading clean traffic (the common case). Each iteration scans a
distinct text (a counter varies it) so nothing is served from the scanner's result cache; the cache
hit cost is printed separately.

Runs with whatever detector modules exist (a missing one is named in the output). Standalone: no
other bench module is imported.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "server"))

from ztgate.detect.scanner import ALL_DETECTORS, Scanner  # noqa: E402

TARGET_P50_MS = 1.0
TARGET_P99_MS = 3.0

_CHUNKS = [
    "Hi! I'm working on the billing service and need help refactoring the invoice export. ",
    "The current implementation loads every invoice into memory before writing the CSV, which fails "
    "for large customers. Could you rewrite it to stream rows instead? ",
    "Here is the function:\n\n```python\ndef export(invoices, out):\n    rows = [to_row(i) for i in invoices]\n"
    "    writer = csv.writer(out)\n    for row in rows:\n        writer.writerow(row)\n    return len(rows)\n```\n\n",
    "Our style guide is at https://wiki.internal.test/eng/style-guide and the ticket is BILL-4821. ",
    'The config looks like {"batch_size": 500, "timeout_s": 30, "region": "eu-west-1", "retries": 3}. ',
    "Traceback (most recent call last):\n  File \"export.py\", line 42, in export\n    rows = [to_row(i) for i in invoices]\n"
    "MemoryError\n\n",
    "Please keep the public signature; the caller is the nightly job owned by jane.doe@example.com "
    "(on call: +49 30 1234567). ",
    "Der Export sollte außerdem die Umsatzsteuer korrekt ausweisen und Rundungsfehler vermeiden. ",
    "Le fichier doit rester compatible avec l'outil de comptabilité existant, merci de vérifier les dates. ",
    "El informe mensual también usa esta función, así que no cambies el formato de las columnas. ",
    "A sample attachment header was aGVhZGVyLXZlcnNpb246IDIKZm9ybWF0OiBjc3YKZW5jb2Rpbmc6IHV0Zi04 "
    "(it is just metadata). ",
    "Also, what's the best way to test this with pytest and a temporary directory? ",
    "The team prefers small functions, type hints everywhere and no global state. ",
]
_OUTPUT_EXTRA = [
    "Here is the streaming version:\n\n```python\ndef export(invoices, out):\n    writer = csv.writer(out)\n"
    "    n = 0\n    for invoice in invoices:\n        writer.writerow(to_row(invoice))\n        n += 1\n    return n\n```\n\n",
    "See the [csv module docs](https://docs.python.org/3/library/csv.html) and "
    "![diagram](https://docs.example.com/img/export-flow.png) for the flow. ",
]


def make_text(size: int, salt: int, output: bool = False, ascii_only: bool = False) -> str:
    """A text of exactly size characters; salt makes each one distinct (defeats the result cache).
    ascii_only leaves out the German, French and Spanish sentences (an English-only prompt)."""
    chunks = _CHUNKS + (_OUTPUT_EXTRA if output else [])
    if ascii_only:
        chunks = [c for c in chunks if c.isascii()]
    parts = [f"[{salt}] "]
    total = len(parts[0])
    i = salt
    while total < size:
        chunk = chunks[i % len(chunks)]
        parts.append(chunk)
        total += len(chunk)
        i += 1
    return "".join(parts)[:size]


def percentiles(samples_ns: list[int]) -> tuple[float, float, float]:
    """(p50, p99, mean) in milliseconds."""
    ordered = sorted(samples_ns)
    p50 = ordered[len(ordered) // 2]
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return p50 / 1e6, p99 / 1e6, statistics.fmean(ordered) / 1e6


def measure(
    fn: Callable[[str], object], texts: list[str], warmup: int = 20, prepare: Callable[[str], object] | None = None
) -> tuple[float, float, float]:
    """(p50, p99, mean) ms of fn over texts; prepare(text), if given, runs first and is not timed."""
    for text in texts[:warmup]:
        fn(text)
    samples = []
    clock = time.perf_counter_ns
    gc_was = gc.isenabled()
    gc.disable()
    try:
        for text in texts:
            if prepare is not None:
                prepare(text)
            t0 = clock()
            fn(text)
            samples.append(clock() - t0)
    finally:
        if gc_was:
            gc.enable()
    return percentiles(samples)


def available(name: str) -> bool:
    module = {"smuggling": "normalize"}.get(name, name)
    return importlib.util.find_spec(f"ztgate.detect.{module}") is not None


def build_scanner(cache: bool, skip: frozenset[str] = frozenset()) -> tuple[Scanner, list[str]]:
    enabled = [name for name in ALL_DETECTORS if available(name) and name not in skip]
    missing = [name for name in ALL_DETECTORS if name not in enabled]
    config: dict = {"enabled": enabled, "scanner": {"cache_entries": 1024 if cache else 0}}
    if not available("smuggling"):
        config["normalize"] = False
        missing.append("(normalize)")
    if not available("decode"):
        config["decode"] = {"max_depth": 0}
        missing.append("(decode)")
    return Scanner.from_config(config), missing


def steps(scanner: Scanner, direction: str) -> list[tuple[str, Callable[[str], object]]]:
    """Each piece of the scanner's work on its own, as the scanner runs it. The keyword pass the
    detectors share is its own step; the detectors and the decoder are timed after it (see main)."""
    out: list[tuple[str, Callable[[str], object]]] = []
    if scanner.normalizer is not None:
        out.append(("normalize", scanner.normalizer))
    keywords = getattr(scanner, "keywords", None)
    if keywords is not None:
        out.append(("keywords (shared)", keywords.hits))
    for name in scanner.detectors_for(direction):
        if name == "smuggling":
            continue
        detector = scanner.detectors[name]
        out.append((name, lambda text, d=detector: d.scan(text, direction)))
        if name == "injection" and callable(getattr(detector, "score", None)):
            out.append(("injection.score", detector.score))
    if scanner.decoder is not None:
        decoder = scanner.decoder
        depth, limit = scanner.decode_max_depth, scanner.decode_max_bytes
        out.append(("decode", lambda text: decoder(text, max_depth=depth, max_bytes=limit)))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--sizes", default="4096,65536")
    parser.add_argument("--no-breakdown", action="store_true")
    parser.add_argument("--skip", default="", help="detectors to leave out, e.g. injection,pii")
    parser.add_argument(
        "--texts", default="mixed,ascii",
        help="mixed: prose in four languages (non-ASCII); ascii: English only (the normaliser's fast path)",
    )  # fmt: skip
    parser.add_argument("--check", action="store_true", help="exit 3 when 4 KB input misses its target")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]

    t0 = time.perf_counter()
    skip = frozenset(filter(None, args.skip.split(",")))
    scanner, missing = build_scanner(cache=False, skip=skip)
    build_ms = (time.perf_counter() - t0) * 1e3
    print(f"python {sys.version.split()[0]}; scanner built in {build_ms:.0f} ms")
    if missing:
        print(f"NOT MEASURED (module missing or skipped): {', '.join(missing)}")
    for direction in ("input", "output"):
        print(f"  {direction}: {', '.join(scanner.detectors_for(direction))}")
    print()
    print(f"{'what':<30}{'size':>8}{'p50 ms':>10}{'p99 ms':>10}{'mean ms':>10}{'MB/s':>8}")
    failed = False
    for kind in args.texts.split(","):
        ascii_only = kind == "ascii"
        for size in sizes:
            iterations = max(50, args.iterations * 4096 // size)
            for direction in ("input", "output"):
                texts = [
                    make_text(size, i, output=direction == "output", ascii_only=ascii_only) for i in range(iterations)
                ]
                p50, p99, mean = measure(lambda t: scanner.scan_text(t, direction), texts)
                rate = size / (mean / 1e3) / 1e6
                label = f"Scanner {direction} ({kind})"
                print(f"{label:<30}{size:>8}{p50:>10.3f}{p99:>10.3f}{mean:>10.3f}{rate:>8.1f}")
                if size == 4096 and direction == "input" and (p50 > TARGET_P50_MS or p99 > TARGET_P99_MS):
                    failed = True
                if args.no_breakdown:
                    continue
                for name, fn in steps(scanner, direction):
                    normalized = texts
                    if scanner.normalizer is not None and name != "normalize" and not getattr(
                        scanner.detectors.get(name), "scans_original_text", False
                    ):
                        normalized = [scanner.normalizer(t)[0].text for t in texts]
                    keywords = getattr(scanner, "keywords", None)
                    prepare = keywords.hits if keywords is not None and name != "keywords (shared)" else None
                    p50, p99, mean = measure(fn, normalized, prepare=prepare)
                    print(f"{'  ' + name:<30}{size:>8}{p50:>10.3f}{p99:>10.3f}{mean:>10.3f}")
            print()
    cached, _ = build_scanner(cache=True, skip=skip)
    text = make_text(4096, 1)
    cached.scan_text(text, "input")
    p50, p99, _ = measure(lambda t: cached.scan_text(t, "input"), [text] * 2000)
    print(f"{'cache hit (4 KB)':<30}{4096:>8}{p50:>10.4f}{p99:>10.4f}")
    print(f"\ntarget, 4 KB input: p50 <= {TARGET_P50_MS} ms, p99 <= {TARGET_P99_MS} ms: {'MISSED' if failed else 'met'}")
    return 3 if failed and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
