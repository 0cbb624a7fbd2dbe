"""Small model files that keep the model file contract, for the runtime's tests.

The network is a 1x1 convolution with fixed weights on the raw RGB values, so a test can
compute the expected labels in numpy (``reference_labels``) and the file exports in well under
a second. This is the one place the runtime tests get model files from; switching them to the
real exporter means changing ``make_model_file`` only.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from enet_ros.model_file import ModelMetadata

# Class k scores WEIGHTS[k] . rgb + BIASES[k]: 0 dark, 1 red, 2 green, 3 blue, and 4..C-1 never
# win (very negative bias) so the class count can vary without changing the labels.
_BASE_WEIGHTS = np.array([[-1.0, -1.0, -1.0], [2.0, -1.0, -1.0], [-1.0, 2.0, -1.0],
                          [-1.0, -1.0, 2.0]], np.float32)
_BASE_BIASES = np.array([200.0, 0.0, 0.0, 0.0], np.float32)
# The confidence output is the softmax of the scores times this, so that it spreads over 0..255
# (the raw scores differ by hundreds: every pixel would be 255).
CONFIDENCE_TEMPERATURE = np.float32(0.02)


def _parameters(num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    extra = num_classes - len(_BASE_WEIGHTS)
    weights = np.concatenate([_BASE_WEIGHTS, np.zeros((extra, 3), np.float32)])
    biases = np.concatenate([_BASE_BIASES, np.full(extra, -1e4, np.float32)])
    return weights, biases


def reference_labels(rgb: np.ndarray, num_classes: int = 4) -> np.ndarray:
    """What the fixture model answers for an NxHxWx3 (or HxWx3) uint8 RGB array."""
    weights, biases = _parameters(num_classes)
    scores = rgb.astype(np.float32) @ weights.T + biases
    return scores.argmax(axis=-1).astype(np.uint8)


def reference_confidence(rgb: np.ndarray, num_classes: int = 4) -> tuple[np.ndarray,
                                                                          np.ndarray]:
    """(uint8 confidence the fixture model answers, mask of the pixels where that value is
    certain): floor(255 p + 0.5) computed in float64, and certain where 255 p + 0.5 is not
    within 1e-3 of an integer, where float32 rounding in an engine could tip it."""
    weights, biases = _parameters(num_classes)
    scores = (rgb.astype(np.float64) @ weights.T + biases) * float(CONFIDENCE_TEMPERATURE)
    exps = np.exp(scores - scores.max(axis=-1, keepdims=True))
    scaled = 255.0 * (exps.max(axis=-1) / exps.sum(axis=-1)) + 0.5
    fraction = scaled - np.floor(scaled)
    return np.floor(scaled).astype(np.uint8), (fraction > 1e-3) & (fraction < 1 - 1e-3)


def fixture_metadata(num_classes: int = 4, height: int = 32, width: int = 48,
                     io: str = "uint8") -> ModelMetadata:
    names = ("dark", "red", "green", "blue") + tuple(f"extra{i}" for i in range(num_classes - 4))
    colours = ((0, 0, 0), (255, 0, 0), (0, 255, 0), (0, 0, 255)) + \
        tuple((i, i, i) for i in range(100, 100 + num_classes - 4))
    return ModelMetadata(names, colours, height, width, dataset="fixture",
                         training={"command": "test/_runtime_fixtures.py"},
                         validation={"mean_iou": 1.0}, io=io)


def make_model_file(path: Path, num_classes: int = 4, fixed_size: tuple[int, int] | None = None,
                    confidence: bool = False, metadata: ModelMetadata | None = None,
                    io: str = "uint8") -> Path:
    """Write the fixture network to path (NHWC RGB in, labels out, contract metadata).

    fixed_size: (height, width) baked into the graph, or None for dynamic height and width.
    io: "uint8" (uint8 in and out) or "float32" (float32 in, int32 labels out).
    Built with onnx's helpers, not exported from torch, so that the runtime and node tests run
    where only the runtime is installed (a ROS 2 workspace's `colcon test`).
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights, biases = _parameters(num_classes)
    height, width = fixed_size or ("height", "width")
    image_type, labels_type = {"uint8": (TensorProto.UINT8, TensorProto.UINT8),
                               "float32": (TensorProto.FLOAT, TensorProto.INT32)}[io]
    nodes = [
        helper.make_node("Cast", ["image"], ["pixels"], to=TensorProto.FLOAT),
        helper.make_node("Transpose", ["pixels"], ["nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["nchw", "weight", "bias"], ["scores"]),
        helper.make_node("ArgMax", ["scores"], ["ids"], axis=1, keepdims=0),
        helper.make_node("Cast", ["ids"], ["labels"], to=labels_type),
    ]
    outputs = [helper.make_tensor_value_info("labels", labels_type,
                                             ["batch", height, width])]
    if confidence:  # the contract's floor(255 p + 0.5), in the exporter's operators
        nodes += [helper.make_node("Mul", ["scores", "temperature"], ["tempered"]),
                  helper.make_node("Softmax", ["tempered"], ["probabilities"], axis=1),
                  helper.make_node("ReduceMax", ["probabilities"], ["best"], axes=[1],
                                   keepdims=0),
                  helper.make_node("Mul", ["best", "c255"], ["best255"]),
                  helper.make_node("Add", ["best255", "half"], ["rounding"]),
                  helper.make_node("Floor", ["rounding"], ["rounded"]),
                  helper.make_node("Cast", ["rounded"], ["confidence"], to=labels_type)]
        outputs.append(helper.make_tensor_value_info("confidence", labels_type,
                                                     ["batch", height, width]))
    graph = helper.make_graph(
        nodes, "fixture", [helper.make_tensor_value_info("image", image_type,
                                                         ["batch", height, width, 3])],
        outputs, initializer=[numpy_helper.from_array(weights.reshape(num_classes, 3, 1, 1),
                                                      "weight"),
                              numpy_helper.from_array(biases, "bias"),
                              *(numpy_helper.from_array(np.float32(v), name) for name, v in (
                                  ("temperature", CONFIDENCE_TEMPERATURE), ("c255", 255.0),
                                  ("half", 0.5)))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    meta = metadata or fixture_metadata(num_classes, io=io)
    for key, value in meta.to_props().items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def blocks_frame(height: int = 48, width: int = 64, seed: int = 0) -> np.ndarray:
    """An RGB frame with blocks of the fixture model's classes (dark, red, green, blue)."""
    rng = np.random.default_rng(seed)
    colours = np.array([[10, 10, 10], [230, 20, 20], [20, 230, 20], [20, 20, 230]], np.uint8)
    blocks = rng.integers(0, 4, size=(height // 8, width // 8))
    image = colours[np.kron(blocks, np.ones((8, 8), int))]
    return np.ascontiguousarray(image.astype(np.uint8))
