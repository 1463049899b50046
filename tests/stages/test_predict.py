"""predict: new text through ingest's reader, clean's normalisation and a trained approach."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow.csv as pacsv
import pytest

from schemas import load_params
from schemas.clean import CleanParams
from schemas.ingest import Source
from stages import predict, train
from stages.lib.core.errors import StageError
from stages.lib.ingest.sources import with_format
from stages.lib.text.fingerprint import text_fingerprint
from tests.finetune_env import Env, approach, make_env

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> Env:
    env = make_env(tmp_path_factory.mktemp("predict"))
    clean = load_params(REPO / "params.yaml").clean
    text = text_fingerprint(clean.normalize.model_dump(), clean.pii.model_dump())
    train.run("feature", approach("feature"), env.train_params(), env.model, env.train_paths, env.base, text=text)
    return env


def params_for(env: Env, max_reject_fraction: float = 0.5, clean: dict | None = None):
    params = load_params(REPO / "params.yaml")
    paths = params.paths.model_copy(update={"train": env.train_paths, "base_model": env.base})
    ingest = params.ingest.model_copy(update={"max_reject_fraction": max_reject_fraction})
    update = {"paths": paths, "model": env.model, "ingest": ingest}
    if clean is not None:
        update["clean"] = CleanParams.model_validate(params.clean.model_dump() | clean)
    return params.model_copy(update=update)


CSV = Source(name="new", path="x", format="csv", text_field="message")


def test_predicts_every_readable_row_with_probabilities_and_rejects_the_rest(env, tmp_path):
    src = tmp_path / "new.csv"
    src.write_text("message\nWIN a FREE prize now &amp; call\n   \nare we still meeting for lunch\n")
    out = tmp_path / "out.csv"
    counts = predict.run("feature", CSV, src, out, params_for(env))
    assert counts == {"rows_in": 3, "rows_out": 2, "dropped": {"empty_text": 1}}
    table = pacsv.read_csv(out).to_pylist()
    assert [r["text"] for r in table] == ["WIN a FREE prize now & call", "are we still meeting for lunch"]  # html fixed
    assert all(r["predicted"] in {"ham", "spam"} for r in table)
    assert all(abs(r["prob_ham"] + r["prob_spam"] - 1) < 1e-5 for r in table)
    rejects = [json.loads(line) for line in (tmp_path / "out.rejects.jsonl").read_text().splitlines()]
    assert [(r["stage"], r["reason"], r["location"]) for r in rejects] == [("predict", "empty_text", "new.csv:3")]
    src.write_text("message\nhello there\n")  # a clean run empties the old rejects rather than leave them stale
    predict.run("feature", CSV, src, out, params_for(env))
    assert (tmp_path / "out.rejects.jsonl").read_text() == ""


def test_a_clean_run_writes_no_rejects_file(env, tmp_path):
    src = tmp_path / "new.csv"
    src.write_text("message\nhello there\n")
    predict.run("feature", CSV, src, tmp_path / "out.csv", params_for(env))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.csv", "out.csv"]


def test_national_phone_numbers_are_masked_with_cleans_region(env, tmp_path):
    """Regression: predict masked PII without clean's phone region, so a UK number stayed digits."""
    src = tmp_path / "new.csv"
    src.write_text("message\ncall 07911 123456 or 09061701461 now\n")
    predict.run("feature", CSV, src, tmp_path / "out.csv", params_for(env))
    assert pacsv.read_csv(tmp_path / "out.csv").column("text").to_pylist() == ["call <PHONE> or <PHONE> now"]


def test_several_text_fields_are_joined_as_ingest_joins_them(env, tmp_path):
    """Regression: `fields.get(source.text_field)` raised TypeError when text_field is a list."""
    src = tmp_path / "new.jsonl"
    src.write_text(
        json.dumps({"subject": "WIN  now", "body": "free &amp; prize"})
        + "\n"
        + json.dumps({"subject": "", "body": "hi"})
        + "\n"
    )
    source = Source(name="mail", path="x", format="jsonl", text_field=["subject", "body"])
    predict.run("feature", source, src, tmp_path / "out.jsonl", params_for(env))
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["text"] for r in rows] == ["WIN now\n\nfree & prize", "hi"]


def test_text_settings_other_than_the_models_are_refused_in_one_line(env, tmp_path):
    src = tmp_path / "new.csv"
    src.write_text("message\nhello\n")
    out = tmp_path / "out.csv"
    params = params_for(
        env,
        clean={
            "pii": {
                **load_params(REPO / "params.yaml").clean.pii.model_dump(),
                "phone": {"enabled": True, "token": "<PHONE>", "region": None},
            }
        },
    )
    with pytest.raises(StageError) as err:
        predict.run("feature", CSV, src, out, params)
    message = str(err.value)
    assert "\n" not in message
    assert re.search(r"clean\.pii\.phone\.region is null in params.yaml but .*feature was trained with 'GB'", message)
    assert "set clean.pii.phone.region: 'GB' back" in message and "retrain" in message
    assert not out.exists()
    params = params_for(
        env, clean={"normalize": {**load_params(REPO / "params.yaml").clean.normalize.model_dump(), "ftfy": False}}
    )
    with pytest.raises(StageError, match=r"clean\.normalize\.ftfy is false in params.yaml but .* trained with true"):
        predict.run("feature", CSV, src, out, params)


def test_the_docstrings_format_override_works_on_the_shipped_params(tmp_path):
    """Regression: `--source sms_spam --format text` failed validation (csv options on a text source)."""
    sms = load_params(REPO / "params.yaml").ingest.sources["sms_spam"]
    text = with_format(sms, "text")
    assert (text.format, text.delimiter, text.columns, text.text_fields) == ("text", None, None, ["text"])
    assert with_format(sms, "csv").delimiter == ","
    with pytest.raises(StageError, match=r"--format nonsense does not fit source 'sms_spam': format"):
        with_format(sms, "nonsense")


def test_too_many_bad_rows_fail_and_write_nothing(env, tmp_path):
    src = tmp_path / "bad.jsonl"
    src.write_text('{"message": "hello there"}\nnot json\n{"other": 1}\n')
    out = tmp_path / "out.jsonl"
    jsonl = CSV.model_copy(update={"format": "jsonl"})
    with pytest.raises(StageError, match=r"2 of 3 rows could not be read .* > ingest.max_reject_fraction=0.5"):
        predict.run("feature", jsonl, src, out, params_for(env))
    assert not out.exists()


def test_an_untrained_approach_names_the_stage_to_run(env, tmp_path):
    src = tmp_path / "one.txt"
    src.write_text("hello\n")
    text = Source(name="t", path="x", format="text")
    with pytest.raises(StageError, match=r"run train@<approach>"):
        predict.run("nothing", text, src, tmp_path / "o.parquet", params_for(env))


def test_the_tfidf_baseline_predicts_without_a_trained_approach(env, tmp_path):
    """compare's recommendation is often the baseline: predict serves it from compare's saved pipeline."""
    from stages.lib.model.tfidf import baseline_pipeline, save_baseline

    texts = ["win a free prize call now", "free cash prize text win", "see you at lunch", "are we meeting today"]
    baseline = load_params(REPO / "params.yaml").compare.baseline
    save_baseline(baseline_pipeline(baseline).fit(texts, ["spam", "spam", "ham", "ham"]), baseline, tmp_path / "tfidf")
    params = params_for(env)
    params = params.model_copy(
        update={
            "paths": params.paths.model_copy(
                update={"compare": params.paths.compare.model_copy(update={"baseline_model": str(tmp_path / "tfidf")})}
            )
        }
    )
    src = tmp_path / "new.csv"
    src.write_text("message\nWIN a FREE prize now\nlunch today?\n")
    counts = predict.run("tfidf_logreg", CSV, src, tmp_path / "out.csv", params)
    assert counts == {"rows_in": 2, "rows_out": 2, "dropped": {}}
    rows = pacsv.read_csv(tmp_path / "out.csv").to_pylist()
    assert [r["predicted"] for r in rows] == ["spam", "ham"]
    assert all(abs(r["prob_ham"] + r["prob_spam"] - 1) < 1e-9 for r in rows)


def test_the_tfidf_baseline_refuses_text_settings_it_was_not_fitted_with(env, tmp_path):
    """Regression: compare's baseline folder recorded no text settings, so predict only warned about drifted ones."""
    from stages.lib.model.tfidf import baseline_pipeline, save_baseline

    shipped = load_params(REPO / "params.yaml")
    text = text_fingerprint(shipped.clean.normalize.model_dump(), shipped.clean.pii.model_dump())
    texts = ["win a free prize call now", "free cash prize text win", "see you at lunch", "are we meeting today"]
    fitted = baseline_pipeline(shipped.compare.baseline).fit(texts, ["spam", "spam", "ham", "ham"])
    save_baseline(fitted, shipped.compare.baseline, tmp_path / "tfidf", text)
    compare = shipped.paths.compare.model_copy(update={"baseline_model": str(tmp_path / "tfidf")})
    drifted = params_for(env, clean={"normalize": {**shipped.clean.normalize.model_dump(), "ftfy": False}})
    drifted = drifted.model_copy(update={"paths": drifted.paths.model_copy(update={"compare": compare})})
    src = tmp_path / "new.csv"
    src.write_text("message\nWIN a FREE prize now\n")
    with pytest.raises(StageError, match=r"clean\.normalize\.ftfy is false in params.yaml but .*tfidf was trained"):
        predict.run("tfidf_logreg", CSV, src, tmp_path / "out.csv", drifted)
    assert not (tmp_path / "out.csv").exists()
    same = drifted.model_copy(update={"clean": shipped.clean})
    assert predict.run("tfidf_logreg", CSV, src, tmp_path / "out.csv", same)["rows_out"] == 1
