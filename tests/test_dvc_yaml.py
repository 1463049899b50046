"""dvc.yaml is the one pipeline graph: it must list what each stage's code really reads."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from .conftest import REPO

# Modules that cannot change a stage's outputs (messages, progress bars): listing them as deps would rerun
# every stage when a log line changes.
NO_OUTPUT_EFFECT = {"stages/lib/core/log.py", "stages/lib/core/errors.py", "stages/lib/core/exceptions.py"}

# schemas/ modules that only load, compose or reject params (the loader, the top-level model with its
# cross-section checks, the paths, the strict base model): a change there cannot change an output, since
# every value they hold is written in params.yaml. The section models (schemas/ingest.py...) hold defaults and
# code that outputs depend on, so a stage depends on those it imports.
VALIDATION_ONLY = {
    "schemas/__init__.py",
    "schemas/__main__.py",
    "schemas/params.py",
    "schemas/paths.py",
    "schemas/base.py",
    # where a data stage runs (local or Ray): the outputs are byte-identical either way (tests/stages/test_engine.py)
    "schemas/engine.py",
}

# The shared data stages hand conversations to these when the params file says `task: sft` (sft/dvc.yaml lists
# them); the classification graph never runs them, so its stages need not rerun when they change.
SFT_ONLY = (
    "stages/lib/audit/sft.py",
    "stages/lib/audit/conversations.py",
    "stages/lib/chat/",
    "stages/lib/decontam/",
    "stages/lib/model/causal/",
    "stages/lib/label/conversations.py",
    "stages/lib/review/conversations.py",
    "schemas/causal.py",
    "schemas/chat.py",
    "schemas/decontam.py",
    "schemas/sft.py",
    "schemas/sft_audit.py",
    "schemas/sft_refine.py",
)

# collect depends on its params only, on purpose: a fix to the crawler must not re-download every site
# (docs/collect.md); it reruns when its params change or on `make collect`.
PARAMS_ONLY_STAGES = {"collect"}

# `foreach` stages (train@<approach>, evaluate@<approach>) are checked through their `do` template.
DVC = {
    name: stage.get("do", stage) for name, stage in yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"].items()
}


# A string constant naming a library module is an import too: the approach registry imports each kind's module
# by the name its params model gives (`module: ClassVar[str] = "stages.lib.model.approaches.full"`).
MODULE_NAME = re.compile(r"^stages\.lib(\.\w+)+$")


def module_imports(path: Path, skip: tuple[str, ...] = SFT_ONLY) -> set[str]:
    """Files under stages/ and schemas/ imported by a file, followed transitively (`from stages.lib.x import y`
    and `from stages.lib import x` both count, and so does a module named in a string for importlib);
    VALIDATION_ONLY modules and those under `skip` (by default the SFT-only ones) are neither listed nor
    followed."""
    seen: set[str] = set()
    todo = [path]
    while todo:
        tree = ast.parse(todo.pop().read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and MODULE_NAME.match(node.value):
                names = [node.value]
            for name in names:
                if not name.startswith(("stages.", "schemas.", "schemas")):
                    continue
                base = REPO / name.replace(".", "/")
                for file in (base.with_suffix(".py"), base / "__init__.py"):
                    rel = str(file.relative_to(REPO))
                    if file.exists() and rel not in seen and rel not in VALIDATION_ONLY and not rel.startswith(skip):
                        seen.add(rel)
                        todo.append(file)
    return seen


def stage_module(stage: dict) -> Path:
    """The stage's module; for `python -m stages.launch <name> ...` the module it launches, stages/<name>.py."""
    match = re.search(r"python -m stages\.launch (\w+)", stage["cmd"]) or re.search(
        r"python -m stages\.(\w+)", stage["cmd"]
    )
    assert match, f"stage command should be `python -m stages.<name>`: {stage['cmd']}"
    return REPO / "stages" / (match.group(1) + ".py")


def launcher_modules(stage: dict) -> set[str]:
    """stages/launch.py and what it imports, when the stage runs through it."""
    if "python -m stages.launch " not in stage["cmd"]:
        return set()
    launch = REPO / "stages/launch.py"
    return {"stages/launch.py"} | {m for m in module_imports(launch) if not m.endswith("__init__.py")}


@pytest.mark.parametrize("name", sorted(DVC))
def test_stage_deps_list_its_code(name):
    if name in PARAMS_ONLY_STAGES:
        assert "deps" not in DVC[name] or all("stages/" not in str(d) for d in DVC[name]["deps"])
        return
    stage = DVC[name]
    module = stage_module(stage)
    deps = {str(d) for d in stage.get("deps", [])}
    wanted = (
        {str(module.relative_to(REPO))}
        | launcher_modules(stage)
        | {m for m in module_imports(module) if not m.endswith("__init__.py")}
    ) - NO_OUTPUT_EFFECT
    covered = {w for w in wanted if w in deps or any(w.startswith(d.rstrip("/") + "/") for d in deps)}
    assert wanted - covered == set(), f"dvc.yaml stage '{name}' should list these deps"


@pytest.mark.parametrize("name", sorted(DVC))
def test_stage_params_are_the_sections_its_main_reads(name):
    stage = DVC[name]
    source = stage_module(stage).read_text()
    main = source[source.index("def main(") :]
    # "params.yaml" in messages; `task` picks the params model (classification or sft), it is no section
    read = set(re.findall(r"params\.(\w+)", main)) - {"paths", "yaml", "task"}
    declared = {p.split(".")[0] if isinstance(p, str) else next(iter(p)) for p in stage.get("params", [])}
    declared = {d.split("${")[0].rstrip(".") or d for d in declared}
    assert read <= declared | {"approaches"}, f"stage '{name}' reads params sections {read}, declares {declared}"


def code_deps(stage: dict) -> list[str]:
    """The deps of a stage under stages/ and schemas/ (its code), as written in dvc.yaml."""
    return [str(d) for d in stage.get("deps", []) if str(d).startswith(("stages/", "schemas/"))]


@pytest.mark.parametrize("name", sorted(set(DVC) - PARAMS_ONLY_STAGES))
def test_stage_deps_list_no_code_it_does_not_import(name):
    """Each code dep is a file the stage imports, or a folder all of whose modules it imports: an extra dep
    reruns the stage (and all after it) on a change that cannot touch its outputs, e.g. compare's TF-IDF
    baseline rerunning every train@<approach> through a `stages/lib/model` folder dep."""
    stage = DVC[name]
    module = stage_module(stage)
    imported = {str(module.relative_to(REPO))} | launcher_modules(stage) | module_imports(module)
    extra: dict[str, list[str]] = {}
    for dep in code_deps(stage):
        path = REPO / dep
        if path.is_dir():
            unused = sorted(
                rel
                for f in path.rglob("*.py")
                if (rel := str(f.relative_to(REPO))) not in imported and f.name != "__init__.py"
            )
            if unused:
                extra[dep] = unused
        elif dep not in imported:
            extra[dep] = [dep]
    assert extra == {}, f"dvc.yaml stage '{name}' lists code it does not import (list the files it does)"


@pytest.mark.parametrize("name", sorted(DVC))
def test_stage_deps_do_not_list_modules_without_output_effect(name):
    """Validation-only schemas (the paths above all: adding a path must not rerun every stage) and log/error
    modules are never deps."""
    listed = set(code_deps(DVC[name]))
    assert listed & (VALIDATION_ONLY | NO_OUTPUT_EFFECT) == set()


def test_derived_paths_in_dvc_yaml_use_the_folder_contract_names():
    """dvc.yaml spells a file inside a stage folder as `${paths.<stage>.<folder>}/<name>`; the names must be the
    ones the code derives (stages/lib/core/folders.py), or DVC would track another file than the stage reads."""
    from stages.lib.core.folders import CLASS_WEIGHTS_FILE, SPLITS

    allowed = {f"{s}.parquet" for s in SPLITS} | {CLASS_WEIGHTS_FILE}
    text = (REPO / "dvc.yaml").read_text()
    derived = re.findall(r"\$\{paths\.(?:train\.data_dir|split\.dir|balance\.dir|augment\.dir)\}/([\w.]+)", text)
    assert derived and set(derived) <= allowed
    assert not re.search(r"\$\{paths\.(evaluate\.test|train\.class_weights|base_model\.(train|unlabeled))\}", text)


@pytest.mark.parametrize("graph", ["dvc.yaml", "sft/dvc.yaml"])
def test_details_with_measured_compute_persist(graph):
    """A stage whose committed details hold measured `compute` settles it against its previous details file
    (stages/lib/core/metrics.py: settle): DVC must leave that file in place (`persist: true`), or every rerun
    starts from nothing and a fresh clone's `git status` is dirty. The committed files say which stages measure."""
    import json

    folder = (REPO / graph).parent
    params = yaml.safe_load((folder / "params.yaml").read_text())
    for name, stage in yaml.safe_load((REPO / graph).read_text())["stages"].items():
        body = stage.get("do", stage)
        keys = params["approaches"] if stage.get("foreach") == "${approaches}" else {None: None}
        checked = 0
        for out in body.get("outs", []):
            if not isinstance(out, dict):
                continue
            ((template, flags),) = out.items()
            for key in keys:
                path = folder / resolve(template.replace("${key}", str(key)), params)
                if path.suffix != ".json" or not path.is_file():
                    continue
                if '"compute"' in path.read_text():
                    assert flags.get("persist") is True, f"{graph} {name}: {template} holds compute"
                    assert flags.get("cache") is False, f"{graph} {name}: {template}"
                    assert "compute" in json.loads(path.read_text()) or name == "compare", path
                    checked += 1
        if name in ("train", "evaluate"):
            assert checked == len(params["approaches"]), (graph, name)


def resolve(template: str, params: dict) -> str:
    """`${paths.x.y}` in a dvc.yaml path, from params.yaml."""

    def value(match: re.Match) -> str:
        node: object = params
        for part in match.group(1).split("."):
            node = node[part]  # type: ignore[index]
        return str(node)

    return re.sub(r"\$\{([\w.]+)\}", value, template)
