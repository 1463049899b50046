"""`python -m stages.ingest --inspect PATH`: sniff a new file and propose its `ingest.sources` block.

It guesses what a user would otherwise find by trial and error: the format, the delimiter, whether there is a
header, whether fields are really quoted, the encoding, the column that holds the text (longest strings) and
the one that holds the label (few distinct values), with the class counts. The guess is printed as YAML to
paste into params.yaml; `python -m schemas` and `dvc repro ingest` then check it for real.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from schemas.ingest import Source
from stages.lib.chat import inspect as chat_inspect
from stages.lib.core.errors import StageError
from stages.lib.ingest.readers import READERS, read_text_dir, well_quoted

SUFFIX_FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
SUFFIX_FORMATS |= {".json": "json", ".parquet": "parquet", ".pq": "parquet", ".txt": "text"}
ENCODINGS = ("utf-8", "cp1252", "latin-1")  # latin-1 decodes any bytes: the last resort
SAMPLE_RECORDS = 20_000
MAX_CLASSES = 200
# Settings chosen for the bundled SMS sample (marked so in params.yaml and dvc.yaml): listed after the block so
# that a new dataset's owner revisits each one.
SAMPLE_SETTINGS = (
    ("clean.pii.phone.region", "GB: the country whose numbering plan reads national phone numbers"),
    ("clean.pii.url.enabled", "false: URLs kept because a spam URL's domain is the signal"),
    ("augment (operations, minority_multiplier)", "sized for a 13% minority class of short messages"),
    ("model.scratch (vocab_size, lowercase)", "4k vocabulary and case kept for SMS text"),
    ("dvc.yaml artifacts: sms-spam-classifier", "the model's name in the registry"),
)


def inspect(path: Path, root: Path = Path(".")) -> str:
    """A commented, ready-to-paste YAML block for `path` (a file or folder inside `root`)."""
    root = root.resolve()
    full = path.resolve()
    if not full.exists():
        raise StageError(f"{path} does not exist")
    rel = str(full.relative_to(root)) if full.is_relative_to(root) else str(path)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", full.stem if full.is_file() else full.name).strip("_.") or "data"
    options, notes = sniff(full)
    first_column = {"text_field": options["columns"][0]} if options.get("columns") else {}
    source = Source(name=name, path=rel, **options, **first_column)
    records = read_records(full, source, rel, root)
    if not records:
        raise StageError(f"{path}: no record could be read as {options['format']}")
    if options["format"] in ("jsonl", "json", "parquet"):  # conversations: the SFT pipeline's block
        chat = chat_inspect.source_block(records, name, rel, options["format"])
        if chat is not None:
            return chat
    fields = _columns(records)
    text, label, own_id = _guess_fields(records, fields)
    block: dict[str, Any] = {"path": rel, "format": options["format"]}
    if options["format"] not in ("text", "text_dir"):
        block["text_field"] = text
    block["label_field"] = label
    block["id_field"] = own_id
    block |= {k: v for k, v in options.items() if k not in ("format",) and v is not None}
    if "columns" in block:
        block["columns"] = [{text: "text", label: "label"}.get(c, c) for c in block["columns"]]
        block["text_field"] = "text"
        block["label_field"] = "label" if label else None
    if options["format"] == "text_dir" and options.get("label_from_dir"):
        block["label_field"] = None
    classes = Counter(str(r.get(label)) for r in records if r.get(label) not in (None, "")) if label else Counter()
    lines = [f"# {rel}: {', '.join(notes)}; {len(records)} records read"]
    lengths = {f: _mean_length(records, f) for f in fields}
    lines.append(
        "# text candidates: " + ", ".join(f"{f} (mean {lengths[f]:.0f} chars)" for f in _by_length(lengths)[:3])
    )
    if classes:
        ranked = sorted(classes.items(), key=lambda kv: (-kv[1], kv[0]))
        counts = ", ".join(f"{c} {n}" for c, n in ranked[:10]) + (
            f", ... {len(ranked) - 10} more" if len(ranked) > 10 else ""
        )
        lines.append(f"# label candidate: {label} ({len(classes)} classes: {counts})")
    else:
        lines.append("# no label column found (unlabelled rows feed base-model pre-training)")
    lines.append("ingest:\n  sources:")
    body = yaml.safe_dump({name: block}, sort_keys=False, allow_unicode=True, width=120)
    lines.append("\n".join("    " + line for line in body.splitlines()))
    if classes:
        lines.append(
            "label:\n  classes: " + yaml.safe_dump(sorted(classes), default_flow_style=True, width=1_000_000).strip()
        )
    lines.append("# revisit for your data (chosen for the SMS sample in params.yaml / dvc.yaml):")
    lines += [f"#   {key}: {why}" for key, why in SAMPLE_SETTINGS]
    if options["format"] == "text":
        lines.append(chat_inspect.text_note(rel, name).rstrip("\n"))
    return "\n".join(lines) + "\n"


def sniff(path: Path) -> tuple[dict[str, Any], list[str]]:
    """Format options for a file or folder, and notes saying what was found."""
    if path.is_dir():
        if (path / "dataset_dict.json").is_file() or (path / "dataset_info.json").is_file():
            return {"format": "hf_disk"}, ["a datasets folder (save_to_disk)"]
        if any(path.glob("*/pages.parquet")) or (path / "pages.parquet").is_file():
            return {"format": "collected"}, ["a collect snapshot"]
        files = [p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")]
        suffix = Counter(p.suffix for p in files).most_common(1)[0][0] if files else ".txt"
        by_dir = len({p.parent for p in files}) > 1 and all(p.parent != path for p in files)
        notes = [f"a folder of {len(files)} files, one example per file"]
        if by_dir:
            notes.append("labels from sub-folder names")
        return {"format": "text_dir", "pattern": f"**/*{suffix}", "label_from_dir": by_dir}, notes
    data = path.read_bytes()
    encoding = _encoding(data)
    notes = [f"encoding {encoding}"]
    fmt = SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt == "parquet" or data[:4] == b"PAR1":
        return {"format": "parquet"}, ["Parquet"]
    text = data.decode(encoding, errors="replace").removeprefix("\ufeff")
    head = text[:65536]
    if fmt in (None, "json", "jsonl") and head.lstrip().startswith(("{", "[")):
        first = head.lstrip()
        fmt = "json" if first.startswith("[") or (fmt == "json" and "\n{" not in first) else "jsonl"
        return {"format": fmt, "encoding": encoding}, [*notes, fmt.upper()]
    try:
        delimiter = csv.Sniffer().sniff("\n".join(head.splitlines()[:200]), delimiters=",\t;|").delimiter
    except csv.Error:
        if fmt == "text" or fmt is None:
            return {"format": "text", "encoding": encoding}, [*notes, "one example per line"]
        delimiter = "\t" if fmt == "tsv" else ","
    fmt = "tsv" if delimiter == "\t" else "csv"
    quoting = "minimal" if _quotes_hold(text, delimiter) else "none"
    header = _has_header(_rows(text, delimiter, quoting, 2000))
    options: dict[str, Any] = {"format": fmt, "encoding": encoding, "delimiter": delimiter, "header": header}
    options["quoting"] = quoting
    if not header:
        width = Counter(len(r) for r in _rows(text, delimiter, quoting, 200)).most_common(1)[0][0]
        options["columns"] = [f"column_{i + 1}" for i in range(width)]
    notes += [
        f"delimiter {delimiter!r}",
        "a header line" if header else "no header line",
        "quotes honoured (quoting: minimal)" if quoting == "minimal" else "quotes are plain characters (quoting: none)",
    ]
    return options, notes


def read_records(path: Path, source: Source, rel: str, root: Path) -> list[dict[str, Any]]:
    """Up to SAMPLE_RECORDS readable records of the source, as plain dicts."""
    if source.format == "text_dir":
        it = read_text_dir(path, source, root)
    elif source.format == "collected":
        it = (r for p in sorted(path.glob("**/pages.parquet")) for r in READERS["collected"](p, source, rel))
    else:
        it = READERS[source.format](path, source, rel)
    out = []
    for record in it:
        if record.fields is not None:
            out.append(record.fields)
        if len(out) >= SAMPLE_RECORDS:
            break
    return out


def _encoding(data: bytes) -> str:
    for encoding in ENCODINGS:
        try:
            data[:1_000_000].decode(encoding)
            return encoding
        except UnicodeDecodeError:
            continue
    return "latin-1"


def _rows(text: str, delimiter: str, quoting: str, limit: int) -> list[list[str]]:
    q = csv.QUOTE_NONE if quoting == "none" else csv.QUOTE_MINIMAL
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=q, strict=False)
    return [row for _, row in zip(range(limit), reader) if row]


def _has_header(rows: list[list[str]]) -> bool:
    """A first row of short names that never appear again in their column (csv.Sniffer guesses wrong when
    the label column repeats a handful of values, as in `ham<TAB>text`)."""
    if len(rows) < 2:
        return True
    first, rest = rows[0], rows[1:]
    if any(len(cell) > 40 or not cell.strip() for cell in first):
        return False
    if any(i < len(row) and row[i] == cell for i, cell in enumerate(first) for row in rest):
        return False
    # A name is short next to the values of the text column (the column with the longest values).
    width = len(first)
    means = [sum(len(r[i]) for r in rest if i < len(r)) / len(rest) for i in range(width)]
    text_column = max(range(width), key=lambda i: means[i])
    return len(first[text_column]) < 0.5 * means[text_column]


def _quotes_hold(text: str, delimiter: str) -> bool:
    """True when reading with quoting on gives no record that swallows lines through a badly closed quote."""
    physical = io.StringIO(text, newline="").readlines()
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    start = 0
    for _ in reader:
        if reader.line_num - start > 1 and not well_quoted("".join(physical[start : reader.line_num]), delimiter):
            return False
        start = reader.line_num
    return True


def _columns(records: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(k for r in records[:1000] for k in r))


def _mean_length(records: list[dict[str, Any]], field: str) -> float:
    values = [r.get(field) for r in records]
    strings = [v for v in values if isinstance(v, str)]
    return sum(map(len, strings)) / len(values) if values and len(strings) >= len(values) / 2 else 0.0


def _by_length(lengths: dict[str, float]) -> list[str]:
    return [f for f in sorted(lengths, key=lambda f: -lengths[f]) if lengths[f] > 0]


def _guess_fields(records: list[dict[str, Any]], fields: list[str]) -> tuple[str, str | None, str | None]:
    """(text field, label field or None, id field or None)."""
    lengths = {f: _mean_length(records, f) for f in fields}
    ranked = _by_length(lengths)
    text = ranked[0] if ranked else (fields[0] if fields else "text")
    label, best = None, None
    own_id = None
    for field in fields:
        if field == text:
            continue
        values = [r.get(field) for r in records if r.get(field) not in (None, "")]
        if not values or any(isinstance(v, (dict, list)) for v in values):
            continue
        distinct = len(set(map(str, values)))
        if distinct == len(records) and own_id is None and ("id" in field.lower() or lengths.get(field, 0) < 40):
            own_id = field
        elif 2 <= distinct <= min(MAX_CLASSES, max(2, len(values) // 2)):
            score = (len(values), -distinct)
            if best is None or score > best:
                label, best = field, score
    return text, label, own_id
