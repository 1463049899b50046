"""The plots a reviewer reads: one chart per question, titled in words, a revision legend in `dvc plots diff`,
and a page that draws offline (checked in a headless browser that counts the drawn marks)."""

from __future__ import annotations

import json
import logging
import os
import re
import runpy
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from dvc_render.base import Renderer

from stages.lib.balance.flow import flow_rows, upstream_counts
from stages.lib.compare.rows import plot_row, validation_curves

from .dvc_helpers import REPO, copy_project, dvc, sh

PAGE = REPO / "scripts/plots/page.html"
QUESTIONS = {
    "validation_curve": "Validation macro-F1 of every approach, by optimizer step",
    "bar_interval": "Test macro-F1 of each approach and baseline, with bootstrap intervals",
    "confusion_counts": "Confusion on the test rows (share of each true class, row count in brackets)",
    "class_flow": "Rows per class through the pipeline (ingest, label, split train rows, augment, balance)",
    "audit_stacked": "Rows the audit flags, per class and issue",
}
BROWSER_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    # every host name fails to resolve: the page must draw from what it carries
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--virtual-time-budget=15000",
]


def top_level_plots() -> dict[str, dict]:
    spec = yaml.safe_load((REPO / "dvc.yaml").read_text())
    return {title: props for entry in spec["plots"] for title, props in entry.items()}


def shown(repo: Path, *args: str) -> dict:
    out = json.loads(dvc(repo, "plots", *args, "--json").stdout)
    assert not out.get("errors"), out.get("errors")
    return out["data"]


def test_one_top_level_chart_per_question_and_no_dvclive_charts():
    plots = top_level_plots()
    assert {props["template"]: title for title, props in plots.items()} == QUESTIONS
    for title, props in plots.items():
        assert (REPO / ".dvc/plots" / f"{props['template']}.json").is_file(), title
        assert props.get("x_label") and props.get("y_label"), f"{title}: axis titles in words"
        # DVC makes the title the chart's element id inside a quoted JavaScript string
        assert "'" not in title and '"' not in title, f"{title}: a quote in a title breaks the page"
    confusion = next(props for props in plots.values() if props["template"] == "confusion_counts")
    approaches = yaml.safe_load((REPO / "params.yaml").read_text())["approaches"]
    assert sorted(Path(f).stem for f in confusion["y"]) == sorted(approaches), "one confusion entry per approach"
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    stage_plots = [
        next(iter(p)) if isinstance(p, dict) else p
        for stage in stages.values()
        for p in stage.get("do", stage).get("plots", [])
    ]
    assert not [p for p in stage_plots if "dvclive" in p or "live_dir" in p], stage_plots
    data = shown(REPO, "show")
    assert set(QUESTIONS.values()) <= set(data)
    assert not [name for name in data if "dvclive" in name or name.endswith(".tsv")], list(data)


def test_charts_carry_intervals_optimizer_steps_and_counts():
    data = shown(REPO, "show")
    bars = data[QUESTIONS["bar_interval"]][0]["content"]
    values = bars["data"]["values"]
    assert {v["kind"] for v in values} == {"approach", "baseline"}
    assert all(v["low"] <= v["macro_f1"] <= v["high"] for v in values)
    assert [layer["mark"]["type"] for layer in bars["layer"]] == ["bar", "rule", "text"]  # the rule: the interval
    curve = data[QUESTIONS["validation_curve"]][0]["content"]
    details = json.loads((REPO / "metrics/details/train/full.json").read_text())
    steps = sorted(v["step"] for v in curve["data"]["values"] if v["approach"] == "full")
    assert steps[-1] == details["steps"]  # the last evaluation is at the last optimizer step
    assert details["best_validation"]["step"] in steps
    confusion = json.dumps(data[QUESTIONS["confusion_counts"]][0]["content"])
    assert '"type": "text"' in confusion and "datum.rows / datum.true_rows" in confusion  # counts and shares
    flow = data[QUESTIONS["class_flow"]][0]["content"]["data"]["values"]
    phases = [v["phase"] for v in sorted(flow, key=lambda v: v["order"]) if v["class"] == "spam"]
    assert phases[0] == "ingested" and phases[-3:] == ["split (train)", "augmented", "balanced"]


def test_plot_row_and_validation_curve_by_optimizer_step(tmp_path, caplog):
    row = {"macro_f1": 0.9, "ci": {"macro_f1": {"value": 0.9, "low": 0.85, "high": 0.95}}}
    assert plot_row("full", "approach", row, "macro_f1") == {
        "approach": "full",
        "kind": "approach",
        "macro_f1": 0.9,
        "low": 0.85,
        "high": 0.95,
    }
    assert plot_row("x", "baseline", {"mcc": 0.5, "ci": {}}, "mcc")["low"] is None
    live = tmp_path / "dvclive/full/plots/metrics"
    (live / "eval").mkdir(parents=True)
    # dvclive logs every 10 steps and evaluates every 50: its step 5 is the evaluation at optimizer step 50
    (live / "epoch.tsv").write_text("step\tepoch\n0\t0.1\n1\t0.2\n2\t0.3\n3\t0.4\n4\t0.5\n5\t0.5\n6\t1.0\n7\t1.0\n")
    (live / "eval/macro_f1.tsv").write_text("step\tmacro_f1\n5\t0.7\n7\t0.8\n")
    (tmp_path / "details").mkdir()
    (tmp_path / "details/full.json").write_text(json.dumps({"steps": 100}))
    points = validation_curves(["full"], tmp_path / "dvclive", "macro_f1", tmp_path / "details")
    assert points == [
        {"approach": "full", "step": 50, "macro_f1": 0.7},
        {"approach": "full", "step": 100, "macro_f1": 0.8},
    ]
    with caplog.at_level(logging.WARNING):
        kept = validation_curves(["full"], tmp_path / "dvclive", "macro_f1", tmp_path / "nowhere")
    assert [p["step"] for p in kept] == [5, 7] and "logging step" in caplog.text


def test_class_flow_rows_follow_the_pipeline(tmp_path):
    (tmp_path / "ingest.json").write_text(json.dumps({"labels": {"a": 10, "b": 4, "<none>": 2}}))
    (tmp_path / "clean.json").write_text(json.dumps({"rows_out": 12}))  # no per-class counts: left out
    (tmp_path / "label.json").write_text(json.dumps({"classes": {"a": 8, "b": 4}}))
    details = {
        p: tmp_path / f"{s}.json" for p, s in (("ingested", "ingest"), ("cleaned", "clean"), ("labelled", "label"))
    }
    upstream = upstream_counts(details)
    assert upstream == {"ingested": {"a": 10, "b": 4}, "labelled": {"a": 8, "b": 4}}
    own = {"split": {"a": 6, "b": 3}, "before": {"a": 6, "b": 6, "c": 2}, "after": {"a": 6, "b": 6, "c": 2}}
    rows = flow_rows(upstream, own)
    assert [(r["phase"], r["order"], r["rows"]) for r in rows if r["class"] == "c"] == [
        ("ingested", 1, 0),
        ("labelled", 3, 0),
        ("split (train)", 4, 0),
        ("augmented", 5, 2),
        ("balanced", 6, 2),
    ]
    assert {"bar": "b | balanced", "class": "b", "phase": "balanced", "order": 6, "rows": 6} in rows


def test_the_page_template_carries_vega_and_its_licence():
    """DVC's own page loads Vega from a CDN; the project's template (.dvc/config) carries it inline, and is what
    scripts/plots/vendor.py writes for the pinned versions (rerun it after changing the page or a version)."""
    vendor = runpy.run_path(str(REPO / "scripts/plots/vendor.py"))
    scripts = vendor["inlined"](PAGE.read_text())
    assert [(n, v) for n, v, _ in scripts] == [(n, v) for n, v, _ in vendor["LIBRARIES"]]
    assert vendor["page"](scripts) == PAGE.read_text(), "stale: run python scripts/plots/vendor.py"
    config = (REPO / ".dvc/config").read_text()
    assert re.search(r"html_template\s*=\s*\.\./scripts/plots/page\.html", config)
    page = PAGE.read_text()
    assert page.count("{plot_divs}") == 1 and "{scripts}" not in page  # DVC's CDN <script> tags stay out
    assert not re.search(r"<script[^>]+src=", page)
    for name in ("vega", "vega-lite", "vega-embed"):
        assert re.search(rf"/\*! {name} \d+\.\d+\.\d+ \| BSD-3-Clause", page), name
        assert "Redistribution and use" in (REPO / f"scripts/plots/LICENSE-{name}").read_text()


def test_plots_diff_tells_the_revisions_apart(tmp_path):
    """Every chart encodes the revision in a channel with a legend (shape, colour, shade) or a labelled facet."""
    repo = copy_project(tmp_path)
    curves = json.loads((repo / "plots/validation_macro_f1.json").read_text())
    (repo / "plots/validation_macro_f1.json").write_text(json.dumps([c | {"macro_f1": 0.5} for c in curves]))
    sh(["git", "commit", "-qam", "a worse run"], repo)
    data = shown(repo, "diff", "HEAD~1")
    for title in QUESTIONS.values():
        spec = data[title][0]["content"]
        assert {v["rev"] for v in spec["data"]["values"]} == {"HEAD~1", "workspace"}, title
        encodings = [spec.get("encoding", {})] + [layer.get("encoding", {}) for layer in spec.get("layer", [])]
        encodings += [spec.get("spec", {}).get("encoding", {}), spec.get("facet", {})]
        legend = [
            channel
            for enc in encodings
            for channel, e in enc.items()
            if isinstance(e, dict)
            and e.get("field") == "rev"
            and e.get("legend", {}) is not None
            and channel in {"shape", "color", "opacity", "row", "column"}
        ]
        assert legend, f"{title}: no revision legend"


def chromium() -> str:
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)  # type: ignore[return-value]
    pytest.fail(
        "no headless browser to check the rendered plots: install chromium (`make setup` runs "
        "scripts/setup_browser.sh, or `sudo apt-get install chromium`) or set CHROMIUM=/path/to/chrome"
    )


def test_dvc_plots_show_draws_every_chart_offline(tmp_path):
    """`dvc plots show` (the committed plot data, the project's page) opened in chromium with no name resolving:
    every chart is an SVG with drawn marks and no error. About 5 s."""
    browser = chromium()
    dvc(REPO, "plots", "show", "-o", str(tmp_path / "html"))
    html = tmp_path / "html/index.html"
    assert "cdn.jsdelivr" not in html.read_text()
    dom = subprocess.run(
        [browser, *BROWSER_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", html.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    errors = re.findall(r'<pre class="plot-error">([^<]*)', dom)  # the page's own message for a failed chart
    assert not errors, errors
    divs = re.split(r'<div id="', dom)[1:]
    drawn = {d.split('"', 1)[0]: d.count('role="graphics-symbol"') for d in divs}  # drawn items: bars, points...
    for title in QUESTIONS.values():
        div_id = Renderer.remove_special_chars(title)
        assert drawn.get(div_id, 0) >= 3, (title, drawn)
    assert dom.count("<svg") >= len(QUESTIONS)
