#!/usr/bin/env python3
"""How well InjectionDetector separates prompt injection from benign prompts, on third-party corpora.

    .venv/bin/python bench/quality_injection.py                 # the markdown table (held-out vs training)
    .venv/bin/python bench/quality_injection.py --threshold 0.6 # at another operating point
    .venv/bin/python bench/quality_injection.py --misses heldout # also list what it gets wrong

The corpora live beside the repository (../shared/corpora, see its README); nothing here is copied
into the project. This module is also the single definition of the evaluation data and of the
train / held-out split: scripts/train_injection.py imports it, so the model is trained on exactly the
rows this table calls "training" and never on a row it calls "held-out".

The split (documented, deterministic, no RNG state):

* POOLED sets (deepset train, gandalf, protectai validation attacks and benign, NotInject) are split
  by a salted SHA-256 of a *group key*: half of the groups train, half are held out. The group key is
  the whitespace/case-normalised text, so a text that occurs in several sets (deepset train is a
  subset of the protectai validation set, NotInject of protectai benign) lands on the same side
  everywhere. For spikee documents ("Summarize the following document: ... <payload>") the key is the
  injected payload alone, so the same payload wrapped in a different instruction cannot sit on both
  sides.
* NEVER-TRAINED sets (llm_guard test cases, MT-bench, awesome-chatgpt-prompts, JailbreakBench benign)
  are never used for training, and a pooled text that also occurs in one of them, or contains one
  (of 40 characters or more), is held out too, with its whole group.

Overall numbers count every distinct (normalised) text once. Recall is over attack texts, FPR over
benign texts.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
CORPORA = REPO.parent / "shared" / "corpora"

SPLIT_SEED = "ztgate-injection-split-v1"
TRAIN_FRACTION = 0.5

# What the target in the issue is measured on (recall >= 0.90 at overall FPR <= 0.02, no benign set
# above 0.05). llm_guard_benign is reported as an extra line, outside the overall numbers.
ATTACK_SETS = ("deepset_attacks", "gandalf_attacks", "protectai_val_attacks", "llm_guard_attacks")
BENIGN_SETS = (
    "deepset_benign",
    "protectai_val_benign",
    "notinject_benign",
    "mt_bench_questions",
    "awesome_chatgpt_prompts",
    "jbb_benign",
)
EXTRA_SETS = ("llm_guard_benign",)
POOLED = frozenset(
    {"deepset_attacks", "deepset_benign", "gandalf_attacks", "protectai_val_attacks",
     "protectai_val_benign", "notinject_benign"}
)


@dataclass(frozen=True, slots=True)
class Sample:
    text: str
    label: int  # 1 = injection / jailbreak, 0 = benign
    set: str
    row: int  # line (or CSV record) number in its file, 0-based
    source: str = ""  # where the row came from inside its set (the protectai set mixes several)


def _jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_sets(root: Path = CORPORA) -> dict[str, list[Sample]]:
    """Every evaluation set by name, as Samples, in file order."""
    inj = root / "injection"
    sets: dict[str, list[Sample]] = {}

    deepset = _jsonl(inj / "deepset_train.jsonl")
    sets["deepset_attacks"] = [Sample(r["text"], 1, "deepset_attacks", i)
                               for i, r in enumerate(deepset) if r["label"] == 1]
    sets["deepset_benign"] = [Sample(r["text"], 0, "deepset_benign", i)
                              for i, r in enumerate(deepset) if r["label"] == 0]
    for name, label in (("gandalf_attacks", 1), ("protectai_val_attacks", 1),
                        ("protectai_val_benign", 0), ("notinject_benign", 0), ("jbb_benign", 0)):
        sets[name] = [Sample(r["text"], label, name, i, _source(r.get("description", "")))
                      for i, r in enumerate(_jsonl(inj / f"{name}.jsonl"))]

    # llm_guard: the prompt-injection scanner's cases; expected_valid False = an attack. The
    # invisible-text scanner's cases (Unicode tag characters) belong to the smuggling detector and are
    # left out (their benign rows are kept as benign).
    guard = _jsonl(inj / "llm_guard_cases.jsonl")
    sets["llm_guard_attacks"] = [
        Sample(r["prompt"], 1, "llm_guard_attacks", i) for i, r in enumerate(guard)
        if not r["expected_valid"] and r["source"].endswith("test_prompt_injection.py")
    ]
    sets["llm_guard_benign"] = [Sample(r["prompt"], 0, "llm_guard_benign", i)
                                for i, r in enumerate(guard) if r["expected_valid"]]

    # MT-bench: every turn is one user message.
    mt = _jsonl(root / "benign" / "mt_bench_questions.jsonl")
    sets["mt_bench_questions"] = [Sample(t, 0, "mt_bench_questions", i)
                                  for i, r in enumerate(mt) for t in r["turns"]]

    with (root / "benign" / "awesome_chatgpt_prompts.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    sets["awesome_chatgpt_prompts"] = [Sample(r["prompt"], 0, "awesome_chatgpt_prompts", i)
                                       for i, r in enumerate(rows)
                                       if r["act"] != "Unconstrained AI model DAN"]
    return sets


def _source(description: str) -> str:
    """"protectai validation split=spikee source=" -> "spikee"; "... split=InjecGuard_valid
    source=BIPIA_text" -> "InjecGuard_valid/BIPIA_text"; other sets' descriptions -> ""."""
    m = re.search(r"split=(\S*) source=(\S*)", description)
    if not m:
        return ""
    return f"{m.group(1)}/{m.group(2)}" if m.group(2) else m.group(1)


def norm(text: str) -> str:
    return " ".join(text.lower().split())


_SPIKEE = re.compile(
    r"^(?:Given this document|Summarize the following document):\s*(?:<data>)?\s*HEADLINE:.*?"
    r"More details can be found in the attached document\.(.*?)(?:</data>|Answer the following question:|$)",
    re.S,
)


def group_key(text: str) -> str:
    """What decides a text's side of the split: its normalised text, or a spikee document's payload."""
    m = _SPIKEE.match(text)
    if m:
        return "spikee:" + norm(m.group(1))
    return norm(text)


def _in_train_half(key: str) -> bool:
    digest = hashlib.sha256(f"{SPLIT_SEED}\0{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < TRAIN_FRACTION


def split(sets: dict[str, list[Sample]]) -> dict[str, str]:
    """norm(text) -> "train" | "heldout" for every text in every set."""
    never = {norm(s.text) for name, rows in sets.items() if name not in POOLED for s in rows}
    # Long never-trained texts, to catch pooled rows that embed one (deepset appends whole
    # awesome-chatgpt-prompts to questions and labels the result an injection).
    never_long = [n for n in never if len(n) >= 40]
    side: dict[str, str] = {}
    # A group is held out if any of its texts is, or contains, a never-trained text.
    pooled = {s.text: norm(s.text) for name, rows in sets.items() if name in POOLED for s in rows}
    blocked_groups = {group_key(t) for t, n in pooled.items()
                      if n in never or any(m in n for m in never_long if len(m) <= len(n))}
    for name, rows in sets.items():
        for s in rows:
            n = norm(s.text)
            if name not in POOLED or n in never:
                side[n] = "heldout"
                continue
            g = group_key(s.text)
            side.setdefault(n, "train" if g not in blocked_groups and _in_train_half(g) else "heldout")
    return side


def training_samples(sets: dict[str, list[Sample]] | None = None) -> list[Sample]:
    """The rows the model may learn from: the train half of the pooled sets, one per distinct text.

    A text labelled both ways (none today) would be dropped."""
    sets = load_sets() if sets is None else sets
    side = split(sets)
    seen: dict[str, Sample] = {}
    conflict: set[str] = set()
    for name in sorted(POOLED):
        for s in sets[name]:
            n = norm(s.text)
            if side[n] != "train":
                continue
            if n in seen and seen[n].label != s.label:
                conflict.add(n)
            seen.setdefault(n, s)
    return [s for n, s in seen.items() if n not in conflict]


# --- evaluation -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cell:
    hits: int  # attacks detected, or benign texts flagged
    n: int

    @property
    def rate(self) -> float:
        return self.hits / self.n if self.n else float("nan")

    def fmt(self) -> str:
        return f"{self.rate:.3f} ({self.hits}/{self.n})" if self.n else "–"


def evaluate(score, threshold: float, sets: dict[str, list[Sample]] | None = None) -> dict:
    """Score every distinct text once; return per-set and overall cells for both sides of the split."""
    sets = load_sets() if sets is None else sets
    side = split(sets)
    cache: dict[str, float] = {}
    for rows in sets.values():
        for s in rows:
            if s.text not in cache:
                cache[s.text] = score(s.text)
    flagged = {t: v >= threshold for t, v in cache.items()}

    per_set: dict[str, dict[str, Cell]] = {}
    overall: dict[tuple[str, int], dict[str, bool]] = {}
    for name in ATTACK_SETS + BENIGN_SETS + EXTRA_SETS:
        cells = {}
        for part in ("heldout", "train"):
            rows = [s for s in sets[name] if side[norm(s.text)] == part]
            cells[part] = Cell(sum(flagged[s.text] for s in rows), len(rows))
            if name in EXTRA_SETS:
                continue
            for s in rows:
                overall.setdefault((part, s.label), {})[norm(s.text)] = flagged[s.text]
        per_set[name] = cells
    total = {
        key: Cell(sum(v.values()), len(v)) for key, v in overall.items()
    }
    return {"per_set": per_set, "overall": total, "scores": cache, "side": side}


def table(result: dict, threshold: float) -> str:
    per_set, overall = result["per_set"], result["overall"]
    lines = [
        f"Injection detector at threshold {threshold:g}. Attack sets: recall; benign sets: false-positive "
        "rate. **held-out** = never seen in training (the pooled sets' held-out half, and the sets never "
        "used for training); **training** = the rows the shipped model was fitted on and the rules were "
        "written against (in-sample, optimistic).",
        "",
        "| set | kind | used for training | metric | held-out | training (in-sample) |",
        "|---|---|---|---|---|---|",
    ]
    for name in ATTACK_SETS + BENIGN_SETS + EXTRA_SETS:
        kind = "attack" if name in ATTACK_SETS else "benign"
        metric = "recall" if kind == "attack" else "FPR"
        used = "half (split)" if name in POOLED else "never"
        if name in EXTRA_SETS:
            kind += " (extra, not in overall)"
        c = per_set[name]
        lines.append(f"| {name} | {kind} | {used} | {metric} | {c['heldout'].fmt()} | {c['train'].fmt()} |")
    for part, label in (("heldout", "held-out"), ("train", "training (in-sample)")):
        r = overall.get((part, 1), Cell(0, 0))
        f = overall.get((part, 0), Cell(0, 0))
        lines.append(f"| **overall {label}** | distinct texts | | recall / FPR | "
                     f"recall {r.fmt()} / FPR {f.fmt()} | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threshold", type=float, default=None, help="default: the detector's own")
    parser.add_argument("--misses", choices=("heldout", "train", "all"), default=None,
                        help="also list missed attacks and flagged benign texts of that side")
    parser.add_argument("--corpora", type=Path, default=CORPORA)
    args = parser.parse_args(argv)
    if not args.corpora.is_dir():
        print(f"corpora not found at {args.corpora}", file=sys.stderr)
        return 2
    sys.path.insert(0, str(REPO / "server"))
    from ztgate.detect.injection import InjectionDetector

    det = InjectionDetector() if args.threshold is None else InjectionDetector(threshold=args.threshold)
    sets = load_sets(args.corpora)
    t0 = time.perf_counter()
    result = evaluate(det.score, det.threshold, sets)
    elapsed = time.perf_counter() - t0
    print(table(result, det.threshold))
    n = len(result["scores"])
    print(f"\n{n} distinct texts scored in {elapsed:.2f} s ({elapsed / n * 1e3:.3f} ms per text, "
          f"mean length {sum(map(len, result['scores'])) / n:.0f} chars).")
    if args.misses:
        side = result["side"]
        for name in ATTACK_SETS + BENIGN_SETS + EXTRA_SETS:
            for s in sets[name]:
                part = side[norm(s.text)]
                if args.misses != "all" and part != args.misses:
                    continue
                flagged = result["scores"][s.text] >= det.threshold
                if flagged != bool(s.label):
                    what = "MISS" if s.label else "FP"
                    print(f"{what} {name}#{s.row} [{part}] {result['scores'][s.text]:.2f} "
                          f"{s.text[:300]!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
