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
from stages.lib.core.encoding import decode, escape_bad_bytes, has_bad_bytes
from stages.lib.core.errors import StageError
from stages.lib.core.safety import inside_repo
from stages.lib.core.spreadsheet import restore
from stages.lib.core.values import as_text

# Why an answer is skipped rather than counted as a vote (tools' own words where they have them).
SKIP_REASONS = ("cancelled", "rejected_answer", "ignored", "discarded", "draft")
# Why an annotation is unusable; each becomes a reject with this reason.
PROBLEMS = ("malformed", "missing_key", "no_label")
# Annotator names that stand for nobody in particular (an export without annotator, doccano's merged
# all.jsonl): their votes may come from several people, so they are never merged as one annotator's repeats.
ANONYMOUS = frozenset({"unknown", "all"})


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


_scalar = as_text  # the one normalisation of labels and keys, shared with ingest (1.0 -> '1', NaN -> None)


class Malformed(ValueError):
    """A record whose structure is not what the format defines (a string where a list belongs...)."""


def _dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, default=str)[:10_000]


def _text(path: Path, imp: LabelImport, rel: str) -> str:
    """The file as UTF-8 (a BOM skipped); undecodable bytes kept as surrogates for `has_bad_bytes`."""
    return decode(path.read_bytes(), "utf-8", f"label import '{imp.name}': {rel}", "save the export as UTF-8")


def _load_json(path: Path, imp: LabelImport, rel: str) -> Any:
    text = _text(path, imp, rel)
    if has_bad_bytes(text):
        raise StageError(f"label import '{imp.name}': {rel} is not valid UTF-8; export it again as UTF-8")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:  # also the parser's limits: integer digits, nesting depth
        raise StageError(
            f"label import '{imp.name}': {rel} is not valid JSON ({exc or type(exc).__name__}); "
            f"is `format: {imp.format}` right?"
        ) from None


def _json_lines(path: Path, imp: LabelImport, rel: str) -> Iterator[tuple[str, Any, str]]:
    """(location, object or None, raw line) for each non-blank line; a line that is not valid UTF-8 or not
    JSON comes out as None (a malformed reject), with undecodable bytes shown as `\\xff`."""
    for number, line in enumerate(_text(path, imp, rel).split("\n"), start=1):
        line = line.strip()
        if not line:
            continue
        if has_bad_bytes(line):
            yield f"{rel}:{number}", None, escape_bad_bytes(line)
            continue
        try:
            yield f"{rel}:{number}", json.loads(line), line
        except (ValueError, RecursionError):
            yield f"{rel}:{number}", None, line


def _list(value: Any, what: str) -> list[Any]:
    """A field the format defines as a list: None is empty; anything else but a list is Malformed
    (a string would otherwise be read letter by letter)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise Malformed(f"`{what}` must be a list, got {type(value).__name__} {_dump(value)[:60]}")
    return value


def _dict(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Malformed(f"`{what}` must be an object, got {type(value).__name__} {_dump(value)[:60]}")
    return value


def _records(path: Path, imp: LabelImport, rel: str) -> Iterator[tuple[str, Any, str]]:
    """JSON array, JSON lines or Parquet records, chosen by the file's content/extension."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        for index, obj in enumerate(pq.read_table(path).to_pylist()):
            yield f"{rel}#{index}", obj, _dump(obj)
        return
    head = _text(path, imp, rel)[:4096].lstrip()
    if head.startswith("["):
        data = _load_json(path, imp, rel)
        for index, obj in enumerate(data):
            yield f"{rel}[{index}]", obj, _dump(obj)
    else:
        yield from _json_lines(path, imp, rel)


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
    names = {r["from_name"] for t in tasks for r in _choice_results(t) if isinstance(r.get("from_name"), str)}
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
        try:
            annotations = _annotations(task)
        except Malformed as exc:
            yield _malformed(where, _dump(task), str(exc))
            continue
        for a_index, ann in enumerate(annotations):
            loc = f"{where}.annotations[{a_index}]"
            if not isinstance(ann, dict):
                yield _malformed(loc, _dump(ann), "an annotation must be an object")
                continue
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
                try:
                    for result in _list(ann.get("result"), "result"):
                        result = _dict(result, "result[]")
                        if result.get("type") == "choices" and result.get("from_name") == wanted:
                            choices = _dict(result.get("value"), "value").get("choices")
                            out.labels.extend(str(c) for c in _list(choices, "value.choices"))
                except Malformed as exc:
                    yield _malformed(loc, out.raw, str(exc))
                    continue
            yield _finish(out, key)


def _annotations(task: dict[str, Any]) -> list[Any]:
    """A task's annotations; Label Studio before 1.0 called them `completions`."""
    return _list(task.get("annotations") or task.get("completions"), "annotations")


def _choice_results(task: Any) -> list[dict[str, Any]]:
    """The well-formed choice results of a task (for finding its controls; malformed ones are reported later)."""
    try:
        annotations = _annotations(task) if isinstance(task, dict) else []
    except Malformed:
        return []
    out = []
    for ann in annotations:
        results = ann.get("result") if isinstance(ann, dict) else None
        if isinstance(results, list):
            out.extend(r for r in results if isinstance(r, dict) and r.get("type") == "choices")
    return out


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
    """(location, row or None, raw) per CSV record; a record csv cannot parse or that is not UTF-8 is None.

    Cells come back as review wrote them before neutralising spreadsheet formulas (`spreadsheet.restore`).
    """
    reader = csv.DictReader(io.StringIO(_text(path, imp, rel), newline=""), delimiter=imp.delimiter)
    try:
        header = reader.fieldnames or []
    except csv.Error as exc:
        raise StageError(f"label import '{imp.name}': {rel}: the header line cannot be read ({exc})") from None
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise StageError(
            f"label import '{imp.name}': {rel} repeats column name(s) {repeated} in its header, so one would "
            "silently replace the other; rename them in the export"
        )
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield f"{rel}:{start}", None, str(exc)
            continue
        raw = imp.delimiter.join(str(v) for v in row.values())
        row = {k: restore(v) for k, v in row.items()}
        if has_bad_bytes(raw) or any(has_bad_bytes(str(k)) for k in row):
            yield f"{rel}:{start}", None, escape_bad_bytes(raw)
        else:
            yield f"{rel}:{start}", row, raw


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
    questions = {
        q for r in data if isinstance(r, dict) and isinstance(r.get("responses"), dict) for q in r["responses"]
    }
    question = _one_question(imp, rel, questions)
    key = key_name(imp)
    for index, record in enumerate(data):
        where = f"{rel}[{index}]"
        if not isinstance(record, dict):
            yield _malformed(where, _dump(record), "not an object")
            continue
        try:
            fields, metadata = _dict(record.get("fields"), "fields"), _dict(record.get("metadata"), "metadata")
            responses = _list(_dict(record.get("responses"), "responses").get(question), f"responses.{question}")
        except Malformed as exc:
            yield _malformed(where, _dump(record), str(exc))
            continue
        value = record.get("id") if key == "id" else fields.get(key, metadata.get(key))
        for r_index, response in enumerate(responses):
            loc = f"{where}.responses.{question}[{r_index}]"
            if not isinstance(response, dict):
                yield _malformed(loc, _dump(record), "a response must be an object with `value` and `user_id`")
                continue
            out = Annotation(
                loc,
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
        try:
            values = _list(obj.get(f"{question}.responses"), f"{question}.responses")
            users = _list(obj.get(f"{question}.responses.users"), f"{question}.responses.users")
            statuses = _list(obj.get(f"{question}.responses.status"), f"{question}.responses.status")
        except Malformed as exc:
            yield _malformed(where, raw, str(exc))
            continue
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
    for where, obj, raw in _json_lines(path, imp, rel):
        if not isinstance(obj, dict):
            yield _malformed(where, raw, "not a JSON object (or not valid UTF-8)")
            continue
        value = _scalar(obj.get(key))
        try:
            annotations = _list(obj.get("annotations"), "annotations")
            top = _list(obj.get("label"), "label")
        except Malformed as exc:
            yield _malformed(where, raw, str(exc))
            continue
        if "annotations" in obj and "label" not in obj:
            for a_index, ann in enumerate(annotations):
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
        labels = _values(top)
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
    for where, obj, raw in _json_lines(path, imp, rel):
        if not isinstance(obj, dict):
            yield _malformed(where, raw, "not a JSON object (or not valid UTF-8)")
            continue
        meta = obj.get("meta") if isinstance(obj.get("meta"), dict) else {}
        annotator = _scalar(obj.get("_annotator_id")) or _scalar(obj.get("_session_id")) or imp.name
        out = Annotation(where, annotator=annotator, key=_scalar(obj.get(key, meta.get(key))), raw=raw)
        answer = obj.get("answer")
        if answer == "ignore":
            out.skip = "ignored"
        elif "accept" in obj and "options" in obj:  # choice interface: the accepted option ids
            try:
                out.labels = _values(_list(obj.get("accept"), "accept"))
            except Malformed as exc:
                yield _malformed(where, raw, str(exc))
                continue
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
    if any(not _valid_unicode(v) for v in (out.key, out.annotator, *out.labels)):
        out.problem, out.detail = "malformed", "a key, annotator or label is not valid Unicode (a lone surrogate)"
        return out
    if out.key is None:
        out.problem, out.detail = "missing_key", f"no value in '{key}'"
    elif not out.labels:
        out.problem, out.detail = "no_label", "the answer holds no label"
    return out


def _valid_unicode(value: str | None) -> bool:
    try:
        value is None or value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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
