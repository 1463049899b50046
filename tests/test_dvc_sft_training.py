"""sft/dvc.yaml's base_model, train@<approach>, evaluate@<approach> and compare: deps list their code, the graph
runs through compare on the fixture with tiny models (a real `dvc repro` on a copy of the project), predict
answers with the model's template and refuses a drifted one, and the full model loads in transformers' pipeline."""

from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

from stages.lib.core.errors import StageError
from stages.lib.model.causal.compare import mean_interval, paired_mean_difference
from stages.lib.model.causal.predict import check_drift
from stages.lib.render.templates import source_of

from .conftest import REPO
from .dvc_helpers import dvc_bin, sh
from .test_dvc_sft import sft_repo
from .test_dvc_yaml import NO_OUTPUT_EFFECT, launcher_modules, module_imports

SFT = yaml.safe_load((REPO / "sft" / "dvc.yaml").read_text())["stages"]
STAGES = ("base_model", "train", "evaluate", "compare")


@pytest.mark.parametrize("name", STAGES)
def test_sft_training_stage_deps_list_its_code(name):
    stage = SFT[name].get("do", SFT[name])
    command = "launch train" if name == "train" else name  # train runs under train.launcher, as in the root
    assert stage["cmd"] == f"PYTHONPATH=.. python -m stages.{command}" + (" ${key}" if "do" in SFT[name] else "")
    deps = {str(d).removeprefix("../") for d in stage["deps"]}
    imported = module_imports(REPO / "stages" / f"{name}.py", skip=("schemas/sft.py",))
    imported |= launcher_modules(stage)
    wanted = {f"stages/{name}.py"} | {m for m in imported if not m.endswith("__init__.py")}
    wanted -= NO_OUTPUT_EFFECT
    covered = {w for w in wanted if w in deps or any(w.startswith(d.rstrip("/") + "/") for d in deps)}
    assert wanted - covered == set()


def test_drifted_template_is_refused(tmp_path):
    chatml = source_of("chatml")
    (tmp_path / "template.json").write_text(json.dumps({"name": "chatml", "source": chatml}))
    tok = SimpleNamespace(chat_template=chatml)
    assert check_drift(tmp_path, "chatml", tok)["name"] == "chatml"
    with pytest.raises(StageError, match=r"template drift: render\.template 'llama3'"):
        check_drift(tmp_path, "llama3", tok)
    with pytest.raises(StageError, match="template drift"):  # a tokenizer edited after training
        check_drift(tmp_path, "chatml", SimpleNamespace(chat_template=source_of("llama3")))


def test_paired_verdicts_on_known_cases():
    options = {"n_resamples": 200, "confidence": 0.95, "seed": 0}
    better, worse = np.array([1.0, 0.9, 1.0, 0.8] * 5), np.array([0.0, 0.1, 0.2, 0.0] * 5)
    assert paired_mean_difference(better, worse, **options)["verdict"] == "better"
    assert paired_mean_difference(worse, better, **options)["verdict"] == "worse"
    noisy = np.array([1.0, 0.0] * 10)
    assert paired_mean_difference(noisy, noisy[::-1], **options)["verdict"] == "no evidence of a difference"
    same = mean_interval(np.ones(5), **options)
    assert same == {"value": 1.0, "low": 1.0, "high": 1.0}


def tiny_settings(params: dict) -> dict:
    params["model"]["scratch"] |= {"hidden_size": 16, "num_layers": 1, "num_heads": 2, "intermediate_size": 32,
                                   "steps": 3, "batch_size": 1, "warmup_steps": 1}  # fmt: skip
    params["train"] |= {"max_steps": 4, "eval_steps": 2, "save_steps": 2, "batch_size": 4}
    params["eval"] |= {"limit": 3, "max_new_tokens": 4, "batch_size": 4}
    params["compare"]["bootstrap"]["n_resamples"] = 100
    params["tokenizer"]["vocab_size"] = 400
    return params


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    repo = sft_repo(tmp_path_factory.mktemp("sftrain"))
    sft = repo / "sft"
    params = tiny_settings(yaml.safe_load((sft / "params.yaml").read_text()))
    (sft / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    first = sh([dvc_bin(), "repro", "compare"], sft)
    return sft, first.stdout


@pytest.mark.slow
def test_sft_graph_runs_through_compare_and_is_a_no_op_the_second_time(trained):
    sft, stdout = trained
    for stage in ("base_model", "train@full", "train@adapter", "train@feature", "evaluate@feature", "compare"):
        assert f"Running stage '{stage}'" in stdout
    report = (sft / "reports/comparison.md").read_text()
    for row in ("full (full)", "adapter (adapter)", "feature (feature)", "base_untuned", "retrieval_tfidf"):
        assert row in report
    assert "95% bootstrap interval" in report and report.splitlines()[2].startswith("Use ")
    compare = json.loads((sft / "metrics/details/compare.json").read_text())
    assert compare["strongest_baseline"] in ("base_untuned", "retrieval_tfidf")
    assert compare["rows"]["adapter"]["trainable_params"] < compare["rows"]["full"]["trainable_params"]
    predictions = pq.read_table(sft / "data/predictions/full.parquet")
    assert predictions.num_rows == 3 and {"generation", "token_f1", "stopped"} <= set(predictions.column_names)
    headline = sum(
        len(json.loads(p.read_text())) for p in (sft / "metrics").rglob("*.json") if "details" not in p.parts
    )
    assert headline <= 40
    assert "Running stage" not in sh([dvc_bin(), "repro", "compare"], sft).stdout


@pytest.mark.slow
def test_predict_answers_with_the_models_template_and_refuses_drift(trained):
    sft, _ = trained
    (sft / "prompts.txt").write_text("What does the word cat mean?\n\nUse it in a sentence.\n")
    env = {"PYTHONPATH": "..", "PATH": str(REPO / ".venv" / "bin")}
    cmd = [sys.executable, "-m", "stages.predict", "--approach", "full", "prompts.txt", "answers.jsonl"]
    done = subprocess.run(cmd, cwd=sft, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    answers = [json.loads(line) for line in (sft / "answers.jsonl").read_text().splitlines()]
    assert [a["prompt"] for a in answers] == ["What does the word cat mean?", "Use it in a sentence."]
    assert all(isinstance(a["answer"], str) and a["generated_tokens"] <= 4 for a in answers)
    params = yaml.safe_load((sft / "params.yaml").read_text())
    params["render"]["template"] = "llama3"
    (sft / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (sft / "answers.jsonl").unlink()
    done = subprocess.run(cmd, cwd=sft, env=env, capture_output=True, text=True)
    assert done.returncode != 0 and "template drift" in done.stderr
    assert not (sft / "answers.jsonl").exists()


@pytest.mark.slow
def test_the_full_model_loads_in_the_text_generation_pipeline(trained):
    from transformers import pipeline

    sft, _ = trained
    generator = pipeline("text-generation", model=str(sft / "models/full"), device="cpu")
    chat = [{"role": "user", "content": "What does the word cat mean?"}]
    out = generator(chat, max_new_tokens=3, do_sample=False)
    assert out[0]["generated_text"][-1]["role"] == "assistant"
    assert generator.tokenizer.chat_template == json.loads((sft / "models/full/template.json").read_text())["source"]
