"""dvc.yaml wiring of the fine-tuning stages: changing one approach's params reruns that approach alone."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from tests.dvc_helpers import copy_project
from tests.dvc_helpers import sh as run_checked
from tests.finetune_fixtures import write_split

REPO = Path(__file__).resolve().parents[2]
APPROACHES = ("feature", "full", "adapter")


def sh(cmd: list[str], cwd: Path) -> str:
    return run_checked(cmd, cwd).stdout


def fake_outputs(root: Path) -> None:
    """Stand-ins for every output of the fine-tuning stages, so `dvc commit` records them without training."""
    for folder in ("data/split", "data/balanced"):
        write_split(root / folder)
    files = [
        "models/base/model.safetensors",
        "metrics/base_model.json",
        "metrics/details/base_model.json",
        "metrics/compare.json",
        "metrics/details/compare.json",
        "plots/validation_macro_f1.json",
        "reports/comparison.md",
        "plots/compare.json",
        "models/tfidf_logreg/refinery.json",
    ]
    for name in APPROACHES:
        files += [
            f"models/{name}/head.safetensors",
            f"metrics/train/{name}.json",
            f"metrics/eval/{name}.json",
            f"metrics/details/train/{name}.json",
            f"metrics/details/eval/{name}.json",
            f"data/predictions/{name}.parquet",
            f"plots/confusion/{name}.json",
            f"dvclive/train/{name}/plots/metrics/loss.tsv",
        ]
    for rel in files:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("{}" if rel.endswith(".json") else rel)


def changed_stages(root: Path) -> set[str]:
    return set(json.loads(sh([sys.executable, "-m", "dvc", "status", "--json"], root) or "{}"))


def test_changing_one_approach_reruns_only_its_stages_and_compare(tmp_path):
    copy_project(tmp_path)
    fake_outputs(tmp_path)
    stages = ["base_model", *(f"{s}@{a}" for s in ("train", "evaluate") for a in APPROACHES), "compare"]
    sh([sys.executable, "-m", "dvc", "commit", "-f", "-q", *stages], tmp_path)
    before = changed_stages(tmp_path)
    assert not before & set(stages), before

    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    params["approaches"]["full"]["learning_rate"] = 3e-5
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert changed_stages(tmp_path) - before == {"train@full", "evaluate@full", "compare"}

    params["approaches"]["adapter"]["peft"]["r"] = 16  # what `dvc exp run -S approaches.adapter.peft.r=16` sets
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert changed_stages(tmp_path) - before == {
        "train@full",
        "evaluate@full",
        "train@adapter",
        "evaluate@adapter",
        "compare",
    }


def test_dvc_yaml_declares_plots_and_never_lets_dvclive_own_them():
    dvc = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    train = dvc["train"]["do"]
    # clean.normalize and clean.pii: the model folder records the text settings it was trained with
    assert train["params"] == ["model", "train", "approaches.${key}", "clean.normalize", "clean.pii"]
    # dvclive's curves and the confusion rows are plain outputs; the top-level plots draw them (tests/test_plots.py)
    assert {"${paths.train.live_dir}/${key}/plots/metrics": {"cache": False}} in train["outs"]
    assert "plots" not in train and "plots" not in dvc["evaluate"]["do"]
    assert {"${paths.evaluate.confusion_dir}/${key}.json": {"cache": False}} in dvc["evaluate"]["do"]["outs"]
    assert dvc["compare"]["params"] == ["approaches", "compare", "clean.normalize", "clean.pii"]
