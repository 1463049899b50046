"""Decoding: UTF-16/32 refused with the encoding to set, bad bytes kept visible, every line ending split."""

from __future__ import annotations

import pytest

from stages.lib.core.encoding import decode, escape_bad_bytes, has_bad_bytes, lines, sniff_wide_encoding
from stages.lib.core.errors import StageError


@pytest.mark.parametrize(
    ("data", "wide"),
    [
        ("hello there".encode("utf-16"), "utf-16"),
        ("hello there".encode("utf-16-be"), "utf-16"),
        ("hello there".encode("utf-16-le"), "utf-16"),
        ("hello".encode("utf-32"), "utf-32"),
        ("héllo wörld, plain UTF-8".encode(), None),
        (b"a\x00b", None),  # too short to call
    ],
)
def test_sniff_wide_encoding(data, wide):
    assert sniff_wide_encoding(data) == wide


def test_decode_refuses_utf16_read_as_latin1_but_reads_it_when_declared():
    data = "hello, world".encode("utf-16")
    with pytest.raises(StageError, match=r"f.csv looks like UTF-16 but is read as latin-1; set `encoding: utf-16`"):
        decode(data, "latin-1", "f.csv")
    assert decode(data, "utf-16") == "hello, world"


def test_bad_bytes_survive_as_escapes_and_bom_is_skipped():
    text = decode(b"\xef\xbb\xbfok \xff", "utf-8")
    assert text.startswith("ok") and has_bad_bytes(text) and escape_bad_bytes(text) == "ok \\xff"


def test_lines_split_on_lf_crlf_and_lone_cr_only():
    assert list(lines("a\rb\r\nc\nd\u2028e\n")) == [(1, "a"), (2, "b"), (3, "c"), (4, "d\u2028e")]
