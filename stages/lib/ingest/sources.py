"""Choosing and adapting an `ingest.sources` entry for a file outside the pipeline (predict's INPUT)."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError

from schemas.ingest import FORMAT_OPTIONS, Source
from stages.lib.core.errors import StageError


def pick_source(sources: Mapping[str, Source], name: str | None) -> Source:
    """The source named `name` (default: the first one); StageError naming the choices when it is not there."""
    if name is None:
        return next(iter(sources.values()))
    if name not in sources:
        raise StageError(f"--source {name} is not in ingest.sources: {', '.join(sources)}")
    return sources[name]


def with_format(source: Source, fmt: str) -> Source:
    """`source` read as `fmt`: the options only its own format reads (delimiter, columns...) are dropped, so
    `--format text` works on a CSV source; StageError when the result is not a valid source."""
    own = {option for option, formats in FORMAT_OPTIONS.items() if source.format in formats}
    try:
        return Source.model_validate(source.model_dump(exclude=own) | {"format": fmt})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'source'}: {e['msg']}" for e in exc.errors())
        raise StageError(f"--format {fmt} does not fit source '{source.name}': {problems}") from None
