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

A DVC stage's outputs are fixed by its name (`train@lora`), so its journal is named after it. A command whose
outputs come from its arguments (predict) keys its journal by those outputs instead (`stage_outputs(...,
outputs=...)`: `predict@<digest>.json`, a fixed-length name whatever the paths), and each of its runs first repairs
what any killed run of the same command left, whatever that run's arguments were. The lock beside a journal is
removed when its run ends, so locks do not pile up one per distinct command.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
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
def stage_outputs(
    key: str, journal_dir: Path = JOURNAL_DIR, outputs: Iterable[str | Path] | None = None
) -> Iterator[Transaction]:
    """Run a stage so that all its outputs switch together; repair what a killed run left first.

    `key` names the stage (`train@lora` for one approach). A lock keeps two processes of one stage
    (the ranks of a distributed run) from repairing each other's work: only the first takes the
    journal; the others write with deferred renames but no journal.

    With `outputs` (the paths a command outside the graph writes, from its arguments), the journal is
    `<key>@<digest of the outputs>`: two runs with the same outputs share it, two with different outputs
    run side by side. Every journal of `key` that no live process holds is repaired first, whatever
    outputs it was for, so a killed run's outputs are all old or all new after the next run of the command.
    """
    global _active
    journal_dir.mkdir(parents=True, exist_ok=True)
    key = re.sub(r"[^A-Za-z0-9_.@-]", "_", key)
    if outputs is not None:
        key = f"{key}@{outputs_digest(outputs)}"
        _repair_siblings(journal_dir, key.rsplit("@", 1)[0], key)
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
            _unlock(lock)


def outputs_digest(outputs: Iterable[str | Path]) -> str:
    """16 hex characters naming a set of output paths (absolute, order-free): the journal key of a command."""
    names = sorted({os.path.abspath(p) for p in outputs})
    return hashlib.sha256("\0".join(names).encode("utf-8", "surrogateescape")).hexdigest()[:16]


def _repair_siblings(journal_dir: Path, family: str, own: str) -> None:
    """Recover every `<family>@*` journal except `own` whose lock no live process holds; drop stale locks."""
    keys = {
        p.name.rsplit(".", 1)[0] for p in journal_dir.glob(f"{glob.escape(family)}@*") if p.suffix in {".json", ".lock"}
    }
    for other in sorted(keys - {own}):
        lock = _try_lock(journal_dir / f"{other}.lock")
        if lock is None:  # a run of the command is writing those outputs now: its journal is its own
            continue
        try:
            done = recover(journal_dir / f"{other}.json")
            if done:
                log.info("%s: %s", other, done)
        finally:
            _unlock(lock)


def _try_lock(path: Path):
    """An open file holding an exclusive lock on `path`, or None when another process holds it.

    The file is removed when its holder is done (`_unlock`), so a lock taken on a file that was removed
    meanwhile is retried on the path's new file.
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, each process journals on its own
        return open(path, "a")
    while True:
        handle = open(path, "a")  # noqa: SIM115 (the lock lives as long as the open file)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return None
        try:
            if os.path.samestat(os.fstat(handle.fileno()), os.stat(path)):
                return handle
        except FileNotFoundError:
            pass
        handle.close()  # its holder removed the file after we opened it: lock the one at the path now


def _unlock(handle) -> None:
    """Remove the lock file, then release it (in this order, so no one locks a file that is about to go)."""
    with contextlib.suppress(OSError):
        os.unlink(handle.name)
    handle.close()


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
