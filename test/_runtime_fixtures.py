"""Small model files that keep the model file contract, for the runtime's tests.

The network is a 1x1 convolution with fixed weights on the raw RGB values, so a test can
compute the expected labels in numpy (``reference_labels``) and the file exports in well under
a second. This is the one place the runtime tests get model files from; switching them to the
real exporter means changing ``make_model_file`` only.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from enet_ros.model_file import ModelMetadata

# Class k scores WEIGHTS[k] . rgb + BIASES[k]: 0 dark, 1 red, 2 green, 3 blue, and 4..C-1 never
# win (very negative bias) so the class count can vary without changing the labels.
_BASE_WEIGHTS = np.array([[-1.0, -1.0, -1.0], [2.0, -1.0, -1.0], [-1.0, 2.0, -1.0],
                          [-1.0, -1.0, 2.0]], np.float32)
_BASE_BIASES = np.array([200.0, 0.0, 0.0, 0.0], np.float32)


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
    """Export the fixture network to path (NHWC RGB in, labels out, contract metadata).

    fixed_size: (height, width) baked into the graph, or None for dynamic height and width.
    io: "uint8" (uint8 in and out) or "float32" (float32 in, int32 labels out).
    """
    import onnx
    import torch

    weights, biases = _parameters(num_classes)
    input_dtype, labels_dtype = {"uint8": (torch.uint8, torch.uint8),
                                 "float32": (torch.float32, torch.int32)}[io]

    class Tiny(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(3, num_classes, 1)
            with torch.no_grad():
                self.conv.weight.copy_(torch.from_numpy(weights).reshape(num_classes, 3, 1, 1))
                self.conv.bias.copy_(torch.from_numpy(biases))

        def forward(self, image: torch.Tensor):  # noqa: ANN201 - one or two outputs
            scores = self.conv(image.permute(0, 3, 1, 2).float())
            labels = scores.argmax(dim=1).to(labels_dtype)
            if not confidence:
                return labels
            return labels, torch.softmax(scores, dim=1).amax(dim=1)

    height, width = fixed_size or (16, 24)
    example = torch.zeros(1, height, width, 3, dtype=input_dtype)
    outputs = ["labels", "confidence"] if confidence else ["labels"]
    axes = {"image": {0: "batch"}, **{o: {0: "batch"} for o in outputs}}
    if fixed_size is None:
        axes["image"].update({1: "height", 2: "width"})
        for name in outputs:
            axes[name].update({1: "height", 2: "width"})
    with warnings.catch_warnings():  # the TorchScript exporter is deprecated, and plenty here
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(Tiny().eval(), (example,), str(path), input_names=["image"],
                          output_names=outputs, dynamic_axes=axes, opset_version=17,
                          dynamo=False)
    model = onnx.load(str(path))
    meta = metadata or fixture_metadata(num_classes, io=io)
    for key, value in meta.to_props().items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(path))
    return path
