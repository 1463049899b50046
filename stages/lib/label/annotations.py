"""Readers for annotation exports: each turns one tool's export into `Annotation`s.

One reader per format, written against the files the tools really write
(fixtures in tests/fixtures/annotation_exports/). A reader never decides what
a label means: it returns the raw label strings, who gave them, whether the
answer was cancelled/rejected, and the value the annotation joins on.
Anything it cannot read comes out as an `Annotation` with a `problem`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas.label import LabelImport
from stages.lib.core.errors import StageError
from stages.lib.core.safety import inside_repo

# Why an answer is skipped rather than counted as a vote (tools' own words where they have them).
SKIP_REASONS = ("cancelled", "rejected_answer", "ignored", "discarded", "draft")
# Why an annotation is unusable; each becomes a reject with this reason.
PROBLEMS = ("malformed", "missing_key", "no_label")


@dataclass
class Annotation:
    """One annotator's answer about one item, as the tool wrote it."""

    location: str
    annotator: str
    labels: list[str] = field(default_factory=list)
    key: str | None = None
    ground_truth: bool = False
    skip: str | None = None  # one of SKIP_REASONS: not a vote, only counted
    problem: str | None = None  # one of PROBLEMS: a reject
    detail: str | None = None
    raw: str = ""


def resolve_files(imp: LabelImport, root: Path) -> list[Path]:
    """The files an import names (file, folder or glob), sorted; hidden files and READMEs skipped."""
    root = root.resolve()
    if any(ch in imp.path for ch in "*?["):
        files = sorted(p for p in root.glob(imp.path) if p.is_file())
    else:
        target = root / imp.path
        if not target.exists():
            raise StageError(f"label import '{imp.name}': {imp.path} does not exist (relative to {root})")
        files = sorted(p for p in target.rglob("*") if p.is_file()) if target.is_dir() else [target]
    files = [p for p in files if not p.name.startswith(".") and not p.name.lower().startswith("readme")]
    if not files:
        raise StageError(f"label import '{imp.name}': no file matches {imp.path} (relative to {root})")
    for path in files:
        inside_repo(path, f"label import '{imp.name}' (path: {imp.path})", root)
    return files


def read_import(imp: LabelImport, root: Path) -> Iterator[Annotation]:
    """Every annotation of one import, in file order."""
    root = root.resolve()
    for path in resolve_files(imp, root):
        rel = str(path.relative_to(root))
        yield from READERS[imp.format](path, imp, rel)


def key_name(imp: LabelImport) -> str:
    """The annotation field the import joins on."""
    if imp.key is not None:
        return imp.key
    return "id" if imp.join in ("id", "source_id") else "text"


def _scalar(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, default=str)[:10_000]


def _load_json(path: Path, imp: LabelImport, rel: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StageError(
            f"label import '{imp.name}': {rel} is not valid JSON ({exc}); is `format: {imp.format}` right?"
        ) from None


def _json_lines(path: Path, rel: str) -> Iterator[tuple[str, Any, str]]:
    """(location, object or None, raw line) for each non-blank line."""
    for number, line in enumerate(path.read_text(encoding="utf-8-sig").split("\n"), start=1):
        line = line.strip()
        if not line:
            continue
        try:
            yield f"{rel}:{number}", json.loads(line), line
        except json.JSONDecodeError:
            yield f"{rel}:{number}", None, line


def _records(path: Path, imp: LabelImport, rel: str) -> Iterator[tuple[str, Any, str]]:
    """JSON array, JSON lines or Parquet records, chosen by the file's content/extension."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        for index, obj in enumerate(pq.read_table(path).to_pylist()):
            yield f"{rel}#{index}", obj, _dump(obj)
        return
    head = path.read_text(encoding="utf-8-sig")[:4096].lstrip()
    if head.startswith("["):
        data = _load_json(path, imp, rel)
        for index, obj in enumerate(data):
            yield f"{rel}[{index}]", obj, _dump(obj)
    else:
        yield from _json_lines(path, rel)


def _malformed(where: str, raw: str, detail: str) -> Annotation:
    return Annotation(where, annotator="", problem="malformed", detail=detail, raw=raw[:10_000])


# ---------------------------------------------------------------- Label Studio


def _ls_annotator(completed_by: Any) -> str:
    if isinstance(completed_by, dict):
        return str(completed_by.get("email") or completed_by.get("id") or "unknown")
    return "unknown" if completed_by is None else str(completed_by)


def read_label_studio(path: Path, imp: LabelImport, rel: str) -> Iterator[Annotation]:
    """Full JSON export: tasks with `data` and `annotations[].result[]` (choices), flags and annotators."""
    tasks = _load_json(path, imp, rel)
    if isinstance(tasks, dict):
        tasks = [tasks]  # one task per file, as in Label Studio's cloud-storage exports
    if not isinstance(tasks, list):
        raise StageError(f"label import '{imp.name}': {rel} must hold a list of tasks (Label Studio JSON export)")
    names = {
        r.get("from_name")
        for t in tasks
        if isinstance(t, dict)
        for a in _annotations(t)
        for r in a.get("result") or []
        if r.get("type") == "choices"
    }
    question = imp.question
    if question is None and len(names) > 1:
        raise StageError(
            f"label import '{imp.name}': {rel} has several choice controls {sorted(map(str, names))}; "
            "set `question` to the from_name to import"
        )
    wanted = imp.question or next(iter(names), None)
    key = key_name(imp)
    for t_index, task in enumerate(tasks):
        where = f"{rel}[{t_index}]"
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            yield _malformed(where, _dump(task), "a task must be an object with `data`")
            continue
        value = _scalar(task["data"].get(key))
        for a_index, ann in enumerate(_annotations(task)):
            loc = f"{where}.annotations[{a_index}]"
            out = Annotation(
                loc,
                annotator=_ls_annotator(ann.get("completed_by")),
                key=value,
                ground_truth=bool(ann.get("ground_truth")),
                raw=_dump({"task": task.get("id"), "data": task["data"], "annotation": ann}),
            )
            if ann.get("was_cancelled"):
                out.skip = "cancelled"
            else:
                for result in ann.get("result") or []:
                    if result.get("type") == "choices" and result.get("from_name") == wanted:
                        out.labels.extend(str(c) for c in (result.get("value") or {}).get("choices") or [])
            yield _finish(out, key)


def _annotations(task: dict[str, Any]) -> list[dict[str, Any]]:
    """A task's annotations; Label Studio before 1.0 called them `completions`."""
    return [a for a in task.get("annotations") or task.get("completions") or [] if isinstance(a, dict)]


def _flat_choice(value: Any) -> list[str]:
    """A JSON-MIN/CSV cell: 'Positive', {'choices': [...]}, a list, or those JSON-encoded (CSV)."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return [value]
    if isinstance(value, dict):
        value = value.get("choices", [])
    if isinstance(value, list):
        return [str(v) for v in value]
    s = _scalar(value)
    return [] if s is None else [s]


def _read_flat_ls(records: Iterator[tuple[str, Any, str]], imp: LabelImport) -> Iterator[Annotation]:
    key = key_name(imp)
    for where, obj, raw in records:
        if not isinstance(obj, dict):
            yield _malformed(where, raw, "not an object")
            continue
        out = Annotation(
            where, annotator=_scalar(obj.get("annotator")) or "unknown", key=_scalar(obj.get(key)), raw=raw
        )
        out.labels = _flat_choice(obj.get(imp.question))
        yield _finish(out, key)


def read_label_studio_min(path: Path, imp: LabelImport, rel: str) -> Iterator[Annotation]:
    """JSON-MIN: one flat object per annotation (task data + `<from_name>` + annotator); no cancelled ones."""
    data = _load_json(path, imp, rel)
    if not isinstance(data, list):
        raise StageError(f"label import '{imp.name}': {rel} must hold a list (Label Studio JSON-MIN export)")
    yield from _read_flat_ls(((f"{rel}[{i}]", o, _dump(o)) for i, o in enumerate(data)), imp)


def _csv_records(path: Path, imp: LabelImport, rel: str) -> Iterator[tuple[str, Any, str]]:
    text = path.read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=imp.delimiter)
    for row in reader:
        yield f"{rel}:{reader.line_num}", row, imp.delimiter.join(str(v) for v in row.values())


def read_label_studio_csv(path: Path, imp: LabelImport, rel: str) -> Iterator[Annotation]:
    """CSV export: the JSON-MIN objects as rows; multi-choice cells hold JSON."""
    yield from _read_flat_ls(_csv_records(path, imp, rel), imp)


# ---------------------------------------------------------------- Argilla v2


def read_argilla(path: Path, imp: LabelImport, rel: str) -> Iterator[Annotation]:
    """`rg.Dataset.to_disk` records.json: {id, fields, metadata, responses: {q: [{value, user_id}]}, suggestions}.

    Suggestions are model predictions, not annotations: ignored.
    """
    data = _load_json(path, imp, rel)
    if not isinstance(data, list):
        raise StageError(f"label import '{imp.name}': {rel} must hold a list of records (Argilla records.json)")
    questions = {q for r in data if isinstance(r, dict) for q in (r.get("responses") or {})}
    question = _one_question(imp, rel, questions)
    key = key_name(imp)
    for index, record in enumerate(data):
        where = f"{rel}[{index}]"
        if not isinstance(record, dict):
            yield _malformed(where, _dump(record), "not an object")
            continue
        fields, metadata = record.get("fields") or {}, record.get("metadata") or {}
        value = record.get("id") if key == "id" else fields.get(key, metadata.get(key))
        for r_index, response in enumerate((record.get("responses") or {}).get(question) or []):
            out = Annotation(
                f"{where}.responses.{question}[{r_index}]",
                annotator=_scalar(response.get("user_id")) or "unknown",
                key=_scalar(value),
                labels=_values(response.get("value")),
                skip=_argilla_skip(response.get("status"), response.get("value")),
                raw=_dump({"id": record.get("id"), "fields": fields, "response": response}),
            )
            yield _finish(out, key)


def read_argilla_datasets(path: Path, imp: LabelImport, rel: str) -> Iterator[Annotation]:
    """Flattened rows (`to_datasets`, `to_list(flatten=True)`): `<q>.responses`, `.responses.users`, `.status`."""
    records = list(_records(path, imp, rel))
    questions = {
        k.removesuffix(".responses")
        for _, o, _ in records
        if isinstance(o, dict)
        for k in o
        if k.endswith(".responses")
    }
    question = _one_question(imp, rel, questions)
    key = key_name(imp)
    for where, obj, raw in records:
        if not isinstance(obj, dict):
            yield _malformed(where, raw, "not an object")
            continue
        values = obj.get(f"{question}.responses") or []
        users = obj.get(f"{question}.responses.users") or []
        statuses = obj.get(f"{question}.responses.status") or []
        for r_index, value in enumerate(values):
            out = Annotation(
                f"{where}.{question}[{r_index}]",
                annotator=_scalar(users[r_index] if r_index < len(users) else None) or "unknown",
                key=_scalar(obj.get(key)),
                labels=_values(value),
                skip=_argilla_skip(statuses[r_index] if r_index < len(statuses) else None, value),
                raw=raw,
            )
            yield _finish(out, key)


def _one_question(imp: LabelImport, rel: str, questions: set[str]) -> str | None:
    if imp.question is not None:
        return imp.question
    if len(questions) > 1:
        raise StageError(
            f"label import '{imp.name}': {rel} answers several questions {sorted(questions)}; set `question`"
        )
    return next(iter(questions), None)


def _argilla_skip(status: Any, value: Any) -> str | None:
    """Only submitted answers are votes. records.json keeps no status: there a discarded answer has no value."""
    if status:
        return {"discarded": "discarded", "draft": "draft"}.get(str(status))
    return "discarded" if value is None else None


def _values(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [_scalar(value) or ""]


# ---------------------------------------------------------------- doccano


def read_doccano(path: Path, imp: LabelImport, rel: str) -> Iterator[Annotation]:
    """doccano JSONL: `label: [names]` in per-annotator files (`alice.jsonl`), or the merged `all.jsonl`;
    doccano 1.x: `annotations: [{label: <id>, user: <id>}]`.

    In `all.jsonl` doccano has merged every annotator's labels into one list, so
    who gave which is lost: each label counts as one vote from annotator `all`.
    """
    key = key_name(imp)
    merged = path.stem == "all"
    for where, obj, raw in _json_lines(path, rel):
        if not isinstance(obj, dict):
            yield _malformed(where, raw, "not a JSON object")
            continue
        value = _scalar(obj.get(key))
        if "annotations" in obj and "label" not in obj:
            for a_index, ann in enumerate(obj.get("annotations") or []):
                user = ann.get("user") if isinstance(ann, dict) else None
                label = ann.get("label") if isinstance(ann, dict) else ann
                out = Annotation(
                    f"{where}.annotations[{a_index}]",
                    annotator=_scalar(user) or path.stem,
                    key=value,
                    labels=_values(label),
                    raw=raw,
                )
                yield _finish(out, key)
            continue
        labels = _values(obj.get("label"))
        if merged and len(labels) > 1:
            for l_index, label in enumerate(labels):
                yield _finish(
                    Annotation(f"{where}.label[{l_index}]", annotator="all", key=value, labels=[label], raw=raw), key
                )
        else:
            yield _finish(Annotation(where, annotator=path.stem, key=value, labels=labels, raw=raw), key)


# ---------------------------------------------------------------- Prodigy


def read_prodigy(path: Path, imp: LabelImport, rel: str) -> Iterator[Annotation]:
    """`prodigy db-out` JSONL: `answer` accept/reject/ignore; binary tasks carry `label`, choice tasks `accept`."""
    key = key_name(imp)
    for where, obj, raw in _json_lines(path, rel):
        if not isinstance(obj, dict):
            yield _malformed(where, raw, "not a JSON object")
            continue
        meta = obj.get("meta") if isinstance(obj.get("meta"), dict) else {}
        annotator = _scalar(obj.get("_annotator_id")) or _scalar(obj.get("_session_id")) or imp.name
        out = Annotation(where, annotator=annotator, key=_scalar(obj.get(key, meta.get(key))), raw=raw)
        answer = obj.get("answer")
        if answer == "ignore":
            out.skip = "ignored"
        elif "accept" in obj and "options" in obj:  # choice interface: the accepted option ids
            out.labels = _values(obj.get("accept"))
            if answer == "reject":
                out.skip = "rejected_answer"
        elif answer == "accept":
            out.labels = _values(obj.get("label"))
        elif answer == "reject":
            if imp.reject_label is None:
                out.skip = "rejected_answer"
            else:
                out.labels = [imp.reject_label]
        else:
            out.problem, out.detail = "malformed", f"answer {answer!r} is not accept, reject or ignore"
        yield _finish(out, key)


# ---------------------------------------------------------------- plain


def read_plain(path: Path, imp: LabelImport, rel: str) -> Iterator[Annotation]:
    """Plain CSV or JSONL: a join key, a label column (`question`, default `label`), an optional annotator."""
    key = key_name(imp)
    column = imp.question or "label"
    records = _csv_records(path, imp, rel) if imp.format == "csv" else _records(path, imp, rel)
    for where, obj, raw in records:
        if not isinstance(obj, dict):
            yield _malformed(where, raw, "not an object")
            continue
        annotator = _scalar(obj.get(imp.annotator_field)) if imp.annotator_field else None
        out = Annotation(
            where,
            annotator=annotator or imp.name,
            key=_scalar(obj.get(key)),
            labels=_values(_scalar(obj.get(column))),
            raw=raw,
        )
        yield _finish(out, key)


def _finish(out: Annotation, key: str) -> Annotation:
    """Flag a missing key or label (skipped answers keep their skip reason)."""
    out.labels = [label for label in out.labels if label.strip()]
    if out.skip or out.problem:
        return out
    if out.key is None:
        out.problem, out.detail = "missing_key", f"no value in '{key}'"
    elif not out.labels:
        out.problem, out.detail = "no_label", "the answer holds no label"
    return out


READERS = {
    "label_studio": read_label_studio,
    "label_studio_min": read_label_studio_min,
    "label_studio_csv": read_label_studio_csv,
    "argilla": read_argilla,
    "argilla_datasets": read_argilla_datasets,
    "doccano": read_doccano,
    "prodigy": read_prodigy,
    "csv": read_plain,
    "jsonl": read_plain,
}
