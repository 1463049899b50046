"""StageError, the one exception a user can act on.

A leaf module (it imports nothing of the project), so every core module can raise it without an import
circle: `errors.cli` runs a stage through `io`, `io` checks paths through `safety`, and `safety` raises
StageError from here.
"""

from __future__ import annotations


class StageError(RuntimeError):
    """A problem the user can fix (missing file, unknown field, too many bad rows).

    Raised before any output is written; `stages.lib.core.errors.cli` prints it without a traceback.
    """
