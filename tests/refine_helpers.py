"""The simulated annotator of the refine loop: answer exported review tasks the way the tools export answers.

`answer_label_studio` turns the review stage's Label Studio tasks into a full
JSON export as Label Studio 1.x writes it (same keys as the real export in
tests/fixtures/annotation_exports/label_studio/csv_test_history.json); the
answers come from a truth mapping (row id -> label), as a careful annotator
would give them.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

TEMPLATE = Path(__file__).parent / "fixtures/annotation_exports/label_studio/csv_test_history.json"


def answer_label_studio(
    tasks: list[dict[str, Any]], truth: Mapping[str, str], question: str = "label", email: str = "reviewer@example.test"
) -> list[dict[str, Any]]:
    """A Label Studio JSON export of `tasks`, each answered with `truth[data.row_id]` (unknown ids skipped).

    Every task is a copy of the first task of a real Label Studio export with
    its data, ids, annotator and answer replaced, so all the other keys
    (history, reviews, drafts, timestamps...) are the real tool's.
    """
    template = json.loads(TEMPLATE.read_text())[0]
    out = []
    for n, task in enumerate(tasks, start=1):
        row_id = task["data"]["row_id"]
        if row_id not in truth:
            continue
        answer = copy.deepcopy(template)
        answer.update({"id": n, "inner_id": n, "data": task["data"], "predictions": []})
        ann = answer["annotations"][0]
        answer["annotations"] = [ann]
        ann.update({"id": 1000 + n, "task": n, "history": [], "prediction": (task.get("predictions") or [{}])[0]})
        ann["completed_by"] = {**ann["completed_by"], "email": email}
        ann["result"] = [
            {**ann["result"][0], "id": f"r{n:05d}", "from_name": question, "value": {"choices": [truth[row_id]]}}
        ]
        out.append(answer)
    return out


def write_answers(tasks_file: Path, truth: Mapping[str, str], out: Path) -> int:
    """Answer a review queue's label_studio.json into `out`; return how many tasks were answered."""
    answered = answer_label_studio(json.loads(tasks_file.read_text()), truth)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(answered, indent=2))
    return len(answered)
