"""params.yaml validation: every problem listed at once, by dotted path, with the fix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from schemas import ParamsError, load_params, validate_params
from schemas.__main__ import JSON_SCHEMA_PATH, json_schema_text
from schemas.ingest import FORMAT_OPTIONS

from ..conftest import REPO


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_committed_params_are_valid():
    params = load_params(REPO / "params.yaml")
    assert params.ingest.sources["sms_spam"].name == "sms_spam"
    assert params.ingest.sources["sms_spam"].quoting == "none"


def test_committed_params_write_every_field(repo_params):
    """params.yaml holds the full resolved config: nothing that changes an output hides in code defaults."""
    resolved = validate_params(repo_params).model_dump(mode="json")

    def missing(written, full, path=""):
        if isinstance(full, dict) and isinstance(written, dict):
            written = {str(k): v for k, v in written.items()}  # YAML `2: 0.2` has an int key; JSON a string
            for key, value in full.items():
                if key not in written:
                    yield f"{path}{key}"
                else:
                    yield from missing(written[key], value, f"{path}{key}.")
        elif isinstance(full, list) and isinstance(written, list):
            for i, (w, f) in enumerate(zip(written, full)):
                yield from missing(w, f, f"{path}[{i}].")

    def exempt(key: str) -> bool:
        """A source's name is its key; an option its format does not read is left out (FORMAT_OPTIONS)."""
        parts = key.split(".")
        if parts[0] not in ("ingest", "monitor") or parts[1] != "sources" or len(parts) != 4:
            return False
        fmt = resolved[parts[0]]["sources"][parts[2]]["format"]
        return parts[3] == "name" or fmt not in FORMAT_OPTIONS.get(parts[3], {fmt: None})

    assert [key for key in missing(repo_params, resolved) if not exempt(key)] == []


def test_json_schema_is_current():
    assert JSON_SCHEMA_PATH.read_text() == json_schema_text(), "run `make schema` and commit the result"


def test_params_yaml_points_editors_at_the_schema():
    assert (REPO / "params.yaml").read_text().splitlines()[0] == (
        "# yaml-language-server: $schema=schemas/params.schema.json"
    )


def test_typo_key_names_closest_valid_key(params_data):
    params_data["ingest"]["max_reject_fractoin"] = 0.1
    with pytest.raises(
        ParamsError, match=r"ingest\.max_reject_fractoin: unknown key; did you mean 'max_reject_fraction'"
    ):
        validate_params(params_data)


def test_typo_in_a_source_names_the_source_in_its_path(params_data):
    params_data["ingest"]["sources"]["sms_spam"]["delimter"] = ","
    with pytest.raises(
        ParamsError, match=r"ingest\.sources\.sms_spam\.delimter: unknown key; did you mean 'delimiter'"
    ):
        validate_params(params_data)


def test_unknown_format_lists_allowed(params_data):
    params_data["ingest"]["sources"]["sms_spam"]["format"] = "xlsx"
    with pytest.raises(
        ParamsError, match=r"ingest\.sources\.sms_spam\.format: Input should be 'csv', 'tsv'.*got 'xlsx'"
    ):
        validate_params(params_data)


def test_wrong_type(params_data):
    params_data["ingest"]["sources"]["sms_spam"]["header"] = "maybe"
    with pytest.raises(
        ParamsError, match=r"ingest\.sources\.sms_spam\.header: Input should be a valid boolean.*got 'maybe'"
    ):
        validate_params(params_data)


def test_negative_fraction(params_data):
    params_data["ingest"]["max_reject_fraction"] = -0.1
    with pytest.raises(ParamsError, match=r"ingest\.max_reject_fraction: Input should be greater than or equal to 0"):
        validate_params(params_data)


def test_path_escaping_repo(params_data):
    params_data["ingest"]["sources"]["sms_spam"]["path"] = "data/../../secrets.csv"
    with pytest.raises(ParamsError, match=r"ingest\.sources\.sms_spam\.path: escapes the repository"):
        validate_params(params_data)


def test_cross_field_check_says_the_fix(params_data):
    params_data["ingest"]["sources"]["sms_spam"]["columns"] = None
    with pytest.raises(ParamsError, match=r"header is false, so `columns` must name the columns"):
        validate_params(params_data)


def test_several_errors_at_once(params_data):
    src = params_data["ingest"]["sources"]["sms_spam"]
    src["format"] = "xlsx"
    src["encoding"] = "klingon-8"
    params_data["ingest"]["max_reject_fraction"] = 2
    params_data["ingset"] = {}
    with pytest.raises(ParamsError) as info:
        validate_params(params_data)
    paths = [p.split(":")[0] for p in info.value.problems]
    assert sorted(paths) == sorted(
        ["ingset", "ingest.sources.sms_spam.format", "ingest.sources.sms_spam.encoding", "ingest.max_reject_fraction"]
    )
    assert "did you mean 'ingest'" in str(info.value)


def test_scientific_floats_load_as_floats(tmp_path, params_data):
    """`dvc exp run -S` writes 3e-05; PyYAML would read it as a string, OmegaConf reads a float."""
    path = write(tmp_path, params_data)
    path.write_text(path.read_text().replace("max_reject_fraction: 0.05", "max_reject_fraction: 5e-02"))
    assert load_params(path).ingest.max_reject_fraction == pytest.approx(0.05)


def test_interpolation_resolves(tmp_path, params_data):
    path = write(tmp_path, params_data)
    text = path.read_text().replace("metrics: metrics/ingest.json", "metrics: ${paths.ingest.rows}.json")
    path.write_text(text)
    assert load_params(path).paths.ingest.metrics == "data/ingested/rows.parquet.json"


def test_broken_yaml_is_a_params_error(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("ingest: [unclosed\n")
    with pytest.raises(ParamsError, match=r"params\.yaml: 1 problem\n  - not valid YAML"):
        load_params(path)


def test_cli_ok_and_failure(tmp_path, params_data):
    ok = subprocess.run(
        [sys.executable, "-m", "schemas", str(REPO / "params.yaml")], capture_output=True, text=True, cwd=REPO
    )
    assert ok.returncode == 0 and ok.stdout.startswith("OK:")
    params_data["ingest"]["sources"]["sms_spam"]["format"] = "xlsx"
    params_data["ingest"]["max_reject_fraction"] = -1
    bad = write(tmp_path, params_data)
    res = subprocess.run([sys.executable, "-m", "schemas", str(bad)], capture_output=True, text=True, cwd=REPO)
    assert res.returncode == 1
    assert "2 problems" in res.stderr
    assert "ingest.sources.sms_spam.format" in res.stderr and "ingest.max_reject_fraction" in res.stderr
    assert "Traceback" not in res.stderr


def test_stages_validate_without_importing_peft():
    """Importing PEFT costs seconds; stages that do not train must validate params without it."""
    code = (
        "import sys; from schemas import load_params; load_params('params.yaml'); "
        "print('peft' in sys.modules, 'torch' in sys.modules)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert res.stdout.split() == ["False", "False"]


def test_cli_reports_plain_errors_before_checking_peft(tmp_path, params_data):
    params_data["ingest"]["max_reject_fraction"] = -1
    params_data["approaches"]["adapter"]["peft"]["r"] = 0
    res = subprocess.run(
        [sys.executable, "-m", "schemas", str(write(tmp_path, params_data))], capture_output=True, text=True, cwd=REPO
    )
    assert res.returncode == 1
    assert "ingest.max_reject_fraction" in res.stderr and "peft` blocks are checked with PEFT once" in res.stderr
    del params_data["ingest"]["max_reject_fraction"]
    res = subprocess.run(
        [sys.executable, "-m", "schemas", str(write(tmp_path, params_data))], capture_output=True, text=True, cwd=REPO
    )
    assert res.returncode == 1
    assert "approaches.adapter.peft.r: must be >= 1" in res.stderr
