"""Joining or starting Ray for one stage run.

The stage's own code reaches the workers through `py_modules` (the `stages` and `schemas` packages of the
working tree that runs the stage), so a cluster never runs another version of the per-batch functions than
the driver: that is what keeps `engine: ray` outputs byte-identical to `engine: local`.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import schemas
import stages


@contextlib.contextmanager
def ray_session(address: str | None, num_cpus: int | None) -> Iterator[int]:
    """Connect to `address` (else RAY_ADDRESS, else a new local Ray on 127.0.0.1); yield the cluster's CPUs.

    A Ray already initialised in this process (a test's, a notebook's) is used as it is and left running;
    one started here is shut down on exit.
    """
    import ray

    if ray.is_initialized():
        quiet_data_context()
        yield max(1, int(ray.cluster_resources().get("CPU", 1)))
        return
    address = address or os.environ.get("RAY_ADDRESS")
    options: dict = {"address": address} if address else {"num_cpus": num_cpus, "include_dashboard": False}
    ray.init(**options, runtime_env=runtime_env(), logging_level=logging.WARNING, log_to_driver=False)
    try:
        quiet_data_context()
        yield max(1, int(ray.cluster_resources().get("CPU", 1)))
    finally:
        ray.shutdown()


def runtime_env() -> dict:
    """Ship this working tree's `stages` and `schemas` packages to every worker (pass it to any ray.init)."""
    return {"py_modules": [str(Path(stages.__file__).parent), str(Path(schemas.__file__).parent)]}


def quiet_data_context() -> None:
    """Ray Data settings shared by the stages: ordered outputs, sort-based shuffle, no progress bars in DVC logs.

    The sort-based shuffle: a groupby of 80k band-key rows took 0.5 s with it and 6-20 s with the hash-based
    shuffles (whose aggregator actors start per shuffle) on this project's 2-core machine.
    """
    from ray.data import DataContext
    from ray.data.context import ShuffleStrategy

    ctx = DataContext.get_current()
    ctx.execution_options.preserve_order = True
    ctx.shuffle_strategy = ShuffleStrategy.SORT_SHUFFLE_PULL_BASED
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    ctx.enable_auto_log_stats = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
