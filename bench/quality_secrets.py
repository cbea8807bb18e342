"""Recall and false positives of ztgate's secrets detector on third-party test cases.

    .venv/bin/python bench/quality_secrets.py [--corpora ../shared/corpora] [--misses]

Sets (see ../shared/corpora/README.md):
- secrets/gitleaks_literal_cases.jsonl: gitleaks' rule tests, per rule id, "tp" (must fire) or "fp".
- secrets/detect_secrets_cases.jsonl: detect-secrets' plugin tests, should_flag true/false.
- benign prompts: benign/mt_bench_questions.jsonl (every turn), benign/awesome_chatgpt_prompts.csv,
  injection/*benign*.jsonl. No secrets in them: any finding is a false positive.

A positive counts as found when the detector reports any finding on the text (the cases test one
rule each; the ids differ from ztgate's). A negative counts as a false positive when it reports any.

Scoring choices, applied before anything runs:
- negatives whose exact text is a positive of another rule are dropped (cloudflare-api-key's
  negatives are cloudflare-global-api-key's positives, gitlab_token's include a GitHub token); so are cases whose label depends only on the
  file path (pkcs12-file has no text; hashicorp-tf-password, nuget-config-password and freemius give
  one text both labels by file name: ztgate sees text, never paths).
- detect-secrets cases without should_flag count as positives for test_analyze/test_basic (those
  tests assert a finding); its helper tests (test_find_*, test_get_*) are not detection tests and
  are skipped; ip_public (public IP addresses) is not a credential (PII's business) and is skipped.
- "placeholder" positives (a value of x's or one repeated character, e.g. detect-secrets'
  AKIAZZZZZZZZZZZZZZZZ or AP6xxxxxxxxxx) are shown in a row of their own: ztgate does not flag
  placeholders by design, so they are reported but kept out of the provider/generic recall.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import regex

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))

from ztgate.detect.secrets import SecretsDetector  # noqa: E402

DEFAULT_CORPORA = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"

# gitleaks rules for formats any system uses; every other rule id is a provider/cloud credential.
GITLEAKS_GENERIC = {
    "generic-api-key", "curl-auth-header", "curl-auth-user", "hashicorp-tf-password", "nuget-config-password",
    "kubernetes-secret-yaml", "jwt", "jwt-base64", "private-key", "pkcs12-file",
}
GITLEAKS_PATH_ONLY = {"pkcs12-file"}
DETECT_SECRETS_GENERIC = {"basic_auth", "jwt", "private_key"}
DETECT_SECRETS_SKIPPED = {"ip_public"}
# Vendor family of a rule id, for the table: the first word, with a few merges.
FAMILY_MERGE = {"aws": "aws", "ibm": "ibm", "softlayer": "ibm", "cloudant": "ibm", "1password": "1password",
                "curl": "curl", "slack": "slack", "sumologic": "sumologic", "huggingface": "huggingface"}
PLACEHOLDER = regex.compile(r"(?i)(?<![a-z])[a-z0-9]{0,4}(?:x{6,}|(.)\1{9,})")


@dataclass
class Case:
    corpus: str
    rule: str
    family: str  # "provider" | "generic"
    text: str
    positive: bool


@dataclass
class Tally:
    total: int = 0
    hits: int = 0
    missed: list[str] = field(default_factory=list)


def vendor(rule: str) -> str:
    head = regex.split(r"[-_]", rule)[0]
    return FAMILY_MERGE.get(head, head)


def load_cases(corpora: Path) -> tuple[list[Case], dict[str, int]]:
    """The scored cases of both secret corpora, and how many were skipped and why."""
    cases: list[Case] = []
    skipped: dict[str, int] = defaultdict(int)
    rows = [json.loads(line) for line in (corpora / "secrets" / "gitleaks_literal_cases.jsonl").open()]
    ds_rows = [json.loads(line) for line in (corpora / "secrets" / "detect_secrets_cases.jsonl").open()]
    positives = {r["text"] for r in rows if r["label"] == "tp"} | {r["text"] for r in ds_rows if r["should_flag"]}
    labels_by_text: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in rows:
        labels_by_text[(r["rule_id"], r["text"])].add(r["label"])
    for r in rows:
        rule, text, positive = r["rule_id"], r["text"], r["label"] == "tp"
        if rule in GITLEAKS_PATH_ONLY or not text.strip():
            skipped["gitleaks: file-name-only rule"] += 1
        elif "path" in r and len(labels_by_text[(rule, text)]) > 1:
            skipped["gitleaks: label depends on file path"] += 1
        elif not positive and text in positives:
            skipped["gitleaks: negative that is another rule's positive"] += 1
        else:
            family = "generic" if rule in GITLEAKS_GENERIC else "provider"
            cases.append(Case("gitleaks", rule, family, text, positive))
    for r in ds_rows:
        plugin, flag, test = r["plugin"], r["should_flag"], r["test"]
        if plugin in DETECT_SECRETS_SKIPPED:
            skipped["detect-secrets: not a credential (ip_public)"] += 1
            continue
        if flag is None:
            if test not in ("test_analyze", "test_basic"):
                skipped["detect-secrets: helper test, not detection"] += 1
                continue
            flag = True
        if not flag and r["text"] in positives:
            skipped["detect-secrets: negative that is another plugin's positive"] += 1
            continue
        family = "generic" if plugin in DETECT_SECRETS_GENERIC else "provider"
        cases.append(Case("detect-secrets", plugin, family, r["text"], bool(flag)))
    return cases, dict(skipped)


def load_benign(corpora: Path) -> dict[str, list[str]]:
    sets: dict[str, list[str]] = {}
    mt = corpora / "benign" / "mt_bench_questions.jsonl"
    sets["mt_bench_questions"] = [t for line in mt.open() for t in json.loads(line)["turns"]]
    with (corpora / "benign" / "awesome_chatgpt_prompts.csv").open(newline="") as fh:
        sets["awesome_chatgpt_prompts"] = [row["prompt"] for row in csv.DictReader(fh)]
    for path in sorted((corpora / "injection").glob("*benign*.jsonl")):
        sets[path.stem] = [json.loads(line)["text"] for line in path.open()]
    return sets


def is_placeholder_case(text: str) -> bool:
    return PLACEHOLDER.search(text) is not None


def evaluate(corpora: Path = DEFAULT_CORPORA) -> dict[str, object]:
    """All numbers of the report: per family and vendor recall, negatives, benign FPR."""
    detector = SecretsDetector()
    cases, skipped = load_cases(corpora)
    groups: dict[tuple[str, str], Tally] = defaultdict(Tally)  # (family, vendor) -> positives
    overall: dict[str, Tally] = defaultdict(Tally)  # family | "placeholder" | "all" -> positives
    negatives: dict[str, Tally] = defaultdict(Tally)  # corpus -> negatives
    for case in cases:
        hit = bool(detector.scan(case.text, "input"))
        label = f"{case.corpus}:{case.rule}: {case.text[:160]!r}"
        if case.positive:
            bucket = "placeholder" if is_placeholder_case(case.text) else case.family
            for t in (overall[bucket], overall["all"], groups[(bucket, vendor(case.rule))]):
                t.total += 1
                t.hits += hit
                if not hit:
                    t.missed.append(label)
        else:
            t = negatives[case.corpus]
            t.total += 1
            t.hits += hit
            if hit:
                t.missed.append(label)
    benign: dict[str, Tally] = {}
    for name, texts in load_benign(corpora).items():
        t = benign[name] = Tally()
        for text in texts:
            found = detector.scan(text, "input")
            t.total += 1
            if found:
                t.hits += 1
                t.missed.append(f"{name}: {[f.type for f in found]} {text[:160]!r}")
    return {"groups": groups, "overall": overall, "negatives": negatives, "benign": benign, "skipped": skipped}


def _pct(t: Tally) -> str:
    return f"{t.hits / t.total:.3f}" if t.total else "-"


def report(result: dict[str, object], misses: bool = False) -> str:
    groups: dict[tuple[str, str], Tally] = result["groups"]  # type: ignore[assignment]
    overall: dict[str, Tally] = result["overall"]  # type: ignore[assignment]
    negatives: dict[str, Tally] = result["negatives"]  # type: ignore[assignment]
    benign: dict[str, Tally] = result["benign"]  # type: ignore[assignment]
    skipped: dict[str, int] = result["skipped"]  # type: ignore[assignment]
    out = ["## Secrets detector: recall on positives", "", "| family | rule family | positives | found | recall |",
           "|---|---|---:|---:|---:|"]
    for family in ("provider", "generic", "placeholder"):
        for (fam, ven), t in sorted(groups.items()):
            if fam == family:
                out.append(f"| {family} | {ven} | {t.total} | {t.hits} | {_pct(t)} |")
        t = overall[family]
        out.append(f"| **{family}** | **all** | **{t.total}** | **{t.hits}** | **{_pct(t)}** |")
    t = overall["all"]
    out += [f"| **overall** | incl. placeholders | **{t.total}** | **{t.hits}** | **{_pct(t)}** |", ""]
    out += ["## False positives", "", "| set | texts | flagged | rate |", "|---|---:|---:|---:|"]
    for name, t in sorted(negatives.items()):
        out.append(f"| {name} negatives | {t.total} | {t.hits} | {_pct(t)} |")
    total = Tally()
    for name, t in benign.items():
        out.append(f"| benign: {name} | {t.total} | {t.hits} | {_pct(t)} |")
        total.total += t.total
        total.hits += t.hits
    out += [f"| **benign prompts, all** | **{total.total}** | **{total.hits}** | **{_pct(total)}** |", ""]
    out += ["Skipped: " + "; ".join(f"{k}: {v}" for k, v in sorted(skipped.items())), ""]
    if misses:
        out += ["## Missed positives", ""]
        for fam in ("provider", "generic", "placeholder"):
            out += [f"- {m}" for m in overall[fam].missed]
        out += ["", "## Flagged negatives and benign prompts", ""]
        for t in [*negatives.values(), *benign.values()]:
            out += [f"- {m}" for m in t.missed]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    parser.add_argument("--misses", action="store_true", help="list missed positives and false positives")
    args = parser.parse_args()
    print(report(evaluate(args.corpora), args.misses))


if __name__ == "__main__":
    main()
