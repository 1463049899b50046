"""One round of the refine loop on planted noise: how much of the noise's cost does it win back?

Per data set: plant 10% flips in the audited rows (train and validation, each class alike; test keeps its
true labels), run the audit (stages/lib/audit/findings.py with the audit's settings), take review's issues
queue (stages/lib/review/queues.py, budget 15% of the audited rows), answer every task with the true label,
apply the answers as the label stage does (`corrections: override`), keep each row's split (as
`split.method: hash` does), and fit the TF-IDF classifier (compare's baseline, `compare.baseline`) on the
train rows three times: true labels, noisy labels, after the round. Reported: test macro-F1 of each and

    recovered = (F1 after the round - F1 noisy) / (F1 true - F1 noisy)

(true labels = 100%, noisy = 0%), averaged over `--seeds` flip seeds, with the audit's precision and recall on
the flips and its estimated error rate. Data: the SMS sample and BANKING77 (data/sample/), TREC
(benchmarks/data/trec/).

Run: PYTHONPATH=. python benchmarks/bench_loop.py [--data sms banking77 trec] [--seeds 0 1 2] [--params JSON]
[--rows N] [--no-train], or pytest benchmarks/bench_loop.py --benchmark-only -s (SMS and TREC, one seed).
`--params '{"tfidf": {"char_ngrams": [2, 5], "max_features": null}}'` measures other audit settings.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

from schemas.audit import AuditParams
from schemas.compare import TfidfBaseline
from schemas.review import ReviewParams
from stages.audit import findings_settings, settings
from stages.lib.audit.confident import error_rate
from stages.lib.audit.estimate import error_rate_interval
from stages.lib.audit.findings import issues_of, score
from stages.lib.audit.noise import flip_labels, precision_recall
from stages.lib.model.tfidf import baseline_pipeline
from stages.lib.review.queues import issue_queue

ROOT = Path(__file__).resolve().parents[1]
RATE, BUDGET = 0.10, 0.15


def load(name: str) -> tuple[list[dict], list[dict]]:
    """(audited rows with id, text, label, split in {train, validation}; test rows), true labels."""
    if name == "sms":
        lines = (ROOT / "data/sample/sms_spam_collection/SMSSpamCollection").read_text(encoding="utf-8")
        pairs = [line.split("\t", 1) for line in lines.splitlines()]
        rows = [{"label": lab, "text": text} for lab, text in pairs]
        order = np.random.default_rng(0).permutation(len(rows))  # 80/10/10, fixed once, blind to labels
        cut = {
            int(i): "train" if k < 0.8 * len(rows) else "validation" if k < 0.9 * len(rows) else "test"
            for k, i in enumerate(order)
        }
        rows = [{**r, "id": f"r{n:05d}", "split": cut[n]} for n, r in enumerate(rows)]
        return [r for r in rows if r["split"] != "test"], [r for r in rows if r["split"] == "test"]
    if name == "banking77":
        folder = ROOT / "data/sample/banking77"
        train = list(csv.DictReader((folder / "train.csv").open(encoding="utf-8")))
        test = list(csv.DictReader((folder / "test.csv").open(encoding="utf-8")))
        pairs, held = [(r["category"], r["text"]) for r in train], [(r["category"], r["text"]) for r in test]
    elif name == "trec":
        folder = ROOT / "benchmarks/data/trec"

        def read(f: str) -> list[tuple[str, str]]:
            lines = (folder / f).read_text(encoding="latin-1").splitlines()
            return [(line.split(" ", 1)[0].split(":")[0], line.split(" ", 1)[1]) for line in lines]

        pairs, held = read("train_5500.label"), read("TREC_10.label")
    else:
        raise SystemExit(f"unknown data set {name!r}: sms, banking77 or trec")
    valid = set(np.random.default_rng(0).choice(len(pairs), len(pairs) // 10, replace=False).tolist())
    audited = [
        {"id": f"r{n:05d}", "label": lab, "text": text, "split": "validation" if n in valid else "train"}
        for n, (lab, text) in enumerate(pairs)
    ]
    return audited, [
        {"id": f"t{n:05d}", "label": lab, "text": text, "split": "test"} for n, (lab, text) in enumerate(held)
    ]


def test_f1(train: list[dict], labels: list[str], test: list[dict]) -> float:
    """Test macro-F1 (true test labels) of compare's TF-IDF baseline fitted on `train` with `labels`."""
    model = baseline_pipeline(TfidfBaseline()).fit([r["text"] for r in train], labels)
    return float(f1_score([r["label"] for r in test], model.predict([r["text"] for r in test]), average="macro"))


def one_round(
    name: str, seed: int, cfg: AuditParams, rows_cap: int | None = None, train: bool = True, rate: float = RATE
) -> dict:
    """One round on `name` with flip seed `seed`; `rows_cap` audits a fixed sample of that many rows, `train`
    False skips the three classifier fits (the audit's flags and estimate only)."""
    audited, test = load(name)
    if rows_cap and rows_cap < len(audited):
        keep = set(np.random.default_rng(0).choice(len(audited), rows_cap, replace=False).tolist())
        audited = [r for n, r in enumerate(audited) if n in keep]
    true = [r["label"] for r in audited]
    noisy, flipped = flip_labels(true, rate, seed)
    rows = [{**r, "label": lab} for r, lab in zip(audited, noisy)]
    started = time.perf_counter()
    s = score(rows, **settings(cfg))
    review = ReviewParams()
    issues = issues_of(rows, s, **findings_settings(cfg))
    budget = round(BUDGET * len(rows))
    answered = {r["id"] for r in issue_queue(issues, review.issues.kinds, budget)}
    fixed = [t if r["id"] in answered else lab for r, lab, t in zip(rows, noisy, true)]
    audit_s = time.perf_counter() - started
    is_train = [r["split"] == "train" for r in audited]
    train_rows = [r for r, m in zip(audited, is_train) if m]
    f1 = {
        kind: test_f1(train_rows, [lab for lab, m in zip(labels, is_train) if m], test) if train else float("nan")
        for kind, labels in (("true", true), ("noisy", noisy), ("round", fixed))
    }
    cost = f1["true"] - f1["noisy"] if train else 0.0
    hits = int(sum(flipped[n] for n, r in enumerate(rows) if r["id"] in answered))
    return {
        "data": name,
        "seed": seed,
        "audited": len(rows),
        "planted": int(flipped.sum()),
        "planted_rate": round(float(flipped.mean()), 4),
        "budget": budget,
        "reviewed": len(answered),
        "reviewed_flips": hits,
        "flags": precision_recall(s["result"].issues, flipped),
        "estimated_error_rate": round(s["result"].error_rate, 4),
        "estimates": {
            how: round(error_rate(s["labels"], s["probs"], how), 4) for how in ("calibrated_joint", "off_diagonal")
        },
        "interval": [
            round(v, 4) for v in error_rate_interval(s["labels"], s["probs"], 100, 0.95, 0, cfg.error_estimate)
        ],
        "f1": {k: round(v, 4) for k, v in f1.items()},
        "recovered": round((f1["round"] - f1["noisy"]) / cost, 4) if cost > 0 else None,
        "audit_seconds": round(audit_s, 1),
    }


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", nargs="+", default=["sms", "banking77", "trec"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--params", default=None, help="audit params as JSON (default: the schema's defaults)")
    ap.add_argument("--rows", type=int, default=None, help="audit a fixed sample of this many rows")
    ap.add_argument("--no-train", action="store_true", help="the audit's flags and estimate only")
    ap.add_argument("--rate", type=float, default=RATE, help="share of each class's labels flipped (0.1)")
    args = ap.parse_args(argv)
    cfg = AuditParams.model_validate(json.loads(args.params)) if args.params else AuditParams()
    out = []
    for name in args.data:
        for seed in args.seeds:
            result = one_round(name, seed, cfg, args.rows, not args.no_train, args.rate)
            print(json.dumps(result), flush=True)
            out.append(result)
    return out


def test_bench_loop(benchmark):
    results = benchmark.pedantic(main, args=(["--data", "sms", "trec"],), rounds=1, iterations=1)
    for r in results:
        print(r)


if __name__ == "__main__":
    main()
