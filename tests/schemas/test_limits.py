"""Params that would hang, exhaust memory or reach outside the repository are refused with the key and the fix."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from schemas import MAX_YAML_ALIASES, ParamsError, check_yaml_size, load_params, validate_params


def bomb(levels: int, width: int = 9) -> str:
    """The classic "billion laughs": each level lists the previous one `width` times."""
    items = ", ".join(['"lol"'] * width)
    lines = [f"l0: &l0 [{items}]"]
    for i in range(1, levels):
        refs = ", ".join([f"*l{i - 1}"] * width)
        lines.append(f"l{i}: &l{i} [{refs}]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_fails_fast(tmp_path: Path):
    path = tmp_path / "params.yaml"
    path.write_text(bomb(9))  # about 600 bytes, 490 million nodes once expanded
    start = time.perf_counter()
    with pytest.raises(ParamsError, match=r"expands to 490,329,064 YAML nodes .* at most 100,000"):
        load_params(path)
    # recorded, not asserted (tests never assert wall time): well under a second here
    print(f"alias bomb refused in {time.perf_counter() - start:.3f} s")


def test_too_many_aliases(tmp_path: Path):
    path = tmp_path / "params.yaml"
    refs = "\n".join("  - *x" for _ in range(MAX_YAML_ALIASES + 1))
    path.write_text(f"anchor: &x 1\nlist:\n{refs}\n")
    with pytest.raises(ParamsError, match=r"101 YAML aliases \(\*name\); at most 100"):
        load_params(path)


def test_a_few_anchors_still_work(tmp_path: Path):
    """Modest reuse of anchors stays legal: the limits only stop explosive documents."""
    path = tmp_path / "params.yaml"
    path.write_text(bomb(3, width=5))  # 25 aliases, 156 nodes
    check_yaml_size(path)


@pytest.mark.parametrize(
    ("key", "value", "limit"),
    [
        ("clean.near_dup.num_perm", 1_000_000_000_000, "4096"),
        ("clean.num_proc", 100_000, "256"),
        ("clean.batch_size", 10**12, "10000000"),
        ("collect.max_concurrency", 10_000, "64"),
        ("collect.timeout_s", 1e9, "600"),
        ("collect.max_bytes", 10**15, "1000000000"),
        ("model.scratch.hidden_size", 10**9, "8192"),
        ("model.scratch.steps", 10**12, "10000000"),
        ("train.epochs", 1e9, "10000"),
        ("train.batch_size", 10**9, "65536"),
        ("train.max_length", 10**9, "32768"),
        ("label.dawid_skene_iterations", 10**12, "100000"),
    ],
)
def test_numbers_have_upper_bounds(params_data, key, value, limit):
    """Numbers that would ask for terabytes or run for days fail validation and name the bound."""
    node = params_data
    *parents, last = key.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    with pytest.raises(ParamsError, match=rf"{re.escape(key)}: Input should be less than or equal to {limit}"):
        validate_params(params_data, check_peft=False)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("paths.ingest.rows", "../escape/rows.parquet", "escapes the repository"),
        ("paths.ingest.rows", "/tmp/rows.parquet", "must be relative to the repository root, not absolute"),
        ("paths.split.dir", "data/../../split", "escapes the repository"),
        ("paths.train.metrics_dir", "/etc", "must be relative to the repository root, not absolute"),
    ],
)
def test_paths_stay_inside_the_repository(params_data, key, value, message):
    """Every `paths.*` entry is refused when absolute or climbing out, naming the key and the fix."""
    node = params_data
    *parents, last = key.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    with pytest.raises(ParamsError, match=rf"{re.escape(key)}: {message}; stage inputs and outputs"):
        validate_params(params_data, check_peft=False)


@pytest.mark.parametrize("pattern", ["../../outside/*.txt", "/etc/*.conf", "a/../../*.txt"])
def test_text_dir_pattern_stays_inside(params_data, pattern):
    params_data["ingest"]["sources"]["sms_spam"] = {"path": "data/raw/docs", "format": "text_dir", "pattern": pattern}
    with pytest.raises(ParamsError, match=r"ingest\.sources\.sms_spam\.pattern: .*write a glob relative"):
        validate_params(params_data, check_peft=False)
