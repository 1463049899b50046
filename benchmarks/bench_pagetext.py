"""Main-text extraction cost per page: trafilatura (what collect uses) against its fast mode and
against plain visible text (html2txt, the fallback), on a 30 KB article page with boilerplate.

Run: pytest benchmarks/bench_pagetext.py --benchmark-only
"""

from __future__ import annotations

import pytest

from stages.lib.collect.pagetext import page_text

PARAGRAPH = (
    "Researchers at a small university followed two hundred volunteers for twelve weeks to see whether "
    "drinking green tea every morning changed how well they slept; the effect was small and not blinded. "
)
NAV = "".join(f'<li><a href="/section/{i}">Section {i}</a></li>' for i in range(60))
PAGE = (
    "<html><head><title>Green tea study</title><script>var tracking = {};</script></head><body>"
    f"<header><nav><ul>{NAV}</ul></nav></header>"
    '<div class="sidebar"><p>Subscribe to our newsletter for weekly deals!</p></div>'
    "<article><h1>Green tea study</h1>" + "".join(f"<p>{i}. {PARAGRAPH * 3}</p>" for i in range(40)) + "</article>"
    f"<footer><ul>{NAV}</ul><p>Copyright 2024 Example Corp.</p></footer></body></html>"
).encode()


def extract_main() -> str:
    return page_text(PAGE, "text/html", "utf-8", "https://example.org/tea").text


def extract_fast() -> str:
    import trafilatura

    return trafilatura.bare_extraction(PAGE.decode(), fast=True, with_metadata=True, include_comments=False).text


def extract_plain() -> str:
    import trafilatura

    return trafilatura.html2txt(PAGE.decode())


@pytest.mark.benchmark(group="extract one 30 KB page")
@pytest.mark.parametrize("how", [extract_main, extract_fast, extract_plain], ids=["trafilatura", "fast", "html2txt"])
def test_extract(benchmark, how) -> None:
    text = benchmark(how)
    assert "Green tea" in text or "green tea" in text
