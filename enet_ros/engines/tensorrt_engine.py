"""Native TensorRT back end (TensorRT 8.x and 10.x Python APIs; device memory from cuda-python,
or from libcudart through ctypes where cuda-python is missing).

Jetsons run three generations of TensorRT, with two ways to run an engine: bindings
(``execute_async_v2``, 8.x only; 10.0 removed it) and tensor names (``execute_async_v3``, 8.5
on). ``tensor_api()`` picks by what the installed module offers, tensor names where both
exist; ``_TensorIO`` and ``_BindingIO`` are the two ways, everything else is shared. Networks
from the ONNX parser must be explicit-batch, a creation flag in 8.x and the only kind in 10.x.

Building a TensorRT engine from the ONNX file takes minutes on a Jetson, so the built engine
is cached on disk under a key of everything that invalidates it: the model file's sha256, the
TensorRT version, the GPU and the precision. The build logs its progress, since a silent
five-minute start looks like a hang. Only this module imports tensorrt, and only
``open_engine`` imports this module, after checking that tensorrt is installed.
"""
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import tensorrt as trt

from enet_ros.engines.base import EngineError, default_logger
from enet_ros.model_file import CONFIDENCE_NAME, LABELS_NAME, SIZE_MULTIPLE, ModelFile

try:  # cuda-python 12.6 and later
    from cuda.bindings import runtime as cudart
except ImportError:
    try:  # older cuda-python
        from cuda import cudart
    except ImportError:  # no cuda-python (JetPack 4.6's CUDA 10.2 has none): libcudart itself
        from enet_ros.engines import cudart_ctypes as cudart

TRT_MAJOR = int(trt.__version__.split(".")[0])

# Optimisation profile of models with a dynamic input size: any multiple of 8 from MIN_SIZE to
# MAX_SIZE (height, width) runs, the model's training size runs fastest; batches up to MAX_BATCH.
MIN_SIZE = (64, 64)
MAX_SIZE = (1088, 1920)
MAX_BATCH = 4


def _cuda(result: tuple) -> Any:
    """The value of a cudart call (they return (error, value...)), or an EngineError."""
    error, *values = result
    if error != cudart.cudaError_t.cudaSuccess:
        raise EngineError(f"CUDA error {error}")
    return values[0] if len(values) == 1 else tuple(values)


def gpu_present() -> bool:
    error, count = cudart.cudaGetDeviceCount()
    return error == cudart.cudaError_t.cudaSuccess and count > 0


def gpu_name() -> str:
    name = _cuda(cudart.cudaGetDeviceProperties(0)).name
    return (name.decode() if isinstance(name, bytes) else str(name)).rstrip("\x00")


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "enet_ros" / "tensorrt"


def engine_cache_path(model: ModelFile, fp16: bool, cache_dir: "str | Path | None") -> Path:
    """Where the engine for this model, TensorRT, GPU and precision is (or will be) kept."""
    gpu = re.sub(r"[^A-Za-z0-9]+", "-", gpu_name()).strip("-")
    name = f"{model.path.stem}-{model.sha256[:16]}-trt{trt.__version__}-{gpu}-" \
           f"{'fp16' if fp16 else 'fp32'}.engine"
    return Path(cache_dir or default_cache_dir()) / name


def tensor_api() -> bool:
    """True to run engines by tensor name (execute_async_v3), False by bindings (v2)."""
    if hasattr(trt.IExecutionContext, "execute_async_v3"):
        return True
    if hasattr(trt.IExecutionContext, "execute_async_v2"):
        return False
    raise EngineError(f"TensorRT {trt.__version__} offers neither execute_async_v3 nor "
                      f"execute_async_v2; use engine 'onnxruntime'")


def network_flags() -> int:
    """create_network flags: explicit batch, which 8.x asks for and 10.x always has."""
    if TRT_MAJOR >= 10:
        return 0
    return 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)


if hasattr(trt, "IProgressMonitor"):  # TensorRT 10 on; 8.x builds silently
    class _BuildProgress(trt.IProgressMonitor):
        """Logs each top-level build phase and every tenth of its steps."""

        def __init__(self, logger: Any) -> None:
            trt.IProgressMonitor.__init__(self)
            self._logger = logger
            self._steps: "dict[str, int]" = {}

        def phase_start(self, phase_name: str, parent_phase: "str | None",
                        num_steps: int) -> None:
            self._steps[phase_name] = num_steps
            if parent_phase is None:
                self._logger.info(f"TensorRT build: {phase_name} ({num_steps} steps)")

        def step_complete(self, phase_name: str, step: int) -> bool:
            total = self._steps.get(phase_name, 0)
            if total >= 10 and (step + 1) % (total // 10) == 0:
                self._logger.info(f"TensorRT build: {phase_name} {step + 1}/{total}")
            return True  # False would cancel the build

        def phase_finish(self, phase_name: str) -> None:
            self._steps.pop(phase_name, None)


def _profile_shapes(model: ModelFile) -> "tuple[tuple[int, ...], ...]":
    if model.fixed_size:
        fixed = (1, *model.fixed_size, 3)
        return fixed, fixed, (MAX_BATCH, *model.fixed_size, 3)
    optimum = (model.metadata.input_height, model.metadata.input_width)
    low = tuple(min(a, b) for a, b in zip(MIN_SIZE, optimum))
    high = tuple(max(a, b) for a, b in zip(MAX_SIZE, optimum))
    return (1, *low, 3), (1, *optimum, 3), (MAX_BATCH, *high, 3)


def build_serialized_engine(model: ModelFile, fp16: bool, logger: Any) -> bytes:
    """Parse the ONNX file and build a TensorRT engine for it; minutes on small GPUs."""
    trt_logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(trt_logger)
    network = builder.create_network(network_flags())
    parser = trt.OnnxParser(network, trt_logger)
    if not parser.parse_from_file(str(model.path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise EngineError(f"TensorRT cannot parse {model.path}: {errors}")
    config = builder.create_builder_config()
    if fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    if hasattr(trt, "IProgressMonitor"):
        config.progress_monitor = _BuildProgress(logger)
    profile = builder.create_optimization_profile()
    low, optimum, high = _profile_shapes(model)
    profile.set_shape(network.get_input(0).name, low, optimum, high)
    config.add_optimization_profile(profile)
    logger.info(f"building a TensorRT {trt.__version__} {'fp16' if fp16 else 'fp32'} engine for "
                f"{model.path.name} on {gpu_name()}; this takes a while once, then it is cached")
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise EngineError(f"TensorRT failed to build an engine for {model.path} (see its log)")
    return bytes(serialized)


def cached_engine(model: ModelFile, fp16: bool, cache_dir: "str | Path | None",
                  logger: Any) -> Path:
    """The cached engine file for the model, building it first when there is none."""
    path = engine_cache_path(model, fp16, cache_dir)
    if path.is_file():
        logger.info(f"using cached TensorRT engine {path}")
        return path
    blob = build_serialized_engine(model, fp16, logger)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_bytes(blob)
    partial.replace(path)  # atomic: a crash mid-write never leaves a corrupt cache entry
    logger.info(f"cached TensorRT engine {path}")
    return path


class _TensorIO:
    """Engine I/O by tensor name (TensorRT 8.5 on): addresses set by name, execute_async_v3."""

    def __init__(self, engine: Any, context: Any) -> None:
        self._engine, self._context = engine, context
        self.names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        self.inputs = [n for n in self.names
                       if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]

    def dtype(self, name: str) -> np.dtype:
        return np.dtype(trt.nptype(self._engine.get_tensor_dtype(name)))

    def set_input_shape(self, name: str, shape: "tuple[int, ...]") -> bool:
        return self._context.set_input_shape(name, shape)

    def shape(self, name: str) -> "tuple[int, ...]":
        return tuple(self._context.get_tensor_shape(name))

    def execute(self, addresses: "dict[str, int]", stream: Any) -> bool:
        for name, pointer in addresses.items():
            if not self._context.set_tensor_address(name, pointer):
                return False
        return self._context.execute_async_v3(stream)


class _BindingIO:
    """Engine I/O by binding index (TensorRT 8.x): a list of addresses, execute_async_v2."""

    def __init__(self, engine: Any, context: Any) -> None:
        self._engine, self._context = engine, context
        self.names = [engine.get_binding_name(i) for i in range(engine.num_bindings)]
        self.inputs = [n for i, n in enumerate(self.names) if engine.binding_is_input(i)]
        self._index = {name: i for i, name in enumerate(self.names)}

    def dtype(self, name: str) -> np.dtype:
        return np.dtype(trt.nptype(self._engine.get_binding_dtype(self._index[name])))

    def set_input_shape(self, name: str, shape: "tuple[int, ...]") -> bool:
        return self._context.set_binding_shape(self._index[name], shape)

    def shape(self, name: str) -> "tuple[int, ...]":
        return tuple(self._context.get_binding_shape(self._index[name]))

    def execute(self, addresses: "dict[str, int]", stream: Any) -> bool:
        return self._context.execute_async_v2([addresses[n] for n in self.names], stream)


class TensorRTEngine:
    """A model file as a TensorRT engine, run on one CUDA stream.

    Its infer takes and gives the model file's I/O dtypes (``open_engine`` wraps it in the
    uint8 contract).
    """

    name = "tensorrt"

    def __init__(self, model: ModelFile, fp16: bool = False, cache_dir: "str | None" = None,
                 logger: Any = None) -> None:
        logger = logger or default_logger()
        if not gpu_present():
            raise EngineError("engine 'tensorrt' needs a CUDA GPU and none answers; "
                              "use engine 'onnxruntime'")
        io_class = _TensorIO if tensor_api() else _BindingIO
        path = cached_engine(model, fp16, cache_dir, logger)
        self._runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self._engine = self._runtime.deserialize_cuda_engine(path.read_bytes())
        if self._engine is None:
            raise EngineError(f"TensorRT cannot load the cached engine {path}; delete it to "
                              f"rebuild")
        self._context = self._engine.create_execution_context()
        self._io = io_class(self._engine, self._context)
        if len(self._io.inputs) != 1 or LABELS_NAME not in self._io.names:
            raise EngineError(f"{path} has tensors {self._io.names}; expected one input and "
                              f"{LABELS_NAME!r}")
        self._input = self._io.inputs[0]
        self._outputs = [n for n in self._io.names if n != self._input]
        self._stream = _cuda(cudart.cudaStreamCreate())
        self._buffers: "dict[str, tuple[int, int]]" = {}  # name -> (device pointer, bytes)
        api = "tensor names, execute_async_v3" if io_class is _TensorIO else \
            "bindings, execute_async_v2"
        self.providers = [f"TensorRT {trt.__version__} ({'fp16' if fp16 else 'fp32'}) on "
                          f"{gpu_name()}"]
        self.precision = "fp16" if fp16 else "fp32"
        self.model = model
        self.input_size = model.fixed_size
        logger.info(f"TensorRT runs {model.path.name}: {self.providers[0]}; {api}")

    def _device_buffer(self, name: str, nbytes: int) -> int:
        """A device buffer of at least nbytes for a tensor, reallocated only to grow."""
        pointer, size = self._buffers.get(name, (0, 0))
        if size < nbytes:
            if pointer:
                _cuda(cudart.cudaFree(pointer))
            pointer = _cuda(cudart.cudaMalloc(nbytes))
            self._buffers[name] = (pointer, nbytes)
        return pointer

    def run(self, batch: np.ndarray) -> "tuple[np.ndarray, np.ndarray | None]":
        """(NxHxW class ids, confidence or None) of an NxHxWx3 RGB batch, in the model file's
        I/O dtypes; ContractEngine has checked the batch."""
        if self._context is None:
            raise EngineError("the TensorRT engine is closed")
        n, height, width, _ = batch.shape
        if height % SIZE_MULTIPLE or width % SIZE_MULTIPLE or n > MAX_BATCH:
            raise EngineError(f"TensorRT runs batches of up to {MAX_BATCH} images whose sides "
                              f"are multiples of {SIZE_MULTIPLE}, got {batch.shape}")
        if batch.dtype != self._io.dtype(self._input):
            raise EngineError(f"this engine takes {self._io.dtype(self._input)} images, got "
                              f"{batch.dtype}")
        batch = np.ascontiguousarray(batch)
        if not self._io.set_input_shape(self._input, batch.shape):
            raise EngineError(f"input shape {batch.shape} is outside the engine's profile "
                              f"({MIN_SIZE} to {MAX_SIZE})")
        addresses = {self._input: self._device_buffer(self._input, batch.nbytes)}
        _cuda(cudart.cudaMemcpyAsync(addresses[self._input], batch.ctypes.data, batch.nbytes,
                                     cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, self._stream))
        hosts = {}
        for name in self._outputs:
            host = np.empty(self._io.shape(name), self._io.dtype(name))
            addresses[name] = self._device_buffer(name, host.nbytes)
            if name in (LABELS_NAME, CONFIDENCE_NAME):
                hosts[name] = host
        if not self._io.execute(addresses, self._stream):
            raise EngineError(f"TensorRT failed to run a {batch.shape} batch")
        for name, host in hosts.items():
            _cuda(cudart.cudaMemcpyAsync(host.ctypes.data, addresses[name], host.nbytes,
                                         cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost,
                                         self._stream))
        _cuda(cudart.cudaStreamSynchronize(self._stream))
        return hosts[LABELS_NAME], hosts.get(CONFIDENCE_NAME)

    def close(self) -> None:
        for pointer, _ in self._buffers.values():
            cudart.cudaFree(pointer)
        self._buffers.clear()
        if self._context is not None:
            cudart.cudaStreamDestroy(self._stream)
        self._context = self._engine = None
