"""Joining or starting Ray for one stage run.

The stage's own code reaches the workers through `py_modules` (the `stages` and `schemas` packages of the
working tree that runs the stage), so a cluster never runs another version of the per-batch functions than
the driver: that is what keeps `engine: ray` outputs byte-identical to `engine: local`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import schemas
import stages
from stages.lib.core.errors import StageError


@contextlib.contextmanager
def ray_session(address: str | None, num_cpus: int | None, connect_timeout_s: float) -> Iterator[int]:
    """Connect to `address` (else RAY_ADDRESS, else a new local Ray on 127.0.0.1); yield the cluster's CPUs.

    A Ray already initialised in this process (a test's, a notebook's) is used as it is and left running;
    one started here is shut down on exit. Raises StageError, naming engine.ray.address or RAY_ADDRESS and the
    fix, when the address is malformed, needs the missing `ray[client]` extra, names no running cluster
    (`auto`), or has nothing listening within `connect_timeout_s` (Ray itself would retry for minutes).
    """
    import ray

    if ray.is_initialized():
        quiet_data_context()
        yield max(1, int(ray.cluster_resources().get("CPU", 1)))
        return
    where = "engine.ray.address"
    if not address and os.environ.get("RAY_ADDRESS"):
        address, where = os.environ["RAY_ADDRESS"], "RAY_ADDRESS (environment)"
    address = address.strip() if address else None
    if address:
        check_address(address, where, connect_timeout_s)
    options: dict = {"address": address} if address else {"num_cpus": num_cpus, "include_dashboard": False}
    try:
        ray.init(**options, runtime_env=runtime_env(), logging_level=logging.WARNING, log_to_driver=False)
    except (ConnectionError, ValueError, RuntimeError, TimeoutError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StageError(f"{where} {address!r}: Ray could not start or connect ({first}); {FIX}") from None
    try:
        quiet_data_context()
        yield max(1, int(ray.cluster_resources().get("CPU", 1)))
    finally:
        ray.shutdown()


FIX = "set engine.ray.address to a running cluster's host:port, ray://host:port or auto, or null for a local Ray"


def check_address(address: str, where: str, connect_timeout_s: float) -> None:
    """Refuse an address Ray cannot use before Ray tries it: one line each, within `connect_timeout_s`."""
    if address == "local":
        return
    shown = f"{where} {address!r}"
    if address == "auto":
        from ray._private.services import canonicalize_bootstrap_address

        try:
            resolved = canonicalize_bootstrap_address("auto")
        except (ConnectionError, ValueError, OSError):
            resolved = None
        if not resolved:
            raise StageError(
                f"{shown}: no running Ray cluster found on this machine (start one with `ray start --head`), or {FIX}"
            )
        address = resolved
    client = address.startswith("ray://")
    if client and importlib.util.find_spec("grpc") is None:
        raise StageError(f"{shown} is a Ray Client address, which needs the client extra: pip install 'ray[client]'")
    host, _, port = address.removeprefix("ray://").rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536 or any(c in host for c in "/ @?#"):
        raise StageError(f"{shown} is not host:port, ray://host:port, auto or local; {FIX}")
    try:
        with socket.create_connection((host, int(port)), timeout=connect_timeout_s):
            pass
    except TimeoutError:
        raise StageError(
            f"{shown}: nothing answered at {host}:{port} within engine.ray.connect_timeout_s={connect_timeout_s:g} s "
            f"(a firewall, or the cluster is down); start the cluster or {FIX}"
        ) from None
    except OSError as exc:  # refused, unknown host, unreachable network
        reason = exc.strerror or type(exc).__name__
        raise StageError(f"{shown}: cannot connect to {host}:{port} ({reason}); start the cluster or {FIX}") from None


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
