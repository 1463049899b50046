"""Review a change: a Markdown report against a base revision, and a regression gate.

    python scripts/report.py --base main --out reports/review.md      # what `make report BASE=main` runs

The report has the changed params (`dvc params diff --md`), the changed headline metrics with their deltas
(`dvc metrics diff --md`), the plot files that changed (all plot data is git-tracked, so `git diff` finds
them; `dvc plots diff BASE` draws them), and the gate's verdict. Post it with `cml comment create`.

The gate reads `gate` in params.yaml: each rule names metrics (`macro_f1` matches every metric named so or
ending in `.macro_f1`) with a direction and a tolerance; a metric that moves the wrong way by more than
`abs_tol + rel_tol * |base value|` is a regression. The command exits 1 naming each one, after writing the
report, so CI can post the report and still fail.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's schemas, whatever the installed package points at

from schemas import ParamsError, load_params  # noqa: E402
from schemas.gate import Gate, GateRule  # noqa: E402


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


def rule_for(name: str, gate: Gate) -> GateRule | None:
    """The rule whose key is the metric's dotted name or its last parts (the longest such key wins)."""
    keys = [k for k in gate if name == k or name.endswith("." + k)]
    return gate[max(keys, key=len)] if keys else None


def regressions(diff: dict, gate: Gate) -> list[Regression]:
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


def report(base: str, gate: Gate, plot_paths: list[str]) -> tuple[str, list[Regression]]:
    params = dvc("params", "diff", base, "--md").strip() or "No params changed."
    metrics = dvc("metrics", "diff", base, "--md").strip() or "No headline metric changed."
    found = regressions(json.loads(dvc("metrics", "diff", base, "--json") or "{}"), gate)
    plots = changed_plots(base, plot_paths)
    lines = [f"# Refinery review against `{base}`", "", "## Params", "", params, "", "## Headline metrics", ""]
    lines += [metrics, "", "## Plots", ""]
    if plots:
        lines += [f"- `{p}`" for p in plots] + ["", f"Draw them side by side with `dvc plots diff {base}`."]
    else:
        lines.append("No plot data changed.")
    lines += ["", "## Regression gate", ""]
    if found:
        lines += [f"**Failed**: {len(found)} metric(s) moved the wrong way beyond their tolerance:", ""]
        lines += [f"- `{r.metric}`: {r.old:g} → {r.new:g} ({r.new - r.old:+g}, allowed {r.allowed:g})" for r in found]
    else:
        lines.append(f"Passed ({len(gate)} rules in params.yaml `gate`).")
    return "\n".join(lines) + "\n", found


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
    plot_paths = [p.balance.plot, p.evaluate.confusion_dir, p.compare.plot, p.compare.curves, p.train.live_dir]
    text, found = report(args.base, params.gate, plot_paths)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"wrote {out}")
    for regression in found:
        print(f"regression: {regression}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
