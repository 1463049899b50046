"""train@<approach> under the launcher chosen in params.yaml: `python -m stages.launch train <approach>`.

dvc.yaml runs training through this, so `train.launcher` and `train.num_processes` are versioned params like
every other setting. The process is replaced by the launcher (exit code and signals pass straight through).
Under torchrun or accelerate every process runs stages.train; only the first writes outputs and metrics.
"""

from __future__ import annotations

import os
import sys

from schemas import ParamsError, load_params
from stages.lib.core.errors import StageError
from stages.lib.core.log import get_logger
from stages.lib.model.launcher import train_command

log = get_logger("launch")


def main() -> None:
    if len(sys.argv) != 3 or sys.argv[1] != "train":
        raise StageError("usage: python -m stages.launch train <approach>")
    params = load_params()
    cfg = params.train
    argv = train_command(sys.argv[2], cfg.launcher, cfg.num_processes, cfg.accelerate_config)
    log.info("%s", " ".join(argv))
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)


if __name__ == "__main__":
    # Not errors.cli: this process writes nothing (it becomes the launcher), so it opens no output journal;
    # stages.train, which the launcher starts, runs under cli.
    try:
        main()
    except (ParamsError, StageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
