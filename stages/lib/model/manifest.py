"""The manifest of a model folder, written when it is saved and verified before it is loaded.

A model folder (models/base/, models/<approach>/, compare's models/tfidf_logreg/,
a packaged pre-trained model once unpacked) is trusted by whatever loads it: a
missing `tokenizer.json` makes transformers build a tokenizer with an empty
vocabulary (every word `[UNK]`, every prediction one class, exit 0), and a
truncated safetensors file, a `refinery.json` that is not JSON or a head of the
wrong size end in a traceback deep inside torch. So every save ends with
`write_manifest` (each file's size and sha256), and every load starts with
`verify_model_folder`, which turns each of those into one line naming the file
and the command that rebuilds it.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

from stages.lib.core.errors import StageError
from stages.lib.core.safety import inside_repo
from stages.lib.model.packaged import sha256_of

MANIFEST_FILE = "manifest.json"
META_FILE = "refinery.json"  # the same name textclf and tfidf write
BASELINE_FILE = "weights.safetensors"  # compare's TF-IDF baseline (tfidf.ARRAYS_FILE)
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "spiece.model", "tokenizer.model")
MAX_HEADER = 100 * 2**20  # safetensors refuses headers above 100 MB too


def write_manifest(folder: str | Path) -> None:
    """Write `manifest.json` into `folder`: every file below it (relative path, bytes, sha256), sorted.

    Call it last, inside the temporary folder of the atomic save: a file written after it fails verification.
    """
    folder = Path(folder)
    files = {rel: {"bytes": path.stat().st_size, "sha256": sha256_of(path)} for rel, path in _files(folder)}
    text = json.dumps({"files": files}, indent=1, sort_keys=True) + "\n"
    (folder / MANIFEST_FILE).write_text(text, encoding="utf-8")


def verify_model_folder(folder: str | Path, fix: str, kinds: Collection[str] = ()) -> dict[str, Any] | None:
    """Check a saved model folder before anything loads it; return its `refinery.json` (None for a base model).

    `fix` says how to rebuild the folder ("run dvc repro train@full"); `kinds` are the `kind` values the
    caller can load (the approaches, or compare's baseline). Raises StageError, one line naming the
    file, when: the folder or a file is missing; a symlink leads outside the repository; `manifest.json` is
    missing or lists other files than the folder holds; a JSON file does not parse; a safetensors file is
    truncated or its header is broken; `refinery.json` names an unknown `kind` or labels that do not match
    the head's size; a base model has no tokenizer vocabulary; a file's size or sha256 differ from the manifest.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise StageError(f"{folder} not found (or not a folder); {fix}")
    _check_links(folder, fix)
    found = dict(_files(folder))
    listed = _read_manifest(folder, fix)
    missing, extra = sorted(set(listed) - set(found)), sorted(set(found) - set(listed))
    if missing:
        why = " (without it the tokenizer loads an empty vocabulary)" if missing[0] in TOKENIZER_FILES else ""
        raise StageError(f"{folder / missing[0]} is missing{why}; {MANIFEST_FILE} lists it. {fix}")
    if extra:
        raise StageError(
            f"{folder / extra[0]} is not in {MANIFEST_FILE} (added after the folder was saved); remove it or {fix}"
        )
    headers = {rel: _safetensors_header(path, fix) for rel, path in found.items() if rel.endswith(".safetensors")}
    for rel, path in found.items():
        if rel.endswith(".json"):
            _load_json(path, fix)
    meta = _check_meta(folder, headers, fix, kinds) if META_FILE in found else None
    if meta is None:
        _check_base(folder, found, fix)
    for rel, path in found.items():
        size, want = path.stat().st_size, listed[rel]
        if size != want["bytes"]:
            raise StageError(
                f"{path} has {size} bytes, {MANIFEST_FILE} says {want['bytes']} (truncated or changed after the "
                f"folder was saved); {fix}"
            )
        if sha256_of(path) != want["sha256"]:
            raise StageError(
                f"{path} changed after the folder was saved (its sha256 differs from {MANIFEST_FILE}); {fix}"
            )
    return meta


def _files(folder: Path) -> Iterator[tuple[str, Path]]:
    """(relative posix path, path) of every file below `folder` but the manifest, sorted; symlinked folders are
    followed once (a link back up the tree is refused)."""
    seen: set[str] = set()
    out = []
    for top, dirs, names in os.walk(folder, followlinks=True):
        real = os.path.realpath(top)
        if real in seen:
            raise StageError(f"{top} is a symlink loop; remove the link")
        seen.add(real)
        dirs.sort()
        for name in names:
            path = Path(top) / name
            rel = path.relative_to(folder).as_posix()
            if rel != MANIFEST_FILE:
                out.append((rel, path))
    return iter(sorted(out))


def _check_links(folder: Path, fix: str) -> None:
    """A symlink (the folder, a file or a backbone sub-folder) must lead inside the repository, as ingest and
    label require of their inputs; a relative folder path is held to it as a whole."""
    what = "model folder"
    link_fix = f"copy the files in instead of linking to them, or {fix}"
    if not folder.is_absolute() or folder.is_symlink():
        inside_repo(folder, what, fix=link_fix)
    resolved = folder.resolve()
    for top, dirs, names in os.walk(folder):  # not following links: each one is checked where it is
        for name in dirs + names:
            path = Path(top) / name
            if not path.is_symlink():
                continue
            try:
                target = path.resolve(strict=True)
            except (OSError, RuntimeError):  # dangling, or a loop
                raise StageError(f"{path} is a broken symlink; remove it or {fix}") from None
            if not target.is_relative_to(resolved):
                inside_repo(path, what, fix=link_fix)


def _read_manifest(folder: Path, fix: str) -> dict[str, dict[str, Any]]:
    path = folder / MANIFEST_FILE
    if not path.is_file():
        raise StageError(
            f"{path} is missing, so nothing says the folder is complete (it was saved before manifests existed, "
            f"or changed by hand); {fix}"
        )
    data = _load_json(path, fix)
    files = data.get("files") if isinstance(data, dict) else None
    ok = isinstance(files, dict) and all(
        isinstance(v, dict) and isinstance(v.get("bytes"), int) and isinstance(v.get("sha256"), str)
        for v in files.values()
    )
    if not ok:
        raise StageError(f"{path} is not a manifest (expected {{files: {{name: {{bytes, sha256}}}}}}); {fix}")
    return files


def _load_json(path: Path, fix: str) -> Any:
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise StageError(f"{path} is not valid JSON ({str(exc)[:80] or type(exc).__name__}); {fix}") from None


def _safetensors_header(path: Path, fix: str) -> dict[str, Any]:
    """The tensors a safetensors file declares ({name: {dtype, shape, data_offsets}}), after checking that the
    header parses and the data it describes fills the file exactly (a truncated download or copy does not)."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(8)
        length = struct.unpack("<Q", head)[0] if len(head) == 8 else -1
        if length < 2 or length > MAX_HEADER or 8 + length > size:
            raise StageError(f"{path} is truncated or not a safetensors file ({size} bytes); {fix}")
        raw = fh.read(length)
    try:
        header = json.loads(raw.decode("utf-8"))
        tensors = {k: v for k, v in header.items() if k != "__metadata__"}
        end = max((int(v["data_offsets"][1]) for v in tensors.values()), default=0)
        shapes_ok = all(isinstance(v["shape"], list) for v in tensors.values())
    except (UnicodeDecodeError, ValueError, RecursionError, AttributeError, KeyError, TypeError, IndexError):
        raise StageError(f"{path} has a broken safetensors header; {fix}") from None
    if not shapes_ok or 8 + length + end != size:
        raise StageError(
            f"{path} is truncated: its header describes {8 + length + end} bytes, the file has {size}; {fix}"
        )
    return tensors


def _check_base(folder: Path, found: dict[str, Path], fix: str) -> None:
    """A base model (transformers folder): config, weights and a tokenizer vocabulary."""
    if "config.json" not in found:
        raise StageError(f"{folder / 'config.json'} is missing; {fix}")
    if not any("/" not in rel and rel.endswith(".safetensors") for rel in found):
        raise StageError(f"{folder} holds no *.safetensors weights; {fix}")
    require_vocabulary(folder, fix)


def require_vocabulary(folder: str | Path, fix: str) -> None:
    """Refuse a tokenizer folder without a vocabulary file: transformers would load a BERT tokenizer with an
    empty vocabulary (every word `[UNK]`) and carry on. Cheap, so every load of a base model's tokenizer calls it.
    """
    folder = Path(folder)
    if not any((folder / name).is_file() for name in TOKENIZER_FILES) and not any(folder.glob("*.model")):
        raise StageError(
            f"{folder / 'tokenizer.json'} is missing (no vocab.txt, vocab.json or *.model either): the tokenizer "
            f"would load with an empty vocabulary and predict one class for everything; {fix}"
        )


def _check_meta(folder: Path, headers: dict[str, dict[str, Any]], fix: str, kinds: Collection[str]) -> dict[str, Any]:
    """refinery.json of a trained approach or of compare's baseline: a known kind, labels that fit the weights."""
    path = folder / META_FILE
    meta = _load_json(path, fix)
    if not isinstance(meta, dict):
        raise StageError(f"{path} must hold a JSON object; {fix}")
    kind = meta.get("kind")
    if not isinstance(kind, str) or kind not in kinds:
        known = ", ".join(sorted(kinds))
        raise StageError(f"{path}: unknown kind {kind!r} (known: {known}); {fix}")
    labels = meta.get("labels")
    if not isinstance(labels, list) or len(labels) < 2 or not all(isinstance(x, str) for x in labels):
        raise StageError(f"{path}: `labels` must be a list of at least two label names; {fix}")
    if len(set(labels)) != len(labels):
        raise StageError(f"{path}: `labels` repeats a name; {fix}")
    if "head.safetensors" not in headers and BASELINE_FILE in headers:  # compare's TF-IDF baseline
        _check_baseline(path, meta, headers[BASELINE_FILE], fix)
    else:
        _check_head(path, meta, headers.get("head.safetensors"), fix)
    return meta


def _check_head(path: Path, meta: dict[str, Any], tensors: dict[str, Any] | None, fix: str) -> None:
    """The head's linear layers chain from `head.in_features` through `hidden_sizes` to one output per label."""
    head = meta.get("head")
    max_length = meta.get("max_length")
    if not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 1:
        raise StageError(f"{path}: `max_length` must be a positive integer; {fix}")
    if not isinstance(head, dict) or not isinstance(head.get("in_features"), int):
        raise StageError(f"{path}: `head` must be an object with `in_features`; {fix}")
    hidden = head.get("hidden_sizes", [])
    if not isinstance(hidden, list) or not all(isinstance(h, int) for h in hidden):
        raise StageError(f"{path}: `head.hidden_sizes` must be a list of integers; {fix}")
    if tensors is None:
        raise StageError(f"{path.parent / 'head.safetensors'} is missing; {fix}")
    weights = sorted(
        (int(k.split(".")[1]), v["shape"])
        for k, v in tensors.items()
        if k.endswith(".weight") and k.count(".") == 2 and k.split(".")[1].isdigit()
    )
    want = [head["in_features"], *hidden, len(meta["labels"])]
    got = [weights[0][1][1], *(shape[0] for _, shape in weights)] if weights else []
    if got != want or any(len(shape) != 2 for _, shape in weights):
        raise StageError(
            f"{path.parent / 'head.safetensors'} has layer sizes {got}, but {path.name} says {want} "
            f"(in_features, hidden_sizes, {len(meta['labels'])} labels); {fix}"
        )


def _check_baseline(path: Path, meta: dict[str, Any], tensors: dict[str, Any], fix: str) -> None:
    """idf lengths match the terms, and the coefficients have one row per class (one for two classes)."""
    terms = meta.get("terms")
    if not isinstance(terms, dict) or not all(isinstance(v, list) for v in terms.values()):
        raise StageError(f"{path}: `terms` must map each vectorizer to its list of terms; {fix}")
    width = 0
    for name, words in sorted(terms.items()):
        shape = tensors.get(f"{name}.idf", {}).get("shape")
        if shape != [len(words)]:
            raise StageError(
                f"{path.parent / 'weights.safetensors'}: {name}.idf has shape {shape}, {path.name} lists "
                f"{len(words)} {name} terms; {fix}"
            )
        width += len(words)
    rows = 1 if len(meta["labels"]) == 2 else len(meta["labels"])
    coef = tensors.get("classifier.coef", {}).get("shape")
    intercept = tensors.get("classifier.intercept", {}).get("shape")
    if coef != [rows, width] or intercept != [rows]:
        raise StageError(
            f"{path.parent / 'weights.safetensors'}: classifier.coef {coef} and intercept {intercept} do not fit "
            f"{len(meta['labels'])} labels and {width} terms (expected [{rows}, {width}] and [{rows}]); {fix}"
        )
