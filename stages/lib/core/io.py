"""Atomic, deterministic writes: a stage's outputs switch from old to new together, even under `kill -9`.

Every output is first written to a temporary path beside its target (same folder, so a rename is
atomic). Inside a stage (`stage_outputs`, opened by `errors.cli` around every stage's `main`), the renames
wait until the stage has finished all its writes; then a journal listing them is written to
`.refinery/<stage>.json`, the renames run, and the journal is removed. If the process dies:

- before the journal says `commit`, no output was replaced: the next start of the stage deletes the
  temporary files it lists (all old);
- after, the next start finishes the renames from the journal (all new).

Either way the next start leaves no temporary files behind. Outside a stage (a test calling `run`
directly), `atomic_path` renames as soon as its block ends and `write_parquets` renames its tables
together at the end, as before.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from stages.lib.core.log import get_logger
from stages.lib.core.safety import inside_repo

log = get_logger("io")

# The one place Parquet write settings live: zstd, dictionaries and statistics, no timestamps in the file,
# so the same table always gives the same bytes (and DVC sees no change).
PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd", "use_dictionary": True, "write_statistics": True}

# Journals and locks of running stages, relative to the repository root (the working directory under DVC).
JOURNAL_DIR = Path(".refinery")

_active: Transaction | None = None


def write_table(table: pa.Table, path: str | Path) -> None:
    """Write a Parquet file in place with the project's settings (for files inside a temporary folder)."""
    pq.write_table(table, path, **PARQUET_OPTIONS)


def parquet_writer(path: str | Path, schema: pa.Schema) -> pq.ParquetWriter:
    """A streaming Parquet writer with the project's settings (for outputs written part by part)."""
    return pq.ParquetWriter(path, schema, **PARQUET_OPTIONS)


class Transaction:
    """The temporary paths a stage created and the renames that will publish them, kept in a journal."""

    def __init__(self, journal: Path | None):
        self.journal = journal
        self.temps: list[str] = []
        self.moves: list[tuple[str, str]] = []

    @contextlib.contextmanager
    def stage(self, target: Path) -> Iterator[Path]:
        """Yield a temporary path for `target`; on success remember the rename, on failure drop the file.

        A relative target (every path from params.yaml is one) must stay inside the repository once its
        folders' symlinks are resolved: StageError otherwise, before anything is written.
        """
        if not target.is_absolute():
            inside_repo(target.parent, f"output {target}", fix="Write outputs to a real folder inside the repository")
        holder = self.scratch(target.parent, f".{target.name}.")
        staged = holder / target.name
        try:
            yield staged
        except BaseException:
            shutil.rmtree(holder, ignore_errors=True)
            raise
        self.moves.append((str(staged), str(target.absolute())))

    def scratch(self, parent: Path, prefix: str) -> Path:
        """A new temporary folder in `parent`, listed in the journal so a killed run's copy is removed."""
        parent.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmp", dir=parent)).absolute()
        self.temps.append(str(folder))
        self._save("open")
        return folder

    def commit(self) -> None:
        """Publish every staged output: journal first (so a kill mid-way rolls forward), then the renames."""
        if self.moves:
            self._save("commit")
            for staged, target in self.moves:
                _publish(Path(staged), Path(target))
        self.rollback()  # what is left are scratch folders and the journal itself

    def rollback(self) -> None:
        for temp in self.temps:
            _remove(Path(temp))
        self.temps, self.moves = [], []
        if self.journal is not None:
            with contextlib.suppress(FileNotFoundError):
                self.journal.unlink()

    def _save(self, state: str) -> None:
        if self.journal is None:
            return
        data = {"state": state, "temps": self.temps, "moves": self.moves}
        tmp = self.journal.with_name(f".{self.journal.name}.tmp")
        with open(tmp, "w") as f:
            json.dump(data, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.journal)


def _publish(staged: Path, target: Path) -> None:
    """Rename `staged` onto `target`; safe to repeat after a kill at any point (recovery runs it again)."""
    holder = staged.parent
    if os.path.lexists(staged):
        # a folder cannot replace (or be replaced by) anything in one rename: move the old one aside first
        if os.path.lexists(target) and (staged.is_dir() or (target.is_dir() and not target.is_symlink())):
            os.replace(target, holder / ".old")
        os.replace(staged, target)
    shutil.rmtree(holder, ignore_errors=True)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def recover(journal: Path) -> str | None:
    """Finish or undo what a killed run of a stage left in `journal`; a line for the log, or None."""
    stale = journal.with_name(f".{journal.name}.tmp")
    with contextlib.suppress(FileNotFoundError):
        stale.unlink()  # a journal that was being rewritten: the previous one is still whole
    try:
        data = json.loads(journal.read_text())
    except FileNotFoundError:
        return None
    except ValueError:
        data = {"state": "open", "temps": [], "moves": []}
    left = Transaction(journal)
    left.temps = list(data.get("temps", []))
    if data.get("state") == "commit":
        for staged, target in data.get("moves", []):
            _publish(Path(staged), Path(target))
        done = f"a killed run had started publishing: finished its {len(data['moves'])} renames (all new)"
    else:
        done = "a killed run had not published anything: outputs unchanged (all old)"
    left.rollback()
    return f"{done}; removed its {len(data.get('temps', []))} temporary paths"


@contextlib.contextmanager
def stage_outputs(key: str, journal_dir: Path = JOURNAL_DIR) -> Iterator[Transaction]:
    """Run a stage so that all its outputs switch together; repair what a killed run left first.

    `key` names the stage (`train@lora` for one approach). A lock keeps two processes of one stage
    (the ranks of a distributed run) from repairing each other's work: only the first takes the
    journal; the others write with deferred renames but no journal.
    """
    global _active
    journal_dir.mkdir(parents=True, exist_ok=True)
    key = re.sub(r"[^A-Za-z0-9_.@-]", "_", key)
    lock = _try_lock(journal_dir / f"{key}.lock")
    journal = journal_dir / f"{key}.json"
    if lock is not None:
        done = recover(journal)
        if done:
            log.info("%s: %s", key, done)
    tx = Transaction(journal if lock is not None else None)
    previous, _active = _active, tx
    try:
        yield tx
    except BaseException:
        tx.rollback()
        raise
    else:
        tx.commit()
    finally:
        _active = previous
        if lock is not None:
            lock.close()


def _try_lock(path: Path):
    """An open file holding an exclusive lock on `path`, or None when another process holds it."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, each process journals on its own
        return open(path, "a")
    handle = open(path, "a")  # noqa: SIM115 (the lock lives as long as the open file)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    return handle


def stage_key(argv: list[str] | None = None) -> str:
    """`ingest` for `python -m stages.ingest`, `train@lora` for `python -m stages.train lora`."""
    argv = sys.argv if argv is None else argv
    return "@".join([Path(argv[0]).stem, *argv[1:]])


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; it replaces `target` only if the block succeeds.

    Works for files and folders. Inside a stage the rename waits for the stage's other outputs;
    outside one it happens when the block ends. On any exception the temporary is removed and
    the old `target` is left untouched.
    """
    target = Path(target)
    if _active is not None:
        with _active.stage(target) as tmp:
            yield tmp
        return
    local = Transaction(None)
    try:
        with local.stage(target) as tmp:
            yield tmp
    except BaseException:
        local.rollback()
        raise
    local.commit()


def scratch_dir(parent: str | Path, prefix: str) -> Path:
    """A temporary working folder in `parent`; inside a stage it is journalled, so a killed run's is removed
    at the next start. The caller removes it when done."""
    if _active is not None:
        return _active.scratch(Path(parent), prefix)
    Path(parent).mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmp", dir=parent))


def write_parquet(table: pa.Table, target: str | Path) -> None:
    """Write a table atomically and byte-deterministically (no timestamps, fixed settings)."""
    with atomic_path(target) as tmp:
        write_table(table, tmp)


@contextlib.contextmanager
def together() -> Iterator[None]:
    """Writes in this block are renamed together when it ends, or not at all if it fails.

    Inside a stage this adds nothing: the stage's journal already publishes all its outputs at once.
    """
    global _active
    if _active is not None:
        yield
        return
    local = _active = Transaction(None)
    try:
        yield
    except BaseException:
        local.rollback()
        raise
    finally:
        _active = None
    local.commit()


def write_parquets(tables: Mapping[str | Path, pa.Table]) -> None:
    """Write several tables so that either all are replaced or, on failure, none is.

    Each is first written beside its target; the renames happen only after every write has
    succeeded (inside a stage: after the stage's other outputs too, under its journal).
    """
    with together():
        for target, table in tables.items():
            write_parquet(table, target)


def write_json(data: Any, target: str | Path) -> None:
    """Write JSON atomically with sorted keys, so `dvc metrics diff` and git diffs stay stable."""
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def read_rows(path: str | Path) -> pa.Table:
    """Read a Parquet rows file written by an earlier stage."""
    return pq.read_table(path)
