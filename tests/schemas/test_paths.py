"""paths: declared once, every stage's paths checked to stay inside the repository, derived files follow
their folder."""

from __future__ import annotations

import re

import pytest

from schemas import ParamsError, validate_params
from schemas.paths import Paths, PathsModel, SplitPaths, TrainPaths

SECTIONS = sorted(name for name, f in Paths.model_fields.items() if name != "timings")


@pytest.mark.parametrize("section", SECTIONS)
def test_every_stage_paths_model_checks_inside_the_repository(params_data, section):
    model = Paths.model_fields[section].annotation
    assert issubclass(model, PathsModel)
    key = sorted(model.model_fields)[0]
    params_data.setdefault("paths", {}).setdefault(section, {})[key] = "../outside"
    with pytest.raises(ParamsError, match=rf"paths\.{section}\.{key}: escapes the repository"):
        validate_params(params_data, check_peft=False)


def test_files_inside_another_stage_folder_follow_the_folder():
    """The test split and the class weights are data_dir's, the pre-training text is split.dir's: moving the
    folder moves them, and none is a setting of its own."""
    train = TrainPaths(data_dir="elsewhere/balanced")
    assert train.split("test") == "elsewhere/balanced/test.parquet"
    assert train.class_weights == "elsewhere/balanced/class_weights.json"
    assert SplitPaths(dir="other/split").split("unlabeled") == "other/split/unlabeled.parquet"
    with pytest.raises(ValueError, match="not a split file"):
        train.split("tests")
    for gone in ("paths.evaluate.test", "paths.train.class_weights", "paths.base_model.train"):
        section, key = gone.split(".")[1:]
        assert key not in Paths.model_fields[section].annotation.model_fields, gone


def test_a_derived_path_cannot_be_set(params_data):
    params_data.setdefault("paths", {}).setdefault("evaluate", {})["test"] = "data/balanced/test.parquet"
    with pytest.raises(ParamsError, match=re.escape("paths.evaluate.test")):
        validate_params(params_data, check_peft=False)
