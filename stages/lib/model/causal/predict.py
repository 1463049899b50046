"""predict for the SFT pipeline (`task: sft`): answer new prompts with a trained causal LM.

    python -m stages.predict --approach full prompts.jsonl answers.jsonl      (from sft/)
    python -m stages.predict --approach full questions.txt answers.jsonl      one bare prompt per line

INPUT is a `.txt` file (one bare prompt per line) or records read with one of `ingest.sources` (the first, or
--source NAME; --format overrides its format): conversations in any ingest format, whose turns before the last
assistant turn are the prompt, or records with a bare `prompt` string. Each prompt is rendered with exactly
the template the model was trained with (its folder's `template.json`, which its tokenizer carries too) and
answered greedily (`eval.max_new_tokens`), stopping at the template's end-of-turn token.

Template drift is refused: when params' `render.template` renders differently from the model's template, the
rows the model would see here differ from those it was trained on, and nothing is written.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa

from stages.lib.chat.conversation import BadConversation, prompt_turns
from stages.lib.chat.formats import read_turns
from stages.lib.chat.ingest import read_records
from stages.lib.core.errors import StageError
from stages.lib.core.io import atomic_path, write_parquet
from stages.lib.model.causal import KINDS
from stages.lib.model.causal.base import load_tokenizer, stop_token_ids
from stages.lib.model.causal.evaluation import generate
from stages.lib.model.causal.stage import TEMPLATE_FILE
from stages.lib.render.files import make_renderer
from stages.lib.render.templates import source_of

OUTPUTS = (".jsonl", ".parquet")


def model_template(folder: Path) -> dict[str, Any]:
    path = folder / TEMPLATE_FILE
    if not path.is_file():
        raise StageError(f"{path} not found: {folder} was not written by train@<approach>; run it again")
    return json.loads(path.read_text())


def check_drift(folder: Path, render_template: str, tokenizer: Any) -> dict[str, Any]:
    """The model's template record; StageError when params' render.template differs from it."""
    record = model_template(folder)
    wanted = source_of(render_template) or tokenizer.chat_template
    if wanted != record["source"] or tokenizer.chat_template != record["source"]:
        raise StageError(
            f"template drift: render.template '{render_template}' renders differently from the template "
            f"{folder} was trained with ('{record['name']}', in {folder / TEMPLATE_FILE}); a model prompted with "
            "another template than its training template answers badly. Set render.template back to the "
            "model's template, or retrain with `dvc repro`"
        )
    return record


def read_prompts(input_path: Path, source: Any, content_parts: str) -> tuple[list[str], list[list[dict]], list[dict]]:
    """(locations, prompt turns, rejects) of every record of INPUT."""
    if input_path.suffix == ".txt":
        lines = input_path.read_text(encoding="utf-8").splitlines()
        kept = [(f"{input_path.name}:{i}", line.strip()) for i, line in enumerate(lines, 1) if line.strip()]
        return [k for k, _ in kept], [[{"role": "user", "content": t}] for _, t in kept], []
    source = source.model_copy(update={"path": input_path.name})
    locations, prompts, rejects = [], [], []
    for record in read_records(source, input_path.parent):
        if record.fields is None:
            rejects.append({"location": record.location, "reason": record.reason, "detail": record.detail})
            continue
        bare = record.fields.get(source.columns["prompt"])
        try:
            if isinstance(bare, str) and source.columns["completion"] not in record.fields:
                turns = [{"role": "user", "content": bare}]
            else:
                role_key, content_key = source.turn_keys()
                turns = read_turns(
                    record.fields,
                    source.format,
                    columns=source.columns,
                    role_key=role_key,
                    content_key=content_key,
                    roles=source.role_names(),
                    content_parts=content_parts,
                )
                turns = prompt_turns(turns)
        except BadConversation as exc:
            rejects.append({"location": record.location, "reason": exc.reason, "detail": str(exc)})
            continue
        if not turns or turns[-1]["role"] != "user":
            rejects.append({"location": record.location, "reason": "no_prompt", "detail": "no user turn to answer"})
            continue
        locations.append(record.location)
        prompts.append(turns)
    return locations, prompts, rejects


def run(approach: str, source: Any, input_path: Path, output_path: Path, params: Any) -> dict[str, Any]:
    """Answer every readable prompt of INPUT; write OUTPUT (and `<OUTPUT>.rejects.jsonl`); return the counts."""
    import torch

    if output_path.suffix not in OUTPUTS:
        raise StageError(f"OUTPUT must end in {', '.join(OUTPUTS)}; got {output_path.name}")
    torch.set_num_threads(params.model.num_threads)
    p, cfg = params.paths, params.model
    folder = Path(p.train.models_dir) / approach
    if not folder.is_dir():
        raise StageError(f"{folder} not found; run `dvc repro train@{approach}` first")
    tok_dir = folder if (folder / "tokenizer_config.json").is_file() else folder / "adapter"
    tok = load_tokenizer(tok_dir, cfg.trust_remote_code)
    record = check_drift(folder, params.render.template, tok)
    renderer = make_renderer(record["source"], tok)
    locations, turns, rejects = read_prompts(input_path, source, params.ingest.content_parts)
    total = len(locations) + len(rejects)
    if total and len(rejects) / total > params.ingest.max_reject_fraction:
        reasons = dict(Counter(r["reason"] for r in rejects))
        raise StageError(
            f"{input_path}: {len(rejects)} of {total} records could not be read as prompts (> "
            f"ingest.max_reject_fraction={params.ingest.max_reject_fraction}); reasons {reasons}. Check --format"
        )
    rendered = [renderer.render(t, True) for t in turns]
    model = KINDS[params.approaches[approach].kind].load(folder, Path(p.base_model.out), cfg.trust_remote_code)
    with torch.no_grad():
        answers = generate(model, tok, rendered, max_new_tokens=params.eval.max_new_tokens,
                           batch_size=params.eval.batch_size, stop_ids=stop_token_ids(tok, model))  # fmt: skip
    table = pa.table({
        "location": locations,
        "prompt": [t[-1]["content"] for t in turns],
        "answer": [a["generation"] for a in answers],
        "stopped": pa.array([a["stopped"] for a in answers], pa.bool_()),
        "generated_tokens": pa.array([a["generated_tokens"] for a in answers], pa.int64()),
    })  # fmt: skip
    if output_path.suffix == ".parquet":
        write_parquet(table, output_path)
    else:
        with atomic_path(output_path) as tmp:
            tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in table.to_pylist()))
    rejects_path = output_path.with_name(output_path.name + ".rejects.jsonl")
    if rejects or rejects_path.exists():
        with atomic_path(rejects_path) as tmp:
            tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rejects))
    counts = dict(sorted(Counter(r["reason"] for r in rejects).items()))
    return {"rows_in": total, "rows_out": len(locations), "dropped": counts}
