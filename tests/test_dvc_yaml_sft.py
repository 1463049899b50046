"""sft/dvc.yaml lists what each SFT stage's code reads (the code paths taken when the params say `task: sft`)."""

from __future__ import annotations

import re

import pytest
import yaml

from .conftest import REPO
from .test_dvc_yaml import NO_OUTPUT_EFFECT, module_imports

SFT = yaml.safe_load((REPO / "sft" / "dvc.yaml").read_text())["stages"]
PARAMS = yaml.safe_load((REPO / "sft" / "params.yaml").read_text())

# The library module each shared stage hands conversations to; decontaminate is SFT-only and is its own entry.
ENTRY = {
    "ingest": "stages/lib/chat/ingest.py",
    "clean": "stages/lib/chat/clean.py",
    "split": "stages/lib/chat/split.py",
    "decontaminate": "stages/decontaminate.py",
    "audit": "stages/lib/audit/sft.py",
    "label": "stages/lib/label/conversations.py",
    "review": "stages/lib/review/conversations.py",
}


def test_the_data_stages_are_in_the_sft_graph():
    assert set(ENTRY) <= set(SFT)  # the stages after decontaminate (tokenizer, render, export) have their own checks


@pytest.mark.parametrize("name", sorted(ENTRY))
def test_sft_stage_deps_list_its_code(name):
    stage = SFT[name]
    assert stage["cmd"] == f"PYTHONPATH=.. python -m stages.{name}"
    deps = {str(d).removeprefix("../") for d in stage["deps"]}
    entry = REPO / ENTRY[name]
    # schemas/sft.py is the SFT top-level model (paths, cross-section checks): validation only, like params.py
    wanted = {f"stages/{name}.py", ENTRY[name]} | {
        m for m in module_imports(entry, skip=("schemas/sft.py",)) if not m.endswith("__init__.py")
    }
    wanted -= NO_OUTPUT_EFFECT
    covered = {w for w in wanted if w in deps or any(w.startswith(d.rstrip("/") + "/") for d in deps)}
    assert wanted - covered == set(), f"sft/dvc.yaml stage '{name}' should list these deps"


@pytest.mark.parametrize("name", sorted(ENTRY))
def test_sft_stage_params_are_sections_of_sft_params(name):
    for entry in SFT[name].get("params", []):
        section = entry.split(".")[0]
        assert section in PARAMS, f"sft/dvc.yaml stage '{name}' declares '{entry}', not in sft/params.yaml"
    for path in re.findall(r"\$\{paths\.(\w+)\.(\w+)\}", yaml.safe_dump(SFT[name])):
        assert path[1] in PARAMS["paths"][path[0]]
