#!/usr/bin/env python3
"""Train the injection detector's model: server/ztgate/detect/models/injection.json.

    .venv/bin/pip install -e '.[train]'          # scikit-learn, for this script only
    .venv/bin/python scripts/train_injection.py  # about two minutes on two cores

Reads the third-party corpora in ../shared/corpora (see its README) through bench/quality_injection.py,
which defines the evaluation sets and the train / held-out split, and learns ONLY from the rows that
module calls "training" (half of the pooled sets by a salted hash of a group key; never llm_guard,
MT-bench, awesome-chatgpt-prompts or JailbreakBench). Every choice below is made on the training half:

1. features: ztgate.detect.injection.features (word unigrams, bigrams, character 3-5-grams of words,
   scaled by 1/sqrt(words + 1)), the very function inference mirrors;
2. model: L2 logistic regression (scikit-learn, lbfgs, balanced class weights); the regularisation C
   and the number of weights kept (largest |w|) are chosen by 5-fold group cross-validation
   (GroupKFold over the split's group keys) on the training half;
3. operating point: with the rules' scores, the model's logit offset is set so that the combined
   score reaches 0.5 on at most TARGET_FPR of the training half's benign texts, measured on the
   cross-validated (out-of-fold) scores, not on in-sample ones;
4. the final model is fitted on the whole training half, pruned, quantised to 16-bit integers and
   written as JSON.

Deterministic: no random state is involved (the split is a hash, GroupKFold and lbfgs are
deterministic), so the same corpora give the same file. The script prints the split, the
cross-validation, in-sample numbers, and at the end the held-out table (bench/quality_injection.py),
which played no part in any choice made here.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "server"))

from ztgate.detect.injection import (  # noqa: E402
    MODEL_FORMAT,
    MODEL_PATH,
    FeatureSpec,
    InjectionDetector,
    features,
)

TARGET_FPR = 0.015  # on out-of-fold training benign texts; the bound is 0.02 overall
GRID_C = (1.0, 4.0, 16.0)
GRID_KEEP = (5_000, 10_000, 20_000)
FOLDS = 5
WINDOW_TOKENS = 512


def _quality_module():
    spec = importlib.util.spec_from_file_location("quality_injection", REPO / "bench" / "quality_injection.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["quality_injection"] = module
    spec.loader.exec_module(module)
    return module


def _fit(X, y, C):
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=C, max_iter=5000, class_weight="balanced")
    model.fit(X, y)
    return model


def _pruned(coef, keep):
    import numpy as np

    w = coef.copy()
    if keep and (w != 0).sum() > keep:
        cut = np.sort(np.abs(w))[-keep]
        w[np.abs(w) < cut] = 0.0
    return w


def _combined(z, rules, offset):
    import numpy as np

    p = 1.0 / (1.0 + np.exp(-(z - offset)))
    return 1.0 - (1.0 - rules) * (1.0 - p)


def _choose_offset(z, rules, y, target):
    """The smallest logit offset at which combined scores flag at most `target` of the benign texts."""
    import numpy as np

    lo, hi = float(z.min()) - 20.0, float(z.max()) + 20.0
    for _ in range(80):  # bisection: the benign FPR falls as the offset grows
        mid = (lo + hi) / 2
        fpr = float((_combined(z[y == 0], rules[y == 0], mid) >= 0.5).mean())
        if fpr <= target:
            hi = mid
        else:
            lo = mid
    return hi


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    parser.add_argument("--no-heldout", action="store_true", help="skip the held-out table at the end")
    args = parser.parse_args(argv)

    import numpy as np
    import sklearn
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.model_selection import GroupKFold

    q = _quality_module()
    if not q.CORPORA.is_dir():
        print(f"corpora not found at {q.CORPORA}", file=sys.stderr)
        return 2
    sets = q.load_sets()
    side = q.split(sets)
    train = q.training_samples(sets)

    print("## Split (bench/quality_injection.py; salted SHA-256 of the group key, 50 % train)\n")
    print("| set | rows | training | held-out |\n|---|---|---|---|")
    for name, rows in sets.items():
        n_train = sum(side[q.norm(s.text)] == "train" for s in rows)
        print(f"| {name} | {len(rows)} | {n_train} | {len(rows) - n_train} |")
    texts = [s.text for s in train]
    y = np.array([s.label for s in train])
    groups = [q.group_key(t) for t in texts]
    print(f"\nTraining texts (distinct): {len(texts)} ({int(y.sum())} attacks, {int((y == 0).sum())} benign)\n")

    t0 = time.perf_counter()
    feats = [features(t) for t in texts]
    rules = np.array([InjectionDetector(model_path=None).analyze(t).rule_score for t in texts])

    folds = list(GroupKFold(FOLDS).split(texts, y, groups))
    print(f"## {FOLDS}-fold group cross-validation on the training half (rules + model, out-of-fold)\n")
    print(f"| C | weights kept | offset | recall | FPR |\n|---|---|---|---|---|")
    results = []
    for C in GRID_C:
        fits = []
        for a, b in folds:
            dv = DictVectorizer()
            Xa = dv.fit_transform([feats[i] for i in a])
            m = _fit(Xa, y[a], C)
            fits.append((dv, m, b))
        for keep in GRID_KEEP:
            z = np.zeros(len(texts))
            for dv, m, b in fits:
                w = _pruned(m.coef_[0], keep)
                z[b] = dv.transform([feats[i] for i in b]) @ w + m.intercept_[0]
            offset = _choose_offset(z, rules, y, TARGET_FPR)
            s = _combined(z, rules, offset)
            recall = float((s[y == 1] >= 0.5).mean())
            fpr = float((s[y == 0] >= 0.5).mean())
            print(f"| {C:g} | {keep} | {offset:.3f} | {recall:.4f} | {fpr:.4f} |")
            results.append((C, keep, offset, recall, fpr))
    # One-standard-error rule: the simplest configuration (fewest weights, then the strongest
    # regularisation) whose recall is within one standard error of the best.
    top = max(r[3] for r in results)
    se = math.sqrt(top * (1 - top) / int(y.sum()))
    C, keep, offset, cv_recall, cv_fpr = min((r for r in results if r[3] >= top - se), key=lambda r: (r[1], r[0]))
    print(f"\nChosen (one-standard-error rule, best recall {top:.4f}, SE {se:.4f}): C={C:g}, {keep} weights, "
          f"offset {offset:.3f} (cross-validated recall {cv_recall:.4f} at FPR {cv_fpr:.4f})\n")

    dv = DictVectorizer()
    X = dv.fit_transform(feats)
    m = _fit(X, y, C)
    w = _pruned(m.coef_[0], keep)
    names = dv.get_feature_names_out()
    nz = np.flatnonzero(w)
    quantum = float(np.abs(w[nz]).max()) / 32767.0
    groups_out: dict[str, dict[str, int]] = {"w": {}, "b": {}, "c": {}}
    for i in nz:
        kind, _, key = names[i].partition(":")
        value = int(round(w[i] / quantum))
        if value:
            groups_out[kind][key] = value
    spec = FeatureSpec()
    data = {
        "format": MODEL_FORMAT,
        "features": {"char_min": spec.char_min, "char_max": spec.char_max, "max_word_chars": spec.max_word_chars},
        "window_tokens": WINDOW_TOKENS,
        "quantum": quantum,
        "bias": float(m.intercept_[0]),
        "offset": offset,
        "unigrams": dict(sorted(groups_out["w"].items())),
        "bigrams": dict(sorted(groups_out["b"].items())),
        "chars": dict(sorted(groups_out["c"].items())),
        "meta": {
            "trained_by": "scripts/train_injection.py",
            "split": f"bench/quality_injection.py seed {q.SPLIT_SEED!r}, train fraction {q.TRAIN_FRACTION}",
            "training_texts": len(texts),
            "training_attacks": int(y.sum()),
            "C": C,
            "weights_kept": int(len(nz)),
            "target_fpr_out_of_fold": TARGET_FPR,
            "cv_recall": round(cv_recall, 4),
            "cv_fpr": round(cv_fpr, 4),
            "sklearn": sklearn.__version__,
        },
    }
    import orjson

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(orjson.dumps(data))
    print(f"Wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB, {len(nz)} weights) "
          f"in {time.perf_counter() - t0:.0f} s\n")

    # In-sample: the shipped detector on the texts it was fitted on (optimistic by construction).
    det = InjectionDetector(model_path=args.out)
    s = np.array([det.score(t) for t in texts])
    print("## In-sample (training half, shipped detector; optimistic)\n")
    print(f"recall {float((s[y == 1] >= det.threshold).mean()):.4f}, "
          f"FPR {float((s[y == 0] >= det.threshold).mean()):.4f}\n")
    if not args.no_heldout:
        print("## Evaluation table (bench/quality_injection.py; held-out column = never trained on)\n")
        result = q.evaluate(det.score, det.threshold, sets)
        print(q.table(result, det.threshold))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
