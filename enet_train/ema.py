"""An exponential moving average of the network's weights, for validation, export and selection.

On CamVid's 101 validation images, ENet's mIoU swings by 2 to 5 points between validations two
epochs apart while the learning rate is still high, so the best of many such scores is partly
luck, and a run that may not select on val (training on train+val) has only its
last epoch, whatever its luck. The average over the last few epochs' steps is steadier and
usually better (Polyak averaging; Izmailov et al. 2018 for the same effect with SWA).
"""
from __future__ import annotations

import copy

import torch
from torch import nn


def ema_decay(epochs: float, steps_per_epoch: int) -> float:
    """The per-step decay whose average spans about ``epochs`` epochs (1 / (1 - decay) steps)."""
    if epochs <= 0:
        raise ValueError(f"an average over {epochs} epochs is not one; give a positive number")
    return 1.0 - 1.0 / max(1.0, epochs * steps_per_epoch)


class WeightAverage:
    """A copy of ``model`` whose floating-point weights and BatchNorm statistics follow the
    trained ones as an exponential moving average; integer buffers (BatchNorm's batch count)
    are copied. Early on the decay is lowered to ``(1 + n) / (10 + n)`` after n updates, so the
    average does not cling to the starting weights for a whole horizon."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.module = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay = decay
        self.updates = 0  # a resumed run restores it with the averaged weights

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for averaged, current in zip(self.module.state_dict().values(),
                                     model.state_dict().values()):
            if averaged.is_floating_point():
                averaged.lerp_(current.detach(), 1 - decay)
            else:
                averaged.copy_(current)
