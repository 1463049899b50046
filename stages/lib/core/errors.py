"""How a stage fails: one clear message, exit code 1, no traceback, old outputs untouched."""

from __future__ import annotations

import sys
from collections.abc import Callable

from stages.lib.core.exceptions import StageError

__all__ = ["StageError", "cli"]  # stages import both from here; StageError is defined in exceptions.py


def cli(main: Callable[[], None]) -> None:
    """Run a stage's main() so that its outputs switch together; turn params and stage errors into a message
    and exit 1 (the previous outputs stay as they were)."""
    from schemas import ParamsError
    from stages.lib.core.io import stage_key, stage_outputs

    try:
        with stage_outputs(stage_key()):  # all outputs switch together; a killed run's leftovers go first
            main()
    except (ParamsError, StageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
