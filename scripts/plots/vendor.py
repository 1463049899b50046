"""Rebuild scripts/plots/page.html: DVC's HTML template for `dvc plots show`/`diff` with Vega inlined.

DVC's own page loads vega, vega-lite and vega-embed from a CDN, so an offline reviewer sees nothing. This page
carries the three libraries (BSD-3-Clause, licences beside it) inline and leaves out DVC's `{scripts}` slot.
.dvc/config points `plots.html_template` at it, so plain `dvc plots show` and `make plots` both use it.

Run after changing a version below (needs npm and the npm registry); commit page.html:
    python scripts/plots/vendor.py
"""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PAGE = HERE / "page.html"
# (package, version, file in the npm tarball); vega-embed 6 needs vega 5 and vega-lite 5.
LIBRARIES = (
    ("vega", "5.33.1", "package/build/vega.min.js"),
    ("vega-lite", "5.23.0", "package/build/vega-lite.min.js"),
    ("vega-embed", "6.29.0", "package/build/vega-embed.min.js"),
)
COPYRIGHT = "Copyright (c) 2015, University of Washington Interactive Data Lab"

# DVC fills {plot_divs} (one div per chart, each calling vegaEmbed) and {refresh_tag}. The wrapper draws SVG (a
# reader can zoom; a test can count the marks), drops the online editor link, and shows an error in the page.
HEAD = """<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
{refresh_tag}
<title>Refinery plots</title>
<!-- Vega, Vega-Lite and vega-embed are inlined (BSD-3-Clause, see scripts/plots/LICENSE-*), so this page
     needs no network. Rebuilt by scripts/plots/vendor.py. -->
"""
TAIL = """<script>
(function () {
  var embed = window.vegaEmbed;
  window.vegaEmbed = function (el, spec, opt) {
    var options = Object.assign({renderer: "svg", actions: {export: true, source: true, compiled: false,
      editor: false}}, opt || {});
    return embed(el, spec, options).catch(function (err) {
      var box = document.querySelector(el);
      box.insertAdjacentHTML("beforeend", "<pre class='plot-error'></pre>");
      box.lastChild.textContent = "This chart could not be drawn: " + err;
    });
  };
})();
</script>
<style>
  body { font-family: sans-serif; margin: 1.5em; }
  body > div { margin-bottom: 2.5em; }
  .plot-error { color: #b00; }
</style>
</head>
<body>
{plot_divs}
</body>
</html>
"""


def inlined(text: str) -> list[tuple[str, str, str]]:
    """The (name, version, source) of each library inlined in a page written by `page` (for the staleness test)."""
    found = re.findall(r"<script>/\*! (\S+) (\S+) \| BSD-3-Clause \| [^\n]*\*/\n(.*?)\n</script>", text, re.S)
    return [(name, version, source) for name, version, source in found]


def page(scripts: list[tuple[str, str, str]]) -> str:
    """The template: HEAD, one inline <script> per (name, version, minified source), TAIL."""
    parts = [HEAD]
    for name, version, source in scripts:
        if "</script" in source or "{plot_divs}" in source or "{scripts}" in source:
            raise SystemExit(f"{name} {version}: the source contains text that would break the template")
        parts.append(f"<script>/*! {name} {version} | BSD-3-Clause | {COPYRIGHT} */\n{source.strip()}\n</script>\n")
    parts.append(TAIL)
    return "".join(parts)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        specs = [f"{name}@{version}" for name, version, _ in LIBRARIES]
        subprocess.run(["npm", "pack", "--silent", *specs], cwd=tmp, check=True, stdout=subprocess.DEVNULL)
        scripts = []
        for name, version, member in LIBRARIES:
            with tarfile.open(Path(tmp) / f"{name}-{version}.tgz") as tar:
                source = tar.extractfile(member).read().decode("utf-8")  # type: ignore[union-attr]
            scripts.append((name, version, source))
    PAGE.write_text(page(scripts), encoding="utf-8")
    print(f"wrote {PAGE}", file=sys.stderr)


if __name__ == "__main__":
    main()
