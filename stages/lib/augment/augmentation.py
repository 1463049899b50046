"""Generated rows with provenance, shared by augment (per-class multipliers) and balance (`synthetic`).

An operation config (schemas.textops) becomes a `Transform` with `apply(jobs)`; a
job is one new row to write from one source row. Every job draws from its own
`Random(f"{seed}|{key}")`, so a row's rewrite depends only on the seed, the
operation, the source row and the copy number. `Deduper` decides which candidates
are kept: a candidate equal to its source, to any train row or earlier candidate
(exact text), or to a validation/test row (that would leak evaluation text into
training) is dropped with that reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from random import Random
from typing import Any

from schemas.textops import CharNoiseOp, EdaOp, MaskedLMOp, ParaphraseOp
from stages.lib.core.errors import StageError
from stages.lib.core.ids import SEP, augmented_key, row_id
from stages.lib.core.log import progress
from stages.lib.text import textops

# Why a generated row is not kept; every key is always written to the metrics.
DROP_REASONS = ("unchanged", "duplicate", "eval_overlap", "max_rows")


@dataclass(frozen=True)
class Job:
    """One row to generate: the source text, a key naming the source row and operation, and the copy number."""

    text: str
    key: str
    copy: int


@dataclass
class Transform:
    """An operation ready to run: `apply(jobs)` gives (aug_op, new text) per job, in order."""

    name: str
    apply_to: str
    n_aug: int
    apply: Callable[[Sequence[Job]], list[tuple[str, str]]]


def _rng(seed: int, *parts: object) -> Random:
    return Random(SEP.join(str(p) for p in (seed, *parts)))


def build_transform(op: EdaOp | CharNoiseOp | MaskedLMOp | ParaphraseOp, seed: int, nltk_data: str) -> Transform:
    """Turn one operation config into a Transform (loads WordNet or a model when the operation needs one).

    Raises StageError when WordNet or a model folder is missing.
    """
    name = op.op_name
    for folder in (getattr(op, "model", None), getattr(op, "back_model", None)):
        if folder is not None and not Path(folder).is_dir():
            raise StageError(f"operation '{name}': model folder {folder} does not exist")
    if isinstance(op, EdaOp):
        synonyms = None
        if op.needs_wordnet:
            from stages.lib.text.wordnet import synonym_finder

            synonyms = synonym_finder(nltk_data)
        techniques = [
            t for t, v in (("sr", op.alpha_sr), ("ri", op.alpha_ri), ("rs", op.alpha_rs), ("rd", op.p_rd)) if v > 0
        ]

        def eda(jobs: Sequence[Job]) -> list[tuple[str, str]]:
            out = []
            for job in jobs:
                # techniques in turn from a per-row offset: n_aug/len(techniques) rows of each, as in the paper
                tech = techniques[(_rng(seed, job.key).randrange(len(techniques)) + job.copy) % len(techniques)]
                rng = _rng(seed, job.key, job.copy)
                words = job.text.split()
                if tech == "sr":
                    new = textops.synonym_replacement(words, textops.eda_count(op.alpha_sr, len(words)), rng, synonyms)
                elif tech == "ri":
                    new = textops.random_insertion(words, textops.eda_count(op.alpha_ri, len(words)), rng, synonyms)
                elif tech == "rs":
                    new = textops.random_swap(words, textops.eda_count(op.alpha_rs, len(words)), rng)
                else:
                    new = textops.random_deletion(words, op.p_rd, rng)
                # an operation that changed no word returns the text as it was (not whitespace-normalised)
                out.append((f"{name}_{tech}", " ".join(new) if new != words else job.text))
            return out

        return Transform(name, op.apply_to, op.n_aug, eda)
    if isinstance(op, CharNoiseOp):

        def noise(jobs: Sequence[Job]) -> list[tuple[str, str]]:
            return [(name, textops.char_noise(j.text, op.rate, op.actions, _rng(seed, j.key, j.copy))) for j in jobs]

        return Transform(name, op.apply_to, op.n_aug, noise)
    if isinstance(op, MaskedLMOp):
        mlm = textops.MaskedLMSubstituter(op.model, op.top_k, op.max_length, op.batch_size)

        def substitute(jobs: Sequence[Job]) -> list[tuple[str, str]]:
            texts = mlm.substitute([j.text for j in jobs], [_rng(seed, j.key, j.copy) for j in jobs], op.rate)
            return [(name, t) for t in texts]

        return Transform(name, op.apply_to, op.n_aug, substitute)
    gen_args = (op.max_new_tokens, op.sample, op.temperature, op.top_p, op.batch_size)
    forward = textops.TextGenerator(op.model, *gen_args)
    back = textops.TextGenerator(op.back_model, *gen_args) if op.back_model else None

    def rewrite(jobs: Sequence[Job]) -> list[tuple[str, str]]:
        seeds = [_rng(seed, j.key, j.copy).randrange(2**31) for j in jobs]
        texts = forward.generate([op.prompt.replace("{text}", j.text) for j in jobs], seeds)
        if back is not None:
            texts = back.generate([op.back_prompt.replace("{text}", t) for t in texts], seeds)
        return [(name, t) for t in texts]

    return Transform(name, op.apply_to, op.n_aug, rewrite)


@dataclass
class Deduper:
    """Keeps a candidate unless it is its source's text, a known text, or an evaluation text."""

    seen: set[str]
    eval_texts: set[str]

    def reason(self, source_text: str, text: str) -> str | None:
        """None when kept (and then remembered), else the drop reason."""
        if text == source_text or not text.strip():
            return "unchanged"
        if text in self.eval_texts:
            return "eval_overlap"
        if text in self.seen:
            return "duplicate"
        self.seen.add(text)
        return None


@dataclass
class Outcome:
    """Rows kept, rows dropped (`_reason`), counts per operation; rows carry `_op`, the operation's name."""

    kept: list[dict[str, Any]] = field(default_factory=list)
    dropped: list[dict[str, Any]] = field(default_factory=list)
    per_op: dict[str, dict[str, Any]] = field(default_factory=dict)

    def op_counts(self, name: str) -> dict[str, Any]:
        return self.per_op.setdefault(name, {"candidates": 0, "kept": 0, "dropped": dict.fromkeys(DROP_REASONS, 0)})


def new_row(source_row: dict[str, Any], text: str, aug_op: str) -> dict[str, Any]:
    """A generated row: the source row's columns and label, a new id, `origin_id` (the original row), `aug_op`."""
    origin = source_row.get("origin_id") or source_row["id"]
    chain = f"{source_row['aug_op']}+{aug_op}" if source_row.get("aug_op") else aug_op
    return {
        **source_row,
        "id": row_id(source_row["source"], augmented_key(origin, chain, text)),
        "text": text,
        "origin_id": origin,
        "aug_op": chain,
    }


def multiplied_count(n_aug: int, multiplier: float, rng: Random) -> int:
    """n_aug * multiplier rows: the whole part always, one more with probability equal to the fraction."""
    want = n_aug * multiplier
    whole = int(want)
    return whole + (1 if rng.random() < want - whole else 0)


def augment_rows(
    rows: Sequence[dict[str, Any]],
    transforms: Sequence[Transform],
    multipliers: Callable[[str | None], float],
    seed: int,
    deduper: Deduper,
    max_rows: int | None,
) -> Outcome:
    """Run the transforms in order over `rows` (sorted by id); return kept and dropped rows and the counts.

    A transform with apply_to 'all' also takes the rows kept from the transforms
    before it. `max_rows` keeps a seeded random subset of the kept rows.
    """
    result = Outcome()
    for tf in transforms:
        counts = result.op_counts(tf.name)
        sources = list(rows) + (list(result.kept) if tf.apply_to == "all" else [])
        jobs: list[tuple[dict[str, Any], Job]] = []
        for row in sources:
            n = multiplied_count(tf.n_aug, multipliers(row["label"]), _rng(seed, "count", tf.name, row["id"]))
            jobs.extend((row, Job(row["text"], f"{tf.name}{SEP}{row['id']}", k)) for k in range(n))
        outputs = _apply_in_chunks(tf, [j for _, j in jobs])
        for (row, _), (aug_op, text) in zip(jobs, outputs):
            counts["candidates"] += 1
            candidate = {**new_row(row, text, aug_op), "_op": tf.name}
            reason = deduper.reason(row["text"], text)
            if reason is None:
                result.kept.append(candidate)
                counts["kept"] += 1
            else:
                counts["dropped"][reason] += 1
                result.dropped.append({**candidate, "_reason": reason})
    if max_rows is not None and len(result.kept) > max_rows:
        keep = set(_rng(seed, "max_rows").sample(range(len(result.kept)), max_rows))
        kept = []
        for i, row in enumerate(result.kept):
            if i in keep:
                kept.append(row)
            else:
                result.per_op[row["_op"]]["kept"] -= 1
                result.per_op[row["_op"]]["dropped"]["max_rows"] += 1
                result.dropped.append({**row, "_reason": "max_rows"})
        result.kept = kept
    return result


def synthesize_rows(
    rows_by_label: dict[str, list[dict[str, Any]]],
    needed: dict[str, int],
    transforms: Sequence[Transform],
    seed: int,
    deduper: Deduper,
    max_attempts: int,
) -> tuple[Outcome, dict[str, int]]:
    """Generate `needed[label]` new rows per label from that label's rows, operations taken in turn.

    Rows are visited in a seeded order; each pass over them uses the next
    operation. Stops a label after `needed * max_attempts` candidates and returns
    the shortfall per label (0 when the target was reached).
    """
    result = Outcome()
    for tf in transforms:
        result.op_counts(tf.name)
    shortfall: dict[str, int] = {}
    for label in sorted(needed):
        want = needed[label]
        order = sorted(rows_by_label[label], key=lambda r: r["id"])
        _rng(seed, "order", label).shuffle(order)
        got, attempt, limit = 0, 0, want * max_attempts
        while got < want and attempt < limit and order:
            chunk = range(attempt, min(limit, attempt + (want - got)))
            attempt = chunk.stop
            plan = [(order[a % len(order)], transforms[(a // len(order)) % len(transforms)], a) for a in chunk]
            for tf in transforms:
                mine = [(row, a) for row, t, a in plan if t is tf]
                if not mine:
                    continue
                outputs = _apply_in_chunks(tf, [Job(r["text"], f"{tf.name}{SEP}{r['id']}", a) for r, a in mine])
                counts = result.op_counts(tf.name)
                for (row, _), (aug_op, text) in zip(mine, outputs):
                    counts["candidates"] += 1
                    candidate = new_row(row, text, aug_op)
                    reason = deduper.reason(row["text"], text)
                    if reason is None:
                        result.kept.append(candidate)
                        counts["kept"] += 1
                        got += 1
                    else:
                        counts["dropped"][reason] += 1
                        result.dropped.append({**candidate, "_reason": reason})
        shortfall[label] = want - got
    return result, shortfall


def _apply_in_chunks(tf: Transform, jobs: Sequence[Job], size: int = 256) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    chunks: Iterable[int] = range(0, len(jobs), size)
    for start in progress(chunks, desc=tf.name, total=(len(jobs) + size - 1) // size, unit="batch"):
        out.extend(tf.apply(jobs[start : start + size]))
    return out


def class_counts(labels: Iterable[str | None]) -> dict[str, int]:
    """Rows per label, sorted by label; null labels counted under '<none>'."""
    return dict(sorted(Counter("<none>" if x is None else x for x in labels).items()))


def imbalance_ratio(counts: dict[str, int]) -> float | None:
    """Largest class over smallest (labeled classes only); None with fewer than two classes."""
    values = [v for k, v in counts.items() if k != "<none>" and v > 0]
    if len(values) < 2:
        return None
    return round(max(values) / min(values), 4)
