"""One refine round on the bundled sample, in a scratch copy of the project (docs/refine.md shows its output).

    python scripts/refine_round.py /tmp/refine-round

1. copy the project into a fresh git repo and flip 10% of each class's labels in the SMS sample (seed 0);
2. `dvc repro review`: ingest, clean, label, split, audit, review; commit;
3. the simulated annotator (tests/refine_helpers.py) answers the `issues` queue's Label Studio tasks with the
   sample's original labels, as a Label Studio JSON export in data/annotations/round1/;
4. list it in label.imports with `round: 1`, `dvc repro review` again: only label onward reruns;
5. `dvc metrics diff`, and a TF-IDF + logistic regression test macro-F1 against the original labels, before
   and after (the fine-tuning approaches were not rerun here).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SMS = "data/sample/sms_spam_collection/SMSSpamCollection"


def sh(*cmd: str, cwd: Path, show: bool = True) -> str:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}")
    if show:
        print(f"$ {' '.join(cmd)}\n{done.stdout.rstrip()}\n")
    return done.stdout


def macro_f1(dest: Path, truth_by_text: dict[str, str]) -> float:
    """TF-IDF + LR (the audit's model) fitted on the train split, scored on test against the original labels."""
    code = (
        "import json,sys,pyarrow.parquet as pq;from sklearn.metrics import f1_score;"
        "from schemas import load_params;from stages.lib.model.tfidf import vectorizer,classifier;"
        "p=load_params().audit;truth=json.load(open(sys.argv[1]));"
        "tr=pq.read_table('data/split/train.parquet').to_pylist();te=pq.read_table('data/split/test.parquet').to_pylist();"
        "v=vectorizer(**p.tfidf.model_dump());"
        "m=classifier(**p.classifier.model_dump());"
        "m.fit(v.fit_transform([r['text'] for r in tr]),[r['label'] for r in tr]);"
        "te=[r for r in te if r['text_raw'] in truth];pred=m.predict(v.transform([r['text'] for r in te]));"
        "print(round(f1_score([truth[r['text_raw']] for r in te],pred,average='macro'),4))"
    )
    return float(sh(sys.executable, "-c", code, str(dest / "truth.json"), cwd=dest, show=False))


def main(dest: Path) -> None:
    sys.path.insert(0, str(REPO))
    from stages.lib.audit.noise import flip_labels

    shutil.rmtree(dest, ignore_errors=True)
    files = sh("git", "ls-files", "--cached", "--others", "--exclude-standard", "-z", cwd=REPO, show=False)
    for rel in filter(None, files.split("\0")):
        if (REPO / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, dest / rel)
    pairs = [line.split("\t", 1) for line in (dest / SMS).read_text(encoding="utf-8").splitlines()]
    noisy, flipped = flip_labels([lab for lab, _ in pairs], 0.1, seed=0)
    (dest / SMS).write_text("".join(f"{lab}\t{t}\n" for lab, (_, t) in zip(noisy, pairs)), encoding="utf-8")
    truth_by_text: dict[str, str] = {}
    for lab, text in pairs:
        truth_by_text.setdefault(text, lab)
    (dest / "truth.json").write_text(json.dumps(truth_by_text))
    print(f"planted {int(flipped.sum())} flips in {len(pairs)} messages\n")
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "noisy sample"]):
        sh(*cmd, cwd=dest, show=False)

    out = sh("dvc", "repro", "review", cwd=dest, show=False)
    print("ran:", [line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")], "\n")
    sh("git", "add", "-A", cwd=dest, show=False)
    sh("git", "commit", "-qm", "round 0: noisy labels audited", cwd=dest, show=False)
    f1_before = macro_f1(dest, truth_by_text)

    import pyarrow.parquet as pq

    sys.path.insert(0, str(dest))
    from tests.refine_helpers import write_answers

    rows = pq.read_table(dest / "data/labeled/rows.parquet", columns=["id", "text_raw", "label"]).to_pylist()
    truth = {r["id"]: truth_by_text[r["text_raw"]] for r in rows if r["text_raw"] in truth_by_text}
    current = {r["id"]: r["label"] for r in rows}
    tasks_file = dest / "data/review/issues/label_studio.json"
    tasks = json.loads(tasks_file.read_text())
    wrong = sum(
        truth.get(t["data"]["row_id"], current[t["data"]["row_id"]]) != current[t["data"]["row_id"]] for t in tasks
    )
    answered = write_answers(tasks_file, truth, dest / "data/annotations/round1/label_studio.json")
    print(f"review queue 'issues': {len(tasks)} tasks, {wrong} of them carry a planted flip; {answered} answered\n")
    params = (dest / "params.yaml").read_text()
    params = params.replace(
        "  imports: []\n",
        "  imports:\n    - {name: review1, path: data/annotations/round1, format: label_studio, join: id, key: row_id,"
        " round: 1}\n",
        1,
    )
    (dest / "params.yaml").write_text(params)
    out = sh("dvc", "repro", "review", cwd=dest, show=False)
    print("ran:", [line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")])
    print("skipped:", [line.split("'")[1] for line in out.splitlines() if "didn't change" in line], "\n")
    sh("dvc", "metrics", "diff", "--md", cwd=dest)
    f1_after = macro_f1(dest, truth_by_text)
    print(f"TF-IDF + LR test macro-F1 against the original labels: {f1_before} -> {f1_after}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/refine-round").resolve())
