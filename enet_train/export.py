"""Turn a trained ENet into a model file that ONNX Runtime and TensorRT both run.

What changes between training and the model file, and why:

* BatchNorm is folded into the conv before it (in the initial block, where a max-pool shares
  the BatchNorm, into one 16-map conv plus the scaled pool), dropout is gone: fewer, cheaper
  layers with the same function in inference. The only BatchNormalization nodes left in the
  graph are PReLU slopes in disguise (see below), never a trained BatchNorm.
* Max-pooling with indices and MaxUnpool are replaced by index-free operators, because
  TensorRT has neither a MaxUnpool layer nor a MaxPool indices output. The encoder keeps, per
  2x2 window, a one-hot mask of the *first* maximum in row-major order (exactly the position
  torch's indices point to, ties included), built from strided slices, Max, Equal, And/Not and
  one DepthToSpace of the four float masks (``interleave_phases``); the decoder unpools by
  multiplying the nearest-upsampled values with that mask.
  Deriving the mask from ``x == upsample(maxpool(x))`` would be wrong on ties (flat regions),
  where several positions equal the maximum.
* Written for ONNX Runtime's CPU provider, whose NCHWc (blocked) layout runs Conv, MaxPool,
  Add, Mul, Concat, Relu, nearest Resize and BatchNormalization (as a depthwise conv) without
  layout reorders, and fuses Add and Relu into convs; any other operator costs two full-tensor
  reorders. So PReLU becomes BatchNormalization/Relu/Add (``ScaleReluPReLU``), the initial
  block and the downsampling bottlenecks avoid Concat of unaligned maps and Pad
  (``FoldedInitialBlock``, ``FoldedDownsampling``), the unpooled maps are multiplied in NCHWc,
  and the final transposed conv is a 1x1 conv to 4 phases with the labels taken per phase
  (``PhaseFullConv``). Every one of these operators is in TensorRT's parser too.
* Pre- and post-processing live in the graph: uint8 NHWC RGB in, normalisation, the first
  maximum's class (``FirstMaximum``: ArgMax's result from ReduceMax and element-wise layers, so
  TensorRT builds no TopK layer, which fails on Maxwell Jetsons), uint8 class ids out (and
  optionally the confidence, floor(255 x the winning class's softmax probability + 0.5) as
  uint8: Floor before the Cast, since engines differ in how a Cast of a fraction rounds), so
  the robot needs no torch and no per-pixel Python. The image is cast to float32 before
  anything else touches it, and the labels are cast last, so no operator but Cast sees an
  8-bit tensor (TensorRT allows uint8 at the network's edges only).
* ``io="float32"`` writes the same graph with float32 RGB 0..255 in and int32 class ids (and
  int32 confidence, same values) out (no Cast at the input): TensorRT documents uint8 casts from 8.6 on, so JetPack 5 needs it.
* Opset 17: torch's exporter writes 18, onnx's version converter takes the graph to 17, the
  newest opset TensorRT 8.4 to 8.6 document (10.x reads 9 to 20). The verification after
  export runs the converted file, so a conversion that changed a label would be caught.
* Opset 13 (``JETPACK4_OPSET``, ``enet-train export --target jetpack4``): TensorRT 8.2, the
  last release for the TX1 and the Nano (JetPack 4.6), documents opsets up to 13; torch's
  TorchScript exporter writes the same modules at 13 directly.
"""
from __future__ import annotations

import copy
import warnings
from io import BytesIO
from pathlib import Path

import numpy as np
import onnx
import onnx.version_converter
import onnxscript
import torch
import torch.nn.functional as F
from onnxscript import opset18 as onnx_op
from torch import nn

from enet_ros.model_file import (CONFIDENCE_NAME, DEFAULT_IO, INPUT_NAME, IO_KINDS, LABELS_NAME,
                                 SIZE_MULTIPLE, ModelMetadata)
from enet_train.model import (IMAGE_MEAN, IMAGE_STD, Bottleneck, DownsamplingBottleneck, ENet,
                              InitialBlock, UpsamplingBottleneck)

TORCH_OPSET = 18  # what torch.onnx's dynamo exporter writes
OPSET = 17  # what the model file holds: TensorRT 8.4 to 8.6 document opsets up to 17
JETPACK4_OPSET = 13  # the JetPack 4.6 file: TensorRT 8.2 documents opsets up to 13


class ExportError(ValueError):
    """An export that cannot be made as asked; the message says what to change."""


@torch.library.custom_op("enet::interleave_phases", mutates_args=())
def interleave_phases(phases: torch.Tensor) -> torch.Tensor:
    """[N, 4C, h, w] maps, phase-major (phase = 2 * row parity + column parity), to [N, C, 2h,
    2w]: ONNX's DepthToSpace in DCR mode, which torch has no operator for.

    The switches are interleaved this way, as float maps, because both runtimes then run it
    as one cheap kernel: as a reshape-transpose-reshape ONNX Runtime spent 9 ms of 62 in the
    transpose, and interleaving boolean maps by stacking them on a new last axis, as before,
    ran in OpenVINO's reference Concat kernel (12 ms of 44 on one thread, 640x360).
    """
    n, _, h, w = phases.shape
    return PhaseFullConv.interleave(phases.reshape(n, 4, -1, h, w))


@interleave_phases.register_fake
def _(phases: torch.Tensor) -> torch.Tensor:
    n, c4, h, w = phases.shape
    return phases.new_empty((n, c4 // 4, 2 * h, 2 * w))


def _interleave_phases_onnx(phases: onnxscript.onnx_types.FLOAT) -> onnxscript.onnx_types.FLOAT:
    return onnx_op.DepthToSpace(phases, blocksize=2, mode="DCR")


# What torch.onnx.export needs to write this module's own operators.
ONNX_TRANSLATIONS = {torch.ops.enet.interleave_phases.default: _interleave_phases_onnx}


class MaxPoolWithMask(nn.Module):
    """2x2 stride-2 max-pool whose switches are a first-maximum one-hot mask, not indices."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x00, x01 = x[:, :, 0::2, 0::2], x[:, :, 0::2, 1::2]
        x10, x11 = x[:, :, 1::2, 0::2], x[:, :, 1::2, 1::2]
        pooled = torch.maximum(torch.maximum(x00, x01), torch.maximum(x10, x11))
        e00, e01, e10 = x00 == pooled, x01 == pooled, x10 == pooled
        # The first position (row-major) holding the maximum wins, as in torch's indices.
        m00 = e00
        m01 = e01 & ~e00
        m10 = e10 & ~(e00 | e01)
        m11 = ~(e00 | e01 | e10)
        phases = torch.cat([m.to(x.dtype) for m in (m00, m01, m10, m11)], dim=1)
        return pooled, torch.ops.enet.interleave_phases(phases)


class MaskUnpool(nn.Module):
    """Unpools by placing each value at its window's masked position, zeros elsewhere.

    With ``channels`` the mask first goes through an identity 1x1 depthwise conv (weights 1,
    exact): ONNX Runtime then reorders the mask into its NCHWc layout and runs the product
    there, so the decoder's adds and ReLUs fuse into its convs instead of running in NCHW.
    """

    def __init__(self, channels: int | None = None) -> None:
        super().__init__()
        # a buffer, so that .to(device or dtype) moves it with the module; not saved
        self.register_buffer("identity", None if channels is None else
                             torch.ones(channels, 1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.identity is not None:
            mask = F.conv2d(mask, self.identity.to(mask.dtype), groups=mask.shape[1])
        return F.interpolate(x, scale_factor=2.0, mode="nearest") * mask


class PhaseFullConv(nn.Module):
    """The final 2x2 stride-2 transposed conv as a 1x1 conv to its 4 output phases.

    ``phases`` gives [N, 4, C, h, w] (phase = 2 * row parity + column parity): the labels take
    the argmax per phase and interleave once, 1 map instead of C. ONNX Runtime runs the 1x1 conv
    in its NCHWc layout; its ConvTranspose (gemm + col2im) is several times slower.
    """

    def __init__(self, deconv: nn.ConvTranspose2d) -> None:
        super().__init__()
        if deconv.kernel_size != (2, 2) or deconv.stride != (2, 2) or deconv.padding != (0, 0):
            raise ValueError("PhaseFullConv takes a 2x2 stride-2 transposed conv")
        cin, cout = deconv.in_channels, deconv.out_channels
        self.classes = cout
        self.conv = nn.Conv2d(cin, 4 * cout, 1, bias=True)
        weight = deconv.weight.detach().permute(2, 3, 1, 0).reshape(4 * cout, cin, 1, 1)
        bias = deconv.bias.detach() if deconv.bias is not None else torch.zeros(cout)
        with torch.no_grad():
            self.conv.weight.copy_(weight)
            self.conv.bias.copy_(bias.repeat(4))

    def phases(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        return self.conv(x).reshape(n, 4, self.classes, h, w)

    @staticmethod
    def interleave(phases: torch.Tensor) -> torch.Tensor:
        """[N, 4, C, h, w] phases to [N, C, 2h, 2w]."""
        n, _, c, h, w = phases.shape
        return phases.reshape(n, 2, 2, c, h, w).permute(0, 3, 4, 1, 5, 2).reshape(
            n, c, 2 * h, 2 * w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.interleave(self.phases(x))


class ScaleReluPReLU(nn.Module):
    """PReLU as ``x + (1 - a) * relu(-x)``, written with per-channel BatchNormalizations.

    The same function as ``nn.PReLU`` for every slope ``a`` (exact where x >= 0, one rounding
    where x < 0), in operators ONNX Runtime's CPU provider keeps in its blocked NCHWc layout:
    it turns each BatchNormalization (mean 0, variance 1, epsilon 0, so its scale is taken as is)
    into a 1x1 depthwise conv, fuses the Relu into the first and the Add into the second. Its
    PRelu kernel is slow and forces two layout reorders around each of the encoder's 67 PReLUs.
    TensorRT builds each BatchNormalization as a per-channel scale layer.
    """

    def __init__(self, prelu: nn.PReLU, channels: int) -> None:
        super().__init__()
        slope = prelu.weight.detach().reshape(-1)
        if slope.numel() == 1:
            slope = slope.expand(channels)
        if slope.numel() != channels:
            raise ValueError(f"PReLU has {slope.numel()} slopes for {channels} channels")
        self.register_buffer("zeros", torch.zeros(channels))
        self.register_buffer("ones", torch.ones(channels))
        self.register_buffer("negate", -torch.ones(channels))
        self.register_buffer("scale", (1.0 - slope).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        negative = F.relu(F.batch_norm(x, self.zeros, self.ones, self.negate, self.zeros,
                                       False, 0.0, 0.0))
        return x + F.batch_norm(negative, self.zeros, self.ones, self.scale, self.zeros,
                                False, 0.0, 0.0)


class FoldedInitialBlock(nn.Module):
    """The initial block with its BatchNorm folded: one 16-map conv plus the padded pool.

    The conv's 13 maps carry the folded BatchNorm; its last 3 maps have zero weights and the
    pool maps' shift as bias, and the max-pool, scaled into the last 3 of 16 maps by a 1x1
    conv whose other weights are 0, is added to them. Same function as concat -> BatchNorm,
    but every map leaves a conv, so ONNX Runtime keeps the block's output in its NCHWc layout instead of concatenating 13 + 3 maps.
    """

    def __init__(self, block: InitialBlock) -> None:
        super().__init__()
        conv, bn = block.conv, block.bn
        scale = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach()
        shift = (bn.bias - bn.running_mean * scale).detach()
        n = conv.out_channels
        self.conv = nn.Conv2d(conv.in_channels, n + conv.in_channels, 3, 2, 1, bias=True)
        with torch.no_grad():
            self.conv.weight.zero_()
            self.conv.weight[:n] = conv.weight * scale[:n].reshape(-1, 1, 1, 1)
            bias = conv.bias if conv.bias is not None else torch.zeros(n)
            self.conv.bias.copy_(torch.cat([bias * scale[:n] + shift[:n], shift[n:]]))
        pool_weight = torch.zeros(n + conv.in_channels, conv.in_channels, 1, 1)
        for i in range(conv.in_channels):
            pool_weight[n + i, i] = scale[n + i]
        self.register_buffer("pool_weight", pool_weight)
        self.act = block.act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # pool_weight scales the pooled maps into the last 3 of 16 (exact: other terms are 0).
        pooled = F.conv2d(F.max_pool2d(x, 2, 2), self.pool_weight)
        return self.act(self.conv(x) + pooled)


class FoldedDownsampling(nn.Module):
    """A folded downsampling bottleneck whose main branch is a plain MaxPool plus a concat.

    ``pad(pool(x)) + expand(y)`` is computed as ``concat(expand_a(y) + pool(x), expand_b(y))``
    (the expand conv split at the pooled maps): the same sums, in operators ONNX Runtime runs
    in its NCHWc layout (the add fuses into the conv), where Pad would force a layout reorder
    of the whole residual chain. The switches (first-maximum mask) come from MaxPoolWithMask.
    """

    def __init__(self, block: DownsamplingBottleneck) -> None:
        super().__init__()
        self.project, self.act1 = block.project, block.act1
        self.conv, self.act2 = block.conv, block.act2
        self.act = block.act
        pooled = block.expand.out_channels - block.extra_channels
        expand = block.expand
        self.expand_a = nn.Conv2d(expand.in_channels, pooled, 1, bias=True)
        self.expand_b = nn.Conv2d(expand.in_channels, block.extra_channels, 1, bias=True)
        with torch.no_grad():
            self.expand_a.weight.copy_(expand.weight[:pooled])
            self.expand_b.weight.copy_(expand.weight[pooled:])
            self.expand_a.bias.copy_(expand.bias[:pooled])
            self.expand_b.bias.copy_(expand.bias[pooled:])
        self.switches = MaxPoolWithMask()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        main = F.max_pool2d(x, 2, 2)
        _, switches = self.switches(x)
        y = self.act2(self.conv(self.act1(self.project(x))))
        return self.act(torch.cat([self.expand_a(y) + main, self.expand_b(y)], 1)), switches


def _replace_prelus(block: nn.Module, channels: dict[str, int]) -> None:
    for name, count in channels.items():
        act = getattr(block, name)
        if isinstance(act, nn.PReLU):
            setattr(block, name, ScaleReluPReLU(act, count))


def fold_conv_bn(conv: nn.Conv2d | nn.ConvTranspose2d, bn: nn.BatchNorm2d) -> nn.Module:
    """A conv with bias computing bn(conv(x)) in inference."""
    fused = copy.deepcopy(conv)
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    with torch.no_grad():
        if isinstance(conv, nn.ConvTranspose2d):  # weight is [in, out, kh, kw]
            fused.weight.copy_(conv.weight * scale.reshape(1, -1, 1, 1))
        else:
            fused.weight.copy_(conv.weight * scale.reshape(-1, 1, 1, 1))
        fused.bias = nn.Parameter((bias - bn.running_mean) * scale + bn.bias)
    return fused


def _fold_main_conv(block: nn.Module) -> None:
    """Fold bn2 into the main conv, the last conv of an asymmetric pair."""
    if isinstance(block.conv, nn.Sequential):
        block.conv[-1] = fold_conv_bn(block.conv[-1], block.bn2)
    else:
        block.conv = fold_conv_bn(block.conv, block.bn2)
    block.bn2 = nn.Identity()


def inference_network(net: ENet) -> ENet:
    """A copy of ``net`` for inference: BatchNorm folded, no dropout, index-free unpooling."""
    if net.encoder_only:
        raise ExportError("this is an encoder-only (stage 1) network; export the full network "
                          "trained in stage 2")
    net = copy.deepcopy(net).eval()
    for block in net.modules():
        if isinstance(block, (Bottleneck, DownsamplingBottleneck, UpsamplingBottleneck)):
            block.project, block.bn1 = fold_conv_bn(block.project, block.bn1), nn.Identity()
            _fold_main_conv(block)
            block.expand, block.bn3 = fold_conv_bn(block.expand, block.bn3), nn.Identity()
            if hasattr(block, "dropout"):
                block.dropout = nn.Identity()
        if isinstance(block, InitialBlock):
            _replace_prelus(block, {"act": block.act.num_parameters})
        if isinstance(block, (Bottleneck, DownsamplingBottleneck)):
            internal, out = block.project.out_channels, block.expand.out_channels
            _replace_prelus(block, {"act1": internal, "act2": internal, "act": out})
        if isinstance(block, DownsamplingBottleneck):
            block.pool = MaxPoolWithMask()
        if isinstance(block, UpsamplingBottleneck):
            block.shortcut = fold_conv_bn(block.shortcut, block.shortcut_bn)
            block.shortcut_bn = nn.Identity()
            block.unpool = MaskUnpool(block.shortcut.out_channels)
    net.initial = FoldedInitialBlock(net.initial)
    net.down1, net.down2 = FoldedDownsampling(net.down1), FoldedDownsampling(net.down2)
    net.fullconv = PhaseFullConv(net.fullconv)
    net.encoder_head = nn.Identity()
    return net


class FirstMaximum(nn.Module):
    """Per pixel of [N, C, H, W] scores: the class of the first maximum (ArgMax's tie rule),
    as float, and sum_c exp(l_c - max l), whose inverse is the top class's softmax
    probability; both [N, H, W], without ArgMax or Softmax.

    TensorRT builds ArgMax as a TopK layer, for which builds on Maxwell Jetsons (JetPack 4.6)
    are reported to find no implementation or to time out (onnx/onnx-tensorrt#564, #671); a
    ReduceMax, an Equal, a product with the descending ramp C - c and a second ReduceMax give
    the same index from layers every TensorRT builds (exact: the ramp holds small integers).
    The probability reuses the first ReduceMax, where ONNX Runtime's Softmax over the class
    axis transposes the whole tensor twice.
    """

    def __init__(self, classes: int) -> None:
        super().__init__()
        self.classes = float(classes)
        self.register_buffer("ramp", torch.arange(classes, 0, -1, dtype=torch.float32)
                             .reshape(1, classes, 1, 1))

    def forward(self, scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        top = scores.amax(dim=1, keepdim=True)
        first = self.classes - ((scores == top).to(scores.dtype) * self.ramp).amax(dim=1)
        return first, torch.exp(scores - top).sum(dim=1)


class ImageToLabels(nn.Module):
    """NHWC RGB in, class ids out: the whole per-frame computation in one graph.

    io names the dtypes at the edges (``enet_ros.model_file.IO_KINDS``): uint8 in and out,
    or float32 0..255 in and int32 out; the computation between them is the same.
    """

    def __init__(self, net: nn.Module, confidence: bool, io: str = DEFAULT_IO) -> None:
        super().__init__()
        self.labels_dtype = {"uint8": torch.uint8, "float32": torch.int32}[io]
        self.head = None
        if isinstance(getattr(net, "fullconv", None), PhaseFullConv):
            net = copy.copy(net)  # a new module dict; the caller's network keeps its head
            net._modules = dict(net._modules)
            self.head, net.fullconv = net.fullconv, nn.Identity()
        self.net = net
        self.first_maximum = FirstMaximum(net.num_classes)
        self.confidence = confidence
        self.register_buffer("full_scale", torch.tensor(255.0))
        std = torch.tensor(IMAGE_STD) * 255.0
        self.register_buffer("scale", (1.0 / std).reshape(1, 3, 1, 1))
        self.register_buffer("offset", (-torch.tensor(IMAGE_MEAN) * 255.0 / std).reshape(1, 3, 1, 1))

    def forward(self, image: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        x = image.to(torch.float32).permute(0, 3, 1, 2) * self.scale + self.offset
        if self.head is None:
            labels, total = self.first_maximum(self.net(x))
            labels = labels.to(self.labels_dtype)
            return (labels, self._confidence(total)) if self.confidence else labels
        # Per output phase, then one interleave (DepthToSpace) of a single map.
        phases = self.head.phases(self.net(x))
        n, _, c, h, w = phases.shape
        labels, total = self.first_maximum(phases.reshape(n * 4, c, h, w))
        labels = F.pixel_shuffle(labels.reshape(n, 4, h, w), 2)[:, 0].to(self.labels_dtype)
        if not self.confidence:
            return labels
        return labels, self._confidence(F.pixel_shuffle(total.reshape(n, 4, h, w), 2)[:, 0])

    def _confidence(self, total: torch.Tensor) -> torch.Tensor:
        """The contract's confidence, floor(255 p + 0.5), of the top class's probability
        p = 1 / total (``FirstMaximum``): Div, not Reciprocal, which TensorRT 8.2 lacks."""
        return torch.floor(torch.div(self.full_scale, total) + 0.5).to(self.labels_dtype)


def _check_size(height: int, width: int) -> None:
    if height <= 0 or width <= 0 or height % SIZE_MULTIPLE or width % SIZE_MULTIPLE:
        raise ExportError(f"size {height}x{width} is not a multiple of {SIZE_MULTIPLE}: ENet "
                          f"downsamples by 8; try {max(8, height // 8 * 8)}x{max(8, width // 8 * 8)}")


def export_onnx(net: ENet, out: str | Path, metadata: ModelMetadata,
                fixed_size: tuple[int, int] | None = None, confidence: bool = False,
                opset: int = OPSET) -> Path:
    """Write the model file for ``net``: folded, index-free, pre/post inside, metadata set.

    Height and width are dynamic multiples of 8 unless ``fixed_size`` (height, width) is given.
    The I/O flavour is the metadata's ``io``; ``opset`` is OPSET or JETPACK4_OPSET.
    """
    if opset not in (OPSET, JETPACK4_OPSET):
        raise ExportError(f"opset {opset}: the export writes {OPSET} (TensorRT 8.4 on) or "
                          f"{JETPACK4_OPSET} (TensorRT 8.2, JetPack 4.6)")
    if metadata.num_classes != net.num_classes:
        raise ExportError(f"the network has {net.num_classes} classes but the metadata names "
                          f"{metadata.num_classes}: pass the class names it was trained with")
    height, width = fixed_size or (metadata.input_height, metadata.input_width)
    _check_size(height, width)
    wrapper = ImageToLabels(inference_network(net), confidence, metadata.io).eval()
    # batch 2: torch.export specialises a dimension of size 1 in the example to a constant.
    example = torch.zeros(2, height, width, 3,
                          dtype=getattr(torch, IO_KINDS[metadata.io].input_dtype.name))
    outputs = [LABELS_NAME, CONFIDENCE_NAME] if confidence else [LABELS_NAME]
    with warnings.catch_warnings(), torch.no_grad():
        # torch's own deprecation notices about its exporters (and the TorchScript tracer's
        # notes on constant shapes, which the export fixes on purpose) say nothing about the
        # model; any other warning is shown
        for category in (FutureWarning, DeprecationWarning, torch.jit.TracerWarning):
            warnings.simplefilter("ignore", category)
        if opset == JETPACK4_OPSET:
            model = _export_opset13(wrapper, example, outputs, fixed_size is None)
        else:
            model = onnx.version_converter.convert_version(
                _export_dynamo(wrapper, example, outputs, fixed_size is None), opset)
    _name_dynamic_dims(model)
    del model.metadata_props[:]
    for key, value in metadata.to_props().items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, out)
    return out


def _export_dynamo(wrapper: nn.Module, example: torch.Tensor, outputs: list[str],
                   dynamic: bool) -> onnx.ModelProto:
    """torch.export's graph at TORCH_OPSET, with our DepthToSpace translation."""
    dims: dict[int, object] = {0: torch.export.Dim("batch", min=1, max=64)}
    if dynamic:
        dims[1] = SIZE_MULTIPLE * torch.export.Dim("rows", min=1, max=1024)
        dims[2] = SIZE_MULTIPLE * torch.export.Dim("cols", min=1, max=1024)
    program = torch.onnx.export(wrapper, (example,), input_names=[INPUT_NAME],
                                output_names=outputs, opset_version=TORCH_OPSET, dynamo=True,
                                dynamic_shapes={"image": dims}, external_data=False,
                                verbose=False, custom_translation_table=ONNX_TRANSLATIONS)
    return program.model_proto


def _depth_to_space_symbolic(g: object, phases: object) -> object:
    return g.op("DepthToSpace", phases, blocksize_i=2, mode_s="DCR")


def _export_opset13(wrapper: nn.Module, example: torch.Tensor, outputs: list[str],
                    dynamic: bool) -> onnx.ModelProto:
    """The graph written at opset 13 by torch's TorchScript exporter, which writes any opset
    directly: the dynamo exporter writes 18 and only converts down, and onnx's converter
    cannot take every operator below 17 (ReduceMax's axes, for one, move into an input at 18).
    """
    torch.onnx.register_custom_op_symbolic("enet::interleave_phases", _depth_to_space_symbolic,
                                           JETPACK4_OPSET)
    buffer = BytesIO()
    axes = {0: "batch", 1: "height", 2: "width"} if dynamic else {0: "batch"}
    try:
        torch.onnx.export(wrapper, (example,), buffer, input_names=[INPUT_NAME],
                          output_names=outputs, opset_version=JETPACK4_OPSET, dynamo=False,
                          dynamic_axes={INPUT_NAME: axes, **{o: dict(list(axes.items()))
                                                             for o in outputs}})
    finally:
        torch.onnx.unregister_custom_op_symbolic("enet::interleave_phases", JETPACK4_OPSET)
    model = onnx.load_model_from_string(buffer.getvalue())
    _bypass_weight_identities(model.graph)
    return model


def _bypass_weight_identities(graph: onnx.GraphProto) -> None:
    """Read initializers directly where the TorchScript exporter put an Identity before them
    (it shares one buffer among the PReLU BatchNormalizations that way): TensorRT's parser
    turns an Identity's output into a tensor, and a BatchNormalization whose parameters are
    not weights is built from element-wise layers instead of one scale layer."""
    weights = {i.name for i in graph.initializer}
    source = {n.output[0]: n.input[0] for n in graph.node
              if n.op_type == "Identity" and n.input[0] in weights}
    kept = [n for n in graph.node if n.output[0] not in source]
    for node in kept:
        node.input[:] = [source.get(name, name) for name in node.input]
    del graph.node[:]
    graph.node.extend(kept)


def _name_dynamic_dims(model: onnx.ModelProto) -> None:
    """Give the graph's dynamic dimensions readable names: batch, height, width."""
    for value in [*model.graph.input, *model.graph.output]:
        dims = value.type.tensor_type.shape.dim
        for dim, name in zip(dims, ("batch", "height", "width")):
            if not dim.HasField("dim_value"):
                dim.dim_param = name


def torch_labels(net: ENet, images: np.ndarray) -> np.ndarray:
    """Reference labels from the training network (eval mode, MaxUnpool, no folding)."""
    wrapper = ImageToLabels(copy.deepcopy(net).eval(), confidence=False).eval()
    with torch.no_grad():
        return wrapper(torch.from_numpy(np.ascontiguousarray(images))).numpy()


def onnxruntime_labels(model_path: str | Path, images: np.ndarray) -> np.ndarray:
    """Labels from the model file in enet_ros's ONNX Runtime engine on the CPU, a frame at a time."""
    from enet_ros.engines import open_engine
    from enet_ros.model_file import open_model_file

    engine = open_engine("onnxruntime", open_model_file(model_path), ["CPUExecutionProvider"])
    return np.concatenate([engine.infer(images[i:i + 1]) for i in range(len(images))])


def label_agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Share of pixels with the same class id."""
    if a.shape != b.shape:
        raise ValueError(f"label shapes differ: {a.shape} vs {b.shape}")
    return float(np.mean(a == b))

