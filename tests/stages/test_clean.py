"""clean stage: each normalisation step and filter (a string in, a reason out), PII masking, the SMS sample's
traps, near-duplicates at known Jaccard, clusters, label-conflict policies, accounting and determinism."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas import load_params
from schemas.clean import CleanParams, FilterParams, NormalizeParams
from schemas.paths import CleanPaths, IngestPaths
from schemas.rows import ROW_FIELDS
from stages import clean
from stages.ingest import run as ingest_run
from stages.lib.clean import dedup, filters
from stages.lib.clean.output import REASONS
from stages.lib.core.errors import StageError
from stages.lib.text import near_dup, normalize, pii

ROOT = Path(__file__).resolve().parents[2]
NO_FILTERS = {"min_chars": None, "min_alpha_ratio": None}


# --- helpers ---------------------------------------------------------------------------------------------


def write_rows(path: Path, texts: list[str], labels: list[str | None] | None = None) -> Path:
    """An ingest-like rows file: ids r000, r001... in text order (so `first` is the first text)."""
    labels = labels if labels is not None else [None] * len(texts)
    schema = pa.schema([*ROW_FIELDS, pa.field("location", pa.string())])
    rows = [
        {"id": f"r{i:03d}", "text": t, "label": lab, "source": "t", "location": f"line {i + 1}"}
        for i, (t, lab) in enumerate(zip(texts, labels, strict=True))
    ]
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return path


def run_clean(tmp_path: Path, texts, labels=None, name: str = "out", **overrides):
    cfg = CleanParams.model_validate({"num_proc": 1, **overrides})
    src = write_rows(tmp_path / f"{name}-in.parquet", texts, labels)
    paths = CleanPaths(
        rows=str(tmp_path / name / "rows.parquet"),
        rejects=str(tmp_path / name / "rejects.parquet"),
        metrics=str(tmp_path / name / "clean.json"),
    )
    metrics = clean.run(cfg, paths, input_rows=src)
    return metrics, pq.read_table(paths.rows).to_pylist(), pq.read_table(paths.rejects).to_pylist()


def variant(words: list[str], k: int) -> str:
    """The words with the last k replaced: with word 1-gram shingles, Jaccard = (n - k) / (n + k)."""
    return " ".join(words[: len(words) - k] + [f"zz{j}" for j in range(k)])


WORDS = [f"w{i}" for i in range(20)]
WORD1 = {"unit": "word", "ngram": 1, "num_perm": 256}


# --- normalisation: one step at a time --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fn", "text", "expected"),
    [
        (normalize.fix_unicode, "cafÃ©", "café"),  # UTF-8 read as Latin-1
        (normalize.fix_unicode, "That\x92s it", "That's it"),  # stray Windows-1252 C1 control
        (normalize.strip_html, "I am &lt;#&gt; years", "I am <#> years"),
        (normalize.strip_html, "<p>Hi <b>there</b></p>", "Hi there\n"),  # block tags end a line
        (normalize.strip_html, "a <br/>b", "a \nb"),
        (normalize.strip_html, "i <3 u, 2 < 3 > 1", "i <3 u, 2 < 3 > 1"),  # not tags
        (normalize.strip_html, "&amp;lt;", "&lt;"),  # unescaped once only
        (normalize.unicode_normalize, "ｆｕｌｌ ﬁne ²", "full fine 2"),
        (normalize.remove_control_chars, "a\u200bb\x00c\ufeffd\u00ade", "abcde"),
        (normalize.remove_control_chars, "line1\r\nline2\rline3\tx", "line1\nline2\nline3\tx"),
        (normalize.collapse_whitespace, "  a \t b \u00a0c\n\n\n\n  d  ", "a b c\n\nd"),
    ],
)
def test_each_normalisation_step(fn, text, expected):
    assert fn(text) == expected


@pytest.mark.parametrize("text", ["plain ascii", "crlf\r\nline", "\x1b[31mred\x1b[0m", "nul\x00 bell\x07", "tab\tok"])
def test_the_ascii_shortcut_gives_what_ftfy_gives(text):
    import ftfy

    assert normalize.fix_unicode(text) == ftfy.fix_text(text, normalize._FTFY_CONFIG)


def test_whitespace_without_newlines_and_the_changed_steps_are_reported():
    assert normalize.collapse_whitespace("a\n\n b\tc", keep_newlines=False) == "a b c"
    steps = normalize.build_steps(**NormalizeParams().model_dump())
    text, changed = normalize.normalize("  That\x92s &lt;#&gt;\u200b  ", steps)
    assert text == "That's <#>"
    assert changed == ["ftfy", "html", "control_chars", "whitespace"]
    assert normalize.normalize("plain", steps) == ("plain", [])
    assert [n for n, _ in normalize.build_steps(**NormalizeParams(ftfy=False, unicode_form=None).model_dump())] == [
        "html",
        "control_chars",
        "whitespace",
    ]


# --- filters: a string in, a reason out ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "text", "reason"),
    [
        ({}, "   ", "empty_text"),
        ({"min_chars": 5}, "abcd", "too_short_chars"),
        ({"min_chars": 5}, "abcde", None),
        ({"max_chars": 5}, "abcdef", "too_long_chars"),
        ({"min_words": 3}, "two words", "too_few_words"),
        ({"max_words": 2}, "three words here", "too_many_words"),
        ({"min_alpha_ratio": 0.5}, "12345 ab", "low_alpha_ratio"),
        ({"min_alpha_ratio": 0.5}, "abc 12", None),
        ({"max_symbol_ratio": 0.3}, "hi!!! ###", "high_symbol_ratio"),
        ({"max_dup_line_fraction": 0.3}, "buy now\nbuy now\nbuy now\nok", "repeated_lines"),
        ({"max_top_ngram_fraction": {2: 0.2}}, "click here click here click here to win", "repeated_top_ngram"),
        ({"max_dup_ngram_fraction": {3: 0.15}}, "a b c d a b c d e f", "repeated_ngrams"),
        ({"max_top_ngram_fraction": {2: 0.2}, "repetition_min_words": 50}, "click here click here", None),
        ({"deny_patterns": [r"(?i)unsubscribe"]}, "To UNSUBSCRIBE reply STOP", "deny_pattern"),
        ({"allow_patterns": [r"\d"]}, "no digits here", "no_allow_pattern"),
        ({"allow_patterns": [r"\d"]}, "call 4 me", None),
        ({"languages": ["en"]}, "Ceci est une phrase entièrement écrite en français, sans un mot anglais.", "language"),
        ({"languages": ["en"]}, "This is a plain English sentence about the weather today.", None),
        ({"languages": ["en"], "min_language_confidence": 0.999999}, "ok lah", "language"),
    ],
)
def test_each_filter_gives_its_reason(kwargs, text, reason):
    verdict = filters.first_failure(text, filters.build_filters(**FilterParams(**kwargs).model_dump()))
    assert (verdict[0] if verdict else None) == reason


def test_gopher_measures():
    assert filters.dup_line_fraction("a\nb\na\na") == 0.5
    assert filters.top_ngram_fraction(["ab", "cd", "ab", "cd"], 2) == 1.0
    assert filters.top_ngram_fraction(["ab", "cd", "ef"], 2) == 0.0  # no n-gram repeats
    assert filters.dup_ngram_fraction(["a", "b", "a", "b", "c"], 2) == pytest.approx(2 / 5)
    assert filters.alpha_ratio("ab12") == 0.5 and filters.symbol_ratio("a!") == 0.5


# --- PII -------------------------------------------------------------------------------------------------

ALL_TOKENS = {"email": "<EMAIL>", "url": "<URL>", "ip": "<IP>", "credit_card": "<CC>", "phone": "<PHONE>"}


@pytest.mark.parametrize(
    ("text", "expected", "kind"),
    [
        ("mail jo.doe+x@mail.example.co.uk now", "mail <EMAIL> now", "email"),
        ("see https://bit.ly/x?y=1 or www.getzed.co.uk", "see <URL> or <URL>", "url"),
        ("from 192.168.0.12 ok", "from <IP> ok", "ip"),
        ("card 4111 1111 1111 1111 ok", "card <CC> ok", "credit_card"),
        ("amex 3782-822463-10005, visa 4012888888881881", "amex <CC>, visa <CC>", "credit_card"),
        ("call 09061701461 or +44 (0)20 7946 0958", "call <PHONE> or <PHONE>", "phone"),
    ],
)
def test_pii_kinds_are_masked_and_counted(text, expected, kind):
    masked, counts = pii.mask(text, ALL_TOKENS, "GB")
    assert masked == expected
    assert counts[kind] == expected.count("<") and sum(counts.values()) == counts[kind]


@pytest.mark.parametrize(
    "text",
    [
        "card 4111 1111 1111 1112",  # fails Luhn, and 16 digits is too long for a phone number
        "ref 4111-1111 1111-1111 x",  # mixed separators: not written as a card number
        "version 999.1.1.1 and 1.2.3",  # not an IPv4 address
        "win £2000, code 3030, call before 10am",  # short numbers are not phones
    ],
)
def test_pii_leaves_lookalikes_alone(text):
    assert pii.mask(text, ALL_TOKENS) == (text, {k: 0 for k in pii.KINDS})


def test_luhn():
    assert pii.luhn_ok("4111111111111111") and pii.luhn_ok("79927398713")
    assert not pii.luhn_ok("4111111111111112")


def test_url_masking_is_off_by_default_in_the_stage(tmp_path):
    text = "WIN! claim at www.prize-now.com/claim or mail win@prize.com"
    m, rows, _ = run_clean(tmp_path, [text])
    assert rows[0]["text"] == "WIN! claim at www.prize-now.com/claim or mail <EMAIL>"
    assert m["pii"] == {"email": 1, "url": 0, "ip": 0, "credit_card": 0, "phone": 0} and m["pii_rows"] == 1
    m, rows, _ = run_clean(tmp_path, [text], name="on", pii={"url": {"enabled": True, "token": "[link]"}})
    assert rows[0]["text"] == "WIN! claim at [link] or mail <EMAIL>" and m["pii"]["url"] == 1


# --- MinHash and LSH ------------------------------------------------------------------------------------


def test_minhash_estimates_jaccard_and_is_deterministic():
    a = "the quick brown fox jumps over the lazy dog near the river bank"
    b = "the quick brown fox leaps over the lazy dog near the river bank"
    true = near_dup.jaccard(near_dup.shingle_set(a), near_dup.shingle_set(b))
    sig = near_dup.minhash_signatures([a, b, "", "abc"], num_perm=2048, seed=7)
    assert sig.shape == (4, 2048) and sig.dtype == np.uint32
    assert abs((sig[0] == sig[1]).mean() - true) < 0.03
    assert np.array_equal(sig, near_dup.minhash_signatures([a, b, "", "abc"], num_perm=2048, seed=7))
    assert not np.array_equal(sig, near_dup.minhash_signatures([a, b, "", "abc"], num_perm=2048, seed=8))


def test_minhash_of_a_batch_equals_minhash_of_each_text():
    texts = [f"message number {i} " * (i % 7 + 1) for i in range(3000)]  # spans several internal chunks
    whole = near_dup.minhash_signatures(texts, ngram=3, num_perm=16, unit="word")
    one = np.vstack([near_dup.minhash_signatures([t], ngram=3, num_perm=16, unit="word") for t in texts[::300]])
    assert np.array_equal(whole[::300], one)


def test_optimal_param_matches_text_dedup():
    # values text-dedup's / datasketch's optimal_param gives for these settings
    assert near_dup.optimal_param(0.8, 128) == (9, 13)
    assert near_dup.optimal_param(0.7, 128) == (14, 9)


def test_a_64_bit_hash_collision_does_not_merge_different_texts():
    # rows 1 and 2 share row 0's text hash but not its check hash: they form their own group
    groups = dedup.split_collisions(np.array([0, 0, 0, 1]), np.array([5, 6, 6, 7], np.uint64), np.array([1, 2]))
    assert groups.tolist() == [0, 2, 2, 1]


def test_lsh_candidates_and_clusters():
    keys = np.array([[1, 5], [2, 5], [1, 6], [3, 7], [4, 7]], dtype=np.uint64)
    pairs = near_dup.candidate_pairs(keys)
    assert pairs.tolist() == [[0, 1], [0, 2], [3, 4]]
    assert near_dup.connected_clusters(6, pairs).tolist() == [0, 0, 0, 1, 1, 2]


# --- near duplicates through the stage -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("k", "jaccard", "found_at_0_8", "found_at_0_6"),
    [(1, 19 / 21, True, True), (4, 16 / 24, False, True), (10, 10 / 30, False, False)],
)
def test_planted_pairs_are_found_as_the_threshold_says(tmp_path, k, jaccard, found_at_0_8, found_at_0_6):
    texts = [" ".join(WORDS), variant(WORDS, k)]
    assert near_dup.jaccard(*(near_dup.shingle_set(t, 1, "word") for t in texts)) == pytest.approx(jaccard)
    for threshold, found in ((0.8, found_at_0_8), (0.6, found_at_0_6)):
        m, rows, rejects = run_clean(tmp_path, texts, name=f"t{threshold}", near_dup=WORD1 | {"threshold": threshold})
        assert m["dropped"]["near_dup"] == int(found)
        assert [r["id"] for r in rows] == (["r000"] if found else ["r000", "r001"])
        if found:
            assert rejects[0]["id"] == "r001" and json.loads(rejects[0]["detail"])["survivor"] == "r000"
            assert rows[0]["dup_cluster"] == "r000" and rows[0]["dup_count"] == 2


def test_clusters_are_transitive(tmp_path):
    # a~b and b~c at J=0.82, but a and c only at J=0.67: union-find still puts all three together.
    # 64 bands of 4 rows make all three pairs LSH candidates; verification keeps a-b and b-c only.
    a = " ".join(WORDS)
    b = variant(WORDS, 2)
    c = " ".join([*WORDS[:16], "zz0", "zz1", "yy0", "yy1"])
    sim = lambda x, y: near_dup.jaccard(near_dup.shingle_set(x, 1, "word"), near_dup.shingle_set(y, 1, "word"))  # noqa: E731
    assert sim(a, b) >= 0.8 and sim(b, c) >= 0.8 and sim(a, c) < 0.8
    near = WORD1 | {"threshold": 0.8, "bands": 64, "rows": 4}
    m, rows, rejects = run_clean(tmp_path, [a, b, c, "something else entirely"], near_dup=near)
    assert [r["id"] for r in rows] == ["r000", "r003"]
    assert rows[0]["dup_count"] == 3 and rows[1]["dup_count"] == 1 and rows[1]["dup_cluster"] == "r003"
    assert sorted(r["id"] for r in rejects) == ["r001", "r002"]
    assert {json.loads(r["detail"])["survivor"] for r in rejects} == {"r000"}
    assert m["duplicates"]["clusters"] == 1 and m["duplicates"]["rejected_by_verification"] == 1


def test_verification_removes_lsh_false_positives(tmp_path):
    # 32 bands of 1 row: any single agreeing MinHash makes a candidate, so a J=0.43 pair is one
    texts = [" ".join(WORDS), variant(WORDS, 6)]
    lax = {"unit": "word", "ngram": 1, "num_perm": 32, "bands": 32, "rows": 1}
    m, rows, _ = run_clean(tmp_path, texts, name="raw", near_dup=lax | {"threshold": None, "verify": False})
    assert m["dropped"]["near_dup"] == 1 and len(rows) == 1
    m, rows, _ = run_clean(tmp_path, texts, name="verified", near_dup=lax | {"threshold": 0.8, "verify": True})
    assert m["dropped"]["near_dup"] == 0 and len(rows) == 2
    assert m["duplicates"]["candidate_pairs"] == 1 and m["duplicates"]["rejected_by_verification"] == 1


def test_exact_duplicates_after_normalisation_and_the_survivor_policies(tmp_path):
    texts = ["Hello  there", "Hello there", "Hello&nbsp;there!", "Hello there"]
    m, rows, rejects = run_clean(tmp_path, texts, near_dup={"enabled": False})
    assert [r["id"] for r in rows] == ["r000", "r002"]  # '&nbsp;' -> NBSP -> NFKC space, '!' differs
    assert m["dropped"]["exact_dup"] == 2 and {r["reason"] for r in rejects} == {"exact_dup"}
    assert rows[0]["text_raw"] == "Hello  there" and rows[0]["text"] == "Hello there"
    _, rows, _ = run_clean(tmp_path, ["short one", "a much longer message", "short one"], name="l", survivor="longest")
    assert [r["id"] for r in rows] == ["r000", "r001"]
    texts = ["win a prize now, call us today", "win a prize now, call us today!!", "other"]
    _, rows, rejects = run_clean(tmp_path, texts, name="longest", survivor="longest", near_dup={"threshold": 0.7})
    assert [r["id"] for r in rows] == ["r001", "r002"] and rejects[0]["reason"] == "near_dup"


# --- label conflicts -------------------------------------------------------------------------------------

CONFLICT = ["free prize call now", "free prize call now", "free prize call now", "hello mum"]


def test_label_conflict_majority(tmp_path):
    m, rows, _rejects = run_clean(tmp_path, CONFLICT, ["ham", "spam", "spam", "ham"], on_label_conflict="majority")
    assert [(r["id"], r["label"]) for r in rows] == [("r000", "spam"), ("r003", "ham")]
    assert m["label_conflicts"] == 1 and m["labels_changed"] == 1 and m["dropped"]["exact_dup"] == 2


def test_label_conflict_majority_tie_keeps_the_survivors_label_else_the_first_name(tmp_path):
    m, rows, _ = run_clean(tmp_path, CONFLICT[1:], ["spam", "ham", "ham"], on_label_conflict="majority")
    assert rows[0]["label"] == "spam" and m["labels_changed"] == 0  # tie spam/ham: survivor's own label
    texts = ["same text", "same text", "same text"]
    m, rows, _ = run_clean(tmp_path, texts, [None, "spam", "ham"], name="tie2")
    assert rows[0]["label"] == "ham" and m["labels_changed"] == 1  # survivor unlabeled: alphabetical first


def test_label_conflict_drop(tmp_path):
    m, rows, rejects = run_clean(tmp_path, CONFLICT, ["ham", "spam", "spam", "ham"], on_label_conflict="drop")
    assert [r["id"] for r in rows] == ["r003"]
    assert m["dropped"]["label_conflict"] == 3 and {r["reason"] for r in rejects} == {"label_conflict"}


def test_label_conflict_keep_one_row_per_label_in_one_cluster(tmp_path):
    _m, rows, rejects = run_clean(tmp_path, CONFLICT, ["ham", "spam", "spam", "ham"], on_label_conflict="keep")
    assert [(r["id"], r["label"], r["dup_cluster"], r["dup_count"]) for r in rows] == [
        ("r000", "ham", "r000", 3),
        ("r001", "spam", "r000", 3),
        ("r003", "ham", "r003", 1),
    ]
    assert [(r["id"], json.loads(r["detail"])["survivor"]) for r in rejects] == [("r002", "r001")]


def test_unlabeled_duplicates_never_conflict_and_fill_a_missing_label(tmp_path):
    m, rows, _ = run_clean(tmp_path, CONFLICT[:3], [None, "spam", None], on_label_conflict="drop")
    assert [(r["id"], r["label"]) for r in rows] == [("r000", "spam")]
    assert m["label_conflicts"] == 0 and m["labels_filled"] == 1


# --- the real SMS sample --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sms_rows(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ingest")
    paths = IngestPaths(rows=str(out / "rows.parquet"), rejects=str(out / "rej.parquet"), metrics=str(out / "m.json"))
    ingest_run(load_params(ROOT / "params.yaml").ingest, paths, root=ROOT)
    return Path(paths.rows)


def run_on(src: Path, out: Path, cfg: CleanParams):
    paths = CleanPaths(rows=str(out / "rows.parquet"), rejects=str(out / "rej.parquet"), metrics=str(out / "m.json"))
    return clean.run(cfg, paths, input_rows=src), paths


def test_sms_has_403_exact_duplicates_before_normalisation(sms_rows, tmp_path):
    off = {"ftfy": False, "html": False, "unicode_form": None, "control_chars": False, "whitespace": False}
    pii_off = {k: {"enabled": False, "token": "x"} for k in pii.KINDS}
    cfg = CleanParams.model_validate(
        {"normalize": off, "filters": NO_FILTERS, "pii": pii_off, "near_dup": {"enabled": False}}
    )
    m, _ = run_on(sms_rows, tmp_path, cfg)
    assert m["rows_in"] == 5574 and m["dropped"]["exact_dup"] == 403 and m["label_conflicts"] == 0


def test_sms_with_the_committed_params(sms_rows, tmp_path):
    cfg = load_params(ROOT / "params.yaml").clean
    m, paths = run_on(sms_rows, tmp_path / "a", cfg)
    rows = pq.read_table(paths.rows).to_pylist()
    rejects = pq.read_table(paths.rejects).to_pylist()
    ids_in = pq.read_table(sms_rows, columns=["id"]).column("id").to_pylist()

    # nothing lost: every input row is an output row or a reject, each reason counted
    assert m["rows_in"] == len(ids_in) == m["rows_out"] + sum(m["dropped"].values())
    assert sorted([r["id"] for r in rows] + [r["id"] for r in rejects]) == sorted(ids_in)
    assert {r: sum(x["reason"] == r for x in rejects) for r in REASONS} == m["dropped"]
    assert set(m["dropped"]) == set(REASONS) and m["dropped"]["exact_dup"] >= 403
    assert 50 < m["dropped"]["near_dup"] < 300 and m["rows_out"] > 4900  # templates go, ordinary messages stay
    # the traps: HTML entities and stray C1 controls are repaired, the original text kept
    assert sum("&lt;#&gt;" in r["text_raw"] for r in rows) > 100
    assert not any("&lt;" in r["text"] or "&gt;" in r["text"] or "&amp;" in r["text"] for r in rows)
    assert any("<#>" in r["text"] for r in rows)
    assert sum("\x92" in r["text_raw"] for r in rows) > 10
    assert not any(any("\x80" <= ch <= "\x9f" for ch in r["text"]) for r in rows)
    assert m["changed"]["html"] > 200 and m["changed"]["ftfy"] > 20
    # every removed duplicate names a surviving row; every survivor's cluster is itself or a survivor
    kept = {r["id"] for r in rows}
    for r in rejects:
        if r["reason"] in ("exact_dup", "near_dup"):
            assert json.loads(r["detail"])["survivor"] in kept
    assert {r["dup_cluster"] for r in rows} <= kept
    assert [r["id"] for r in rows] == sorted(kept) and [r["id"] for r in rejects] == sorted(r["id"] for r in rejects)
    assert m["pii"]["phone"] > 300 and m["pii"]["url"] == 0


def test_rerun_is_byte_identical_whatever_the_worker_count(sms_rows, tmp_path):
    cfg = load_params(ROOT / "params.yaml").clean
    cfg.batch_size = 2000  # several batches, so the workers really share the work
    outputs = []
    for name, procs in (("a", 2), ("b", 2), ("c", 1)):
        cfg.num_proc = procs
        _, paths = run_on(sms_rows, tmp_path / name, cfg)
        outputs.append((Path(paths.rows).read_bytes(), Path(paths.rejects).read_bytes()))
    assert outputs[0] == outputs[1] == outputs[2]
    assert not list(tmp_path.glob("*/.clean-parts-*"))  # the spill folder is removed


def test_missing_or_unsorted_input_fails_before_writing(tmp_path):
    paths = CleanPaths(rows=str(tmp_path / "o" / "rows.parquet"), rejects=str(tmp_path / "o" / "r.parquet"))
    with pytest.raises(StageError, match="run the ingest stage first"):
        clean.run(CleanParams(), paths, input_rows=tmp_path / "nope.parquet")
    src = write_rows(tmp_path / "in.parquet", ["b", "a"])
    table = pq.read_table(src)
    pq.write_table(table.take([1, 0]), src)
    with pytest.raises(StageError, match="not sorted by unique id"):
        clean.run(CleanParams(), paths, input_rows=src)
    with pytest.raises(StageError, match="has no rows; nothing to clean"):
        clean.run(CleanParams(), paths, input_rows=write_rows(tmp_path / "empty.parquet", []))
    assert not (tmp_path / "o" / "rows.parquet").exists()


def test_every_row_filtered_writes_an_empty_rows_file_with_the_full_schema(tmp_path):
    m, rows, rejects = run_clean(tmp_path, [":)", ":-)"], filters={"min_alpha_ratio": 0.5})
    assert m["rows_out"] == 0 and rows == [] and [r["reason"] for r in rejects] == ["low_alpha_ratio"] * 2
    schema = pq.read_schema(tmp_path / "out" / "rows.parquet")
    assert schema.names == ["id", "text", "label", "source", "location", "text_raw", "dup_cluster", "dup_count"]
