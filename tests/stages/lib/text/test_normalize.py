"""HTML stripping with lxml: markup goes, prose with angle brackets stays."""

from __future__ import annotations

import pytest

from stages.lib.text.normalize import strip_html


@pytest.mark.parametrize(
    "text",
    ["if a<b and c>d then", "1<2 and 3>2", "I <3 you", "<Alex> see you at 5", "x <y z> w", "a < b and c > d"],
)
def test_prose_with_angle_brackets_is_kept(text):
    assert strip_html(text) == text


@pytest.mark.parametrize(
    ("text", "stripped"),
    [
        ("Hello <b>world</b><br>next", "Hello world\nnext"),
        ("<p>x &amp; y</p><p>z</p>", "x & y\nz\n"),
        ("<a href='http://x.io' class=\"l\">link</a> tail", "link tail"),
        ("x<!-- note -->y", "xy"),
        ("<script>alert(1)</script>ok", "ok"),
        ("&lt;#&gt; is your code", "<#> is your code"),
        ('<div data-id="3" aria-label="t">in</div>', "in\n"),
    ],
)
def test_markup_is_removed_and_entities_unescaped_once(text, stripped):
    assert strip_html(text) == stripped
