"""The audit on planted noise: precision and recall of its flags, its error estimate, and cleanlab's overlap.

Run: pytest benchmarks/bench_audit.py --benchmark-only -s (needs `dvc repro split` first: it reads the
sample's data/split). 10% of each class's train labels are flipped (seed 0; validation rows stay clean and
are audited too); the flags are compared with the flips. Without planted noise it prints how many of the
original SMS labels are flagged. The audit's flags come from cleanlab (stages/lib/audit/confident.py); the
overlap line checks them against a plain `cleanlab.filter.find_label_issues` call. The refine loop's
one-round recovery is benchmarks/bench_loop.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from schemas import load_params
from schemas.audit import AuditParams
from stages import audit
from stages.lib.audit.findings import load_labelled, score
from stages.lib.audit.noise import flip_labels, precision_recall

SPLIT = Path("data/split")


def _rows() -> list[dict]:
    if not (SPLIT / "train.parquet").is_file():
        pytest.skip("run `dvc repro split` first")
    return load_labelled(SPLIT, ["train", "validation"])


def _cleanlab_overlap(s: dict) -> str:
    from cleanlab.filter import find_label_issues

    theirs = find_label_issues(s["labels"], s["probs"], filter_by="prune_by_noise_rate")
    ours = s["result"].issues
    both = int((ours & theirs).sum())
    jaccard = both / max((ours | theirs).sum(), 1)
    return f"cleanlab flags {int(theirs.sum())}, ours {int(ours.sum())}, both {both}, jaccard {jaccard:.3f}"


@pytest.mark.parametrize("rate", [0.1, 0.0])
def test_bench_audit_planted_noise(benchmark, rate):
    rows = _rows()
    cfg: AuditParams = load_params().audit
    noisy, flipped = flip_labels([r["label"] for r in rows], rate, 0, [r["split"] == "train" for r in rows])
    data = [{**r, "label": lab} for r, lab in zip(rows, noisy)]
    s = benchmark.pedantic(lambda: score(data, **audit.settings(cfg)), rounds=1, iterations=1)
    res = s["result"]
    print(f"\nrate {rate}: {len(rows)} rows, planted {int(flipped.sum())}, flagged {int(res.issues.sum())}")
    print(
        f"estimated error rate {res.error_rate:.4f}, per class {dict(zip(s['classes'], np.round(res.noise_rate, 4)))}"
    )
    if rate:
        pr = precision_recall(res.issues, flipped)
        print(f"precision {pr['precision']}, recall {pr['recall']}")
        assert pr["precision"] >= 0.7 and pr["recall"] >= 0.7
    else:
        for n in np.flatnonzero(res.issues):
            print(f"  {rows[n]['label']} -> {s['classes'][res.suggested[n]]}: {rows[n]['text'][:100]!r}")
    print(_cleanlab_overlap(s))
