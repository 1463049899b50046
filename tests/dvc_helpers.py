"""Run real DVC on a throw-away copy of the project in a temporary git repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def dvc_bin() -> str:
    """The dvc of the interpreter running the tests (the project's venv)."""
    candidate = Path(sys.executable).with_name("dvc")
    return str(candidate) if candidate.exists() else "dvc"


def sh(cmd: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "DVC_NO_ANALYTICS": "1",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if check and res.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    return res


def copy_project(dest: Path) -> Path:
    """Copy the project's tracked and unignored files (no outputs, no venv) and commit them in a new git repo."""
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    for rel in filter(None, files):
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    sh(["git", "init", "-q", "-b", "main"], dest)
    sh(["git", "add", "-A"], dest)
    sh(["git", "commit", "-qm", "copy"], dest)
    return dest


def dvc(dest: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return sh([dvc_bin(), *args], dest, check=check)


def flat(data: dict, prefix: str = "") -> dict:
    """Nested metrics as DVC names them: {"a": {"b": 1}} -> {"a.b": 1}."""
    out = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out |= flat(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def killed_after_first_rename(stage: str) -> str:
    """A `python -c` script that runs `python -m stages.<stage>` but dies with SIGKILL right after the stage's
    first output is renamed into place (the journal in .refinery/ is not an output)."""
    return f"""
import os, signal, sys, runpy
real_replace = os.replace
def replace(src, dst, *args, **kwargs):
    real_replace(src, dst, *args, **kwargs)
    if ".refinery" not in str(dst):
        os.kill(os.getpid(), signal.SIGKILL)
os.replace = replace
sys.argv = ["stages/{stage}.py"]
runpy.run_module("stages.{stage}", run_name="__main__")
"""
