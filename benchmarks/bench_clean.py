"""Clean-stage benchmarks: Refinery's near-duplicate step against datasketch and rensa (Rust MinHash), and the
whole stage at scale.

    pytest benchmarks/bench_clean.py --benchmark-only -s

Corpus: the real short texts bundled in data/sample (SMS Spam Collection, BANKING77 train and test) plus
planted near-duplicates made by small random edits. Ground truth: every pair of the whole corpus whose true
Jaccard similarity (character 5-gram sets, as both tools see them) is >= the threshold, computed exhaustively.
Precision and recall count pairs of rows put in one cluster (both tools' candidates go through the same
union-find). The whole-stage runs happen in a subprocess whose process tree's peak RSS is sampled.
"""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from stages.lib.text import near_dup

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
NGRAM, NUM_PERM, THRESHOLD = 5, 128, 0.8
RESULTS: dict[str, dict[str, float]] = {}


def real_texts() -> list[str]:
    """SMS messages and BANKING77 queries: 18,657 real short texts."""
    sms = (SAMPLE / "sms_spam_collection" / "SMSSpamCollection").read_text(encoding="utf-8").splitlines()
    texts = [line.split("\t", 1)[1] for line in sms if "\t" in line]
    for name in ("train.csv", "test.csv"):
        with open(SAMPLE / "banking77" / name, newline="", encoding="utf-8") as f:
            texts += [row["text"] for row in csv.DictReader(f)]
    return texts


def perturb(text: str, rng: random.Random, vocab: list[str]) -> str:
    """A near-duplicate: one to three word edits (replace, delete, insert, swap) or a changed number."""
    words = text.split()
    for _ in range(rng.randint(1, 3)):
        op = rng.choice(("replace", "delete", "insert", "swap", "digits"))
        i = rng.randrange(len(words))
        if op == "replace":
            words[i] = rng.choice(vocab)
        elif op == "delete" and len(words) > 3:
            del words[i]
        elif op == "insert":
            words.insert(i, rng.choice(vocab))
        elif op == "swap" and i + 1 < len(words):
            words[i], words[i + 1] = words[i + 1], words[i]
        else:
            words.append(str(rng.randint(10, 99999)))
    return " ".join(words)


def corpus(planted: int = 4000, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    texts = real_texts()
    vocab = sorted({w for t in texts for w in t.split()})
    bases = [t for t in texts if len(t.split()) >= 6]
    return texts + [perturb(rng.choice(bases), rng, vocab) for _ in range(planted)]


def true_pairs(texts: list[str], threshold: float) -> set[tuple[int, int]]:
    """Every pair (i < j) with Jaccard >= threshold, exhaustively: sparse shingle matrix times its transpose."""
    from scipy.sparse import csr_matrix

    vocab: dict[str, int] = {}
    indices, indptr = [], [0]
    for t in texts:
        ids = {vocab.setdefault(s, len(vocab)) for s in near_dup.shingle_set(t, NGRAM)}
        indices.extend(sorted(ids))
        indptr.append(len(indices))
    x = csr_matrix((np.ones(len(indices), np.int32), indices, indptr), shape=(len(texts), len(vocab)))
    sizes = np.diff(x.indptr)
    xt = x.T.tocsr()
    pairs: set[tuple[int, int]] = set()
    for start in range(0, len(texts), 1000):
        inter = (x[start : start + 1000] @ xt).toarray()
        union = sizes[start : start + 1000, None] + sizes[None, :] - inter
        ii, jj = np.nonzero(inter >= threshold * union)
        ii += start
        pairs.update((int(i), int(j)) for i, j in zip(ii, jj, strict=True) if i < j)
    return pairs


def cluster_scores(labels: np.ndarray, truth: set[tuple[int, int]]) -> tuple[float, float]:
    """Pair precision and recall of a clustering against the true pairs."""
    sizes = np.bincount(labels)
    predicted = int((sizes * (sizes - 1) // 2).sum())
    hit = sum(labels[i] == labels[j] for i, j in truth)
    return (hit / predicted if predicted else 1.0), (hit / len(truth) if truth else 1.0)


def refinery_near_dup(texts: list[str], verify: bool, shape: tuple[int, int] | None = None) -> np.ndarray:
    bands, rows = shape or near_dup.optimal_param(THRESHOLD, NUM_PERM)
    sig = near_dup.minhash_signatures(texts, NGRAM, NUM_PERM, seed=1)
    pairs = near_dup.lsh_candidate_pairs(sig, bands, rows)
    if verify and len(pairs):
        pairs = pairs[near_dup.jaccard_pairs(texts, pairs, NGRAM) >= THRESHOLD]
    return near_dup.connected_clusters(len(texts), pairs)


def datasketch_near_dup(texts: list[str]) -> np.ndarray:
    """What a user would write with datasketch: MinHash.bulk, MinHashLSH insert and query, union-find."""
    from datasketch import MinHash, MinHashLSH

    sets = [[s.encode("utf-8") for s in near_dup.shingle_set(t, NGRAM)] for t in texts]
    sigs = MinHash.bulk(sets, num_perm=NUM_PERM, seed=1)
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
    with lsh.insertion_session() as session:
        for i, m in enumerate(sigs):
            session.insert(i, m)
    found = [(min(i, j), max(i, j)) for i, m in enumerate(sigs) for j in lsh.query(m) if j != i]
    pairs = np.array(sorted(set(found)), dtype=np.int64).reshape(-1, 2)
    return near_dup.connected_clusters(len(texts), pairs)


def rensa_near_dup(texts: list[str], bands: int = 16) -> np.ndarray:
    """What a user would write with rensa (Rust MinHash): RMinHash per text, RMinHashLSH insert and query,
    candidates kept when their estimated Jaccard reaches the threshold (rensa's own dedup recipe), union-find."""
    from rensa import RMinHash, RMinHashLSH

    sigs = []
    for t in texts:
        m = RMinHash(num_perm=NUM_PERM, seed=1)
        m.update(list(near_dup.shingle_set(t, NGRAM)))
        sigs.append(m)
    lsh = RMinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM, num_bands=bands)
    for i, m in enumerate(sigs):
        lsh.insert(i, m)
    found = {
        (min(i, j), max(i, j))
        for i, m in enumerate(sigs)
        for j in lsh.query(m)
        if j != i and m.jaccard(sigs[j]) >= THRESHOLD
    }
    pairs = np.array(sorted(found), dtype=np.int64).reshape(-1, 2)
    return near_dup.connected_clusters(len(texts), pairs)


@pytest.fixture(scope="module")
def near_dup_corpus():
    texts = corpus()
    t0 = time.perf_counter()
    truth = true_pairs(texts, THRESHOLD)
    print(
        f"\ncorpus: {len(texts)} texts, {len(truth)} true pairs at J >= {THRESHOLD} ({time.perf_counter() - t0:.0f} s)"
    )
    return texts, truth


@pytest.mark.parametrize("tool", ["datasketch", "rensa", "refinery", "refinery+verify", "refinery 16x8+verify"])
def test_near_dup(benchmark, near_dup_corpus, tool):
    texts, truth = near_dup_corpus
    fn = {
        "datasketch": lambda: datasketch_near_dup(texts),
        "rensa": lambda: rensa_near_dup(texts),
        "refinery": lambda: refinery_near_dup(texts, verify=False),
        "refinery+verify": lambda: refinery_near_dup(texts, verify=True),
        # more, shorter bands: the S-curve moves left (~0.71), verification keeps precision
        "refinery 16x8+verify": lambda: refinery_near_dup(texts, verify=True, shape=(16, 8)),
    }[tool]
    labels = benchmark.pedantic(fn, rounds=3, iterations=1)
    precision, recall = cluster_scores(labels, truth)
    docs_per_s = len(texts) / benchmark.stats.stats.median
    RESULTS[tool] = {"docs_per_s": docs_per_s, "precision": precision, "recall": recall}
    benchmark.extra_info.update(RESULTS[tool])
    if tool == "refinery 16x8+verify":
        base, fastest = RESULTS["datasketch"], RESULTS["rensa"]  # rensa: the fastest peer measured
        print(
            f"\n{'near-dup (' + str(len(texts)) + ' texts)':<34}{'docs/s':>10}{'x datasketch':>14}{'x rensa':>9}"
            f"{'precision':>11}{'recall':>8}"
        )
        for name, r in RESULTS.items():
            print(
                f"{name:<34}{r['docs_per_s']:>10,.0f}{r['docs_per_s'] / base['docs_per_s']:>14.1f}"
                f"{r['docs_per_s'] / fastest['docs_per_s']:>9.2f}{r['precision']:>11.3f}{r['recall']:>8.3f}"
            )


# --- the whole stage ---------------------------------------------------------------------------------------

STAGE_SCRIPT = """
import json, sys, time
from schemas import load_params
from schemas.paths import CleanPaths
from stages import clean
src, out = sys.argv[1], sys.argv[2]
cfg = load_params("params.yaml").clean
paths = CleanPaths(rows=out + "/rows.parquet", rejects=out + "/rejects.parquet", metrics=out + "/m.json")
t0 = time.perf_counter()
m = clean.run(cfg, paths, input_rows=src)
print(json.dumps({"seconds": time.perf_counter() - t0, "rows_out": m["rows_out"], "dropped": m["dropped"]}))
"""


def make_rows(path: Path, n: int, seed: int = 0) -> None:
    """n rows drawn from the real texts: a quarter verbatim repeats, a quarter near-duplicates, the rest
    made unique by a serial number, in random order; written like ingest writes them (sorted by id)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from schemas.rows import ROW_FIELDS

    rng = random.Random(seed)
    texts = real_texts()
    vocab = sorted({w for t in texts for w in t.split()})
    out = []
    for i in range(n):
        base = texts[rng.randrange(len(texts))]
        kind = rng.random()
        if kind < 0.25:
            text = base
        elif kind < 0.5 and len(base.split()) >= 2:
            text = perturb(base, rng, vocab)
        else:
            text = f"{base} #{i}"
        out.append(text)
    ids = [f"{i:016x}" for i in rng.sample(range(16**8), n)]
    order = np.argsort(ids)
    schema = pa.schema([*ROW_FIELDS, pa.field("location", pa.string())])
    table = pa.table(
        {
            "id": [ids[k] for k in order],
            "text": [out[k] for k in order],
            "label": [rng.choice(("ham", "spam")) for _ in order],
            "source": ["bench"] * n,
            "location": [f"row {k}" for k in order],
        },
        schema=schema,
    )
    pq.write_table(table, path)


def run_stage(src: Path, out: Path) -> dict[str, float]:
    """Run the stage in a subprocess; sample the RSS of it and its workers every 50 ms."""
    import psutil

    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-c", STAGE_SCRIPT, str(src), str(out)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    ps = psutil.Process(proc.pid)
    peak_total = peak_main = 0
    while proc.poll() is None:
        try:
            main = ps.memory_info().rss
            total = main + sum(c.memory_info().rss for c in ps.children(recursive=True))
        except psutil.Error:
            continue
        peak_main, peak_total = max(peak_main, main), max(peak_total, total)
        time.sleep(0.05)
    report = json.loads(proc.stdout.read().strip().splitlines()[-1])
    assert proc.returncode == 0
    return {
        "seconds": report["seconds"],
        "rows_out": report["rows_out"],
        "peak_main_mb": peak_main / 2**20,
        "peak_tree_mb": peak_total / 2**20,
    }


STAGE: dict[int, dict[str, float]] = {}


@pytest.mark.parametrize("rows", [250_000, 1_000_000])
def test_whole_stage(benchmark, tmp_path_factory, rows):
    tmp = tmp_path_factory.mktemp(f"stage{rows}")
    src = tmp / "rows.parquet"
    make_rows(src, rows)
    result = benchmark.pedantic(lambda: run_stage(src, tmp / "out"), rounds=1, iterations=1)
    result["rows_per_s"] = rows / result["seconds"]
    STAGE[rows] = result
    benchmark.extra_info.update(result)
    if rows == 1_000_000 and 250_000 in STAGE:
        print(f"\n{'whole clean stage':<20}{'seconds':>9}{'rows/s':>10}{'peak RSS main':>15}{'peak RSS tree':>15}")
        for n, r in STAGE.items():
            print(
                f"{n:<20,}{r['seconds']:>9.1f}{r['rows_per_s']:>10,.0f}{r['peak_main_mb']:>12.0f} MB"
                f"{r['peak_tree_mb']:>12.0f} MB"
            )
        ratio = STAGE[1_000_000]["peak_tree_mb"] / STAGE[250_000]["peak_tree_mb"]
        print(f"peak RSS 1M / 250k: {ratio:.2f}")
