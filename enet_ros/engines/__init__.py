"""Inference back ends: one module each, chosen by ``open_engine``.

Every engine takes what the model file contract puts in (uint8 NHWC RGB) and gives what it
puts out (uint8 class ids NxHxW, and the uint8 confidence where the file has that output), so
the segmenter never knows which one runs. A back end runs the graph (``Backend.run``) with the
dtypes of the file's I/O kind (float32 in and int32 out for older TensorRT); ``open_engine``
wraps every back end in ``ContractEngine``, which converts at the edges, so no back end and no
caller deals with that. Back-end packages are imported only when
that back end is opened: a robot without TensorRT or OpenVINO never imports them, and
importing this package costs nothing.
"""
from __future__ import annotations

import importlib.util
import logging
from typing import Any, Protocol

import numpy as np

from enet_ros.model_file import IO_KINDS, ModelFile

ENGINE_KINDS = ("auto", "onnxruntime", "openvino", "tensorrt")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")  # OpenVINO's; auto: the best the device has


class EngineError(RuntimeError):
    """An engine that cannot be opened or run, with what to do about it."""


class Backend(Protocol):
    """What one back end module gives: the graph run in the model file's I/O dtypes."""

    name: str
    model: ModelFile  # the model file it runs, metadata included
    providers: list[str]  # what actually runs the graph, e.g. ["CPUExecutionProvider"]
    precision: str  # what the graph actually runs in: "fp32", "fp16" or "bf16"
    input_size: tuple[int, int] | None  # (height, width) when the graph fixes it

    def run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
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

    def infer_with_confidence(self, batch_nhwc_uint8: np.ndarray) -> tuple[np.ndarray,
                                                                        np.ndarray | None]:
        """(uint8 class ids, uint8 confidence or None where the file has no such output)."""


def default_logger() -> logging.Logger:
    return logging.getLogger("enet_ros")


# What a back end's infer may be given: the image dtype of any I/O kind.
BACKEND_INPUT_DTYPES = tuple(sorted({kind.input_dtype for kind in IO_KINDS.values()}, key=str))


def check_batch(batch: np.ndarray, input_size: tuple[int, int] | None,
                dtypes: tuple[np.dtype, ...] = BACKEND_INPUT_DTYPES) -> None:
    """Raise EngineError unless batch is an NxHxWx3 RGB array of one of dtypes."""
    if not isinstance(batch, np.ndarray) or batch.dtype not in dtypes or batch.ndim != 4 \
            or batch.shape[3] != 3 or 0 in batch.shape:
        raise EngineError(f"engine input must be a non-empty "
                          f"{' or '.join(np.dtype(d).name for d in dtypes)} NxHxWx3 RGB array, "
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
    Everything else (name, model, providers, input_size, close, any back-end extra) is the
    back end's own.
    """

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def __getattr__(self, name: str) -> Any:
        if name == "backend":  # not set yet (copy, pickle): no recursion
            raise AttributeError(name)
        return getattr(self.backend, name)

    def infer(self, batch_nhwc_uint8: np.ndarray) -> np.ndarray:
        """uint8 NxHxW class ids of a uint8 NxHxWx3 RGB batch."""
        return self.infer_with_confidence(batch_nhwc_uint8)[0]

    def infer_with_confidence(self, batch_nhwc_uint8: np.ndarray) -> tuple[np.ndarray,
                                                                        np.ndarray | None]:
        """(uint8 NxHxW class ids, uint8 NxHxW confidence or None where the file has none)."""
        check_batch(batch_nhwc_uint8, self.backend.input_size, (np.dtype(np.uint8),))
        io = self.backend.model.io
        labels, confidence = self.backend.run(
            batch_nhwc_uint8.astype(io.input_dtype, copy=False))
        return (labels.astype(np.uint8, copy=False),
                None if confidence is None else confidence.astype(np.uint8, copy=False))


ONNXRUNTIME_MISSING = ("no ONNX Runtime is installed: pip install onnxruntime (CPU; or "
                       "'enet_ros[cpu]'), or onnxruntime-gpu for CUDA (or 'enet_ros[gpu]'; on a "
                       "Jetson, the onnxruntime-gpu wheel built for its JetPack), then retry")


def _tensorrt_module() -> Any:
    """enet_ros.engines.tensorrt_engine, or None when tensorrt or cuda-python cannot load."""
    if importlib.util.find_spec("tensorrt") is None:
        return None
    try:
        from enet_ros.engines import tensorrt_engine
    except ImportError:  # a broken install, or cuda-python missing
        return None
    return tensorrt_engine


def tensorrt_available() -> bool:
    """True when tensorrt and cuda-python load and a CUDA GPU answers."""
    module = _tensorrt_module()
    return module is not None and module.gpu_present()


def _openvino_module() -> Any:
    """enet_ros.engines.openvino_engine, or None when openvino is not installed."""
    if importlib.util.find_spec("openvino") is None:
        return None
    try:
        from enet_ros.engines import openvino_engine
    except ImportError:
        return None
    return openvino_engine


def _onnxruntime_has_gpu(providers: list[str] | None) -> bool:
    """True when ONNX Runtime would run the graph on a GPU provider (TensorRT, CUDA, ...)."""
    try:
        import onnxruntime as ort
    except ImportError:  # none installed: auto goes on to OpenVINO, or says what to install
        return False

    from enet_ros.engines.onnxruntime_engine import CPU, choose_providers
    chosen, _ = choose_providers(providers, ort.get_available_providers())
    return chosen[0] != CPU


def open_engine(kind: str, model: ModelFile, providers: list[str] | None = None,
                threads: int | None = None, fp16: bool = False, cache_dir: str | None = None,
                logger: Any = None, precision: str = "auto", device: str | None = None,
                spin: bool = True) -> Engine:
    """Open the model in a back end.

    kind: "onnxruntime", "openvino" (needs the openvino package), "tensorrt" (native TensorRT,
    needs the tensorrt and cuda-python packages and a GPU) or "auto": native TensorRT when it
    can run, else ONNX Runtime when it has a GPU provider, else OpenVINO when installed, else
    ONNX Runtime on the CPU. providers apply to ONNX Runtime; fp16 and cache_dir to TensorRT
    either way; precision (PRECISIONS) and device ("CPU", "GPU") to OpenVINO; threads to both
    CPU back ends. spin: let CPU inference threads keep their cores between runs (ONNX
    Runtime's spinning intra-op threads, OpenVINO's threads pinned to cores), each back end's
    own default; False leaves the cores to the rest of the robot between frames. logger:
    anything with info and warning methods (a logging.Logger or an rclpy node's logger).
    """
    logger = logger or default_logger()
    if kind not in ENGINE_KINDS:
        raise EngineError(f"unknown engine {kind!r}; choose one of {', '.join(ENGINE_KINDS)}")
    if precision not in PRECISIONS:
        raise EngineError(f"unknown precision {precision!r}; choose one of "
                          f"{', '.join(PRECISIONS)}")
    if kind == "tensorrt" or (kind == "auto" and tensorrt_available()):
        module = _tensorrt_module()
        if module is None:
            raise EngineError("engine 'tensorrt' needs the tensorrt and cuda-python packages; "
                              "install them or use engine 'onnxruntime'")
        return ContractEngine(module.TensorRTEngine(model, fp16=fp16, cache_dir=cache_dir,
                                                    logger=logger))
    if kind == "openvino" or (kind == "auto" and not _onnxruntime_has_gpu(providers)
                              and _openvino_module() is not None):
        module = _openvino_module()
        if module is None:
            raise EngineError("engine 'openvino' needs the openvino package: "
                              "pip install 'enet_ros[openvino]' (or pip install openvino), "
                              "or use engine 'onnxruntime'")
        return ContractEngine(module.OpenVinoEngine(model, device=device, precision=precision,
                                                    threads=threads, spin=spin, logger=logger))
    if importlib.util.find_spec("onnxruntime") is None:
        raise EngineError(ONNXRUNTIME_MISSING)
    from enet_ros.engines.onnxruntime_engine import OnnxRuntimeEngine
    return ContractEngine(OnnxRuntimeEngine(model, providers=providers, threads=threads,
                                            fp16=fp16, cache_dir=cache_dir, spin=spin,
                                            logger=logger))
