"""ONNX Runtime back end: the one that runs everywhere, CPU to Jetson.

Providers are the requested ones that this onnxruntime build has, in the requested order, with
the CPU last; onnxruntime silently drops a provider that fails to initialise (a missing CUDA
library, say), so what runs is read back from the session and a fallback is a loud warning,
never a surprise in the frame rate.
"""
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors

from enet_ros.engines.base import EngineError, default_logger
from enet_ros.model_file import CONFIDENCE_NAME, LABELS_NAME, ModelFile

CPU = "CPUExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"
DEFAULT_PROVIDERS = (TENSORRT, "CUDAExecutionProvider", CPU)

_ORT_ERRORS = (ort_errors.Fail, ort_errors.InvalidArgument, ort_errors.InvalidGraph,
               ort_errors.InvalidProtobuf, ort_errors.NoSuchFile, ort_errors.NotImplemented,
               ort_errors.RuntimeException, ort_errors.EPFail)


def choose_providers(requested: "list[str] | None", available: "list[str]") -> "tuple[list[str], list[str]]":
    """(providers to ask for, requested ones this build lacks): requested order, CPU last."""
    wanted = list(requested) if requested else list(DEFAULT_PROVIDERS)
    missing = [p for p in wanted if p not in available]
    chosen = [p for p in wanted if p in available and p != CPU]
    return chosen + [CPU], missing


def _provider_options(provider: str, fp16: bool, cache_dir: "str | None") -> "dict[str, Any]":
    if provider != TENSORRT:
        return {}
    options: "dict[str, Any]" = {"trt_fp16_enable": fp16}
    if cache_dir:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        options.update(trt_engine_cache_enable=True, trt_engine_cache_path=str(cache_dir))
    return options


class OnnxRuntimeEngine:
    """A model file in an onnxruntime InferenceSession."""

    name = "onnxruntime"

    def __init__(self, model: ModelFile, providers: "list[str] | None" = None,
                 threads: "int | None" = None, fp16: bool = False, cache_dir: "str | None" = None,
                 spin: bool = True, logger: Any = None) -> None:
        logger = logger or default_logger()
        chosen, missing = choose_providers(providers, ort.get_available_providers())
        if missing:  # a warning when asked for by name; the defaults try GPUs where present
            log = logger.warning if providers else logger.info
            log(f"onnxruntime {ort.__version__} lacks {', '.join(missing)} (it has "
                f"{', '.join(ort.get_available_providers())}); using {', '.join(chosen)}")
        options = ort.SessionOptions()
        # ORT's defaults stay: graph optimisation ORT_ENABLE_ALL (its NCHWc layout transform
        # is what the model file is written for) and, unless spin is False, spinning intra-op
        # threads. Sleeping threads were 2x faster on a 2-core machine loaded by other jobs,
        # but 30 % slower on an idle one (benchmarks/runtime_speed.py: 70 vs 49 ms at
        # 640x360). Spinning threads hold every core between runs, though, and starve the
        # camera driver and DDS: the node turns them off (benchmarks/node_speed.py).
        if not spin:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if threads is not None:
            if threads < 1:
                raise EngineError(f"threads must be at least 1, got {threads}")
            options.intra_op_num_threads = threads
        try:
            self._session = ort.InferenceSession(
                str(model.path), sess_options=options,
                providers=[(p, _provider_options(p, fp16, cache_dir)) for p in chosen])
        except _ORT_ERRORS as err:
            raise EngineError(f"onnxruntime cannot load {model.path}: {err}") from None
        self.providers: "list[str]" = list(self._session.get_providers())
        self.precision = "fp16" if fp16 and self.providers[0] == TENSORRT else "fp32"
        self.model = model
        self.input_size = model.fixed_size
        logger.info(f"onnxruntime {ort.__version__} runs {model.path.name} on "
                    f"{', '.join(self.providers)}")
        if self.providers[0] != chosen[0]:
            logger.warning(f"FALLBACK: asked for {chosen[0]} but onnxruntime runs "
                           f"{self.providers[0]}; expect a much lower frame rate")
        if fp16 and TENSORRT not in self.providers:
            logger.warning("fp16 applies to TensorRT only and TensorRT is not in use: "
                           "running in float32")
        self._input = self._session.get_inputs()[0].name
        outputs = [o.name for o in self._session.get_outputs()]
        if LABELS_NAME not in outputs:
            raise EngineError(f"{model.path} has no {LABELS_NAME!r} output (has {outputs})")
        self._outputs = [LABELS_NAME] + ([CONFIDENCE_NAME] if model.has_confidence else [])

    def run(self, batch: np.ndarray) -> "tuple[np.ndarray, np.ndarray | None]":
        """(NxHxW class ids, confidence or None) of an NxHxWx3 RGB batch, in the model file's
        I/O dtypes; ContractEngine has checked the batch."""
        if self._session is None:
            raise EngineError("the onnxruntime engine is closed")
        try:
            labels, *confidence = self._session.run(self._outputs, {self._input: batch})
        except _ORT_ERRORS as err:
            raise EngineError(f"onnxruntime failed on a {batch.shape} batch: {err}") from None
        return labels, (confidence[0] if confidence else None)

    def close(self) -> None:
        # onnxruntime frees the session (and its GPU memory) when the last reference goes.
        self._session = None
