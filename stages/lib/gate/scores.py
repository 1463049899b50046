"""The review gate's test-score check (scripts/report.py): an approach's predictions, branch against base.

Both runs predicted the test split; the rows both scored (same id, same label) are resampled together
(intervals.paired_difference), so the interval of branch minus base reflects the test set's noise. A drop fails
only when that interval lies wholly below 0 (significant at `level`) or when it is larger than `max_drop`
absolute points.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stages.lib.compare.intervals import SCORES, codes, paired_difference


@dataclass(frozen=True)
class ScoreChange:
    approach: str
    metric: str
    rows: int
    base: float
    branch: float
    difference: float
    low: float
    high: float
    failed: str  # why the gate fails on it ("" when it passes)

    def __str__(self) -> str:
        return (
            f"{self.approach} {self.metric}: {self.base:.4f} -> {self.branch:.4f} ({self.difference:+.4f}, "
            f"interval {self.low:+.4f} to {self.high:+.4f}; {self.failed})"
        )


def paired_rows(base: dict[str, tuple[str, str]], branch: dict[str, tuple[str, str]]) -> list[str]:
    """Ids of the test rows both runs scored with the same label (id -> (label, predicted) in each)."""
    return sorted(i for i, (label, _) in branch.items() if label is not None and i in base and base[i][0] == label)


def compare_scores(
    approach: str,
    base: dict[str, tuple[str, str]],
    branch: dict[str, tuple[str, str]],
    metrics: list[str],
    *,
    level: float,
    max_drop: float | None,
    n_resamples: int,
    seed: int,
) -> list[ScoreChange]:
    """Branch minus base for each metric on the paired rows, with its (1 - level) interval and the verdict."""
    ids = paired_rows(base, branch)
    if not ids:
        return []
    actual = [branch[i][0] for i in ids]
    new, old = [branch[i][1] for i in ids], [base[i][1] for i in ids]
    a, (_, r), k = codes(actual, new, old)
    changes = []
    for metric in metrics:
        d: dict[str, Any] = paired_difference(
            actual, new, old, metric, n_resamples=n_resamples, confidence=1 - level, seed=seed
        )
        base_score = float(SCORES[metric](a, r, k))  # over the same classes as the difference
        failed = ""
        if d["high"] < 0:
            failed = f"significant drop at level {level:g}"
        elif max_drop is not None and -d["difference"] > max_drop + 1e-12:
            failed = f"drop beyond max_drop {max_drop:g}"
        changes.append(
            ScoreChange(
                approach,
                metric,
                len(ids),
                base_score,
                base_score + d["difference"],
                d["difference"],
                d["low"],
                d["high"],
                failed,
            )
        )
    return changes


def table(changes: list[ScoreChange], level: float) -> list[str]:
    """Markdown rows: each approach's score on base and branch, the difference and its interval, the verdict."""
    conf = f"{100 * (1 - level):g}%"
    lines = [
        f"| approach | metric | paired test rows | base | branch | difference [{conf} CI] | gate |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for c in changes:
        verdict = f"**fails**: {c.failed}" if c.failed else "passes"
        lines.append(
            f"| {c.approach} | {c.metric} | {c.rows} | {c.base:.4f} | {c.branch:.4f} | "
            f"{c.difference:+.4f} [{c.low:+.4f}, {c.high:+.4f}] | {verdict} |"
        )
    return lines
