"""The SFT pipeline's train.seeds, DDP through the launcher and curve, on a tiny temp sft project.

One rendered project (the fixture conversations, a one-block scratch model, 4 training steps) is shared:
train@full with `train.seeds: 2` reports the spread of the validation loss; `stages.launch` under torchrun
with 2 CPU processes (gloo) trains with only the first process writing; `dvc repro curve` traces two approaches
and the retrieval baseline on nested subsets of the conversations and writes the same bytes twice. The fast
tests check the report format and the off switch without training.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from schemas.curve import SftCurveParams
from stages.lib.curve.analysis import analyse
from stages.lib.curve.report import Measure, render
from stages.lib.model.causal.curve import run_sft_curve

from .conftest import REPO
from .dvc_helpers import dvc_bin, sh
from .test_dvc_sft import sft_repo
from .test_dvc_sft_training import tiny_settings
from .test_dvc_yaml import NO_OUTPUT_EFFECT, module_imports

SFT_MEASURE = Measure("token_f1", "token-F1", "train conversations", "stratified by source, conversations whole")


def edit_params(sft: Path, **sections: dict) -> None:
    params = yaml.safe_load((sft / "params.yaml").read_text())
    for name, values in sections.items():
        params[name] |= values
    (sft / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def stage(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """A stage's command as sft/dvc.yaml runs it (PYTHONPATH=.., from sft/)."""
    env = {**os.environ, "PYTHONPATH": "..", "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    repo = sft_repo(tmp_path_factory.mktemp("sftcurve"))
    sft = repo / "sft"
    params = tiny_settings(yaml.safe_load((sft / "params.yaml").read_text()))
    (sft / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh([dvc_bin(), "repro", "base_model", "render"], sft)
    return sft


def own_copy(rendered, tmp_path):
    """A copy of the rendered sft project under `tmp_path` (its code linked from the repository), for a test
    that changes params and trains."""
    sft = tmp_path / "sft"
    shutil.copytree(rendered, sft, symlinks=True)
    (tmp_path / "stages").symlink_to(REPO / "stages")
    (tmp_path / "schemas").symlink_to(REPO / "schemas")
    return sft


@pytest.mark.slow
def test_seeds_report_the_spread_of_the_validation_loss(rendered, tmp_path):
    sft = own_copy(rendered, tmp_path)
    edit_params(sft, train={"seeds": 3})
    done = stage(["-m", "stages.train", "full"], sft)
    assert done.returncode == 0, done.stderr[-3000:]
    details = json.loads((sft / "metrics/details/train/full.json").read_text())
    spread = details["seeds"]
    assert spread["seeds"] == [42, 43, 44] and spread["metric"] == "loss" and len(spread["values"]) == 3
    assert spread["values"][0] == round(details["best_validation"]["loss"], 6)
    assert spread["min"] <= spread["mean"] <= spread["max"] and spread["std"] >= 0
    assert spread["majority_class"] is None and spread["failed"] == 0  # no majority class for a language model
    assert sorted(p.name for p in (sft / "checkpoints").iterdir()) == []  # every seed's checkpoints are cleared
    assert not [p for p in (sft / "dvclive/train").iterdir() if "seed" in p.name]  # extra seeds draw no curves


@pytest.mark.slow
def test_torchrun_with_two_cpu_processes_trains_and_only_the_first_writes(rendered, tmp_path):
    sft = own_copy(rendered, tmp_path)
    edit_params(sft, train={"launcher": "torchrun", "num_processes": 2})
    done = stage(["-m", "stages.launch", "train", "adapter"], sft)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "torch.distributed.run --standalone --nproc-per-node=2" in done.stderr
    assert done.stderr.count("wrote models and metrics of adapter") == 1  # the first process only
    details = json.loads((sft / "metrics/details/train/adapter.json").read_text())
    assert details["steps"] == 4 and details["kind"] == "adapter"
    assert (sft / "models/adapter/template.json").is_file()
    assert json.loads((sft / "metrics/train/adapter.json").read_text()) == {
        "best_validation": {"loss": details["best_validation"]["loss"]}
    }


@pytest.mark.slow
def test_curve_traces_each_approach_and_the_retrieval_baseline_the_same_bytes_twice(rendered):
    sft = rendered
    curve = {"enabled": True, "fractions": [0.25, 0.5, 1.0], "seeds": 2, "seeds_up_to": 0.25,
             "bootstrap": {"n_resamples": 50, "confidence": 0.95, "seed": 42}}  # fmt: skip
    params = yaml.safe_load((sft / "params.yaml").read_text())
    curve["approaches"] = {k: params["curve"]["approaches"][k] for k in ("full", "adapter")}
    edit_params(sft, curve=curve)
    first = sh([dvc_bin(), "repro", "curve"], sft)
    assert "Running stage 'curve'" in first.stdout and "Running stage 'base_model'" not in first.stdout
    metrics = json.loads((sft / "metrics/curve.json").read_text())
    assert set(metrics["approaches"]) == {"full", "adapter", "retrieval_tfidf"}
    assert metrics["target_token_f1"] == 0.5 and metrics["largest_train_rows"] == 32
    for entry in metrics["approaches"].values():
        assert {"token_f1_at_largest", "spread_at_smallest", "failed_runs"} <= set(entry)
        assert entry["spread_at_smallest"]["runs"] == 2  # two seeds at the smallest fraction
    plot = json.loads((sft / "plots/curve.json").read_text())
    assert sorted({(p["approach"], p["train_rows"]) for p in plot}) == sorted(
        (a, n) for a in ("adapter", "full", "retrieval_tfidf") for n in (8, 16, 32)
    )
    report = (sft / "reports/curve.md").read_text()
    assert "| with N train conversations | use | its token-F1 | trainable params |" in report
    assert "Validation loss on trained tokens" in report and "train s |" not in report
    timings = json.loads((sft / "reports/timings/curve.json").read_text())
    assert len(timings["runs"]) == 2 * 4  # (3 fractions + 1 extra seed) per trained approach
    assert not (sft / "checkpoints/curve").exists()
    # no measured seconds in the versioned outputs: a forced rerun writes the same bytes
    before = {p: (sft / p).read_bytes() for p in ("metrics/curve.json", "plots/curve.json", "reports/curve.md")}
    sh([dvc_bin(), "repro", "-f", "-s", "curve"], sft)
    assert {p: (sft / p).read_bytes() for p in before} == before


def test_the_curve_stage_lists_its_code_and_params():
    stage = yaml.safe_load((REPO / "sft" / "dvc.yaml").read_text())["stages"]["curve"]
    assert stage["cmd"] == "PYTHONPATH=.. python -m stages.curve"
    deps = {str(d).removeprefix("../") for d in stage["deps"]}
    imported = module_imports(REPO / "stages" / "curve.py", skip=("schemas/sft.py",))
    wanted = {m for m in imported if not m.endswith("__init__.py")} - NO_OUTPUT_EFFECT
    covered = {w for w in wanted if w in deps or any(w.startswith(d.rstrip("/") + "/") for d in deps)}
    assert wanted - covered == set()
    # what stages/lib/model/causal/curve.py reads: the rendered rows' packing and every training setting
    assert set(stage["params"]) == {"curve", "model", "train", "eval", "compare.metric", "render.packing",
                                    "render.max_length"}  # fmt: skip


def test_curve_off_trains_nothing_and_says_how_to_run_it(tmp_path):
    paths = SimpleNamespace(curve=SimpleNamespace(report=str(tmp_path / "curve.md"), runs=str(tmp_path / "c.json")))
    params = SimpleNamespace(curve=SftCurveParams(), paths=paths, compare=SimpleNamespace(metric="token_f1"))
    assert run_sft_curve(params) == {"enabled": False}  # reads no model, no rows
    assert "dvc exp run -S curve.enabled=true curve" in (tmp_path / "curve.md").read_text()
    assert (tmp_path / "c.json").read_text().strip() == "[]"


def test_report_answers_which_approach_at_each_size_by_score_and_trainable_params():
    cfg = SftCurveParams.model_validate({"fractions": [0.25, 0.5, 1.0], "bootstrap": {"n_resamples": 50}})

    def run(name: str, n: int, f1: float, trainable: int, loss: float | None) -> dict:
        return {"approach": name, "fraction": n / 400, "seed": 0, "train_rows": n, "token_f1": f1,
                "validation_loss": loss, "failed": False, "trainable_params": trainable}  # fmt: skip

    runs = [run("retrieval_tfidf", n, 0.30, 0, None) for n in (100, 200, 400)]
    runs += [run("full", n, 0.2 + 0.1 * i, 5000, 3.0 - i) for i, n in enumerate((100, 200, 400))]
    runs += [run("adapter", n, 0.195 + 0.1 * i, 500, 3.1 - i) for i, n in enumerate((100, 200, 400))]
    metrics = analyse(runs, cfg, None, metric="token_f1", target=cfg.target_score)
    assert metrics["target_token_f1"] == 0.5 and metrics["approaches"]["full"]["failed_runs"] == 0
    report = render(runs, metrics, cfg, SFT_MEASURE)
    assert "| 100 | retrieval_tfidf | 0.3000 | 0 | retrieval_tfidf | 0 |" in report
    assert "| 400 | full | 0.4000 | 5,000 | adapter | 500 |" in report  # adapter within 0.01, fewer parameters
    assert "| 200 | 2.1000 | 2.0000 |" in report  # validation losses: adapter, full (retrieval trains nothing)
    with pytest.raises(ValueError, match=r"curve.fractions must be distinct values in \(0, 1\]"):
        SftCurveParams(fractions=[0.5, 0.5, 1.0])
