"""ENet as Table 1 of the paper builds it: sizes, parameters, multiply-adds, structure."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from enet_train.model import (Bottleneck, DownsamplingBottleneck, ENet, UpsamplingBottleneck,
                              count_multiply_adds, count_parameters)


def test_table1_output_sizes_at_512():
    torch.set_num_threads(1)
    net = ENet(12).eval()
    with torch.no_grad():
        stages = net.forward_stages(torch.zeros(1, 3, 512, 512))
    assert [tuple(s.shape[1:]) for s in stages] == [
        (16, 256, 256),   # initial
        (64, 128, 128),   # stage 1
        (128, 64, 64),    # stage 2
        (128, 64, 64),    # stage 3
        (64, 128, 128),   # stage 4
        (16, 256, 256),   # stage 5
        (12, 512, 512),   # fullconv
    ]


def test_encoder_only_mode_scores_at_one_eighth():
    net = ENet(11, encoder_only=True).eval()
    with torch.no_grad():
        out = net(torch.zeros(2, 3, 64, 96))
    assert out.shape == (2, 11, 8, 12)


def test_parameter_count_matches_the_authors_code():
    assert count_parameters(ENet(12)) == 363_856
    # One class more costs the fullconv's 16*2*2 weights and one bias.
    assert count_parameters(ENet(13)) - count_parameters(ENet(12)) == 16 * 4 + 1


def test_multiply_adds_at_640x360():
    assert count_multiply_adds(ENet(12), 360, 640) == 1_697_760_000


def test_stage_layout_and_dilations():
    net = ENet(12)
    kinds = []
    for block in net.stage2:
        conv = block.conv
        if isinstance(conv, nn.Sequential):
            kinds.append(("asym", conv[0].kernel_size, conv[1].kernel_size))
        else:
            kinds.append(("conv", conv.dilation[0]))
    assert kinds == [("conv", 1), ("conv", 2), ("asym", (5, 1), (1, 5)), ("conv", 4),
                     ("conv", 1), ("conv", 8), ("asym", (5, 1), (1, 5)), ("conv", 16)]
    assert len(net.stage1) == 4 and len(net.stage3) == 8
    assert len(net.stage4) == 2 and len(net.stage5) == 1
    assert isinstance(net.up4, UpsamplingBottleneck) and isinstance(net.down2, DownsamplingBottleneck)


def test_projections_have_no_bias_and_dropout_follows_the_paper():
    net = ENet(12)
    for block in net.modules():
        if isinstance(block, (Bottleneck, DownsamplingBottleneck, UpsamplingBottleneck)):
            assert block.project.bias is None and block.expand.bias is None
    assert net.down1.project.kernel_size == (2, 2) and net.down1.project.stride == (2, 2)
    assert net.down1.dropout.p == 0.01 and all(b.dropout.p == 0.01 for b in net.stage1)
    assert net.down2.dropout.p == 0.1 and all(b.dropout.p == 0.1 for b in net.stage3)
    assert all(isinstance(b.act, nn.ReLU) for b in net.stage4)
    assert all(isinstance(b.act, nn.PReLU) for b in net.stage2)
    assert isinstance(net.fullconv, nn.ConvTranspose2d) and net.fullconv.stride == (2, 2)


@pytest.mark.parametrize("size", [(60, 64), (64, 36)])
def test_sizes_not_multiple_of_8_are_refused(size):
    with pytest.raises(ValueError, match="multiples of 8"):
        ENet(12)(torch.zeros(1, 3, *size))


def test_class_count_is_checked():
    with pytest.raises(ValueError, match="num_classes"):
        ENet(1)
