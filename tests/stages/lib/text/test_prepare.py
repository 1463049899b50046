"""The one text path: field selection, every clean setting reaching it, the fingerprint check, and the rule that
settings reach builders one way (keyword arguments named exactly like the schema's fields, no defaults)."""

from __future__ import annotations

import inspect

import pytest

from schemas.clean import CleanParams, FilterParams, NearDupParams, NormalizeParams, PiiParams
from stages.lib.clean import dedup
from stages.lib.clean.batch import BatchCleaner
from stages.lib.clean.filters import build_filters
from stages.lib.core.errors import StageError
from stages.lib.ingest.readers import Record
from stages.lib.text.fingerprint import TEXT_VERSION, check_fingerprint, check_model_text, text_fingerprint
from stages.lib.text.normalize import build_steps
from stages.lib.text.prepare import TEXT_JOIN, build_pii, build_text_prep, prepare_records, select_text


def prep(**clean):
    cfg = CleanParams.model_validate(clean)
    return build_text_prep(normalize=cfg.normalize.model_dump(), pii=cfg.pii.model_dump())


# --- settings reach builders one way ---------------------------------------------------------------------


def parameters(fn, skip=()):
    return {name: p for name, p in inspect.signature(fn).parameters.items() if name not in skip}


@pytest.mark.parametrize(
    ("builder", "model", "skip"),
    [
        (build_steps, NormalizeParams, ()),
        (build_filters, FilterParams, ()),
        (build_pii, PiiParams, ()),
        (dedup.lsh_keys, NearDupParams, ("texts",)),
    ],
)
def test_each_builder_takes_its_schema_models_fields_and_no_defaults(builder, model, skip):
    params = parameters(builder, skip)
    assert list(params) == list(model.model_fields), f"{builder.__name__} and {model.__name__} disagree"
    assert all(p.default is inspect.Parameter.empty for p in params.values()), f"{builder.__name__} has defaults"
    settings = model().model_dump()
    builder(*([[]] if skip else []), **(dedup.resolved(settings) if model is NearDupParams else settings))


@pytest.mark.parametrize(
    ("builder", "skip"),
    [(build_text_prep, ()), (dedup.deduplicate, ("results", "candidate_pairs")), (BatchCleaner, ("part_dir",))],
)
def test_builders_of_several_sections_take_cleans_field_names(builder, skip):
    params = parameters(builder, skip)
    assert set(params) <= set(CleanParams.model_fields), (
        f"{builder.__name__}: {set(params) - set(CleanParams.model_fields)}"
    )
    assert all(p.default is inspect.Parameter.empty for p in params.values())


# --- field selection -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "names", "expected"),
    [
        ({"text": "hi"}, ["text"], ("hi", None)),
        ({"s": "Subject", "b": "Body"}, ["s", "b"], (f"Subject{TEXT_JOIN}Body", None)),
        ({"s": "  ", "b": "Body"}, ["s", "b"], ("Body", None)),  # an empty part is left out
        ({"s": None, "b": "Body"}, ["s", "b"], ("Body", None)),
        ({"b": "Body"}, ["s", "b"], (None, ("missing_text", "no field 's'"))),
        ({"text": 12345}, ["text"], (None, ("text_not_string", "int 12345"))),
        ({"text": True}, ["text"], (None, ("text_not_string", "bool True"))),
        ({"text": None}, ["text"], (None, ("empty_text", None))),
        ({"text": " \n "}, ["text"], (None, ("empty_text", None))),
        (
            {"text": "a\ud800"},
            ["text"],
            (None, ("invalid_unicode", "field 'text' holds a lone surrogate (e.g. a JSON escape \\ud800)")),
        ),
    ],
)
def test_select_text(fields, names, expected):
    assert select_text(fields, names) == expected


def test_every_clean_setting_reaches_the_text():
    text = "Mail a@b.com or call 07911 123456 via www.x.com/a &amp; ｆｕｌｌ"
    assert prep()(text) == "Mail <EMAIL> or call 07911 123456 via www.x.com/a & full"  # schema defaults: no region
    shipped = {"pii": {**PiiParams().model_dump(), "phone": {"enabled": True, "token": "<P>", "region": "GB"}}}
    assert prep(**shipped)(text) == "Mail <EMAIL> or call <P> via www.x.com/a & full"
    url_on = {"pii": {**PiiParams().model_dump(), "url": {"enabled": True, "token": "<URL>"}}}
    assert prep(**url_on)(text) == "Mail <EMAIL> or call 07911 123456 via <URL> & full"
    raw = {"normalize": {**NormalizeParams().model_dump(), "ftfy": False, "html": False, "unicode_form": None}}
    assert prep(**raw)(text) == "Mail <EMAIL> or call 07911 123456 via www.x.com/a &amp; ｆｕｌｌ"


def test_a_text_that_normalises_to_nothing_is_empty_text():
    assert prep().record({"text": "\u200b\u200b"}, ["text"]) == (None, ("empty_text", None))


def test_prepare_records_keeps_a_readers_reason_and_the_raw_input():
    records = [
        Record("f:1", {"text": "ok &amp; fine"}),
        Record("f:2", None, reason="malformed_json", detail="Expecting value", raw="{oops"),
        Record("f:3", {"body": "x"}),
    ]
    kept, rejects = prepare_records(records, "s", ["text"], prep(), "predict")
    assert [(r.location, t) for r, t in kept] == [("f:1", "ok & fine")]
    assert [(r["stage"], r["reason"], r["location"], r["detail"], r["raw"]) for r in rejects] == [
        ("predict", "malformed_json", "f:2", "Expecting value", "{oops"),
        ("predict", "missing_text", "f:3", "no field 'text'", '{"body": "x"}'),
    ]


# --- the fingerprint a model folder records --------------------------------------------------------------


def fingerprint(**clean):
    return prep(**clean).fingerprint


def test_the_fingerprint_holds_every_setting_and_the_code_version():
    fp = fingerprint()
    assert fp["version"] == TEXT_VERSION
    assert fp["normalize"] == NormalizeParams().model_dump()
    assert fp["pii"]["phone"] == {"enabled": True, "region": None, "token": "<PHONE>"}
    assert set(fp["libraries"]) == {"ftfy", "phonenumbers"}
    assert fp == text_fingerprint(NormalizeParams().model_dump(), PiiParams().model_dump())


def test_same_settings_pass_and_each_difference_is_named_in_one_line():
    assert check_fingerprint(fingerprint(), fingerprint(), "models/full") == []
    other = fingerprint(normalize={**NormalizeParams().model_dump(), "keep_newlines": False})
    with pytest.raises(
        ValueError,
        match=r"^clean\.normalize\.keep_newlines is false in params\.yaml but models/full "
        r"was trained with true: set clean\.normalize\.keep_newlines: true back .* or retrain",
    ):
        check_fingerprint(fingerprint(), other, "models/full")
    token = fingerprint(pii={**PiiParams().model_dump(), "email": {"enabled": True, "token": "[E]"}})
    with pytest.raises(
        ValueError,
        match=r"clean\.pii\.email\.token is '\[E\]' in params\.yaml but m was trained "
        r"with '<EMAIL>'",
    ):
        check_fingerprint(fingerprint(), token, "m")


def test_another_code_version_is_refused_and_other_libraries_only_warned():
    old = {**fingerprint(), "version": TEXT_VERSION - 1}
    with pytest.raises(StageError, match=r"trained with text code version .*retrain it"):
        check_model_text(old, fingerprint(), "m")
    upgraded = {
        **fingerprint(),
        "libraries": {"ftfy": "0.1", "phonenumbers": fingerprint()["libraries"]["phonenumbers"]},
    }
    assert [
        w.startswith("m was trained with other text libraries (ftfy 0.1 -> ")
        for w in check_model_text(upgraded, fingerprint(), "m")
    ] == [True]
    assert "records no text settings" in check_model_text(None, fingerprint(), "m")[0]
