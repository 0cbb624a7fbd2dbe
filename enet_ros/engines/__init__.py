"""Inference back ends: one module each, chosen by ``open_engine``.

Every engine takes what the model file contract puts in (uint8 NHWC RGB) and gives what it
puts out (uint8 class ids NxHxW), so the segmenter never knows which one runs. Back-end
packages are imported only when that back end is opened: a robot without TensorRT or OpenVINO
never imports them, and importing this package costs nothing.
"""
from __future__ import annotations

import importlib.util
import logging
from typing import Any, Protocol

import numpy as np

from enet_ros.model_file import ModelFile

ENGINE_KINDS = ("auto", "onnxruntime", "openvino", "tensorrt")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")  # OpenVINO's; auto: the best the device has


class EngineError(RuntimeError):
    """An engine that cannot be opened or run, with what to do about it."""


class Engine(Protocol):
    """What the segmenter needs from a back end."""

    name: str
    model: ModelFile  # the model file it runs, metadata included
    providers: list[str]  # what actually runs the graph, e.g. ["CPUExecutionProvider"]
    precision: str  # what the graph actually runs in: "fp32", "fp16" or "bf16"
    input_size: tuple[int, int] | None  # (height, width) when the graph fixes it

    def infer(self, batch_nhwc_uint8: np.ndarray) -> np.ndarray:
        """uint8 NxHxW class ids of a uint8 NxHxWx3 RGB batch."""

    def close(self) -> None:
        """Release the session and device memory; the engine is unusable afterwards."""


def default_logger() -> logging.Logger:
    return logging.getLogger("enet_ros")


def check_batch(batch: np.ndarray, input_size: tuple[int, int] | None) -> None:
    """Raise EngineError unless batch is what the contract's input takes."""
    if not isinstance(batch, np.ndarray) or batch.dtype != np.uint8 or batch.ndim != 4 \
            or batch.shape[3] != 3 or 0 in batch.shape:
        raise EngineError(f"engine input must be a non-empty uint8 NxHxWx3 RGB array, got "
                          f"{getattr(batch, 'dtype', type(batch).__name__)} "
                          f"{getattr(batch, 'shape', '')}")
    if input_size is not None and tuple(batch.shape[1:3]) != tuple(input_size):
        raise EngineError(f"this model takes {input_size[1]}x{input_size[0]} images only, got "
                          f"{batch.shape[2]}x{batch.shape[1]}")


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
    try:
        from enet_ros.engines import openvino_engine
    except ImportError:
        return None
    return openvino_engine


def _onnxruntime_has_gpu(providers: list[str] | None) -> bool:
    """True when ONNX Runtime would run the graph on a GPU provider (TensorRT, CUDA, ...)."""
    import onnxruntime as ort

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
        return module.TensorRTEngine(model, fp16=fp16, cache_dir=cache_dir, logger=logger)
    if kind == "openvino" or (kind == "auto" and not _onnxruntime_has_gpu(providers)
                              and _openvino_module() is not None):
        module = _openvino_module()
        if module is None:
            raise EngineError("engine 'openvino' needs the openvino package: "
                              "pip install 'enet_ros[openvino]' (or pip install openvino), "
                              "or use engine 'onnxruntime'")
        return module.OpenVinoEngine(model, device=device, precision=precision,
                                     threads=threads, spin=spin, logger=logger)
    from enet_ros.engines.onnxruntime_engine import OnnxRuntimeEngine
    return OnnxRuntimeEngine(model, providers=providers, threads=threads, fp16=fp16,
                             cache_dir=cache_dir, spin=spin, logger=logger)
