"""sft/params.yaml: `task: sft` picks the SFT model; every problem listed by dotted path, before any work."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from schemas import Params, ParamsError, SftParams, load_params, validate_params
from schemas.ingest import ParamsWarning

from ..conftest import REPO

SFT = yaml.safe_load((REPO / "sft" / "params.yaml").read_text())


def data(**changes) -> dict:
    out = copy.deepcopy(SFT)
    out.update(changes)
    return out


def test_committed_sft_params_are_valid_and_pick_the_sft_model():
    params = load_params(REPO / "sft" / "params.yaml")
    assert isinstance(params, SftParams) and params.task == "sft"
    assert isinstance(load_params(REPO / "params.yaml"), Params)


def test_committed_sft_params_write_every_field():
    resolved = validate_params(SFT).model_dump(mode="json")

    def missing(written, full, path=""):
        if isinstance(full, dict) and isinstance(written, dict):
            for key, value in full.items():
                if key not in written:
                    yield f"{path}{key}"
                else:
                    yield from missing(written[key], value, f"{path}{key}.")

    assert [k for k in missing(SFT, resolved) if not k.endswith(".name")] == []


def test_every_problem_is_listed_by_dotted_path():
    bad = data()
    bad["ingest"]["sources"]["wordnet"]["format"] = "csv"
    bad["clean"]["filters"]["assistant"]["min_chars"] = 0
    bad["decontaminate"]["ngram"] = 20
    bad["split"]["shuffle"] = True
    with pytest.raises(ParamsError) as err:
        validate_params(bad, source="sft/params.yaml")
    text = str(err.value)
    assert "4 problems" in text
    assert "ingest.sources.wordnet.format" in text
    assert "clean.filters.assistant.min_chars" in text
    assert "decontaminate.ngram" in text
    assert "split.shuffle: unknown key" in text and "Allowed keys" in text


def test_sources_and_benchmarks_must_live_in_the_watched_folders():
    bad = data()
    bad["ingest"]["sources"]["wordnet"]["path"] = "elsewhere/c.jsonl"
    bad["decontaminate"]["benchmarks"] = {"gsm": {"path": "data/raw/gsm.jsonl", "format": "jsonl"}}
    with pytest.raises(ParamsError) as err:
        validate_params(bad)
    assert "ingest.sources.wordnet.path" in str(err.value)
    assert "decontaminate.benchmarks.gsm.path" in str(err.value)


def test_unknown_file_suffix_asks_for_file_format():
    bad = data()
    bad["ingest"]["sources"]["wordnet"]["path"] = "data/sample/c.data"
    with pytest.raises(ParamsError, match="set file_format"):
        validate_params(bad)


def test_ray_engine_warns_that_only_decontaminate_uses_it():
    with pytest.warns(ParamsWarning, match="decontaminate on Ray"):
        validate_params(data(engine={"kind": "ray", "ray": {"address": None, "num_cpus": None}}))


def test_classification_task_may_be_written_and_sft_sections_are_unknown_there(repo_params):
    assert validate_params({**repo_params, "task": "classification"}).task == "classification"
    with pytest.raises(ParamsError, match="decontaminate: unknown key"):
        validate_params({**repo_params, "decontaminate": {}})


def test_schemas_cli_validates_the_sft_file(tmp_path: Path):
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-m", "schemas", "sft/params.yaml"], cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 0 and "OK" in res.stdout
