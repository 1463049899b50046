"""The metrics contract: a few headline values for `dvc metrics show`, every counter beside them, timings apart.

- `metrics/<stage>.json` (declared `metrics:` in dvc.yaml): the headline values only, so `dvc metrics show`
  and `dvc exp show` fit a screen;
- `metrics/details/<stage>.json` (a plain `cache: false` output, git-tracked, not a metric): the full nested
  counters the stage computed, including the headline;
- `reports/timings/<stage>.json` (ignored by git, no DVC output): wall-clock seconds and peak memory as
  measured, which differ on every run and would otherwise dirty `dvc.lock` and every fresh clone;
- `compute` in the details file: the figures a decision needs (training time, peak memory, inference time per 1,000
  rows; COMPUTE_KEYS) rounded to two significant figures and *settled*: a new measurement replaces the versioned one
  only when it is more than COMPUTE_TOLERANCE (2) times off (`settle`). Timings on shared cores move between
  identical runs (full fine-tuning 300 s then 320 s; with other jobs on the cores, an SFT run 42 s then 65 s), which
  two significant figures alone do not absorb; settled, a rerun on the same machine writes the same bytes (a fresh
  clone's `git status` stays clean) while another machine, device or batch size shows as a change. The stages that
  write `compute` declare their details file `persist: true` in dvc.yaml, so DVC leaves the previous file in place
  for the stage to read. compare's table and recommendation read the settled figures.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from stages.lib.core.io import write_json


def pick(metrics: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    """The dotted `keys` of a nested dict, nesting kept: pick(m, ["rows_out", "leakage.near"]).

    Raises KeyError naming a key the metrics do not have, so a renamed counter cannot silently leave the
    headline.
    """
    out: dict[str, Any] = {}
    for key in keys:
        node: Any = metrics
        parts = key.split(".")
        for part in parts:
            if not isinstance(node, Mapping) or part not in node:
                raise KeyError(f"headline metric '{key}' is not in the stage's metrics")
            node = node[part]
        target = out
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = node
    return out


# Per-class values are headline only up to this many classes (a binary task's pair); with more, the worst class's
# value is, and every class's stays in the details file, so `dvc metrics show` lists at most 40 values whatever
# the number of classes (3 classes or 77).
PER_CLASS_HEADLINE = 2


def per_class_headline(n_classes: int, per_class: str, worst: str) -> str:
    """The headline key of a per-class value: `per_class` (one value per class) up to PER_CLASS_HEADLINE
    classes, `worst` (a single value) beyond."""
    return per_class if n_classes <= PER_CLASS_HEADLINE else worst


# Top-level keys that measure the machine, not the data or the model: they go to the timings file.
TIMING_KEYS = (
    "seconds",
    "train_seconds",
    "seconds_per_step",
    "samples_per_second",
    "peak_memory_mb",
    "predict_seconds_per_1000",
)


# Measured figures versioned in the details file's `compute`, rounded (COMPUTE_DIGITS significant figures).
COMPUTE_KEYS = ("train_seconds", "peak_memory_mb", "predict_seconds_per_1000")
COMPUTE_DIGITS = 2


def significant(value: float | None, digits: int = COMPUTE_DIGITS) -> float | None:
    """`value` rounded to `digits` significant figures (282.31 -> 280.0, 0.03456 -> 0.035); None stays None."""
    return None if value is None else float(f"{value:.{digits}g}")


# A measurement within this factor of the versioned figure (either way) keeps the versioned figure.
COMPUTE_TOLERANCE = 2.0


def settle(measured: Mapping[str, Any], previous: Any, tolerance: float = COMPUTE_TOLERANCE) -> dict[str, Any]:
    """A `compute` mapping to version: each measured figure rounded (`significant`), or the `previous` one (the
    versioned `compute` the stage wrote last) where both are positive and within `tolerance` times of each
    other. Keys missing from `measured` are dropped; a non-mapping `previous` (none yet) keeps nothing."""
    before = previous if isinstance(previous, Mapping) else {}
    out: dict[str, Any] = {}
    for key, value in measured.items():
        old = before.get(key)
        numbers = [v for v in (value, old) if isinstance(v, int | float) and not isinstance(v, bool) and v > 0]
        keep = len(numbers) == 2 and max(numbers) <= tolerance * min(numbers)
        out[key] = old if keep else significant(value) if isinstance(value, int | float) else value
    return out


def settle_all(details: Any, previous: Any) -> Any:
    """`details` with every nested `compute` mapping settled against the same path in `previous` (a stage's
    previous details), e.g. compare's `tfidf.compute` and each approach's."""
    if not isinstance(details, Mapping):
        return details
    before = previous if isinstance(previous, Mapping) else {}
    return {
        k: settle(v, before.get(k)) if k == "compute" and isinstance(v, Mapping) else settle_all(v, before.get(k))
        for k, v in details.items()
    }


def read_previous(details_path: str | Path) -> dict[str, Any]:
    """The details a stage wrote last (kept by `persist: true`), or {} (none yet, or unreadable)."""
    import json

    try:
        found = json.loads(Path(details_path).read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def write_metrics(
    metrics: Mapping[str, Any],
    headline: Iterable[str],
    metrics_path: str | Path,
    details_path: str | Path,
    timings_dir: str | Path | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """Write a stage's metrics by the contract above and return the headline.

    `headline` lists the dotted keys `dvc metrics show` should list (`rows_out`, `leakage.near`). Keys in
    TIMING_KEYS are taken out of the details and written to `<timings_dir>/<name>.json` instead; those in
    COMPUTE_KEYS also go to the details' `compute`. Every `compute` in the details, nested ones included, is
    settled against the details file the stage wrote last (`settle_all`).
    """
    details = {k: v for k, v in metrics.items() if k not in TIMING_KEYS}
    timings = {k: v for k, v in metrics.items() if k in TIMING_KEYS}
    compute = {k: v for k, v in timings.items() if k in COMPUTE_KEYS}
    if compute:
        details["compute"] = compute
    details = settle_all(details, read_previous(details_path))
    top = pick(details, headline)
    if timings and timings_dir is not None and name is not None:
        write_timings(timings, timings_dir, name)
    write_json(details, details_path)
    write_json(top, metrics_path)
    return top


def write_timings(timings: Mapping[str, Any], timings_dir: str | Path, name: str) -> Path:
    """Write wall-clock and memory figures to `<timings_dir>/<name>.json` (e.g. `train/full`) and return the path."""
    path = Path(timings_dir) / f"{name}.json"
    write_json(dict(timings), path)
    return path


def read_timings(timings_dir: str | Path, name: str) -> dict[str, Any]:
    """The timings a stage wrote last on this machine, or {} when it has not run here (e.g. a fresh clone)."""
    import json

    path = Path(timings_dir) / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else {}
