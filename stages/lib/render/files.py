"""Render split files batch by batch (memory stays flat as rows grow) and pack them: the render stage's steps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from stages.lib.core.errors import StageError
from stages.lib.core.io import parquet_writer, write_table
from stages.lib.render.layout import Renderer
from stages.lib.render.packing import pack
from stages.lib.render.templates import resolve
from stages.lib.render.tokens import Tally, encode_rows, special_pattern

SPLITS = ("train", "validation", "test")
_INTS = pa.list_(pa.int32())


def rendered_schema(with_weights: bool) -> pa.Schema:
    """Columns of rendered/<split>.parquet (the contract the causal-LM trainer and evaluation read)."""
    fields = [
        pa.field("id", pa.string()),
        pa.field("source", pa.string()),
        pa.field("input_ids", _INTS),
        pa.field("labels", _INTS),  # -100 on untrained tokens
        pa.field("length", pa.int32()),
        pa.field("n_trained", pa.int32()),
        pa.field("prompt", pa.string()),  # conversation before the last answer, with the generation prompt
        pa.field("answer", pa.string()),  # the last assistant turn: the reference answer
    ]
    if with_weights:
        fields.insert(4, pa.field("weights", pa.list_(pa.float32())))
    return pa.schema(fields)


PACKED_SCHEMA = pa.schema(
    [
        pa.field("ids", pa.list_(pa.string())),
        pa.field("input_ids", _INTS),
        pa.field("labels", _INTS),
        pa.field("position_ids", _INTS),  # restart at 0 for every example
        pa.field("seq_lens", _INTS),  # lengths of the examples, in order: the block-diagonal mask
    ]
)


def load_tokenizer(folder: str | Path) -> Any:
    """The tokenizer folder as a fast tokenizer (offsets need one); StageError saying how to get one.

    A folder with `tokenizer.json` loads as a plain `PreTrainedTokenizerFast` (about 5 s faster than
    AutoTokenizer, which imports torch; render adds no special tokens, so the class-specific extras do not
    matter); other folders go through AutoTokenizer.
    """
    from transformers import PreTrainedTokenizerFast

    if not (Path(folder) / "tokenizer_config.json").is_file():
        raise StageError(f"{folder} holds no tokenizer (no tokenizer_config.json); run the tokenizer stage first")
    if (Path(folder) / "tokenizer.json").is_file():
        tok = PreTrainedTokenizerFast.from_pretrained(str(folder), local_files_only=True)
    else:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    if not tok.is_fast:
        raise StageError(f"the tokenizer in {folder} is not a fast tokenizer; render needs character offsets")
    return tok


def make_renderer(template: str, tokenizer: Any) -> Renderer:
    """The Renderer for params' `template` with this tokenizer's special tokens."""
    name, source = resolve(template, tokenizer.chat_template)
    special = {k: getattr(tokenizer, k) for k in ("bos_token", "eos_token", "pad_token", "unk_token")}
    markers = [*tokenizer.all_special_tokens, *(t.content for t in tokenizer.added_tokens_decoder.values())]
    return Renderer(name, source, special, [m for m in markers if m])


def render_file(
    src: Path,
    dst: Path,
    split: str,
    renderer: Renderer,
    tokenizer: Any,
    tally: Tally,
    batch_size: int,
    on_ray: bool = False,
    **settings: Any,
) -> list[dict[str, Any]]:
    """Render one split file into `dst` in batches (rows keep the split's order); returns its reject records.

    `on_ray`: the batches are encoded by Ray tasks (stages/lib/engine/render.py) running the same `encode_rows`,
    and written here in the same order and batches, so the file has the same bytes as a local run.
    """
    if not src.is_file():
        raise StageError(f"{src} is missing; run the split stage first (dvc repro)")
    schema = rendered_schema(settings["prompt_loss_weight"] > 0)
    batches = pq.ParquetFile(src).iter_batches(batch_size=batch_size, columns=["id", "source", "messages"])
    if on_ray:
        from stages.lib.engine.render import encode_on_ray

        results = encode_on_ray(batches, renderer, tokenizer, tally, settings)
    else:
        specials = special_pattern(tokenizer)
        results = (encode_rows(b.to_pylist(), renderer, tokenizer, tally, specials, **settings) for b in batches)
    dropped: list[dict[str, Any]] = []
    with parquet_writer(dst, schema) as writer:
        for rows, rejects in results:
            for r in rejects:
                r["location"] = split
            dropped.extend(rejects)
            writer.write_table(pa.Table.from_pylist(rows, schema=schema))
    return dropped


def pack_file(src: Path, dst: Path, max_length: int) -> dict[str, Any]:
    """Pack a rendered split file into `dst`; returns the packing report."""
    weighted = "weights" in pq.read_schema(src).names
    columns = ["id", "input_ids", "labels", "length"] + (["weights"] if weighted else [])
    packed, report = pack(pq.read_table(src, columns=columns).to_pylist(), max_length)
    schema = PACKED_SCHEMA.append(pa.field("weights", pa.list_(pa.float32()))) if weighted else PACKED_SCHEMA
    write_table(pa.Table.from_pylist(packed, schema=schema), dst)
    return report


def template_record(renderer: Renderer, tokenizer: Any) -> dict[str, Any]:
    """What a trainer and predict need to render exactly as render did: the template text, its special tokens,
    the end-of-turn markers render found after assistant turns, and that nothing is added when encoding."""
    return {
        "name": renderer.name,
        "source": renderer.source,
        "bos_token": tokenizer.bos_token,
        "eos_token": tokenizer.eos_token,
        "pad_token": tokenizer.pad_token,
        "end_of_turn": renderer.end_of_turn_markers(),
        "add_special_tokens": False,
    }
