"""How a stage fails: one clear message, exit code 1, no traceback, old outputs untouched."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable

from stages.lib.core.exceptions import StageError

__all__ = ["StageError", "cli"]  # stages import both from here; StageError is defined in exceptions.py


def cli(main: Callable[[], None], journal: bool = True) -> None:
    """Run a stage's main() so that its outputs switch together; turn params and stage errors into a message
    and exit 1 (the previous outputs stay as they were).

    `journal=False` is for a command whose outputs come from its arguments (predict): its main opens
    `stage_outputs(..., outputs=...)` itself once it knows them, so the journal is keyed by the outputs."""
    from schemas import ParamsError
    from stages.lib.core.io import stage_key, stage_outputs

    try:
        # all outputs switch together; a killed run's leftovers go first
        with stage_outputs(stage_key()) if journal else contextlib.nullcontext():
            main()
    except (ParamsError, StageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
