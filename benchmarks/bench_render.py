"""render against TRL's own preparation: tokens per second, packing efficiency, memory as rows grow.

Run: pytest benchmarks/bench_render.py --benchmark-only -s. Data: the bundled SFT sample's WordNet chats
(sft/data/sample/wordnet_chat.jsonl), repeated to REFINERY_BENCH_ROWS conversations (default 10,000), a chat
tokenizer trained on them, the `chatml_generation` template for both sides (TRL's `assistant_only_loss` needs its
markers; render does not). Both produce input ids and labels with the assistant turns and their end-of-turn
token trained; a test asserts they are equal before timing.

- `test_bench_tokens_per_second[render|trl]`: render's batched `encode_rows` against `SFTTrainer._prepare_dataset`
  (TRL's dataset pipeline: chat template, tokenisation, assistant masks, labels), one process each.
- `test_bench_packing`: share of non-padding tokens at max_length 512, render's best-fit-decreasing over the whole
  split against TRL's `pack_dataset(strategy="bfd")` on the same rows.
- `test_bench_memory_flat`: peak RSS of `render_file` streaming 1x and 4x the rows from Parquet (subprocesses);
  flat memory means the ratio stays near 1.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sft" / "data" / "sample" / "wordnet_chat.jsonl"
N = int(os.environ.get("REFINERY_BENCH_ROWS", "10000"))
TEMPLATE = "chatml_generation"


def conversations(n: int) -> list[list[dict[str, str]]]:
    base = [json.loads(line)["messages"] for line in SAMPLE.read_text().splitlines()]
    return [base[i % len(base)] for i in range(n)]


@pytest.fixture(scope="module")
def setup():
    import torch

    torch.set_num_threads(1)
    from stages.lib.render.tokenizer import train_chat_tokenizer

    convs = conversations(N)
    texts = [m["content"] for c in convs[:1200] for m in c]
    tok = train_chat_tokenizer(texts, vocab_size=2000, min_frequency=2, template=TEMPLATE, model_max_length=512)
    return tok, convs


def render_rows(tok, convs):
    from stages.lib.render.files import make_renderer
    from stages.lib.render.tokens import Tally, encode_rows, special_pattern

    renderer, tally, specials, out = make_renderer(TEMPLATE, tok), Tally(), special_pattern(tok), []
    rows = [{"id": f"{i:08d}", "source": "b", "messages": c} for i, c in enumerate(convs)]
    for start in range(0, len(rows), 1000):
        kept, _ = encode_rows(
            rows[start : start + 1000],
            renderer,
            tok,
            tally,
            specials,
            mask_policy="assistant",
            train_on_eos=True,
            prompt_loss_weight=0.0,
            max_length=512,
            truncation="left",
        )
        out += kept
    return out


def trl_rows(tok, convs):
    from datasets import Dataset
    from datasets.utils.logging import disable_progress_bar
    from transformers import LlamaConfig, LlamaForCausalLM
    from trl import SFTConfig, SFTTrainer

    disable_progress_bar()
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=len(tok),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=2,
        )
    )
    args = SFTConfig(
        output_dir="/tmp/bench_trl",
        assistant_only_loss=True,
        max_length=None,
        report_to=[],
        shuffle_dataset=False,
        use_cpu=True,
    )
    small = Dataset.from_list([{"messages": c} for c in convs[:8]])
    trainer = SFTTrainer(model=model, args=args, train_dataset=small, processing_class=tok)
    data = Dataset.from_list([{"messages": c} for c in convs])
    start = time.perf_counter()
    prepared = trainer._prepare_dataset(data, tok, args, False, None, "train")
    return prepared, time.perf_counter() - start


def test_bench_same_tokens_before_timing(benchmark, setup):
    tok, convs = setup
    ours = render_rows(tok, convs[:300])
    theirs, _ = benchmark.pedantic(trl_rows, args=(tok, convs[:300]), rounds=1, iterations=1)
    assert [r["input_ids"] for r in ours] == theirs["input_ids"]
    assert [r["labels"] for r in ours] == theirs["labels"]


@pytest.mark.parametrize("impl", ["render", "trl"])
def test_bench_tokens_per_second(benchmark, setup, impl):
    tok, convs = setup
    if impl == "render":
        rows = benchmark.pedantic(render_rows, args=(tok, convs), rounds=2, iterations=1)
        tokens = sum(r["length"] for r in rows)
        rate = tokens / benchmark.stats.stats.min
    else:
        timed = []
        prepared, _ = benchmark.pedantic(lambda: timed.append(trl_rows(tok, convs)) or timed[-1], rounds=2)
        tokens = sum(len(x) for x in prepared["input_ids"])
        rate = tokens / min(t for _, t in timed)  # the preparation alone, not the trainer's construction
    benchmark.extra_info["tokens_per_second"] = round(rate)
    print(f"\n{impl}: {len(convs)} conversations, {tokens} tokens, {rate:,.0f} tokens/s (best of 2)")


def test_bench_packing(benchmark, setup):
    from datasets import Dataset
    from trl.data_utils import pack_dataset

    from stages.lib.render.packing import pack

    tok, convs = setup
    rows = render_rows(tok, convs[:1200])
    _, report = benchmark.pedantic(pack, args=(rows, 512), rounds=1, iterations=1)
    trl = pack_dataset(Dataset.from_list([{"input_ids": r["input_ids"]} for r in rows]), 512, strategy="bfd")
    tokens = sum(r["length"] for r in rows)
    trl_eff = tokens / (len(trl) * 512)
    print(
        f"\npacking at 512, {len(rows)} rows: render {report['efficiency']:.4f} ({report['sequences']} sequences), "
        f"TRL bfd {trl_eff:.4f} ({len(trl)} sequences)"
    )
    assert report["efficiency"] >= trl_eff - 1e-9


MEMORY_SCRIPT = """
import resource, sys, json
import pyarrow as pa, pyarrow.parquet as pq
from pathlib import Path
sys.path.insert(0, {root!r})
from stages.lib.render.files import make_renderer, render_file
from stages.lib.render.tokens import Tally
from transformers import AutoTokenizer
tok = AutoTokenizer.from_pretrained({tok!r})
render_file(Path({src!r}), Path({dst!r}), "train", make_renderer({template!r}, tok), tok, Tally(), 1000,
            mask_policy="assistant", train_on_eos=True, prompt_loss_weight=0.0, max_length=512, truncation="left")
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def test_bench_memory_flat(benchmark, setup, tmp_path):
    tok, convs = setup
    tok.save_pretrained(tmp_path / "tok")
    ty = pa_messages_type()
    peaks = {}
    for factor in (1, 4):
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows = [{"id": f"{i:08d}", "source": "b", "messages": convs[i % len(convs)]} for i in range(N * factor)]
        src = tmp_path / f"in{factor}.parquet"
        schema = pa.schema([("id", pa.string()), ("source", pa.string()), ("messages", ty)])
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), src, row_group_size=1000)
        del rows
        script = MEMORY_SCRIPT.format(
            root=str(ROOT),
            tok=str(tmp_path / "tok"),
            src=str(src),
            dst=str(tmp_path / f"out{factor}.parquet"),
            template=TEMPLATE,
        )
        run = functools.partial(subprocess.run, [sys.executable, "-c", script], capture_output=True, text=True)
        out = benchmark.pedantic(run, rounds=1, iterations=1) if factor == 4 else run()
        out.check_returncode()
        peaks[factor] = int(out.stdout.strip().splitlines()[-1]) / 1024
    print(f"\npeak RSS: {N} rows {peaks[1]:.0f} MB, {4 * N} rows {peaks[4]:.0f} MB (ratio {peaks[4] / peaks[1]:.2f})")


def pa_messages_type():
    import pyarrow as pa

    return pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
