"""Sources are dependencies derived from params: editing any source's data reruns ingest, with no dvc.yaml edit.

One temporary copy of the project reads one source of every kind (csv, tsv, jsonl, json, parquet, text,
text_dir, hf_disk, collected). Each kind's data is edited in turn: `dvc status` must name ingest (and the folder
holding that source), and restoring the data makes the pipeline up to date again. For csv, a real `dvc repro`
then reruns ingest and what follows it, nothing else.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from .dvc_helpers import copy_project, dvc, sh

WORDS = [
    "apple",
    "river",
    "stone",
    "cloud",
    "tiger",
    "paper",
    "music",
    "window",
    "garden",
    "silver",
    "orange",
    "rocket",
    "pencil",
    "castle",
    "forest",
    "bridge",
    "candle",
    "mirror",
    "planet",
    "rabbit",
    "summer",
    "winter",
    "autumn",
    "spring",
    "yellow",
    "purple",
    "island",
    "desert",
    "valley",
    "meadow",
    "ocean",
    "violin",
    "trumpet",
    "engine",
    "wallet",
    "ticket",
    "coffee",
    "butter",
    "cheese",
    "bottle",
    "basket",
    "ladder",
    "blanket",
    "pillow",
    "jacket",
]


def messages(n: int, seed: int) -> list[tuple[str, str]]:
    """n distinct (text, label) pairs, different enough that clean keeps them all."""
    rng = random.Random(seed)
    return [(" ".join(rng.sample(WORDS, 9)) + f" {seed}-{i}", "spam" if i % 4 == 0 else "ham") for i in range(n)]


def write_sources(root: Path) -> dict[str, dict]:
    """Small data of every kind under data/raw (and a collect snapshot); returns the ingest.sources mapping."""
    raw = root / "data/raw"
    rows = {kind: messages(12, seed) for seed, kind in enumerate(("csv", "tsv", "jsonl", "json", "parquet", "text"))}
    (raw / "tickets.csv").write_text("id,subject,body,category\n" + "".join(
        f'{i},"Re: {t[:12]}","{t}",{y}\n' for i, (t, y) in enumerate(rows["csv"])
    ))  # fmt: skip
    (raw / "sms.tsv").write_text("".join(f"{y}\t{t}\n" for t, y in rows["tsv"]))
    (raw / "chat.jsonl").write_text("".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in rows["jsonl"]))
    (raw / "dump.json").write_text(json.dumps({"items": [{"body": t, "tag": y} for t, y in rows["json"]]}))
    pq.write_table(pa.table({"text": [t for t, _ in rows["parquet"]]}), raw / "table.parquet")
    (raw / "lines.txt").write_text("".join(f"{t}\n" for t, _ in rows["text"]))
    for i, (text, label) in enumerate(messages(8, 7)):
        (raw / "reviews" / label).mkdir(parents=True, exist_ok=True)
        (raw / "reviews" / label / f"{i}.txt").write_text(text)
    import datasets

    texts = messages(10, 8)
    datasets.Dataset.from_dict({"text": [t for t, _ in texts], "label": [y for _, y in texts]}).save_to_disk(
        str(raw / "hf")
    )
    return {
        "tickets": {
            "path": "data/raw/tickets.csv",
            "format": "csv",
            "text_field": ["subject", "body"],
            "label_field": "category",
            "id_field": "id",
        },
        "sms": {"path": "data/raw/sms.tsv", "format": "tsv", "header": False, "columns": ["label", "text"],
                "label_field": "label"},
        "chat": {"path": "data/raw/chat.jsonl", "format": "jsonl", "label_field": "label"},
        "dump": {"path": "data/raw/dump.json", "format": "json", "records_key": "items", "text_field": "body",
                 "label_field": "tag"},
        "table": {"path": "data/raw/table.parquet", "format": "parquet"},
        "lines": {"path": "data/raw/lines.txt", "format": "text"},
        "reviews": {"path": "data/raw/reviews", "format": "text_dir", "label_from_dir": True},
        "hf": {"path": "data/raw/hf", "format": "hf_disk", "label_field": "label"},
        "web": {"path": "data/collected/site", "format": "collected", "id_field": "url"},
    }  # fmt: skip


def write_pages(root: Path, extra: str = "") -> None:
    pages = root / "data/collected/site"
    pages.mkdir(parents=True, exist_ok=True)
    urls = [f"https://example.org/{i}" for i in range(3)]
    texts = [t for t, _ in messages(3, 9)]
    texts[-1] += extra
    pq.write_table(pa.table({"url": urls, "title": ["t"] * 3, "text": texts}), pages / "pages.parquet")


def append_line(path: Path, line: str) -> None:
    path.write_text(path.read_text() + line)


def edit_parquet(path: Path) -> None:
    table = pq.read_table(path)
    texts = table.column("text").to_pylist()
    texts[0] += " edited"
    pq.write_table(table.set_column(table.schema.get_field_index("text"), "text", pa.array(texts)), path)


def edit_hf(path: Path) -> None:
    import datasets

    data = datasets.load_from_disk(str(path), keep_in_memory=True)
    edited = data.map(lambda row, i: {"text": row["text"] + (" edited" if i == 0 else "")}, with_indices=True)
    tmp = path.with_name("hf.new")
    edited.save_to_disk(str(tmp))
    shutil.rmtree(path)
    tmp.rename(path)


JSONL_ROW = '{"text": "more", "label": "ham"}\n'

EDITS = {
    "csv": ("data/raw/tickets.csv", lambda r: append_line(r / "data/raw/tickets.csv", '99,"New","new body",ham\n')),
    "tsv": ("data/raw/sms.tsv", lambda r: append_line(r / "data/raw/sms.tsv", "ham\tone more message\n")),
    "jsonl": ("data/raw/chat.jsonl", lambda r: append_line(r / "data/raw/chat.jsonl", JSONL_ROW)),
    "json": ("data/raw/dump.json", lambda r: (r / "data/raw/dump.json").write_text(
        (r / "data/raw/dump.json").read_text().replace('"tag": "ham"', '"tag": "spam"', 1))),
    "parquet": ("data/raw/table.parquet", lambda r: edit_parquet(r / "data/raw/table.parquet")),
    "text": ("data/raw/lines.txt", lambda r: append_line(r / "data/raw/lines.txt", "another line\n")),
    "text_dir": ("data/raw/reviews", lambda r: (r / "data/raw/reviews/ham/new.txt").write_text("a new review")),
    "hf_disk": ("data/raw/hf", lambda r: edit_hf(r / "data/raw/hf")),
    "collected": ("data/collected/site", lambda r: write_pages(r, extra=" changed")),
}  # fmt: skip


def changed(repo: Path) -> dict:
    return json.loads(dvc(repo, "status", "--json").stdout or "{}")


def test_appending_to_your_own_csv_reruns_ingest(tmp_path):
    """The quick version (default run): one user CSV under data/raw, one appended row, ingest is changed."""
    repo = copy_project(tmp_path)
    (repo / "data/raw/tickets.csv").write_text("".join(f"{t},{y}\n" for t, y in [("text", "label"), *messages(5, 1)]))
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["ingest"]["sources"] = {
        "tickets": {"path": "data/raw/tickets.csv", "format": "csv", "text_field": "text", "label_field": "label"}
    }
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    dvc(repo, "repro", "ingest")
    assert json.loads((repo / "metrics/ingest.json").read_text()) == {"rows_in": 5, "rows_out": 5}
    assert "ingest" not in changed(repo)
    append_line(repo / "data/raw/tickets.csv", "one more ticket,ham\n")
    assert "data/raw" in changed(repo)["ingest"][0]["changed deps"]
    dvc(repo, "repro", "ingest")
    assert json.loads((repo / "metrics/ingest.json").read_text())["rows_out"] == 6


@pytest.mark.slow
def test_every_source_kind_is_a_dependency_of_ingest(tmp_path):
    """About 3 minutes on two loaded cores: nine kinds, each edited and restored, then a real `dvc repro`."""
    repo = copy_project(tmp_path)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["ingest"]["sources"] = write_sources(repo)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh(["python", "-m", "schemas"], repo)  # the blocks above are all a user writes: nothing in dvc.yaml
    dvc(repo, "repro", "collect")
    write_pages(repo)
    dvc(repo, "commit", "-f", "-q", "collect")
    first = dvc(repo, "repro", "split")
    assert "Running stage 'ingest'" in first.stdout
    rows = json.loads((repo / "metrics/details/ingest.json").read_text())["sources"]
    assert {name: counts["rows_out"] for name, counts in rows.items()} == {
        "tickets": 12, "sms": 12, "chat": 12, "dump": 12, "table": 12, "lines": 12, "reviews": 8, "hf": 10, "web": 3
    }  # fmt: skip
    sh(["git", "add", "-A"], repo)
    sh(["git", "commit", "-qm", "data"], repo)
    pipeline = {"ingest", "clean", "label", "split"}
    assert not changed(repo).keys() & pipeline

    for kind, (where, edit) in EDITS.items():
        snapshot = tmp_path / f"before-{kind}"
        shutil.copytree(repo / "data/raw", snapshot / "raw")
        shutil.copytree(repo / "data/collected", snapshot / "collected")
        edit(repo)
        status = changed(repo)
        deps = [c["changed deps"] for c in status.get("ingest", []) if "changed deps" in c]
        assert deps, f"{kind}: editing {where} did not change ingest ({status})"
        folder = "data/collected" if kind == "collected" else "data/raw"
        assert folder in deps[0], f"{kind}: {deps}"
        for name in ("raw", "collected"):
            shutil.rmtree(repo / "data" / name)
            shutil.copytree(snapshot / name, repo / "data" / name)
        assert "ingest" not in changed(repo), f"{kind}: restoring the data should make ingest up to date again"

    EDITS["csv"][1](repo)
    second = dvc(repo, "repro", "split").stdout
    ran = {line.split("'")[1] for line in second.splitlines() if line.startswith("Running stage")}
    assert ran == pipeline, second  # ingest and what depends on it; collect stays untouched
    ingest_rows = json.loads((repo / "metrics/ingest.json").read_text())
    assert ingest_rows["rows_out"] == 12 * 6 + 8 + 10 + 3 + 1
