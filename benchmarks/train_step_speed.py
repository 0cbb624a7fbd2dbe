"""What one training step of ENet costs on this machine, per memory layout and with torch.compile.

A step is what ``enet_train.train.train_one_epoch`` does to a batch: forward, class-weighted
cross-entropy, backward, an Adam step. Interleaved in one run, medians in milliseconds: the
network in channels-last (what training uses) and in the default contiguous layout, each eager
and, with ``--compile``, through ``torch.compile`` (inductor; needs a C++ compiler). Decides
how CPU training runs, where one stage-full epoch on one core takes minutes.

    PYTHONPATH=. python benchmarks/train_step_speed.py [--batch 10] [--size 360 480]
        [--threads 1] [--runs 5] [--precision fp32|bf16] [--compile]
"""
from __future__ import annotations

import argparse
from typing import Callable

import torch
from torch import nn

from benchmarks.runtime_speed import interleaved
from enet_train.model import ENet

CLASSES = 11


def training_step(layout: torch.memory_format, precision: torch.dtype | None, compiled: bool,
                  batch: int, size: tuple[int, int]) -> Callable[[], float]:
    """One step of a fresh network on a fixed random batch, as a callable."""
    torch.manual_seed(0)
    model = ENet(CLASSES).to(memory_format=layout).train()
    net: nn.Module = torch.compile(model) if compiled else model
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-4, weight_decay=2e-4)
    criterion = nn.CrossEntropyLoss(weight=torch.rand(CLASSES) + 0.5, ignore_index=255)
    images = torch.randn(batch, 3, *size).contiguous(memory_format=layout)
    labels = torch.randint(0, CLASSES, (batch, *size))

    def step() -> float:
        with torch.autocast("cpu", dtype=precision, enabled=precision is not None):
            loss = criterion(net(images).float(), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=10, help="images a step (paper: 10)")
    parser.add_argument("--size", type=int, nargs=2, default=(360, 480), metavar=("H", "W"))
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--runs", type=int, default=5, help="timed steps of each")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    precision = torch.bfloat16 if args.precision == "bf16" else None
    size = tuple(args.size)
    kinds = {"channels_last": torch.channels_last, "contiguous": torch.contiguous_format}
    steps = {}
    for name, layout in kinds.items():
        steps[f"{name} eager"] = training_step(layout, precision, False, args.batch, size)
        if args.compile:
            compiled = training_step(layout, precision, True, args.batch, size)
            compiled()  # compiles forward and backward outside the timing
            steps[f"{name} compiled"] = compiled
    medians = interleaved(args.runs, **steps)
    base = medians["channels_last eager"]
    print(f"batch {args.batch} at {size[0]}x{size[1]}, {args.precision}, "
          f"{args.threads} thread(s), median of {args.runs} steps:")
    for name, ms in medians.items():
        print(f"  {name:<24} {ms:9.0f} ms  {base / ms:5.2f}x channels_last eager")


if __name__ == "__main__":
    main()
