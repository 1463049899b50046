"""Params that would hang, exhaust memory or reach outside the repository are refused with the key and the fix."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from schemas import (
    MAX_YAML_ALIASES,
    MAX_YAML_BYTES,
    MAX_YAML_DEPTH,
    MAX_YAML_NODES,
    ParamsError,
    check_yaml_size,
    load_params,
    validate_params,
)


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
    with pytest.raises(ParamsError, match=r"expands to 490,329,064 YAML nodes .* at most 50,000"):
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


def _set(data: dict, key: str, value) -> None:
    node = data
    *parents, last = key.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


@pytest.mark.parametrize("shape", ["[" * 20_000 + "]" * 20_000, "{a: " * 20_000 + "1" + "}" * 20_000])
def test_deep_nesting_is_refused_in_linear_time(tmp_path: Path, shape: str):
    """40 KB of `[[[[...` took 97 s in PyYAML's pure-Python scanner before any limit applied."""
    path = tmp_path / "params.yaml"
    path.write_text("x: " + shape + "\n")
    start = time.perf_counter()
    with pytest.raises(ParamsError, match=rf"YAML nested more than {MAX_YAML_DEPTH} levels deep; flatten it"):
        load_params(path)
    print(f"nesting refused in {time.perf_counter() - start:.3f} s")  # recorded, not asserted


def test_block_nesting_and_ordinary_depth(tmp_path: Path):
    path = tmp_path / "params.yaml"
    path.write_text("".join(" " * i + "- \n" for i in range(MAX_YAML_DEPTH + 5)))
    with pytest.raises(ParamsError, match=r"nested more than 50 levels"):
        check_yaml_size(path)
    path.write_text("a:\n  b:\n    c: [[1, 2], {d: [3]}]\n")
    check_yaml_size(path)


def test_a_huge_params_file_is_refused_before_parsing(tmp_path: Path):
    path = tmp_path / "params.yaml"
    path.write_text("x: " + "a" * MAX_YAML_BYTES + "\n")
    with pytest.raises(ParamsError, match=r"bytes; a params file may hold at most 1,048,576: move data out of it"):
        load_params(path)
    path.write_text("x: [" + ", ".join("[1, [2]]" for _ in range(MAX_YAML_NODES // 3)) + "]\n")
    with pytest.raises(ParamsError, match=r"more than 50,000 YAML nodes; move data out of the params file"):
        load_params(path)


SEEDS = [
    "audit.seed",
    "augment.seed",
    "balance.seed",
    "clean.near_dup.seed",
    "compare.baseline.classifier.seed",
    "compare.bootstrap.seed",
    "curve.bootstrap.seed",
    "model.scratch.seed",
    "monitor.seed",
    "review.seed",
    "split.seed",
    "train.seed",
]


@pytest.mark.parametrize("key", SEEDS)
@pytest.mark.parametrize("value", [2**64, 2**32, -1])
def test_seeds_fit_numpy(params_data, key, value):
    """numpy and scikit-learn take 32-bit unsigned seeds: 2**64 or -1 validated, then crashed mid-run."""
    _set(params_data, key, value)
    bound = "less than or equal to 4294967295" if value > 0 else "greater than or equal to 0"
    with pytest.raises(ParamsError, match=rf"{re.escape(key)}: Input should be {bound}"):
        validate_params(params_data, check_peft=False)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("collect.delay_s", float("inf"), "Input should be a finite number"),
        ("collect.delay_s", 1e9, "Input should be less than or equal to 3600"),
        ("collect.max_wait_s", float("inf"), "Input should be a finite number"),
        ("collect.max_wait_s", 100_000, "Input should be less than or equal to 3600"),
        ("collect.backoff_s", 1e300, "Input should be less than or equal to 600"),
        ("gate.rules.near.abs_tol", float("nan"), "Input should be a finite number"),
        ("gate.scores.level", 0.9, "Input should be less than 0.5"),
        ("monitor.permutations", 10**9, "Input should be less than or equal to 10000"),
        ("monitor.max_rows", 10**12, "Input should be less than or equal to 1000000"),
        ("audit.classifier.c", float("inf"), "Input should be a finite number"),
        ("augment.default_multiplier", 1e12, "Input should be less than or equal to 100"),
        ("train.num_processes", 10**9, "Input should be less than or equal to 1024"),
        ("model.scratch.warmup_steps", 10**15, "Input should be less than or equal to 10000000"),
        ("review.issues.budget", 10**15, "Input should be less than or equal to 1000000"),
        ("engine.ray.num_cpus", 10**9, "Input should be less than or equal to 4096"),
    ],
)
def test_settings_that_validate_but_cannot_run_are_refused(params_data, key, value, message):
    if key.startswith("gate.rules."):
        params_data.setdefault("gate", {}).setdefault("rules", {})["near"] = {"direction": "lower", "abs_tol": value}
    else:
        _set(params_data, key, value)
    with pytest.raises(ParamsError, match=rf"{re.escape(key)}: {message}"):
        validate_params(params_data, check_peft=False)


def test_a_review_round_fits_the_label_history(params_data):
    params_data["label"]["imports"] = [{"name": "r", "path": "data/annotations/r.json", "format": "label_studio"}]
    params_data["label"]["imports"][0]["round"] = 2**63
    with pytest.raises(ParamsError, match=r"label\.imports\[0\]\.round: Input should be less than or equal to 1000000"):
        validate_params(params_data, check_peft=False)


@pytest.mark.parametrize(
    ("permutations", "alpha", "fix"),
    [
        (10, 0.01, "set monitor.permutations to at least 100, or raise monitor.alpha above 0.09091"),
        (99, 0.01, "set monitor.permutations to at least 100"),
        (10_000, 1e-5, r"raise monitor.alpha above 9.999e-05 \(permutations go up to 10000\)"),
    ],
)
def test_monitor_permutations_must_be_able_to_reach_alpha(params_data, permutations, alpha, fix):
    """The smallest permutation p-value is 1/(permutations+1): at or above alpha, no batch is ever flagged."""
    params_data["monitor"].update(permutations=permutations, alpha=alpha)
    with pytest.raises(ParamsError, match=rf"monitor\.permutations {permutations} cannot reach monitor\.alpha .*{fix}"):
        validate_params(params_data, check_peft=False)
    params_data["monitor"].update(permutations=100, alpha=0.01)
    validate_params(params_data, check_peft=False)


def test_audit_length_fits_the_scratch_model(params_data):
    params_data["model"]["source"] = "scratch"
    params_data["model"]["name_or_path"] = None
    params_data["model"]["sha256"] = None
    params_data["audit"].update(features="base", max_length=4096)
    with pytest.raises(ParamsError, match=r"audit\.max_length \(4096\) exceeds model\.scratch\.max_length \(128\)"):
        validate_params(params_data, check_peft=False)
    params_data["audit"]["features"] = "tfidf"  # the length is not used
    validate_params(params_data, check_peft=False)
