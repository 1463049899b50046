"""Corrections of reviewed conversations (the SFT pipeline's label stage): edited answers and ratings.

Every file in the annotations folder (sorted by path; hidden files and READMEs skipped) is one review round, in
that order: `.csv` or `.jsonl` with `row_id` (or `id`), `answer` and `rating` columns (review's tasks.csv, filled
in); `.json` holding a Label Studio JSON export (tasks with `annotations[].result[]`: the `answer` TextArea and
the `rating` Rating) or Argilla records (`responses.answer`, `responses.rating`). The question names are the
ones review writes (stages/lib/review/exports.py). The CSV, JSON and Label Studio plumbing is the
classification readers' (stages/lib/label/annotations.py).

For each conversation the latest answer and the latest rating win: an answer that differs from the last
assistant turn replaces its content (`edited`); a rating below `min_rating` drops the conversation, kept in the
rejects with reason `low_rating`. Corrections naming no conversation go to the unmatched output.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from schemas.label import LabelImport
from stages.lib.chat.clean import clean_turns
from stages.lib.chat.conversation import conversation_text, last_answer
from stages.lib.clean.filters import build_filters
from stages.lib.core.errors import StageError
from stages.lib.core.rejects import reject, storable
from stages.lib.core.safety import inside_repo
from stages.lib.label.annotations import (
    _annotations,
    _argilla_skip,
    _csv_records,
    _dump,
    _json_lines,
    _load_json,
    _ls_annotator,
    _scalar,
)
from stages.lib.review.exports import ANSWER_QUESTION, KEY, RATING_QUESTION
from stages.lib.text.prepare import build_text_prep

SUFFIXES = (".csv", ".jsonl", ".json")
# `answer_filtered`: the edited answer fails clean's filters for an assistant turn (e.g. empty once normalised,
# over `clean.filters.assistant.max_chars`); the whole correction is kept aside and the answer stays as it was.
PROBLEMS = ("malformed", "missing_key", "nothing_to_apply", "bad_rating", "answer_filtered")

UNMATCHED_SCHEMA = pa.schema(
    [pa.field(n, pa.string()) for n in ("file", "location", "annotator", "key", "answer", "rating", "raw")]
)
HISTORY_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string()),
        pa.field("round", pa.int64()),
        pa.field("source", pa.string()),
        pa.field("action", pa.string()),
        pa.field("old_answer", pa.string()),
        pa.field("new_answer", pa.string()),
        pa.field("rating", pa.int64()),
    ]
)


@dataclass
class Correction:
    """One annotator's answer about one conversation, as the file holds it."""

    file: str
    location: str
    key: str | None
    answer: str | None = None
    rating: int | None = None
    annotator: str = "unknown"
    problem: str | None = None
    raw: str = ""


def correction_files(folder: str | Path, root: Path) -> list[Path]:
    """The correction files of the annotations folder, sorted; none when the folder does not exist."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix in SUFFIXES
        and not p.name.startswith(".")
        and not p.name.lower().startswith("readme")
    )
    for path in files:
        inside_repo(path, f"label correction file {path}", root)
    return files


def read_corrections(path: Path, rel: str) -> list[Correction]:
    """Every correction of one file, in file order."""
    # the classification readers take their import's name and delimiter from a LabelImport
    imp = LabelImport.model_construct(name=rel, path=rel, format="csv" if path.suffix == ".csv" else "jsonl",
                                      delimiter=",")  # fmt: skip
    if path.suffix in (".csv", ".jsonl"):
        records = _csv_records(path, imp, rel) if path.suffix == ".csv" else _json_lines(path, imp, rel)
        return [_plain(rel, where, obj, raw) for where, obj, raw in records]
    data = _load_json(path, imp, rel)
    data = [data] if isinstance(data, dict) else data
    if not isinstance(data, list):
        raise StageError(f"label: {rel} must hold a list of Label Studio tasks or Argilla records")
    out: list[Correction] = []
    for index, item in enumerate(data):
        where = f"{rel}[{index}]"
        if isinstance(item, dict) and isinstance(item.get("data"), dict):
            out += _label_studio(rel, where, item)
        elif isinstance(item, dict) and ("responses" in item or "fields" in item):
            out += _argilla(rel, where, item)
        else:
            out.append(Correction(rel, where, None, problem="malformed", raw=_dump(item)))
    return out


def _plain(rel: str, where: str, obj: Any, raw: str) -> Correction:
    if not isinstance(obj, dict):
        return Correction(rel, where, None, problem="malformed", raw=raw)
    key = _scalar(obj.get(KEY)) or _scalar(obj.get("id"))
    answer = obj.get(ANSWER_QUESTION)
    out = Correction(rel, where, key, answer if isinstance(answer, str) else None, raw=raw)
    out.annotator = _scalar(obj.get("annotator")) or "unknown"
    return _rated(out, obj.get(RATING_QUESTION))


def _label_studio(rel: str, where: str, task: dict[str, Any]) -> list[Correction]:
    key = _scalar(task["data"].get(KEY))
    out = []
    for a_index, ann in enumerate(_annotations(task)):
        loc, raw = f"{where}.annotations[{a_index}]", _dump({"data": task["data"], "annotation": ann})
        if not isinstance(ann, dict) or not isinstance(ann.get("result", []), list):
            out.append(Correction(rel, loc, key, problem="malformed", raw=raw))
            continue
        if ann.get("was_cancelled"):
            continue
        c = Correction(rel, loc, key, annotator=_ls_annotator(ann.get("completed_by")), raw=raw)
        rating = None
        for result in ann.get("result") or []:
            value = result.get("value") if isinstance(result, dict) else None
            if not isinstance(value, dict):
                continue
            if result.get("from_name") == ANSWER_QUESTION and isinstance(value.get("text"), list):
                c.answer = "\n".join(str(t) for t in value["text"])
            elif result.get("from_name") == RATING_QUESTION:
                rating = value.get("rating")
        out.append(_rated(c, rating))
    return out


def _argilla(rel: str, where: str, record: dict[str, Any]) -> list[Correction]:
    responses = record.get("responses") if isinstance(record.get("responses"), dict) else {}

    def latest(question: str) -> tuple[Any, str | None]:
        answered = [
            r
            for r in responses.get(question) or []
            if isinstance(r, dict) and not _argilla_skip(r.get("status"), r.get("value"))
        ]
        return (answered[-1]["value"], _scalar(answered[-1].get("user_id"))) if answered else (None, None)

    answer, user = latest(ANSWER_QUESTION)
    rating, rater = latest(RATING_QUESTION)
    if answer is None and rating is None:
        return []  # not answered yet
    c = Correction(rel, where, _scalar(record.get("id")), answer if isinstance(answer, str) else None)
    c.annotator, c.raw = user or rater or "unknown", _dump(record)
    return [_rated(c, rating)]


def _rated(c: Correction, rating: Any) -> Correction:
    text = _scalar(rating)
    if text is not None:
        try:
            c.rating = int(float(text))
        except ValueError:
            c.problem = "bad_rating"
        if c.rating is not None and (c.rating < 1 or c.rating != float(text)):
            c.problem = "bad_rating"
    if c.problem is None and c.key is None:
        c.problem = "missing_key"
    elif c.problem is None and (c.answer is None or not c.answer.strip()) and c.rating is None:
        c.problem = "nothing_to_apply"
    if c.answer is not None and not c.answer.strip():
        c.answer = None
    return c


Prepared = tuple[str | None, tuple[str, str] | None]


def answer_path(
    normalize: dict[str, Any], pii: dict[str, Any], filters: dict[str, dict[str, Any]]
) -> Callable[[str], Prepared]:
    """What clean does to an assistant turn (stages/lib/chat/clean.py `clean_turns`: normalise, the assistant
    role's filters, mask PII; `clean.normalize`, `clean.pii`, `clean.filters` as dicts): an edited answer gives
    `(text, None)`, or `(None, (reason, detail))` when a filter refuses it."""
    prep = build_text_prep(normalize, pii)
    rules = {role: build_filters(**f) for role, f in filters.items()}

    def prepare(answer: str) -> Prepared:
        turns, failed = clean_turns([{"role": "assistant", "content": answer}], prep, rules, _scratch())
        return (None, failed) if failed else (turns[0]["content"], None)

    return prepare


def _scratch() -> dict[str, Counter[str]]:
    """clean_turns' counters; label does not report normalisation or PII counts."""
    return {"changed": Counter(), "pii": Counter()}


def apply(
    rows: list[dict[str, Any]],
    files: list[tuple[str, list[Correction]]],
    min_rating: int | None,
    prepare: Callable[[str], Prepared],
) -> dict:
    """The corrected rows and everything the stage writes and counts: kept, rejects, unmatched, history, counts.

    `prepare` is what clean does to an assistant turn (`answer_path`), so the corrected rows hold the same kind
    of text as the rest; an edit it refuses keeps the whole correction aside (`answer_filtered`)."""
    by_id = {r["id"]: r for r in rows}
    answers = {r["id"]: last_answer(r["messages"]) for r in rows}
    rating: dict[str, int] = {}
    rejects, unmatched, history = [], [], []
    counts: Counter[str] = Counter()
    for round_no, (rel, corrections) in enumerate(files, start=1):
        for c in corrections:
            counts["read"] += 1
            if c.problem:
                counts[c.problem] += 1
                rejects.append(reject("label", c.problem, source=rel, location=c.location, row_id=c.key, raw=c.raw))
            elif c.key not in by_id:
                counts["unmatched"] += 1
                unmatched.append(
                    {
                        "file": rel,
                        "location": c.location,
                        "annotator": c.annotator,
                        "key": storable(c.key),
                        "answer": storable(c.answer),
                        "rating": None if c.rating is None else str(c.rating),
                        "raw": storable(c.raw),
                    }
                )
            else:
                text, refused = prepare(c.answer) if c.answer is not None else (None, None)
                if refused is not None:
                    counts["answer_filtered"] += 1
                    rejects.append(reject("label", "answer_filtered", source=rel, location=c.location, row_id=c.key,
                                          detail=f"{refused[0]}: {refused[1]}", raw=c.raw))  # fmt: skip
                    continue
                counts["matched"] += 1
                old = answers[c.key]
                answers[c.key] = text if text is not None else old
                if c.rating is not None:
                    rating[c.key] = c.rating
                low = min_rating is not None and c.rating is not None and c.rating < min_rating
                action = "dropped_low_rating" if low else ("edited" if answers[c.key] != old else "unchanged")
                history.append({"id": c.key, "round": round_no, "source": rel, "action": action,
                                "old_answer": old, "new_answer": answers[c.key], "rating": c.rating})  # fmt: skip
    kept, edited = [], 0
    for row in rows:
        if min_rating is not None and rating.get(row["id"], min_rating) < min_rating:
            detail = f"rating {rating[row['id']]} < label.min_rating {min_rating}"
            rejects.append(reject("label", "low_rating", source=row.get("source"), row_id=row["id"], detail=detail,
                                  raw=json.dumps(row["messages"], ensure_ascii=False)))  # fmt: skip
            continue
        if answers[row["id"]] != last_answer(row["messages"]):
            row = _with_answer(row, answers[row["id"]])
            edited += 1
        kept.append(row)
    return {"kept": kept, "rejects": rejects, "unmatched": unmatched, "history": history, "counts": counts,
            "edited": edited, "ratings": list(rating.values())}  # fmt: skip


def _with_answer(row: dict[str, Any], answer: str) -> dict[str, Any]:
    messages = [dict(m) for m in row["messages"]]
    last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
    messages[last]["content"] = answer
    out = row | {"messages": messages}
    if "text" in row:
        out["text"] = conversation_text(messages)
    return out


def metrics(rows_in: int, result: dict[str, Any], n_files: int) -> dict[str, Any]:
    """label's counters for the SFT pipeline: rows_in == rows_out + dropped.low_rating always."""
    counts, ratings = result["counts"], result["ratings"]
    return {
        "rows_in": rows_in,
        "rows_out": len(result["kept"]),
        "dropped": {"low_rating": rows_in - len(result["kept"])},
        "edited": result["edited"],
        "corrections": {
            "files": n_files,
            "read": counts["read"],
            "matched": counts["matched"],
            "unmatched": counts["unmatched"],
            "rejected": {p: counts[p] for p in PROBLEMS},
            "rated": len(ratings),
            "mean_rating": round(sum(ratings) / len(ratings), 4) if ratings else None,
        },
    }
