"""The SFT audit's findings: which conversations look wrong, one pure function per kind of issue.

    loss_outliers(keys, losses, *, k, min_rows)          rows the trained model fits far worse than their group
    conflicting_answers(ids, prompts, answers, ...)       near-duplicate prompts whose answers differ
    truncations(rows)                                      rows render's length policy cut or dropped
    empty_and_boilerplate(ids, turns, ...)                 empty answers, boilerplate, answers repeated everywhere
    wilson(k, n, confidence)                               the interval of the problem share

Each returns issue records `{id, kind, score, detail}` (higher score = more suspicious, comparable within a kind);
the stage adds split and source. Nothing here reads files or models: the I/O is in stages/lib/audit/sft.py.
"""

from __future__ import annotations

import math
import re
import statistics
import unicodedata
from collections import defaultdict
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from stages.lib.chat.dedup import clusters
from stages.lib.text.near_dup import jaccard, shingle_set

KINDS = ("loss_outlier", "conflicting_answer", "truncated", "empty_answer", "boilerplate")

# MAD x 1.4826 estimates the standard deviation of normal data; with a zero MAD (over half the group equal) the
# mean absolute deviation x 1.2533 does (Iglewicz and Hoaglin's modified z-score).
MAD_SCALE = 1.4826
MEAN_AD_SCALE = 1.253314
_WORD = re.compile(r"[^\W_]+")


def issue(id_: str, kind: str, score: float, detail: str) -> dict[str, Any]:
    return {"id": id_, "kind": kind, "score": round(float(score), 6), "detail": detail}


def robust_scale(values: np.ndarray) -> tuple[float, float]:
    """(median, robust standard deviation) of `values`; the scale is 0 when the values are (almost) all equal."""
    median = float(np.median(values))
    dev = np.abs(values - median)
    mad = float(np.median(dev))
    return median, (MAD_SCALE * mad if mad > 0 else MEAN_AD_SCALE * float(dev.mean()))


def loss_outliers(
    ids: Sequence[str], groups: Sequence[Hashable], losses: Sequence[float], *, k: float, min_rows: int
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """(issues, per-group summary): rows whose mean trained-token loss lies more than `k` robust standard
    deviations above the median of their group (a source within a split); score = that robust z. Groups of fewer
    than `min_rows` rows are summarised but not scored."""
    members: dict[Hashable, list[int]] = defaultdict(list)
    for i, g in enumerate(groups):
        members[g].append(i)
    found, summary = [], {}
    values = np.asarray(losses, dtype=np.float64)
    for g in sorted(members, key=str):
        rows = members[g]
        median, scale = robust_scale(values[rows])
        scored = len(rows) >= min_rows and scale > 0
        summary[str(g)] = {
            "rows": len(rows),
            "median_loss": round(median, 6),
            "robust_sd": round(scale, 6),
            "threshold": round(median + k * scale, 6) if scored else None,
        }
        if not scored:
            continue
        for i in rows:
            z = (values[i] - median) / scale
            if z > k:
                detail = f"trained-token loss {values[i]:.2f} vs {g} median {median:.2f} (robust z {z:.1f})"
                found.append(issue(ids[i], "loss_outlier", z, detail))
    return found, summary


def normalized(text: str) -> str:
    """An answer as compared here: NFKC, case-folded, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def conflicting_answers(
    ids: Sequence[str],
    prompts: Sequence[str],
    answers: Sequence[str],
    *,
    answer_threshold: float,
    near: dict[str, Any],
) -> list[dict[str, Any]]:
    """Rows whose prompt is an exact or near duplicate (`near`: the fields of clean.prompt_near_dup) of another
    row's and whose answers are less similar than `answer_threshold` (Jaccard of the same shingles);
    score = 1 - the lowest similarity to such a row, the detail names that row."""
    _, cluster, _ = clusters(list(prompts), exact=True, **near)
    members: dict[int, list[int]] = defaultdict(list)
    for i, c in enumerate(cluster.tolist()):
        members[c].append(i)
    shingle = {"ngram": near["ngram"], "unit": near["unit"], "lowercase": near["lowercase"]}
    found = []
    for rows in members.values():
        if len(rows) < 2:
            continue
        sets = {i: shingle_set(normalized(answers[i]), **shingle) for i in rows}
        for i in rows:
            sims = sorted((jaccard(sets[i], sets[j]), ids[j]) for j in rows if j != i)
            low, other = sims[0]
            if low < answer_threshold:
                detail = (f"prompt near-duplicate of {other} ({len(rows)} rows share it); answers {low:.2f} similar "
                          f"(< {answer_threshold})")  # fmt: skip
                found.append(issue(ids[i], "conflicting_answer", 1.0 - low, detail))
    return found


def truncations(rows: Sequence[dict[str, Any]], *, prompt_cut: bool) -> list[dict[str, Any]]:
    """Rows render's length policy cut or dropped. Each row holds `id` and either `dropped` (render's reject
    detail) or `full_length`, `full_trained` (rendered without a length limit) and `length`, `n_trained` (as
    rendered). score = the share of the row's tokens lost (1.0 when dropped)."""
    found = []
    for r in rows:
        if r.get("dropped") is not None:
            found.append(issue(r["id"], "truncated", 1.0, f"dropped by render: {r['dropped']}"))
            continue
        lost, answer_lost = r["full_length"] - r["length"], r["full_trained"] - r["n_trained"]
        if lost <= 0 or (answer_lost <= 0 and not prompt_cut):
            continue
        what = (f"answer cut: {answer_lost} of {r['full_trained']} trained tokens lost" if answer_lost > 0
                else f"prompt cut: {lost} of {r['full_length']} tokens lost, the answer kept")  # fmt: skip
        found.append(issue(r["id"], "truncated", lost / r["full_length"], what))
    return found


def empty_and_boilerplate(
    ids: Sequence[str],
    turns: Sequence[Sequence[tuple[str, str]]],
    *,
    patterns: Sequence[str],
    repeated_min_prompts: int,
    repeated_min_words: int,
) -> list[dict[str, Any]]:
    """`empty_answer` (score 1.0): an assistant turn with no letter or digit. `boilerplate`: an assistant turn
    matching one of `patterns` (score 1.0), or given verbatim (normalised) to at least `repeated_min_prompts`
    different prompts and at least `repeated_min_words` words long (score 1 - 1/prompts). `turns` holds, per row,
    each assistant turn as (the prompt before it, the answer)."""
    compiled = [re.compile(p, re.IGNORECASE) for p in patterns]
    prompts_of: dict[str, set[str]] = defaultdict(set)
    for row in turns:
        for prompt, answer in row:
            prompts_of[normalized(answer)].add(normalized(prompt))
    found = []
    for id_, row in zip(ids, turns, strict=True):
        empty, boiler = None, None
        for n, (_, answer) in enumerate(row):
            key = normalized(answer)
            if empty is None and not _WORD.search(key):
                empty = issue(id_, "empty_answer", 1.0, f"assistant turn {n} is empty after normalisation")
            hit = next((p for p in compiled if p.search(answer)), None)
            count = len(prompts_of[key])
            if hit is not None:
                candidate = issue(id_, "boilerplate", 1.0, f"assistant turn {n} matches {hit.pattern!r}")
            elif count >= repeated_min_prompts and len(_WORD.findall(key)) >= repeated_min_words:
                detail = f"assistant turn {n} is given verbatim to {count} different prompts"
                candidate = issue(id_, "boilerplate", 1.0 - 1.0 / count, detail)
            else:
                continue
            if boiler is None or candidate["score"] > boiler["score"]:
                boiler = candidate
        found += [x for x in (empty, boiler) if x is not None]
    return found


def wilson(k: int, n: int, confidence: float) -> tuple[float, float]:
    """Wilson score interval of a proportion k/n at `confidence` ((0, 1) for n = 0)."""
    if n == 0:
        return 0.0, 1.0
    z = statistics.NormalDist().inv_cdf(0.5 + confidence / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (0.0 if k == 0 else centre - half), (1.0 if k == n else centre + half)
