"""What every back end shares: the protocols, the error, the batch check and the contract.

Back-end modules (onnxruntime_engine, openvino_engine, tensorrt_engine) import from here, never
from the ``enet_ros.engines`` package, which imports them lazily in ``open_engine``: no import
cycle. ``ContractEngine`` wraps every back end, so the segmenter sees one uint8 interface.
"""
import logging

try:
    from typing import Protocol
except ImportError:  # Python 3.6 and 3.7 (JetPack 4.6): the typing-extensions backport
    from typing_extensions import Protocol

import numpy as np

from enet_ros.model_file import ModelFile

ENGINE_KINDS = ("auto", "onnxruntime", "openvino", "tensorrt")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")  # OpenVINO's; auto: the best the device has


class EngineError(RuntimeError):
    """An engine that cannot be opened or run, with what to do about it."""


class Backend(Protocol):
    """What one back end module gives: the graph run in the model file's I/O dtypes."""

    name: str
    model: ModelFile  # the model file it runs, metadata included
    providers: "list[str]"  # what actually runs the graph, e.g. ["CPUExecutionProvider"]
    precision: str  # what the graph actually runs in: "fp32", "fp16" or "bf16"
    input_size: "tuple[int, int] | None"  # (height, width) when the graph fixes it

    def run(self, batch: np.ndarray) -> "tuple[np.ndarray, np.ndarray | None]":
        """(NxHxW class ids, NxHxW confidence or None) of an NxHxWx3 RGB batch, in the file's
        I/O dtypes (``model.io``). The confidence comes whenever the file has it: every back
        end computes the whole graph anyway."""

    def close(self) -> None:
        """Release the session and device memory; the back end is unusable afterwards."""


class Engine(Backend, Protocol):
    """What the segmenter needs: a back end seen through the uint8 contract
    (``ContractEngine``, which ``open_engine`` returns)."""

    def infer(self, batch_nhwc_uint8: np.ndarray) -> np.ndarray:
        """uint8 NxHxW class ids of a uint8 NxHxWx3 RGB batch."""

    def infer_with_confidence(self, batch_nhwc_uint8: np.ndarray
                              ) -> "tuple[np.ndarray, np.ndarray | None]":
        """(uint8 class ids, uint8 confidence or None where the file has no such output)."""


def default_logger() -> logging.Logger:
    return logging.getLogger("enet_ros")


def check_batch(batch: np.ndarray, input_size: "tuple[int, int] | None") -> None:
    """Raise EngineError unless batch is a non-empty uint8 NxHxWx3 RGB array (of the model's
    fixed size, where it has one)."""
    if not isinstance(batch, np.ndarray) or batch.dtype != np.uint8 or batch.ndim != 4 \
            or batch.shape[3] != 3 or 0 in batch.shape:
        raise EngineError(f"engine input must be a non-empty uint8 NxHxWx3 RGB array, "
                          f"got {getattr(batch, 'dtype', type(batch).__name__)} "
                          f"{getattr(batch, 'shape', '')}")
    if input_size is not None and tuple(batch.shape[1:3]) != tuple(input_size):
        raise EngineError(f"this model takes {input_size[1]}x{input_size[0]} images only, got "
                          f"{batch.shape[2]}x{batch.shape[1]}")


class ContractEngine:
    """A back end seen through the model file contract: uint8 RGB in, uint8 class ids out.

    The one place where a float32-I/O file (float32 0..255 in, int32 labels out) meets the
    uint8 the rest of enet_ros speaks, for every back end alike: the image is cast up (exact),
    the labels down (class ids are below 256). For a uint8 file both casts are no-ops.
    The batch is checked here, once a frame, so back ends need not. What describes the back
    end (name, model, providers, precision, input_size) is copied from it; anything else a
    back end keeps is its own business, reached through ``backend`` where a test must.
    """

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        # what describes the back end, fixed once it is open
        self.name: str = backend.name
        self.model: ModelFile = backend.model
        self.providers: "list[str]" = backend.providers
        self.precision: str = backend.precision
        self.input_size: "tuple[int, int] | None" = backend.input_size

    def close(self) -> None:
        self.backend.close()

    def infer(self, batch_nhwc_uint8: np.ndarray) -> np.ndarray:
        """uint8 NxHxW class ids of a uint8 NxHxWx3 RGB batch."""
        return self.infer_with_confidence(batch_nhwc_uint8)[0]

    def infer_with_confidence(self, batch_nhwc_uint8: np.ndarray
                              ) -> "tuple[np.ndarray, np.ndarray | None]":
        """(uint8 NxHxW class ids, uint8 NxHxW confidence or None where the file has none)."""
        check_batch(batch_nhwc_uint8, self.backend.input_size)
        io = self.backend.model.io
        labels, confidence = self.backend.run(
            batch_nhwc_uint8.astype(io.input_dtype, copy=False))
        return (labels.astype(np.uint8, copy=False),
                None if confidence is None else confidence.astype(np.uint8, copy=False))


