"""sft/dvc.yaml's tokenizer, render and export stages: deps list their code, and a changed template reruns
render and export only (a real `dvc repro` on a copy of the project)."""

from __future__ import annotations

import json

import pytest
import yaml

from .conftest import REPO
from .dvc_helpers import dvc_bin, sh
from .test_dvc_sft import sft_repo
from .test_dvc_yaml import NO_OUTPUT_EFFECT, module_imports

SFT = yaml.safe_load((REPO / "sft" / "dvc.yaml").read_text())["stages"]
PARAMS = yaml.safe_load((REPO / "sft" / "params.yaml").read_text())


@pytest.mark.parametrize("name", ["tokenizer", "render", "export"])
def test_sft_stage_deps_list_its_code(name):
    module = REPO / "stages" / f"{name}.py"
    deps = {str(d).removeprefix("../") for d in SFT[name]["deps"]}
    imported = module_imports(module, skip=("schemas/sft.py",))  # the chat code is this pipeline's own
    wanted = {f"stages/{name}.py"} | {m for m in imported if not m.endswith("__init__.py")}
    wanted -= NO_OUTPUT_EFFECT
    covered = {w for w in wanted if w in deps or any(w.startswith(d.rstrip("/") + "/") for d in deps)}
    assert wanted - covered == set()


def test_export_depends_on_the_counters_its_card_reads():
    deps = {str(d) for d in SFT["export"]["deps"]}
    for stage in PARAMS["export"]["card_stages"]:
        assert f"${{paths.export.details_dir}}/{stage}.json" in deps


@pytest.mark.slow
def test_changing_the_template_reruns_render_and_export_only(tmp_path):
    repo = sft_repo(tmp_path)
    sft = repo / "sft"
    first = sh([dvc_bin(), "repro", "export"], sft)
    for stage in ("decontaminate", "tokenizer", "render", "export"):
        assert f"Running stage '{stage}'" in first.stdout
    render = json.loads((sft / "metrics/details/render.json").read_text())
    assert render["mask_audit"]["failed_rows"] == 0
    assert render["rows_in"] == render["rows_out"] + sum(render["dropped"].values())
    assert (sft / "export" / "dataset" / "dataset_dict.json").is_file()
    assert "Running stage" not in sh([dvc_bin(), "repro", "export"], sft).stdout
    params = yaml.safe_load((sft / "params.yaml").read_text())
    params["render"]["template"] = "llama3"
    (sft / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    second = sh([dvc_bin(), "repro", "export"], sft)
    ran = {line.split("'")[1] for line in second.stdout.splitlines() if line.startswith("Running stage")}
    assert ran == {"render", "export"}
    assert "<|start_header_id|>" in (sft / "export" / "axolotl.yaml").read_text()
