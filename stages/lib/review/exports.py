"""Tasks for annotators in each tool's import format, with the model's suggestion attached.

Every task carries the row `id` (Label Studio `data.row_id`, Argilla record
`id` and `metadata.row_id`, doccano and CSV `row_id`), so the annotators'
export joins back in the label stage with `join: id, key: row_id` (Argilla:
`join: id`, the record id). Files are JSON with sorted keys: byte-deterministic.
The texts come from untrusted data, so `tasks.csv` cells that a spreadsheet would
run as a formula carry a leading `'` (`stages/lib/core/spreadsheet.py`), which the
label stage's CSV readers remove again.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stages.lib.core.spreadsheet import neutralise_row

KEY = "row_id"
FILES = {"label_studio": "label_studio.json", "argilla": "argilla.json", "doccano": "doccano.jsonl", "csv": "tasks.csv"}
CSV_COLUMNS = (KEY, "text", "current_label", "suggested_label", "score", "reason")


def label_studio(tasks: Sequence[dict[str, Any]], question: str, model_version: str) -> list[dict[str, Any]]:
    """Label Studio import JSON: `data` plus `predictions` (pre-annotations) for a `<Choices name=question>`."""
    out = []
    for t in tasks:
        task: dict[str, Any] = {
            "data": {KEY: t["id"], "text": t["text"], "current_label": t["label"], "reason": t["reason"]}
        }
        if t["suggested_label"] is not None:
            task["predictions"] = [
                {
                    "model_version": model_version,
                    "score": t["score"],
                    "result": [
                        {
                            "from_name": question,
                            "to_name": "text",
                            "type": "choices",
                            "value": {"choices": [t["suggested_label"]]},
                        }
                    ],
                }
            ]
        out.append(task)
    return out


def argilla(tasks: Sequence[dict[str, Any]], question: str, model_version: str) -> list[dict[str, Any]]:
    """Argilla v2 records (`rg.Dataset.records.log` / records.json): fields, metadata, suggestions."""
    out = []
    for t in tasks:
        record: dict[str, Any] = {
            "id": t["id"],
            "fields": {"text": t["text"]},
            "metadata": {KEY: t["id"], "current_label": t["label"], "reason": t["reason"]},
            "responses": {},
            "suggestions": {},
        }
        if t["suggested_label"] is not None:
            record["suggestions"][question] = {
                "value": t["suggested_label"],
                "score": t["score"],
                "agent": model_version,
            }
        out.append(record)
    return out


def doccano(tasks: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """doccano text-classification import (JSONL): `text`, `label` (the suggestion), extra keys kept as meta."""
    return [
        {
            "text": t["text"],
            "label": [t["suggested_label"]] if t["suggested_label"] is not None else [],
            KEY: t["id"],
            "current_label": t["label"],
            "reason": t["reason"],
        }
        for t in tasks
    ]


def csv_text(tasks: Sequence[dict[str, Any]]) -> str:
    """The tasks as CSV, every cell spreadsheet-safe (a formula-like cell gets a leading `'`).

    Every cell is quoted (as OWASP also advises): with LF line ends, csv would leave a lone CR
    unquoted and the reader would take it for the end of the line.
    """
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow(CSV_COLUMNS)
    for t in tasks:
        cells = [t["id"], t["text"], t["label"] or "", t["suggested_label"] or "", t["score"], t["reason"]]
        writer.writerow(neutralise_row(cells))
    return buf.getvalue()


def write_queue(
    folder: Path, tasks: Sequence[dict[str, Any]], formats: Sequence[str], question: str, model_version: str
) -> None:
    """Write one queue's tasks in every requested format into `folder` (created; the caller makes it atomic).

    Each task: id, text, label (current, may be None), suggested_label (may be
    None), score (the model's probability of the suggestion), reason.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for fmt in formats:
        path = folder / FILES[fmt]
        if fmt == "csv":
            path.write_text(csv_text(tasks), encoding="utf-8")
        elif fmt == "doccano":
            path.write_text("".join(_line(t) for t in doccano(tasks)), encoding="utf-8")
        else:
            data = (label_studio if fmt == "label_studio" else argilla)(tasks, question, model_version)
            path.write_text(json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def _line(obj: dict[str, Any]) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------- conversations (SFT)
# A conversation task shows the prompt turns and one answer (the row's last assistant turn, or the model's draft
# for an unanswered prompt) to rate and edit. The answers come back through the label stage of the SFT pipeline
# (stages/lib/label/conversations.py), which reads these question names.

ANSWER_QUESTION = "answer"
RATING_QUESTION = "rating"
ANSWER_FILES = {"label_studio": "label_studio.json", "argilla": "argilla.json", "csv": "tasks.csv"}
ANSWER_CSV_COLUMNS = (KEY, "prompt", ANSWER_QUESTION, RATING_QUESTION, "reason", "score")


def prompt_display(turns: Sequence[dict[str, str]]) -> str:
    """The prompt turns as an annotator reads them: `role: content`, turns separated by a blank line."""
    return "\n\n".join(f"{t['role']}: {t['content']}" for t in turns)


def label_studio_config(rating_scale: int) -> str:
    """The Label Studio labeling config the conversation tasks are made for (a TextArea and a Rating)."""
    return (
        "<View>\n"
        '  <Header value="$reason"/>\n'
        '  <Text name="prompt" value="$prompt"/>\n'
        f'  <TextArea name="{ANSWER_QUESTION}" toName="prompt" editable="true" maxSubmissions="1" rows="6"/>\n'
        f'  <Rating name="{RATING_QUESTION}" toName="prompt" maxRating="{rating_scale}"/>\n'
        "</View>\n"
    )


def label_studio_answers(tasks: Sequence[dict[str, Any]], model_version: str) -> list[dict[str, Any]]:
    """Label Studio import JSON: `data` plus a prediction that pre-fills the TextArea with the answer."""
    return [
        {
            "data": {KEY: t["id"], "prompt": t["prompt"], "reason": t["reason"]},
            "predictions": [
                {
                    "model_version": model_version,
                    "score": t["score"],
                    "result": [
                        {
                            "from_name": ANSWER_QUESTION,
                            "to_name": "prompt",
                            "type": "textarea",
                            "value": {"text": [t["answer"]]},
                        }
                    ],
                }
            ],
        }
        for t in tasks
    ]


def argilla_settings(rating_scale: int) -> dict[str, Any]:
    """Argilla v2 dataset settings for the records (the shape of `rg.Settings.serialize()`, ids left out)."""
    return {
        "guidelines": "Rate the answer, and correct it in the text question when it is wrong.",
        "allow_extra_metadata": True,
        "fields": [{"name": "prompt", "title": "Prompt", "required": True, "settings": {"type": "text"}}],
        "questions": [
            {
                "name": RATING_QUESTION,
                "title": "How good is the answer?",
                "required": True,
                "settings": {"type": "rating", "options": [{"value": v} for v in range(1, rating_scale + 1)]},
            },
            {
                "name": ANSWER_QUESTION,
                "title": "The answer (edit it when it is wrong)",
                "required": False,
                "settings": {"type": "text", "use_markdown": False},
            },
        ],
        "metadata": [{"name": name, "settings": {"type": "terms"}} for name in (KEY, "reason")],
        "vectors": [],
    }


def argilla_answers(tasks: Sequence[dict[str, Any]], model_version: str) -> list[dict[str, Any]]:
    """Argilla v2 records: the prompt field, and the answer as a suggestion that pre-fills the text question."""
    return [
        {
            "id": t["id"],
            "fields": {"prompt": t["prompt"]},
            "metadata": {KEY: t["id"], "reason": t["reason"]},
            "responses": {},
            "suggestions": {ANSWER_QUESTION: {"value": t["answer"], "score": t["score"], "agent": model_version}},
        }
        for t in tasks
    ]


def answers_csv_text(tasks: Sequence[dict[str, Any]]) -> str:
    """The tasks as CSV with an empty rating column; spreadsheet-safe like `csv_text`."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow(ANSWER_CSV_COLUMNS)
    for t in tasks:
        writer.writerow(neutralise_row([t["id"], t["prompt"], t["answer"], "", t["reason"], t["score"]]))
    return buf.getvalue()


def write_answer_queue(
    folder: Path, tasks: Sequence[dict[str, Any]], formats: Sequence[str], rating_scale: int, model_version: str
) -> None:
    """Write one queue of conversation tasks in every requested format into `folder` (the caller makes it atomic).

    Each task: id, prompt (display text), answer, score (float or None), reason. Label Studio also gets its
    label_config.xml, Argilla its settings.json.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for fmt in formats:
        path = folder / ANSWER_FILES[fmt]
        if fmt == "csv":
            path.write_text(answers_csv_text(tasks), encoding="utf-8")
            continue
        if fmt == "label_studio":
            data = label_studio_answers(tasks, model_version)
            (folder / "label_config.xml").write_text(label_studio_config(rating_scale), encoding="utf-8")
        else:
            data = argilla_answers(tasks, model_version)
            settings = json.dumps(argilla_settings(rating_scale), indent=1, sort_keys=True)
            (folder / "settings.json").write_text(settings + "\n", encoding="utf-8")
        path.write_text(json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
