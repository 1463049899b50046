"""The command that starts `python -m stages.train <approach>` under the configured launcher.

torchrun runs `--standalone`: its rendezvous takes a free local port, so two queued experiments training at
once on one machine never fight over a port. accelerate picks its own free port the same way (port 0).
"""

from __future__ import annotations

import sys


def train_command(approach: str, launcher: str, num_processes: int, accelerate_config: str | None) -> list[str]:
    """argv for training `approach`: plain python, torchrun or accelerate launch with `num_processes`."""
    target = ["-m", "stages.train", approach]
    if launcher == "none":
        return [sys.executable, *target]
    if launcher == "torchrun":
        return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={num_processes}",
                *target]  # fmt: skip
    config = ["--config_file", accelerate_config] if accelerate_config else []
    # Without a config file, several processes need accelerate's torchrun-based launcher ("--multi_gpu", its name
    # for plain DDP; on a CPU machine the processes then use gloo). Its simple launcher would start one process.
    mode = ["--multi_gpu"] if not accelerate_config and num_processes > 1 else []
    return [sys.executable, "-m", "accelerate.commands.launch", *config, *mode,
            f"--num_processes={num_processes}", "--main_process_port=0", *target]  # fmt: skip
