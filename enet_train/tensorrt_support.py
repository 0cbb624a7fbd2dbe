"""Which ONNX operators TensorRT's ONNX parser builds, so a model file can be checked here.

TensorRT cannot be installed on our machines, so readiness is proven statically: every
operator of the graph must be in the parser's support matrix (onnx-tensorrt docs/operators.md,
TensorRT 8.4, the oldest release still found on Jetsons; later releases only add to it), and
MaxPool must not ask for its indices output. uint8 input and output tensors (the model-file
contract) need TensorRT 8.6 or later.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import onnx

SUPPORTED = frozenset("""
Abs Acos Acosh Add And ArgMax ArgMin Asin Asinh Atan Atanh AveragePool BatchNormalization Cast
Ceil Celu Clip Concat Constant ConstantOfShape Conv ConvTranspose Cos Cosh CumSum DepthToSpace
DequantizeLinear Div Dropout Einsum Elu Equal Erf Exp Expand EyeLike Flatten Floor Gather
GatherElements GatherND Gemm GlobalAveragePool GlobalLpPool GlobalMaxPool Greater GreaterOrEqual
GRU HardSigmoid Identity If ImageScaler InstanceNormalization IsNaN LeakyRelu Less LessOrEqual
Log LogSoftmax Loop LRN LSTM LpNormalization LpPool MatMul Max MaxPool Mean Min Mul Neg
NonMaxSuppression Not Or Pad ParametricSoftplus Pow PRelu QuantizeLinear RandomUniform
RandomUniformLike Range ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceMax ReduceMean
ReduceMin ReduceProd ReduceSum ReduceSumSquare Relu Reshape Resize ReverseSequence RNN Round
ScaledTanh Scan Scatter ScatterElements ScatterND Selu Shape Sigmoid Sign Sin Sinh Size Slice
Softmax Softplus Softsign SpaceToDepth Split Sqrt Squeeze Sub Sum Tan Tanh ThresholdedRelu Tile
TopK Transpose Unsqueeze Upsample Where Xor
""".split())


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
