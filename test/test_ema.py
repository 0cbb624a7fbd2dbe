"""The weight average: its recursion, what it copies, and its horizon."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from enet_train.ema import WeightAverage, ema_decay


def test_decay_spans_the_asked_number_of_epochs():
    assert ema_decay(5, 36) == pytest.approx(1 - 1 / 180)
    assert ema_decay(0.01, 36) == 0.0  # under one step: the average is the weights
    with pytest.raises(ValueError, match="positive"):
        ema_decay(0, 36)


def test_average_follows_the_recursion_and_copies_integer_buffers():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, 1, bias=False), nn.BatchNorm2d(3))
    average = WeightAverage(model, decay=0.9)
    assert not any(p.requires_grad for p in average.module.parameters())
    want = model[0].weight.detach().clone()
    for n in range(1, 30):
        with torch.no_grad():
            model[0].weight.add_(torch.randn_like(model[0].weight))
        model(torch.randn(4, 2, 5, 5))  # training mode: BatchNorm statistics move too
        average.update(model)
        decay = min(0.9, (1 + n) / (10 + n))
        want = decay * want + (1 - decay) * model[0].weight.detach()
    assert average.updates == 29
    torch.testing.assert_close(average.module[0].weight, want)
    assert not torch.equal(average.module[0].weight, model[0].weight)
    assert average.module[1].num_batches_tracked.item() == 29
    assert not torch.equal(average.module[1].running_mean, model[1].running_mean)
