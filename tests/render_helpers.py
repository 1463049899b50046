"""Shared fixtures of the render and export tests: a few real-looking conversations, a tiny chat tokenizer
trained in code (no network), and a split folder holding them."""

from __future__ import annotations

import functools
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from schemas.render import RenderParams, RenderPaths
from stages.lib.render.tokenizer import train_chat_tokenizer

MESSAGES_TYPE = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))


def conv(*turns: tuple[str, str]) -> list[dict[str, str]]:
    return [{"role": r, "content": c} for r, c in turns]


CONVERSATIONS = [
    conv(("user", "What does 'dog' mean?"), ("assistant", "A member of the genus Canis.")),
    conv(
        ("user", "What does 'bank' mean?"),
        ("assistant", "Sloping land beside a body of water."),
        ("user", "Use it in a sentence."),
        ("assistant", "They pulled the canoe up on the bank."),
    ),
    conv(
        ("system", "You sort text messages."),
        ("user", "Is this message spam? WINNER!! Claim your prize now."),
        ("assistant", "spam"),
    ),
    conv(("user", "Is this message spam? Are we still on for lunch?"), ("assistant", "ham")),
    conv(("user", "Translate «café» to English, naïvely 😀"), ("assistant", "coffee — or café.\nDone.")),
    conv(
        ("user", "What does 'run' mean?"),
        ("assistant", "Move fast by using one's feet."),
        ("user", "Use it in a sentence."),
        ("assistant", "Don't run — you'll trip!"),
    ),
]


@functools.cache
def tokenizer(template: str = "chatml"):
    texts = [m["content"] for c in CONVERSATIONS for m in c] * 2
    return train_chat_tokenizer(texts, vocab_size=400, min_frequency=1, template=template, model_max_length=256)


def save_tokenizer(folder: Path, template: str = "chatml") -> Path:
    tokenizer(template).save_pretrained(folder)
    return folder


def rows(conversations=CONVERSATIONS, prefix: str = "r") -> list[dict]:
    return [
        {"id": f"{prefix}{i:03d}", "source": "fixture", "messages": c, "text": None, "label": None}
        for i, c in enumerate(conversations)
    ]


def write_split(folder: Path, train, validation=None, test=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    schema = pa.schema(
        [
            ("id", pa.string()),
            ("source", pa.string()),
            ("messages", MESSAGES_TYPE),
            ("text", pa.string()),
            ("label", pa.string()),
        ]
    )
    for name, part in (("train", train), ("validation", validation or []), ("test", test or [])):
        table = pa.Table.from_pylist(
            [{**r, "split": name} for r in part], schema=schema.append(pa.field("split", pa.string()))
        )
        pq.write_table(table, folder / f"{name}.parquet")
    return folder


def setup(tmp_path: Path, conversations=CONVERSATIONS, template: str = "chatml") -> RenderPaths:
    """A split folder (train: the conversations; validation, test: the first two) and a tokenizer folder."""
    all_rows = rows(conversations)
    write_split(tmp_path / "split", all_rows, rows(conversations[:2], "v"), rows(conversations[:2], "t"))
    save_tokenizer(tmp_path / "tok", template)
    return RenderPaths(
        split=str(tmp_path / "split"),
        tokenizer=str(tmp_path / "tok"),
        rendered=str(tmp_path / "rendered"),
        metrics=str(tmp_path / "m.json"),
        details=str(tmp_path / "d.json"),
    )


def params(**kw) -> RenderParams:
    return RenderParams(**kw)
