"""The collect params section: what it accepts, and the message for each mistake."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from schemas import ParamsError, load_params, validate_params

ROOT = Path(__file__).resolve().parents[2]
INGEST = {"sources": {"s": {"path": "data/raw/x.csv", "format": "csv"}}}


def check(collect: dict[str, Any], ingest: dict[str, Any] = INGEST) -> Any:
    return validate_params({"ingest": ingest, "collect": collect}).collect


def test_committed_params_have_no_sources_and_every_field() -> None:
    params = load_params(ROOT / "params.yaml")
    assert params.collect.sources == []
    assert params.paths.collect.pages == "data/collected"
    import yaml

    written = yaml.safe_load((ROOT / "params.yaml").read_text())["collect"]
    assert set(written) == set(type(params.collect).model_fields)
    assert set(written["extract"]) == set(type(params.collect.extract).model_fields)


def test_section_may_be_absent_and_sources_empty() -> None:
    assert validate_params({"ingest": INGEST}).collect.sources == []
    assert check({"sources": []}).max_bytes == 5_000_000


def test_each_kind_of_source() -> None:
    cfg = check(
        {
            "sources": [
                {"name": "a", "urls": ["https://example.org/a", "http://127.0.0.1:8000/b"]},
                {"name": "b", "url_file": "data/urls.txt", "include": ["/guide/"], "exclude": [r"\.pdf$"]},
                {"name": "c", "sitemap": "https://example.org/sitemap.xml", "max_pages": 10},
            ]
        }
    )
    assert [s.name for s in cfg.sources] == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"name": "a"}, r"collect\.sources\[0\]: give exactly one of `urls`, `url_file` or `sitemap` \(got none\)"),
        (
            {"name": "a", "urls": ["https://x.org/"], "sitemap": "https://x.org/s.xml"},
            r"give exactly one .* \(got urls, sitemap\); split them into several sources",
        ),
        ({"name": "a", "urls": ["ftp://x.org/f"]}, r"collect\.sources\[0\]\.urls: .*'ftp://x.org/f' is not an http"),
        ({"name": "a", "urls": ["https:///path"]}, r"has no host"),
        ({"name": "a", "sitemap": "file:///etc/passwd"}, r"collect\.sources\[0\]\.sitemap: .*not an http"),
        ({"name": "a", "url_file": "/etc/urls.txt"}, r"url_file: must be relative"),
        ({"name": "a", "url_file": "../urls.txt"}, r"url_file: escapes the repository"),
        ({"name": "a", "urls": ["https://x.org/"], "include": ["(unclosed"]}, r"include: '\(unclosed' is not a valid"),
        ({"name": "a", "urls": ["https://x.org/"], "max_pages": 0}, r"max_pages: Input should be greater than"),
        ({"name": "a b", "urls": ["https://x.org/"]}, r"collect\.sources\[0\]\.name: String should match"),
        ({"name": "a", "url": ["https://x.org/"]}, r"sources\[0\]\.url: unknown key; did you mean 'urls'\?"),
    ],
)
def test_bad_source_is_reported_by_path(source: dict[str, Any], message: str) -> None:
    with pytest.raises(ParamsError, match=message):
        check({"sources": [source]})


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"content_types": ["text/html; charset=utf-8"]}, r"collect\.content_types: .*no parameters"),
        ({"content_types": []}, r"collect\.content_types: List should have at least 1 item"),
        ({"delay_s": -1}, r"collect\.delay_s: Input should be greater than or equal to 0"),
        ({"per_host_concurrency": 0}, r"collect\.per_host_concurrency: Input should be greater than or equal to 1"),
        ({"timeout_s": 0}, r"collect\.timeout_s: Input should be greater than 0"),
        ({"extract": {"favor": "speed"}}, r"collect\.extract\.favor: Input should be 'balanced', 'precision'"),
        ({"user_agent": ""}, r"collect\.user_agent: String should have at least 1 character"),
        (
            {"sources": [{"name": "a", "urls": ["https://x.org/"]}, {"name": "a", "sitemap": "https://x.org/s"}]},
            r"source names must be unique; repeated: \['a'\]",
        ),
    ],
)
def test_bad_setting_is_reported_by_path(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ParamsError, match=message):
        check(settings)


def test_every_problem_at_once() -> None:
    with pytest.raises(ParamsError) as info:
        check({"delay_s": -1, "max_retries": -1, "sources": [{"name": "a"}]})
    assert len(info.value.problems) == 3


def test_floats_as_dvc_writes_them(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("ingest:\n  sources: {s: {path: data/raw/x.csv, format: csv}}\ncollect:\n  delay_s: 5e-01\n")
    assert load_params(path).collect.delay_s == 0.5


def test_ingest_collected_source_needs_an_id_field() -> None:
    source = {"path": "data/collected/docs", "format": "collected"}
    with pytest.raises(ParamsError, match=r"ingest\.sources\.web: format collected: set `id_field: url`"):
        validate_params({"ingest": {"sources": {"web": source}}})
    params = validate_params({"ingest": {"sources": {"web": source | {"id_field": "url", "keep_fields": ["title"]}}}})
    assert params.ingest.sources["web"].format == "collected"
