"""Worker of the DDP test: one gloo process of a two-process run of training stage full.

Imported once by a forkserver (test_train.py preloads this module), so the workers fork with
torch, DDP's torch._dynamo and the plotting libraries already imported instead of importing
them each: that import is most of the test's time.
"""
from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot  # noqa: F401  preloaded for the workers (see above)
import torch
import torch._dynamo  # noqa: F401
from torch.utils.tensorboard import SummaryWriter  # noqa: F401

from enet_train import distributed, train


def worker(rank: int, world_size: int, port: int, argv: list[str], out: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    args = train.get_args_parser().parse_args(argv)
    info = distributed.init_distributed(torch.device("cpu"))
    try:
        model, _ = train.run_stage(args, "full", info)
        torch.save(model.state_dict(), Path(out) / f"rank{rank}.pt")
    finally:
        distributed.cleanup()
