"""The dataset card (README.md) of an export: the YAML header the Hub reads, then the numbers a reader checks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml


def size_category(n: int) -> str:
    """The Hub's size category for `n` rows."""
    bounds = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")]
    return next((name for bound, name in bounds if n < bound), "1M<n<10M" if n < 10_000_000 else "n>1M")


def header(
    license: str,
    license_name: str | None,
    license_link: str | None,
    language: list[str],
    task_categories: list[str],
    pretty_name: str,
    rows: int,
    data_files: Mapping[str, str],
    tags: list[str],
) -> str:
    """The YAML front matter: licence, task categories, size category, and one config whose data files are
    `data_files` (split -> path relative to the card)."""
    meta: dict[str, Any] = {"license": license}
    if license_name:
        meta["license_name"] = license_name
    if license_link:
        meta["license_link"] = license_link
    meta |= {
        "language": list(language),
        "task_categories": list(task_categories),
        "size_categories": [size_category(rows)],
        "pretty_name": pretty_name,
        "tags": list(tags),
        "configs": [{"config_name": "default", "data_files": [{"split": s, "path": p} for s, p in data_files.items()]}],
    }
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n"


def table(head: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table (cells with `|` escaped)."""
    esc = [[str(c).replace("|", "\\|") for c in r] for r in rows]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in esc]) + "\n"


def rejects_section(details: Mapping[str, Mapping[str, Any]]) -> str:
    """Rows dropped by each stage and reason (the stages' `dropped` counters), and their rows in and out."""
    rows = []
    for stage, m in details.items():
        for reason, n in sorted((m.get("dropped") or {}).items()):
            if isinstance(n, int | float) and n:
                rows.append([stage, reason, n])
    flow = [[s, m.get("rows_in", ""), m.get("rows_out", "")] for s, m in details.items()]
    out = "## Rows through the pipeline\n\n" + table(["stage", "rows in", "rows out"], flow)
    out += (
        "\n## Rejects by stage and reason\n\nEvery dropped row is kept in its stage's rejects file "
        "(reasons with no rows left out).\n\n"
    )
    return out + (table(["stage", "reason", "rows"], rows) if rows else "None.\n")


def checks_section(details: Mapping[str, Mapping[str, Any]], words: tuple[str, ...]) -> str:
    """Every scalar metric whose dotted key mentions one of `words` (leakage, contamination, noise...)."""
    rows = []
    for stage, m in details.items():
        for key, value in _flat(m):
            if any(w in key for w in words) and not key.startswith("dropped."):
                rows.append([stage, key, value])
    if not rows:
        return ""
    return "\n## Leakage, contamination and noise checks\n\n" + table(["stage", "metric", "value"], rows)


def _flat(m: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out = []
    for k, v in sorted(m.items()):
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out += _flat(v, key + ".")
        elif isinstance(v, int | float | str | bool) or v is None:
            out.append((key, v))
    return out


def licence_section(license: str, license_name: str | None, license_link: str | None) -> str:
    """The data's licence as the header gives it, for readers of the Markdown."""
    name = f"{license} ({license_name})" if license_name else license
    link = f", terms: {license_link}" if license_link else ""
    return f"## Licence\n\n{name}{link}. The data keeps its sources' terms; check them before redistributing.\n\n"
