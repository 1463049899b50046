"""Export the SFT pipeline's final splits: DatasetDict, trainer JSONL formats, LLaMA-Factory and axolotl
entries, and the dataset card. Only the rows render kept are exported, so every trainer sees the rows the
length report and mask audit cover."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import yaml

from stages.lib.chat.formats import Unsupported, write_record
from stages.lib.core.errors import StageError
from stages.lib.export import card
from stages.lib.export.dataset import chat_features, save_dataset_dict
from stages.lib.export.formats import axolotl_snippet, llama_factory_entries

SPLITS = ("train", "validation", "test")
CHECK_WORDS = ("leak", "contamin", "by_origin", "by_kind", "noise", "conflict", "audit")


def read_split(split_dir: Path, rendered_dir: Path, split: str) -> tuple[list[dict[str, Any]], int]:
    """The split's conversations that render kept, sorted by id, with their token counts; and the rows read."""
    src, ren = split_dir / f"{split}.parquet", rendered_dir / f"{split}.parquet"
    for path in (src, ren):
        if not path.is_file():
            raise StageError(f"{path} is missing; run split and render first (dvc repro)")
    counts = {r["id"]: r for r in pq.read_table(ren, columns=["id", "length", "n_trained"]).to_pylist()}
    rows = pq.read_table(src, columns=["id", "source", "messages"]).to_pylist()
    out = [
        {**r, "n_tokens": counts[r["id"]]["length"], "n_trained": counts[r["id"]]["n_trained"]}
        for r in rows
        if r["id"] in counts
    ]
    return sorted(out, key=lambda r: r["id"]), len(rows)


def write_jsonl(records: list[dict[str, Any]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")


def export_chat(
    split_dir: Path,
    rendered_dir: Path,
    details: Mapping[str, Mapping[str, Any]],
    out: Path,
    template: tuple[str, str | None],
    train_on_eos: bool,
    *,
    license: str,
    license_name: str | None,
    license_link: str | None,
    language: list[str],
    pretty_name: str,
    dataset_name: str,
    formats: list[str],
) -> dict[str, Any]:
    """Write the export into the (new, empty) folder `out`; returns its metrics. `template` is (name, Jinja
    source or None for the tokenizer's own), for the axolotl snippet; `details` the stages' counters (card)."""
    splits, read = {}, 0
    for split in SPLITS:
        splits[split], n = read_split(split_dir, rendered_dir, split)
        read += n
    save_dataset_dict(splits, chat_features(), out / "dataset")
    written: dict[str, dict[str, Any]] = {}
    for fmt in formats:
        skipped: Counter[str] = Counter()
        for split, rows in splits.items():
            records = []
            for r in rows:
                try:
                    records.append(write_record(r["messages"], fmt))
                except Unsupported as exc:
                    skipped[str(exc)] += 1
            write_jsonl(records, out / fmt / f"{split}.jsonl")
        written[fmt] = {"rows": sum(len(v) for v in splits.values()) - sum(skipped.values()), "skipped": dict(skipped)}
    (out / "dataset_info.json").write_text(
        json.dumps(llama_factory_entries(dataset_name, formats, list(SPLITS)), indent=2) + "\n"
    )
    if "messages" in formats:
        snippet = axolotl_snippet(template[0], template[1], train_on_eos)
        (out / "axolotl.yaml").write_text(yaml.safe_dump(snippet, sort_keys=False, allow_unicode=True))
    rows_out = sum(len(v) for v in splits.values())
    tokens = {s: sum(r["n_tokens"] for r in v) for s, v in splits.items()}
    trained = {s: sum(r["n_trained"] for r in v) for s, v in splits.items()}
    (out / "README.md").write_text(
        _card(
            splits,
            tokens,
            trained,
            written,
            details,
            rows_out,
            license,
            license_name,
            license_link,
            language,
            pretty_name,
            formats,
            template[0],
        ),
        encoding="utf-8",
    )
    return {
        "rows_in": read,
        "rows_out": rows_out,
        "dropped": {"not_rendered": read - rows_out},
        "splits": {s: len(v) for s, v in splits.items()},
        "tokens": sum(tokens.values()),
        "trained_tokens": sum(trained.values()),
        "formats": written,
    }


def _card(
    splits,
    tokens,
    trained,
    written,
    details,
    rows_out,
    license,
    license_name,
    license_link,
    language,
    pretty_name,
    formats,
    template_name,
) -> str:
    data_files = {s: f"{'messages' if 'messages' in formats else formats[0]}/{s}.jsonl" for s in SPLITS}
    head = card.header(
        license,
        license_name,
        license_link,
        language,
        ["text-generation"],
        pretty_name,
        rows_out,
        data_files,
        ["sft", "instruction-tuning", "refinery"],
    )
    per_split = [[s, len(v), tokens[s], trained[s]] for s, v in splits.items()]
    per_source = Counter((s, r["source"]) for s, v in splits.items() for r in v)
    fmt_rows = [
        [f, w["rows"], ", ".join(f"{k}: {n}" for k, n in sorted(w["skipped"].items())) or "none"]
        for f, w in written.items()
    ]
    body = [
        f"# {pretty_name}\n\n",
        "Conversations prepared by Refinery's SFT pipeline (ingest, clean, split, decontaminate, render). "
        f"Token counts are for the chat template '{template_name}' and the pipeline's tokenizer.\n\n",
        "## Splits\n\n",
        card.table(["split", "rows", "tokens", "trained tokens"], per_split),
        "\n## Rows per split and source\n\n",
        card.table(["split", "source", "rows"], [[s, src, n] for (s, src), n in sorted(per_source.items())]),
        "\n## Files\n\n",
        "- `dataset/`: a `DatasetDict` (`datasets.load_from_disk`) with `id`, `source`, `messages`, `n_tokens`, "
        "`n_trained`.\n",
        "- `<format>/<split>.jsonl`, one folder per format: `messages` (OpenAI/TRL conversational), "
        "`prompt_completion` (TRL), `alpaca`, `sharegpt` (LLaMA-Factory).\n",
        "- `dataset_info.json`: LLaMA-Factory entries for the alpaca and ShareGPT files; "
        "`axolotl.yaml`: the `datasets` block of an axolotl config for the messages files.\n\n",
        card.table(["format", "rows", "skipped (shape the format cannot hold)"], fmt_rows),
        "\n",
        card.licence_section(license, license_name, license_link),
        card.rejects_section(details),
        card.checks_section(details, CHECK_WORDS),
        "\n## Use\n\n```python\nfrom datasets import load_from_disk\nds = load_from_disk('dataset')\n"
        "# TRL: SFTTrainer(model, train_dataset=ds['train'].select_columns(['messages']), ...)\n```\n",
    ]
    return head + "\n" + "".join(body)
