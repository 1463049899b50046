"""The two checks every stage shares: paths stay inside the repository, model weights load only as safetensors.

Both live here, once, so that every file a stage opens or writes and every `from_pretrained` goes
through the same rule and the same message.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from stages.lib.core.exceptions import StageError


def repo_root() -> Path:
    """The repository root: DVC runs every stage from it, so it is the working directory."""
    return Path.cwd().resolve()


def inside_repo(
    path: str | Path,
    what: str,
    root: Path | None = None,
    fix: str = "Copy the data in (or `dvc add`/`dvc import` it) instead of linking to it",
) -> Path:
    """`path` resolved (symlinks followed), after checking it stays inside the repository.

    `what` names where the path came from (a params key, a source, a folder listing) and `fix` says what
    to do, so the StageError says which setting or file to change. Raises StageError when the resolved path,
    or the place a symlink points to, lies outside `root` (default: the working directory).
    """
    root = (root or repo_root()).resolve()
    resolved = Path(path).resolve()
    if resolved != root and root not in resolved.parents:
        # `..` alone is not a link: only a path that resolves elsewhere than it reads goes through one
        via = f" (a symlink to {resolved})" if resolved != Path(os.path.abspath(path)) else ""
        raise StageError(
            f"{what}: {path}{via} is outside the repository {root}; Refinery reads and writes only inside it. {fix}"
        )
    return resolved


def from_pretrained(cls: Any, path: str | Path, **kwargs: Any) -> Any:
    """`cls.from_pretrained(path, use_safetensors=True, ...)`: weights load only from safetensors.

    Pickled weights (`pytorch_model.bin`) can run arbitrary code when loaded; a folder holding only
    those fails with a StageError that says how to convert it.
    """
    try:
        return cls.from_pretrained(str(path), use_safetensors=True, **kwargs)
    except OSError as exc:
        if "safetensors" not in str(exc):
            raise
        pickled = sorted(p.name for p in Path(path).glob("*.bin")) if Path(path).is_dir() else []
        found = f" (it holds {', '.join(pickled)})" if pickled else ""
        raise StageError(
            f"{path} has no safetensors weights{found}; Refinery never loads pickled weights, which can run code. "
            "Convert them once with `model.save_pretrained(folder)` in a trusted session (transformers writes "
            "safetensors) or pick a model that ships *.safetensors"
        ) from None
