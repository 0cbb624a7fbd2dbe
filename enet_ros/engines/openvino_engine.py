"""OpenVINO back end: Intel (and other x86) CPUs, bfloat16 where the CPU has it; Intel GPUs.

OpenVINO reads the model file as it is (uint8 NHWC in, labels chosen inside). On a CPU with native
bfloat16 (AVX512_BF16, AMX) it runs the graph 2.4x faster than ONNX Runtime in float32 while
the labels stay within a fraction of a per cent (README, benchmarks), so ``auto`` asks for the
best precision the device reports in its OPTIMIZATION_CAPABILITIES. What OpenVINO actually
compiled (device, precision) is read back and logged, and a fallback is a loud warning, as
for ONNX Runtime.

Each input shape gets its own static compilation: OpenVINO's CPU kernels for a fixed shape
ran the dynamic-size model file about twice as fast as its dynamic-shape compilation, and a
compile takes well under a second. Past MAX_STATIC_SHAPES different shapes (an evaluation
over images of many sizes) the rest share one dynamic compilation instead of recompiling.
Only ``open_engine`` imports this module, after checking that openvino imports.
"""
from typing import Any

import numpy as np
import openvino as ov

from enet_ros.engines.base import EngineError, default_logger
from enet_ros.model_file import CONFIDENCE_NAME, LABELS_NAME, ModelFile

DEFAULT_DEVICE = "CPU"
MAX_STATIC_SHAPES = 4
VERSION = ov.__version__.split("-")[0]  # "2026.4.1" of "2026.4.1-22982-e213a14-releases/..."
_TYPE_NAMES = {"fp32": "f32", "bf16": "bf16", "fp16": "f16"}  # ours -> OpenVINO's
_AUTO_ORDER = {"CPU": ("bf16", "fp32"), "GPU": ("fp16", "fp32")}


def _reason(err: Exception) -> str:
    """The last line of an OpenVINO exception: its cause, without the C++ call chain."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[-1] if lines else type(err).__name__


def choose_device(requested: "str | None", available: "list[str]") -> "tuple[str, str | None]":
    """(device to compile for, warning or None): the requested one when OpenVINO has it
    ("GPU" matches "GPU.0"), else the CPU."""
    wanted = (requested or DEFAULT_DEVICE).upper()
    if any(d == wanted or d.split(".")[0] == wanted for d in available):
        return wanted, None
    return DEFAULT_DEVICE, (f"FALLBACK: asked for OpenVINO device {wanted} but OpenVINO "
                            f"{VERSION} has {', '.join(available) or 'none'}; running "
                            f"on {DEFAULT_DEVICE}, expect a lower frame rate")


def choose_precision(requested: str, device: str, capabilities: "list[str]") -> "tuple[str, str | None]":
    """(precision to ask for, warning or None), judged by the device's reported capabilities.

    auto: bfloat16 on a CPU that has it, float16 on a GPU that has it, else float32. An
    explicit precision the device lacks falls back to float32 with a warning.
    """
    has = {c.upper() for c in capabilities} | {"FP32"}
    if requested == "auto":
        order = _AUTO_ORDER.get(device.split(".")[0], ("fp32",))
        return next(p for p in order if p.upper() in has), None
    if requested.upper() in has:
        return requested, None
    return "fp32", (f"{device} does not report {requested.upper()} (it has "
                    f"{', '.join(sorted(has))}); running in fp32")


class OpenVinoEngine:
    """A model file compiled by OpenVINO, one reusable infer request per input shape."""

    name = "openvino"

    def __init__(self, model: ModelFile, device: "str | None" = None, precision: str = "auto",
                 threads: "int | None" = None, spin: bool = True, logger: Any = None) -> None:
        logger = logger or default_logger()
        if threads is not None and threads < 1:
            raise EngineError(f"threads must be at least 1, got {threads}")
        self._core = ov.Core()
        self.device, warning = choose_device(device, list(self._core.available_devices))
        if warning:
            logger.warning(warning)
        wanted, warning = choose_precision(
            precision, self.device,
            list(self._core.get_property(self.device, "OPTIMIZATION_CAPABILITIES")))
        if warning:
            logger.warning(warning)
        self._config: "dict[str, Any]" = {"PERFORMANCE_HINT": "LATENCY",
                                        "INFERENCE_PRECISION_HINT": _TYPE_NAMES[wanted]}
        if self.device == DEFAULT_DEVICE:
            if threads is not None:
                self._config["INFERENCE_NUM_THREADS"] = threads
            # OpenVINO's oneTBB threads hardly busy-wait (1.2 CPU-seconds per second of
            # inference on 2 threads, against 1.5 for ONNX Runtime's spinning ones), but on
            # Linux they are pinned to cores by default; unpinned, the scheduler can give a
            # core to the camera driver or DDS while inference waits (OpenVINO's docs
            # recommend this for applications running several workloads at once).
            self._config["ENABLE_CPU_PINNING"] = spin
        try:
            self._graph = self._core.read_model(str(model.path))
        except RuntimeError as err:
            raise EngineError(f"OpenVINO cannot read {model.path}: {_reason(err)}") from None
        self._input = self._graph.inputs[0].get_any_name()
        outputs = [name for port in self._graph.outputs for name in port.get_names()]
        if LABELS_NAME not in outputs:
            raise EngineError(f"{model.path} has no {LABELS_NAME!r} output (has {outputs})")
        self.model = model
        self.input_size = model.fixed_size
        self._requests: "dict[tuple[int, ...], Any]" = {}
        self._dynamic: Any = None
        height, width = model.fixed_size or (model.metadata.input_height,
                                             model.metadata.input_width)
        compiled = self._request((1, height, width, 3)).get_compiled_model()
        self.providers: "list[str]" = list(compiled.get_property("EXECUTION_DEVICES"))
        self.precision = {v: k for k, v in _TYPE_NAMES.items()}.get(
            compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name(), "unknown")
        threading = ""
        if self.device == DEFAULT_DEVICE:
            threading = (f", {compiled.get_property('INFERENCE_NUM_THREADS')} threads, pinned "
                         f"{compiled.get_property('ENABLE_CPU_PINNING')}")
        logger.info(f"OpenVINO {VERSION} runs {model.path.name} on {', '.join(self.providers)} "
                    f"({self._core.get_property(self.device, 'FULL_DEVICE_NAME')}) in "
                    f"{self.precision}{threading}")
        if self.precision != wanted:
            logger.warning(f"asked OpenVINO for {wanted} but it compiled {self.precision}")

    def _compile(self, shape: "list[int] | None") -> Any:
        """An infer request of the graph compiled for ``shape`` (None: as the file says)."""
        graph = self._graph.clone()
        try:
            if shape is not None and self.input_size is None:
                graph.reshape({self._input: shape})
            return self._core.compile_model(graph, self.device, self._config) \
                .create_infer_request()
        except RuntimeError as err:
            raise EngineError(f"OpenVINO cannot compile {self.model.path.name} for "
                              f"{self.device} at {shape}: {_reason(err)}") from None

    def _request(self, shape: "tuple[int, ...]") -> Any:
        request = self._requests.get(shape)
        if request is not None:
            return request
        if len(self._requests) < MAX_STATIC_SHAPES:
            request = self._requests[shape] = self._compile(list(shape))
            return request
        if self._dynamic is None:
            self._dynamic = self._compile(None)
        return self._dynamic

    def run(self, batch_nhwc_uint8: np.ndarray) -> "tuple[np.ndarray, np.ndarray | None]":
        """(NxHxW class ids, confidence or None) of an NxHxWx3 RGB batch, in the model file's
        I/O dtypes; ContractEngine has checked the batch."""
        if self._core is None:
            raise EngineError("the OpenVINO engine is closed")
        request = self._request(batch_nhwc_uint8.shape)
        try:
            results = request.infer({self._input: batch_nhwc_uint8}, share_inputs=True)
        except RuntimeError as err:
            raise EngineError(f"OpenVINO failed on a {batch_nhwc_uint8.shape} batch: "
                              f"{_reason(err)}") from None
        # copies: the request's own buffers are reused next time
        return results[LABELS_NAME], (results[CONFIDENCE_NAME] if self.model.has_confidence
                                      else None)

    def close(self) -> None:
        # OpenVINO frees compiled models and device memory when the last reference goes.
        self._requests.clear()
        self._dynamic = None
        self._core = None
