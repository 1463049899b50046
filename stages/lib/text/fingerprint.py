"""What a model folder records about the text it was trained on, and the check predict makes against it.

`text_fingerprint` is the `clean.normalize` and `clean.pii` settings with `TEXT_VERSION` (the code version of
the text path, stages/lib/text/prepare.py) and the versions of the libraries that change texts. train writes it
into the model folder's refinery.json; predict refuses to run when its own settings differ
(`check_model_text`), so a changed setting cannot skew training and serving silently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from stages.lib.core.errors import StageError

# Bump when a change to this path's code (or to normalize.py / pii.py) changes its output for some input:
# a model trained before the change then refuses to predict with the new code instead of skewing silently.
TEXT_VERSION = 1

# Libraries whose upgrades can change the text (ftfy's repairs, phonenumbers' numbering plans): recorded
# beside the settings and reported when they differ, without refusing (a patch release rarely matters).
_LIBRARIES = ("ftfy", "phonenumbers")


def text_fingerprint(normalize: Mapping[str, Any], pii: Mapping[str, Any]) -> dict[str, Any]:
    """What a model folder records about the text it was trained on: settings, code version, libraries."""
    return {
        "version": TEXT_VERSION,
        "normalize": dict(sorted(normalize.items())),
        "pii": {kind: dict(sorted(v.items())) for kind, v in sorted(pii.items())},
        "libraries": {name: _version(name) for name in _LIBRARIES},
    }


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def check_fingerprint(recorded: Mapping[str, Any], current: Mapping[str, Any], model: str) -> list[str]:
    """Raise ValueError, in one line, when `current` text settings differ from those `model` was trained with.

    The message names the first differing setting by its params key, both values and the two fixes. Returns
    the libraries whose versions differ (a warning for the caller to log, not a refusal).
    """
    if recorded.get("version") != current["version"]:
        raise ValueError(
            f"{model} was trained with text code version {recorded.get('version')}, this code is version "
            f"{current['version']}: the text it sees would differ from its training text; retrain it (dvc repro)"
        )
    for key, value in _flat(current, ("normalize", "pii")).items():
        was = _flat(recorded, ("normalize", "pii")).get(key, "<not recorded>")
        if was != value:
            raise ValueError(
                f"clean.{key} is {_show(value)} in params.yaml but {model} was trained with {_show(was)}: set "
                f"clean.{key}: {_show(was)} back to predict with this model, or retrain it (dvc repro)"
            )
    libraries = recorded.get("libraries", {})
    return [
        f"{name} {libraries.get(name)} -> {v}" for name, v in current["libraries"].items() if libraries.get(name) != v
    ]


def check_model_text(recorded: Mapping[str, Any] | None, current: Mapping[str, Any], model: str) -> list[str]:
    """`check_fingerprint` for a model folder's recorded text settings (`meta["text"]`), as a StageError.

    Returns warnings for the log: libraries at other versions, or a folder that records no settings (written
    before they were recorded, so skew cannot be checked).
    """
    if recorded is None:
        return [f"{model} records no text settings (trained before they were recorded): skew is not checked"]
    try:
        changed = check_fingerprint(recorded, current, model)
    except ValueError as exc:
        raise StageError(str(exc)) from None
    return [f"{model} was trained with other text libraries ({'; '.join(changed)})"] if changed else []


def _flat(tree: Mapping[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(f"{prefix}.{k}", v)
        else:
            out[prefix] = value

    for key in keys:
        walk(key, tree.get(key, {}))
    return out


def _show(value: Any) -> str:
    return "null" if value is None else repr(value) if isinstance(value, str) else str(value).lower()
