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
import importlib.util
from typing import Any

from enet_ros.engines.base import (ENGINE_KINDS, PRECISIONS, Backend, ContractEngine, Engine,
                                   EngineError, check_batch, default_logger)
from enet_ros.model_file import ModelFile

__all__ = ["ENGINE_KINDS", "ONNXRUNTIME_MISSING", "PRECISIONS", "Backend", "ContractEngine",
           "Engine", "EngineError", "check_batch", "open_engine", "tensorrt_available"]

ONNXRUNTIME_MISSING = ("no ONNX Runtime is installed: pip install onnxruntime (CPU; or "
                       "'enet_ros[cpu]'), or onnxruntime-gpu for CUDA (or 'enet_ros[gpu]'; on a "
                       "Jetson, the onnxruntime-gpu wheel built for its JetPack), then retry")


TENSORRT_MISSING = ("engine 'tensorrt' needs the tensorrt package and a CUDA runtime "
                    "(cuda-python, or libcudart.so: set ENET_ROS_CUDART to its path); "
                    "install them or use engine 'onnxruntime'")
OPENVINO_MISSING = ("engine 'openvino' needs the openvino package: pip install "
                    "'enet_ros[openvino]' (or pip install openvino), or use engine 'onnxruntime'")


def _required(module: Any, missing: str) -> Any:
    """``module``, or EngineError saying what to install when it could not be loaded."""
    if module is None:
        raise EngineError(missing)
    return module


def _tensorrt_module() -> Any:
    """enet_ros.engines.tensorrt_engine, or None when tensorrt or a CUDA runtime (cuda-python,
    else libcudart) cannot load."""
    if importlib.util.find_spec("tensorrt") is None:
        return None
    try:
        from enet_ros.engines import tensorrt_engine
    except ImportError:  # a broken install, or no CUDA runtime
        return None
    return tensorrt_engine


def tensorrt_available() -> bool:
    """True when tensorrt and a CUDA runtime load and a CUDA GPU answers."""
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


def _onnxruntime_has_gpu(providers: "list[str] | None") -> bool:
    """True when ONNX Runtime would run the graph on a GPU provider (TensorRT, CUDA, ...)."""
    try:
        import onnxruntime as ort
    except ImportError:  # none installed: auto goes on to OpenVINO, or says what to install
        return False

    from enet_ros.engines.onnxruntime_engine import CPU, choose_providers
    chosen, _ = choose_providers(providers, ort.get_available_providers())
    return chosen[0] != CPU


def open_engine(kind: str, model: ModelFile, providers: "list[str] | None" = None,
                threads: "int | None" = None, fp16: bool = False, cache_dir: "str | None" = None,
                logger: Any = None, precision: str = "auto", device: "str | None" = None,
                spin: bool = True) -> Engine:
    """Open the model in a back end.

    kind: "onnxruntime", "openvino" (needs the openvino package), "tensorrt" (native TensorRT,
    needs the tensorrt package, a CUDA runtime (cuda-python, else libcudart) and a GPU) or "auto": native TensorRT when it
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
        module = _required(_tensorrt_module(), TENSORRT_MISSING)
        return ContractEngine(module.TensorRTEngine(model, fp16=fp16, cache_dir=cache_dir,
                                                    logger=logger))
    if kind == "openvino" or (kind == "auto" and not _onnxruntime_has_gpu(providers)
                              and _openvino_module() is not None):
        module = _required(_openvino_module(), OPENVINO_MISSING)
        return ContractEngine(module.OpenVinoEngine(model, device=device, precision=precision,
                                                    threads=threads, spin=spin, logger=logger))
    if importlib.util.find_spec("onnxruntime") is None:
        raise EngineError(ONNXRUNTIME_MISSING)
    from enet_ros.engines.onnxruntime_engine import OnnxRuntimeEngine
    return ContractEngine(OnnxRuntimeEngine(model, providers=providers, threads=threads,
                                            fp16=fp16, cache_dir=cache_dir, spin=spin,
                                            logger=logger))
