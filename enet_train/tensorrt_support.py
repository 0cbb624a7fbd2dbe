"""Which ONNX operators TensorRT's ONNX parser builds, so a model file can be checked here.

TensorRT cannot be installed on our machines, so readiness is proven statically: every
operator of the graph must be in the parser's support matrix (onnx-tensorrt docs/operators.md,
operators marked Y, at branch 8.4-GA; later releases only add to it), and MaxPool must not ask
for its indices output.

``oldest_tensorrt`` names the oldest release whose parser documentation covers a file, from
the same docs at each release branch: the operators (8.2-GA lacks six of 8.4-GA's), the newest
opset each release documents (8.2: 13; 8.4 to 8.6: 17; 10.x: 20), and the I/O tensor types
(uint8, the default model file's, has a Cast from 8.6 on; int64 is narrowed to int32 before
10.0). 8.2 is the oldest release read: JetPack 4.6, the last for the TX1 and the Nano.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import onnx

# Every operator docs/operators.md marks Y at onnx-tensorrt branch 8.4-GA (commit 63d626b,
# 2022-11-01); 8.2-GA (commit f42daee, 2022-04-29) marks the six of OPERATOR_SINCE N.
SUPPORTED = frozenset("""
Abs Acos Acosh Add And ArgMax ArgMin Asin Asinh Atan Atanh AveragePool BatchNormalization Cast Ceil
Celu Clip Concat Constant ConstantOfShape Conv ConvTranspose Cos Cosh CumSum DepthToSpace
DequantizeLinear Div Dropout Einsum Elu Equal Erf Exp Expand EyeLike Flatten Floor Gather
GatherElements GatherND Gemm GlobalAveragePool GlobalLpPool GlobalMaxPool Greater GreaterOrEqual
GRU HardSigmoid HardSwish Identity If ImageScaler InstanceNormalization IsNaN LeakyRelu Less
LessOrEqual Log LogSoftmax Loop LpNormalization LpPool LRN LSTM MatMul Max MaxPool Mean Min Mul Neg
NonMaxSuppression Not Or Pad ParametricSoftplus Pow PRelu QuantizeLinear RandomNormal
RandomNormalLike RandomUniform RandomUniformLike Range Reciprocal ReduceL1 ReduceL2 ReduceLogSum
ReduceLogSumExp ReduceMax ReduceMean ReduceMin ReduceProd ReduceSum ReduceSumSquare Relu Reshape
Resize ReverseSequence RNN Round ScaledTanh Scan Scatter ScatterElements ScatterND Selu Shape
Shrink Sigmoid Sign Sin Sinh Size Slice Softmax Softplus Softsign SpaceToDepth Split Sqrt Squeeze
Sub Sum Tan Tanh ThresholdedRelu Tile TopK Transpose Unsqueeze Upsample Where Xor
""".split())


OLDEST_RELEASE = (8, 2)  # the oldest release whose tables were read; nothing older is claimed
# Operators of SUPPORTED that onnx-tensorrt's docs/operators.md at branch 8.2-GA marks N or
# leaves out, by the release that documents them.
OPERATOR_SINCE = {op: (8, 4) for op in
                  ("HardSwish", "RandomNormal", "RandomNormalLike", "Reciprocal", "Shrink", "Xor")}
# release -> newest opset its parser documents ("TensorRT 8.2 supports operators up to Opset 13")
NEWEST_OPSET = {(8, 2): 13, (8, 4): 17, (10, 0): 20}
# Network I/O types by the release whose DataType has them (8.2: FLOAT, HALF, INT8, INT32, BOOL)
# and whose parser casts them (uint8 from 8.6, int64 from 10.0).
IO_TYPE_SINCE = {
    onnx.TensorProto.FLOAT: OLDEST_RELEASE, onnx.TensorProto.FLOAT16: OLDEST_RELEASE,
    onnx.TensorProto.INT32: OLDEST_RELEASE, onnx.TensorProto.BOOL: OLDEST_RELEASE,
    onnx.TensorProto.UINT8: (8, 6), onnx.TensorProto.INT64: (10, 0),
}


def _release(version: tuple[int, int]) -> str:
    return ".".join(map(str, version))


@dataclass(frozen=True)
class TensorRTVersionReport:
    """The oldest TensorRT whose ONNX parser documents everything a file uses, and why."""

    oldest: str | None  # e.g. "8.6"; None when no release accepts the file
    reasons: tuple[str, ...]


def oldest_tensorrt(model: onnx.ModelProto) -> TensorRTVersionReport:
    """The oldest TensorRT release that documents the file's operators, opset and I/O types."""
    problems = check_operators(model).problems
    if problems:
        return TensorRTVersionReport(None, problems)
    release, newest_op = max((OPERATOR_SINCE.get(n.op_type, OLDEST_RELEASE), n.op_type)
                             for n in _all_nodes(model.graph))
    needs = [(release, f"operators: all in TensorRT {_release(release)}'s parser"
                       + (f" ({newest_op} from {_release(release)})"
                          if release > OLDEST_RELEASE else ""))]
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
                default=0)
    fits = [release for release, newest in sorted(NEWEST_OPSET.items()) if opset <= newest]
    if not fits:
        return TensorRTVersionReport(None, (f"opset {opset}: newer than any TensorRT "
                                            f"documents ({max(NEWEST_OPSET.values())})",))
    needs.append((fits[0], f"opset {opset}: documented from TensorRT {_release(fits[0])}"))
    for value in [*model.graph.input, *model.graph.output]:
        elem = value.type.tensor_type.elem_type
        name = onnx.TensorProto.DataType.Name(elem).lower()
        if elem not in IO_TYPE_SINCE:
            return TensorRTVersionReport(None, (f"{value.name}: {name} network I/O is not "
                                                f"supported by TensorRT",))
        needs.append((IO_TYPE_SINCE[elem], f"{value.name}: {name}, from TensorRT "
                                           f"{_release(IO_TYPE_SINCE[elem])}"))
    oldest = max(version for version, _ in needs)
    return TensorRTVersionReport(_release(oldest),
                                 tuple(reason for version, reason in needs if version == oldest))


@dataclass(frozen=True)
class OperatorReport:
    """Operator counts of a graph and the problems TensorRT's parser would have with it."""

    counts: dict[str, int]
    problems: tuple[str, ...]

    @property
    def tensorrt_ready(self) -> bool:
        return not self.problems


def _all_nodes(graph: onnx.GraphProto) -> list[onnx.NodeProto]:
    """Every node, including those inside If/Loop/Scan subgraphs."""
    nodes = []
    for node in graph.node:
        nodes.append(node)
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                nodes.extend(_all_nodes(attr.g))
            for sub in attr.graphs:
                nodes.extend(_all_nodes(sub))
    return nodes


def check_operators(model: onnx.ModelProto) -> OperatorReport:
    """Count the graph's operators and name each one TensorRT's ONNX parser cannot build."""
    nodes = _all_nodes(model.graph)
    counts = Counter(f"{n.domain}::{n.op_type}" if n.domain not in ("", "ai.onnx") else n.op_type
                     for n in nodes)
    problems = [f"{op}: not supported by TensorRT's ONNX parser"
                for op in sorted(counts) if op not in SUPPORTED]
    problems += [f"MaxPool node {n.name or '?'} outputs indices, which TensorRT does not support"
                 for n in nodes if n.op_type == "MaxPool" and len([o for o in n.output if o]) > 1]
    return OperatorReport(dict(sorted(counts.items())), tuple(problems))
