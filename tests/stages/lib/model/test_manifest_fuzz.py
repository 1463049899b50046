"""Fuzz: whatever bytes a model folder's safetensors headers, refinery.json or manifest.json hold, verification
ends in a StageError or passes; never another exception."""

from __future__ import annotations

import json
import struct
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from stages.lib.core.errors import StageError
from stages.lib.model.manifest import MANIFEST_FILE, verify_model_folder, write_manifest

from ..fuzz import FUZZ, dumps, json_values

HEAD = {"layers.1.weight": {"dtype": "F32", "shape": [2, 4], "data_offsets": [0, 32]}}


def _folder(tmp: Path, head: bytes, meta: str) -> Path:
    folder = tmp / "models" / "m"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "head.safetensors").write_bytes(head)
    (folder / "refinery.json").write_bytes(meta.encode("utf-8", "surrogatepass"))
    return folder


def _verify(folder: Path) -> None:
    try:
        verify_model_folder(folder, "fix", ["full"])
    except StageError as exc:
        assert "\n" not in str(exc) and str(exc).endswith("fix")  # one line, ending in the fix


header_values = st.one_of(
    st.just(HEAD),
    json_values,
    st.dictionaries(
        st.text(max_size=12),
        st.fixed_dictionaries({"dtype": json_values, "shape": json_values, "data_offsets": json_values}),
        max_size=3,
    ),
)


@FUZZ
@given(header=header_values, tail=st.binary(max_size=40), length_delta=st.integers(-10, 10), meta=json_values)
def test_fuzz_safetensors_header_and_meta(tmp_path_factory, header, tail, length_delta, meta):
    raw = dumps(header).encode("utf-8", "surrogatepass")
    head = struct.pack("<Q", max(0, len(raw) + length_delta)) + raw + tail
    folder = _folder(tmp_path_factory.mktemp("fz"), head, dumps(meta))
    write_manifest(folder)
    _verify(folder)


@FUZZ
@given(blob=st.binary(max_size=64), manifest=json_values)
def test_fuzz_raw_bytes_and_manifests(tmp_path_factory, blob, manifest):
    valid_meta = json.dumps({"kind": "full", "labels": ["a", "b"], "max_length": 8, "head": {"in_features": 4}})
    folder = _folder(tmp_path_factory.mktemp("fz"), blob, valid_meta)
    write_manifest(folder)
    _verify(folder)
    (folder / MANIFEST_FILE).write_text(dumps(manifest))
    _verify(folder)
