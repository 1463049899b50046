"""Review a change: a Markdown report against a base revision, and a regression gate.

    python scripts/report.py --base main --out reports/review.md      # what `make report BASE=main` runs

The report has the changed params (`dvc params diff --md`), the changed headline metrics with their deltas
(`dvc metrics diff --md`), each approach's test scores against the base with the interval of the difference,
the charts a reviewer reads that changed (their data is git-tracked, so `git diff` finds them; `dvc plots diff
BASE` draws them; dvclive's per-file training logs are left out), and the gate's verdict. Post it with
`cml comment create`.

The gate reads `gate` in params.yaml:
- `gate.scores`: each approach's test predictions on this branch (data/predictions/<approach>.parquet in the
  workspace) and on BASE (the same file at that revision, read through DVC from the cache or the remote) are
  paired on the test rows both scored; a paired bootstrap gives the interval of branch minus base. A drop fails
  when that whole (1 - level) interval is below 0, or when it is larger than `max_drop` absolute points. A
  change inside the test set's noise passes. An approach that BASE does not have is shown, not gated.
- `gate.rules`: headline metrics of `dvc metrics diff` (leakage counters): each rule names metrics (`near`
  matches every metric named so or ending in `.near`) with a direction and a tolerance; a metric that moves the
  wrong way by more than `abs_tol + rel_tol * |base value|` is a regression.
The command exits 1 naming each regression, after writing the report, so CI can post the report and still
fail; 2 when a setting is wrong or BASE's predictions cannot be read (`dvc fetch --rev BASE` brings them).
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's schemas, whatever the installed package points at

from schemas import ParamsError, load_params  # noqa: E402
from schemas.gate import GateRule, ScoreGate  # noqa: E402
from stages.lib.core.io import atomic_path  # noqa: E402
from stages.lib.gate.scores import ScoreChange, compare_scores, table  # noqa: E402

Rules = dict[str, GateRule]


@dataclass(frozen=True)
class Regression:
    metric: str
    old: float
    new: float
    allowed: float

    def __str__(self) -> str:
        return f"{self.metric}: {self.old:g} -> {self.new:g} ({self.new - self.old:+g}; allowed {self.allowed:g})"


def dvc(*args: str) -> str:
    done = subprocess.run(["dvc", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"dvc {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def rule_for(name: str, gate: Rules) -> GateRule | None:
    """The rule whose key is the metric's dotted name or its last parts (the longest such key wins)."""
    keys = [k for k in gate if name == k or name.endswith("." + k)]
    return gate[max(keys, key=len)] if keys else None


def regressions(diff: dict, gate: Rules) -> list[Regression]:
    """Every metric of `dvc metrics diff --json` that moved the wrong way by more than its rule allows."""
    found = []
    for path, metrics in sorted(diff.items()):
        for name, change in sorted(metrics.items()):
            rule = rule_for(name, gate)
            old, new = change.get("old"), change.get("new")
            if rule is None or not all(isinstance(v, (int, float)) for v in (old, new)):
                continue  # a metric that appeared or disappeared is shown in the report, not gated
            worse = (old - new) if rule.direction == "higher" else (new - old)
            allowed = rule.abs_tol + rule.rel_tol * abs(old)
            if worse > allowed + 1e-12:
                found.append(Regression(f"{path}:{name}", old, new, allowed))
    return found


def changed_plots(base: str, plot_paths: list[str]) -> list[str]:
    """Plot data files that differ from `base`: they are all git-tracked (`cache: false`), so git knows."""
    done = subprocess.run(["git", "diff", "--name-only", base, "--", *plot_paths], capture_output=True, text=True)
    return sorted(set(done.stdout.split()))


class BaseUnreadable(Exception):
    """BASE's predictions of an approach it has cannot be read (not in the cache or the remote)."""


def predictions(path: str, rev: str | None) -> dict[str, tuple[str, str]] | None:
    """id -> (label, predicted) of a predictions file in the workspace (rev None) or at `rev`; None when absent."""
    import pyarrow.parquet as pq

    if rev is None:
        if not Path(path).is_file():
            return None
        data = pq.read_table(path, columns=["id", "label", "predicted"])
    else:
        from dvc.api import DVCFileSystem

        fs = DVCFileSystem(rev=rev)
        if not fs.exists(path):
            return None  # not tracked at that revision (a new approach)
        try:
            with fs.open(path, mode="rb") as handle:
                data = pq.read_table(io.BytesIO(handle.read()), columns=["id", "label", "predicted"])
        except Exception as exc:  # dvc raises several kinds for a cache entry that is not here
            raise BaseUnreadable(
                f"{path} at {rev}: {type(exc).__name__}: {exc}; fetch it with `dvc fetch --rev {rev}` (or run the "
                f"pipeline at {rev}) and rerun"
            ) from exc
    ids, labels, predicted = (data.column(c).to_pylist() for c in ("id", "label", "predicted"))
    return {i: (y, p) for i, y, p in zip(ids, labels, predicted)}


def score_changes(
    approaches: list[str], predictions_dir: str, base: str, cfg: ScoreGate
) -> tuple[list[ScoreChange], list[str]]:
    """Every approach's paired score changes, and notes on approaches that could not be compared."""
    changes: list[ScoreChange] = []
    notes: list[str] = []
    options = {"level": cfg.level, "max_drop": cfg.max_drop, "n_resamples": cfg.n_resamples, "seed": cfg.seed}
    for name in approaches:
        path = f"{predictions_dir}/{name}.parquet"
        branch = predictions(path, None)
        if branch is None:
            notes.append(f"`{name}`: no {path} in the workspace; run `dvc repro` first (not gated)")
            continue
        old = predictions(path, base)
        if old is None:
            notes.append(f"`{name}`: new on this branch ({path} is not at `{base}`; not gated)")
            continue
        found = compare_scores(name, old, branch, list(cfg.metrics), **options)
        if not found:
            notes.append(f"`{name}`: no labelled test row in common with `{base}` (not gated)")
        changes += found
    return changes, notes


def report(
    base: str, rules: Rules, scores: ScoreGate, approaches: list[str], predictions_dir: str, plot_paths: list[str]
) -> tuple[str, list[str]]:
    """The Markdown report and the regressions (one line each)."""
    params = dvc("params", "diff", base, "--md").strip() or "No params changed."
    metrics = dvc("metrics", "diff", base, "--md").strip() or "No headline metric changed."
    found = regressions(json.loads(dvc("metrics", "diff", base, "--json") or "{}"), rules)
    changes, notes = score_changes(approaches, predictions_dir, base, scores)
    failed = [c for c in changes if c.failed]
    plots = changed_plots(base, plot_paths)
    lines = [f"# Refinery review against `{base}`", "", "## Params", "", params, "", "## Headline metrics", ""]
    lines += [metrics, "", "## Test scores against the base, paired", ""]
    lines.append(
        f"Each approach's predictions on this branch and on `{base}`, on the test rows both scored (same id and "
        f"label); {scores.n_resamples} paired bootstrap resamples. A drop fails when its whole "
        f"{100 * (1 - scores.level):g}% interval is below 0"
        + (f", or when it is larger than {scores.max_drop:g} (gate.scores.max_drop)." if scores.max_drop else ".")
    )
    lines.append("")
    lines += table(changes, scores.level) if changes else ["No approach to compare."]
    if notes:
        lines += ["", *[f"- {n}" for n in notes]]
    lines += ["", "## Plots", ""]
    if plots:
        lines += [f"- `{p}`" for p in plots] + ["", f"Draw them side by side with `dvc plots diff {base}`."]
    else:
        lines.append("No chart data changed.")
    lines += ["", "## Regression gate", ""]
    problems = [str(c) for c in failed] + [str(r) for r in found]
    if problems:
        lines += [f"**Failed**: {len(problems)} regression(s):", ""]
        lines += [f"- {p}" for p in problems]
    else:
        lines.append(
            f"Passed ({len(changes)} paired score comparisons, {len(rules)} rules in params.yaml `gate.rules`)."
        )
    return "\n".join(lines) + "\n", problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="main", help="git revision to compare with (default: main)")
    parser.add_argument("--out", default="reports/review.md", help="Markdown file to write")
    parser.add_argument("--params", default="params.yaml", help="params file holding the `gate` section")
    args = parser.parse_args(argv)
    try:
        params = load_params(args.params)
    except ParamsError as exc:
        print(exc, file=sys.stderr)
        return 2
    p = params.paths
    # The charts a reviewer reads; dvclive's per-file training logs (train.live_dir) are not among them.
    plot_paths = [p.balance.plot, p.evaluate.confusion_dir, p.compare.plot, p.compare.curves, p.audit.plot]
    gate = params.gate
    try:
        text, found = report(
            args.base, gate.rules, gate.scores, list(params.approaches), p.evaluate.predictions_dir, plot_paths
        )
    except BaseUnreadable as exc:
        print(f"cannot compare with {args.base}: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    with atomic_path(out) as tmp:
        tmp.write_text(text)
    print(f"wrote {out}")
    for regression in found:
        print(f"regression: {regression}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
