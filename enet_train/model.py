"""ENet (Paszke, Chaurasia, Kim, Culurciello, 2016) as the paper's Table 1 builds it.

The layer list follows the paper and its authors' released Torch code (e-lab/ENet-training).
Where the paper is silent we chose, and say so here:

* Biases: none in the 1x1 projections and expansions (the paper's words), and none in the
  side-branch 1x1 convs of the decoder. The main 3x3 / dilated / second asymmetric conv, the
  initial block's conv, the decoder's transposed main conv and the final full convolution keep
  theirs, as in the authors' code; this gives their 363,856 parameters for 12 classes.
* BatchNorm epsilon 1e-3 (the authors' value), default momentum.
* Spatial dropout (``nn.Dropout2d``) p = 0.01 in stage 1 (bottlenecks 1.x), 0.1 from bottleneck
  2.0 on; the decoder has none, as in the authors' code.
* Decoder bottlenecks use ReLU where the encoder uses PReLU (the paper: "ReLU in the decoder").
  Their 1x1 projection is not strided: upsampling is done by the 3x3 transposed main conv
  (stride 2, output padding 1) and, on the main branch, by max-unpooling.
* The first asymmetric conv (5x1) has no bias: it is immediately followed by the 1x5 one.
* The encoder-only head for training stage 1 is a 1x1 conv (with bias) from 128 maps to C.

Pooling and unpooling are swappable modules (``MaxPoolWithIndices`` / ``MaxUnpool``) so the
export can replace them by index-free versions that TensorRT runs (see ``export.py``); the
switches carried from encoder to decoder are opaque to the network.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

BN_EPS = 1e-3

# RGB normalisation used by training transforms and baked into the exported graph.
IMAGE_MEAN = (0.485, 0.456, 0.406)
IMAGE_STD = (0.229, 0.224, 0.225)

# Every encoder/decoder size is a multiple of the total stride of 8.
SIZE_MULTIPLE = 8


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS)


class MaxPoolWithIndices(nn.Module):
    """2x2 stride-2 max-pool that also returns its switches (torch indices) for unpooling."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, Any]:
        return F.max_pool2d(x, 2, 2, return_indices=True)


class MaxUnpool(nn.Module):
    """Puts each value back where the matching encoder pool found its maximum."""

    def forward(self, x: torch.Tensor, switches: Any) -> torch.Tensor:
        return F.max_unpool2d(x, switches, 2, 2)


class InitialBlock(nn.Module):
    """13 strided 3x3 convs concatenated with a max-pool of the input: 16 maps at half size."""

    def __init__(self, in_channels: int = 3, out_channels: int = 16) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels - in_channels, 3, 2, 1, bias=True)
        self.pool = nn.MaxPool2d(2, 2)
        self.bn = _bn(out_channels)
        self.act = nn.PReLU(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(torch.cat([self.conv(x), self.pool(x)], 1)))


def _main_conv(channels: int, kind: str, dilation: int) -> nn.Module:
    """The middle conv of a bottleneck: regular, dilated or asymmetric (5x1 then 1x5)."""
    if kind == "regular":
        return nn.Conv2d(channels, channels, 3, 1, 1, bias=True)
    if kind == "dilated":
        return nn.Conv2d(channels, channels, 3, 1, dilation, dilation=dilation, bias=True)
    if kind == "asymmetric":
        return nn.Sequential(
            nn.Conv2d(channels, channels, (5, 1), 1, (2, 0), bias=False),
            nn.Conv2d(channels, channels, (1, 5), 1, (0, 2), bias=True),
        )
    raise ValueError(f"unknown bottleneck kind {kind!r}")


def _activation(channels: int, decoder: bool) -> nn.Module:
    """PReLU (one slope a channel) in the encoder, ReLU in the decoder."""
    return nn.ReLU() if decoder else nn.PReLU(channels)


class Bottleneck(nn.Module):
    """Bottleneck with identity shortcut: 1x1 -> main conv -> 1x1, activation, dropout.

    ``decoder=True`` gives the decoder's variant: ReLU and no dropout.
    """

    def __init__(self, channels: int, kind: str = "regular", dilation: int = 1,
                 dropout: float = 0.1, decoder: bool = False) -> None:
        super().__init__()
        internal = channels // 4
        self.project = nn.Conv2d(channels, internal, 1, bias=False)
        self.bn1 = _bn(internal)
        self.act1 = _activation(internal, decoder)
        self.conv = _main_conv(internal, kind, dilation)
        self.bn2 = _bn(internal)
        self.act2 = _activation(internal, decoder)
        self.expand = nn.Conv2d(internal, channels, 1, bias=False)
        self.bn3 = _bn(channels)
        self.dropout = nn.Identity() if decoder else nn.Dropout2d(dropout)
        self.act = _activation(channels, decoder)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act1(self.bn1(self.project(x)))
        y = self.act2(self.bn2(self.conv(y)))
        y = self.dropout(self.bn3(self.expand(y)))
        return self.act(x + y)


class DownsamplingBottleneck(nn.Module):
    """Halves the size: 2x2 stride-2 projection; the main branch is max-pooled and zero-padded."""

    def __init__(self, in_channels: int, out_channels: int, dropout: float) -> None:
        super().__init__()
        internal = out_channels // 4
        self.extra_channels = out_channels - in_channels
        self.pool = MaxPoolWithIndices()
        self.project = nn.Conv2d(in_channels, internal, 2, 2, bias=False)
        self.bn1 = _bn(internal)
        self.act1 = nn.PReLU(internal)
        self.conv = nn.Conv2d(internal, internal, 3, 1, 1, bias=True)
        self.bn2 = _bn(internal)
        self.act2 = nn.PReLU(internal)
        self.expand = nn.Conv2d(internal, out_channels, 1, bias=False)
        self.bn3 = _bn(out_channels)
        self.dropout = nn.Dropout2d(dropout)
        self.act = nn.PReLU(out_channels)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, Any]:
        main, switches = self.pool(x)
        main = F.pad(main, (0, 0, 0, 0, 0, self.extra_channels))
        y = self.act1(self.bn1(self.project(x)))
        y = self.act2(self.bn2(self.conv(y)))
        y = self.dropout(self.bn3(self.expand(y)))
        return self.act(main + y), switches


class UpsamplingBottleneck(nn.Module):
    """Doubles the size: transposed 3x3 main conv; main branch 1x1 conv + BN + max-unpool."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        internal = out_channels // 4
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.shortcut_bn = _bn(out_channels)
        self.unpool = MaxUnpool()
        self.project = nn.Conv2d(in_channels, internal, 1, bias=False)
        self.bn1 = _bn(internal)
        self.act1 = nn.ReLU()
        self.conv = nn.ConvTranspose2d(internal, internal, 3, 2, 1, output_padding=1, bias=True)
        self.bn2 = _bn(internal)
        self.act2 = nn.ReLU()
        self.expand = nn.Conv2d(internal, out_channels, 1, bias=False)
        self.bn3 = _bn(out_channels)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor, switches: Any) -> torch.Tensor:
        main = self.unpool(self.shortcut_bn(self.shortcut(x)), switches)
        y = self.act1(self.bn1(self.project(x)))
        y = self.act2(self.bn2(self.conv(y)))
        y = self.bn3(self.expand(y))
        return self.act(main + y)


def _stage_2_or_3(dropout: float, channels: int = 128) -> list[nn.Module]:
    """Bottlenecks x.1 to x.8 of Table 1, shared by stages 2 and 3."""
    return [
        Bottleneck(channels, "regular", 1, dropout),
        Bottleneck(channels, "dilated", 2, dropout),
        Bottleneck(channels, "asymmetric", 1, dropout),
        Bottleneck(channels, "dilated", 4, dropout),
        Bottleneck(channels, "regular", 1, dropout),
        Bottleneck(channels, "dilated", 8, dropout),
        Bottleneck(channels, "asymmetric", 1, dropout),
        Bottleneck(channels, "dilated", 16, dropout),
    ]


class ENet(nn.Module):
    """The whole network of Table 1, with an encoder-only mode for training stage 1.

    ``forward`` returns full-resolution class scores [N, C, H, W]; in encoder-only mode
    (``encoder_only=True``) it returns scores at 1/8 size from the 1x1 head, which is how the
    paper trains the encoder first.

    ``width`` multiplies every layer's channels (16, 64, 128): 1 is the paper's network, what
    is shipped; a wider one is only a teacher for distillation (``enet-train train --width 2``),
    same layers and same model-file contract, 4x the multiply-adds at width 2.
    """

    def __init__(self, num_classes: int, encoder_only: bool = False, width: int = 1) -> None:
        super().__init__()
        if num_classes < 2 or num_classes > 256:
            raise ValueError(f"num_classes must be in [2, 256], got {num_classes}")
        if width < 1:
            raise ValueError(f"width must be a positive integer, got {width}")
        self.num_classes = num_classes
        self.encoder_only = encoder_only
        self.width = width
        c16, c64, c128 = 16 * width, 64 * width, 128 * width
        self.initial = InitialBlock(3, c16)
        self.down1 = DownsamplingBottleneck(c16, c64, 0.01)
        self.stage1 = nn.Sequential(*[Bottleneck(c64, "regular", 1, 0.01) for _ in range(4)])
        self.down2 = DownsamplingBottleneck(c64, c128, 0.1)
        self.stage2 = nn.Sequential(*_stage_2_or_3(0.1, c128))
        self.stage3 = nn.Sequential(*_stage_2_or_3(0.1, c128))
        self.encoder_head = nn.Conv2d(c128, num_classes, 1, bias=True)
        self.up4 = UpsamplingBottleneck(c128, c64)
        self.stage4 = nn.Sequential(Bottleneck(c64, decoder=True), Bottleneck(c64, decoder=True))
        self.up5 = UpsamplingBottleneck(c64, c16)
        self.stage5 = nn.Sequential(Bottleneck(c16, decoder=True))
        self.fullconv = nn.ConvTranspose2d(c16, num_classes, 2, 2, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_stages(x)[-1]

    def forward_stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every stage's output in order (initial, 1, 2, 3, [4, 5, fullconv | head])."""
        if x.shape[-2] % SIZE_MULTIPLE or x.shape[-1] % SIZE_MULTIPLE:
            raise ValueError(f"ENet needs height and width that are multiples of "
                             f"{SIZE_MULTIPLE}, got {tuple(x.shape[-2:])}")
        x0 = self.initial(x)
        x1, switches1 = self.down1(x0)
        x1 = self.stage1(x1)
        x2, switches2 = self.down2(x1)
        x2 = self.stage2(x2)
        x3 = self.stage3(x2)
        if self.encoder_only:
            return [x0, x1, x2, x3, self.encoder_head(x3)]
        x4 = self.stage4(self.up4(x3, switches2))
        x5 = self.stage5(self.up5(x4, switches1))
        return [x0, x1, x2, x3, x4, x5, self.fullconv(x5)]

    def decoder_parameters(self) -> list[nn.Parameter]:
        """Parameters outside the encoder head: what the full network counts."""
        head = {id(p) for p in self.encoder_head.parameters()}
        return [p for p in self.parameters() if id(p) not in head]


def count_parameters(model: ENet) -> int:
    """Parameters of the network as used: the encoder head counts only in encoder-only mode."""
    params = model.parameters() if model.encoder_only else model.decoder_parameters()
    return sum(p.numel() for p in params)


def count_multiply_adds(model: nn.Module, height: int, width: int) -> int:
    """Multiply-adds of every conv and transposed conv for one height x width RGB image."""
    total = 0

    def conv_hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        kernel = module.weight.shape[2] * module.weight.shape[3]
        if isinstance(module, nn.ConvTranspose2d):
            total += inputs[0].numel() * module.out_channels * kernel // module.groups
        else:
            total += output.numel() * module.in_channels * kernel // module.groups

    handles = [m.register_forward_hook(conv_hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, 3, height, width))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return total
