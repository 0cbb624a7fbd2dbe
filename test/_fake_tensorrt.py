"""Stand-ins for the tensorrt and cuda-python modules, for machines without a GPU.

TensorRT cannot be installed here, so each fake offers exactly the Python API that one
TensorRT release documents for what the engine uses, read from NVIDIA/TensorRT's bindings
(python/src/infer/pyCore.cpp, pyOnnx.cpp) at release/8.2, 8.5, 8.6 and 10.3:

* bindings (``num_bindings``, ``get_binding_*``, ``binding_is_input``, ``set_binding_shape``,
  ``get_binding_shape``, ``execute_async_v2``): 8.x only, removed in 10.0;
* tensor names (``num_io_tensors``, ``get_tensor_*``, ``set_input_shape``,
  ``set_tensor_address``, ``execute_async_v3``, ``TensorIOMode``): 8.5 on;
* ``IProgressMonitor`` and ``BuilderConfig.progress_monitor``: 10.0 on;
* ``DataType.UINT8``: 8.5 on (the parser's UINT8 network I/O); ``DataType.INT64``: 10.0 on.

A call the release lacks raises AttributeError (the classes have ``__slots__``, so even an
attribute assignment fails). Like the real parser, an 8.x fake refuses a network created
without the EXPLICIT_BATCH flag. The graph runs in ONNX Runtime in place of the GPU, and
"device" memory is ctypes buffers, so pointers and copies are real.
"""
from __future__ import annotations

import ctypes
import enum
import json
import types
from importlib.machinery import ModuleSpec
from typing import Any

import numpy as np


def _release(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def make_fake_cuda() -> types.ModuleType:
    """A ``cuda`` module whose ``cudart`` has the calls the engine makes (cuda-python < 12.6)."""

    class cudaError_t(enum.Enum):  # noqa: N801 - cuda-python's names
        cudaSuccess = 0

    class cudaMemcpyKind(enum.Enum):  # noqa: N801
        cudaMemcpyHostToDevice = 1
        cudaMemcpyDeviceToHost = 2

    memory: dict[int, Any] = {}
    ok = cudaError_t.cudaSuccess

    def cudaMalloc(nbytes: int) -> tuple:  # noqa: N802
        buffer = ctypes.create_string_buffer(nbytes)
        memory[ctypes.addressof(buffer)] = buffer
        return ok, ctypes.addressof(buffer)

    def cudaFree(pointer: int) -> tuple:  # noqa: N802
        del memory[pointer]
        return (ok,)

    def cudaMemcpyAsync(dst: int, src: int, nbytes: int, kind: cudaMemcpyKind,  # noqa: N802
                        stream: int) -> tuple:
        device = dst if kind is cudaMemcpyKind.cudaMemcpyHostToDevice else src
        if device not in memory or len(memory[device]) < nbytes:
            raise AssertionError(f"copy of {nbytes} bytes to or from unallocated {device:#x}")
        ctypes.memmove(dst, src, nbytes)
        return (ok,)

    cudart = types.SimpleNamespace(
        cudaError_t=cudaError_t, cudaMemcpyKind=cudaMemcpyKind, cudaMalloc=cudaMalloc,
        cudaFree=cudaFree, cudaMemcpyAsync=cudaMemcpyAsync, memory=memory,
        cudaGetDeviceCount=lambda: (ok, 1),
        cudaGetDeviceProperties=lambda device: (ok, types.SimpleNamespace(
            name=b"Fake Jetson Orin\x00\x00")),
        cudaStreamCreate=lambda: (ok, 7),
        cudaStreamSynchronize=lambda stream: (ok,),
        cudaStreamDestroy=lambda stream: (ok,))
    module = types.ModuleType("cuda")
    module.__spec__ = ModuleSpec("cuda", None)
    module.cudart = cudart
    return module


def make_fake_tensorrt(version: str) -> types.ModuleType:
    """A ``tensorrt`` module with the documented API of that release and nothing more."""
    release = _release(version)
    has_bindings, has_tensors = release < (10, 0), release >= (8, 5)
    trt = types.ModuleType("tensorrt")
    trt.__spec__ = ModuleSpec("tensorrt", None)
    trt.__version__ = version
    trt.builds = 0  # not TensorRT's: lets tests see whether the engine cache was used

    names = ["FLOAT", "HALF", "INT8", "INT32", "BOOL"] + ["UINT8"] * (release >= (8, 5)) + \
        ["INT64"] * (release >= (10, 0))
    trt.DataType = enum.Enum("DataType", names)
    numpy_of = {"FLOAT": np.float32, "HALF": np.float16, "INT8": np.int8, "INT32": np.int32,
                "BOOL": np.bool_, "UINT8": np.uint8, "INT64": np.int64}
    trt.nptype = lambda dtype: numpy_of[dtype.name]
    flags = ["EXPLICIT_BATCH"] + ["STRONGLY_TYPED"] * (release >= (10, 0))
    trt.NetworkDefinitionCreationFlag = enum.IntEnum("NetworkDefinitionCreationFlag", flags,
                                                     start=0)
    trt.BuilderFlag = enum.Enum("BuilderFlag", ["FP16", "INT8"])
    if has_tensors:
        trt.TensorIOMode = enum.Enum("TensorIOMode", ["NONE", "INPUT", "OUTPUT"])

    class Logger:
        __slots__ = ("severity",)
        WARNING = 2

        def __init__(self, severity: int = WARNING) -> None:
            self.severity = severity

    def onnx_dtype(elem_type: int) -> Any:
        """The parser's convertDtype: int64 narrows to int32 before 10.0."""
        import onnx

        name = {onnx.TensorProto.FLOAT: "FLOAT", onnx.TensorProto.UINT8: "UINT8",
                onnx.TensorProto.INT32: "INT32", onnx.TensorProto.INT64: "INT64",
                onnx.TensorProto.BOOL: "BOOL"}.get(elem_type, "?")
        if name == "INT64" and "INT64" not in trt.DataType.__members__:
            name = "INT32"
        return trt.DataType.__members__.get(name)

    class Tensor:
        __slots__ = ("name", "dtype", "is_input")

        def __init__(self, name: str, dtype: Any, is_input: bool) -> None:
            self.name, self.dtype, self.is_input = name, dtype, is_input

    class Network:
        __slots__ = ("explicit_batch", "tensors", "onnx_bytes")

        def __init__(self, flags: int) -> None:
            self.explicit_batch = bool(flags & (1 << int(trt.NetworkDefinitionCreationFlag
                                                          .EXPLICIT_BATCH))) or release >= (10, 0)
            self.tensors: list = []
            self.onnx_bytes = b""

        def get_input(self, index: int) -> Tensor:
            return [t for t in self.tensors if t.is_input][index]

    class OnnxParser:
        __slots__ = ("_network", "_errors")

        def __init__(self, network: Network, logger: Logger) -> None:
            self._network, self._errors = network, []

        @property
        def num_errors(self) -> int:
            return len(self._errors)

        def get_error(self, index: int) -> str:
            return self._errors[index]

        def parse_from_file(self, model: str) -> bool:
            import onnx

            if not self._network.explicit_batch:
                self._errors.append("This version of TensorRT only supports explicit batch "
                                    "networks: create the network with EXPLICIT_BATCH")
                return False
            graph = onnx.load(model).graph
            for value, is_input in [*((v, True) for v in graph.input),
                                    *((v, False) for v in graph.output)]:
                dtype = onnx_dtype(value.type.tensor_type.elem_type)
                if dtype is None:
                    self._errors.append(f"Unsupported ONNX data type for {value.name}")
                    return False
                self._network.tensors.append(Tensor(value.name, dtype, is_input))
            with open(model, "rb") as f:
                self._network.onnx_bytes = f.read()
            return True

    class OptimizationProfile:
        __slots__ = ("shapes",)

        def __init__(self) -> None:
            self.shapes: dict = {}

        def set_shape(self, input: str, min: tuple, opt: tuple, max: tuple) -> None:  # noqa: A002
            self.shapes[input] = (tuple(min), tuple(opt), tuple(max))

    config_slots = ("flags", "profiles") + ("progress_monitor",) * (release >= (10, 0))

    class BuilderConfig:
        __slots__ = config_slots

        def __init__(self) -> None:
            self.flags, self.profiles = set(), []

        def set_flag(self, flag: Any) -> None:
            self.flags.add(flag)

        def add_optimization_profile(self, profile: OptimizationProfile) -> int:
            self.profiles.append(profile)
            return len(self.profiles) - 1

    class Builder:
        __slots__ = ("logger",)

        def __init__(self, logger: Logger) -> None:
            self.logger = logger

        def create_network(self, flags: int = 0) -> Network:
            return Network(flags)

        def create_builder_config(self) -> BuilderConfig:
            return BuilderConfig()

        def create_optimization_profile(self) -> OptimizationProfile:
            return OptimizationProfile()

        def build_serialized_network(self, network: Network, config: BuilderConfig) -> Any:
            inputs = [t for t in network.tensors if t.is_input]
            if not config.profiles or inputs[0].name not in config.profiles[0].shapes:
                return None  # dynamic inputs need a profile
            trt.builds += 1
            header = {"version": version, "profile": config.profiles[0].shapes[inputs[0].name],
                      "tensors": [(t.name, t.dtype.name, t.is_input) for t in network.tensors]}
            return json.dumps(header).encode() + b"\n" + network.onnx_bytes

    engine_methods: dict[str, Any] = {}
    context_methods: dict[str, Any] = {}
    if has_bindings:
        engine_methods.update(
            num_bindings=property(lambda self: len(self.tensors)),
            get_binding_name=lambda self, index: self.tensors[index][0],
            binding_is_input=lambda self, index: self.tensors[index][2],
            get_binding_dtype=lambda self, index: trt.DataType[self.tensors[index][1]])
        context_methods.update(
            set_binding_shape=lambda self, binding, shape: self._set_shape(binding, shape),
            get_binding_shape=lambda self, binding: self._shape(binding),
            execute_async_v2=lambda self, bindings, stream_handle, input_consumed=None:
                self._run(dict(enumerate(bindings))))
    if has_tensors:
        engine_methods.update(
            num_io_tensors=property(lambda self: len(self.tensors)),
            get_tensor_name=lambda self, index: self.tensors[index][0],
            get_tensor_mode=lambda self, name: trt.TensorIOMode.INPUT
            if self.tensors[self._index(name)][2] else trt.TensorIOMode.OUTPUT,
            get_tensor_dtype=lambda self, name: trt.DataType[self.tensors[self._index(name)][1]])
        context_methods.update(
            set_input_shape=lambda self, name, shape: self._set_shape(
                self._engine._index(name), shape),
            get_tensor_shape=lambda self, name: self._shape(self._engine._index(name)),
            set_tensor_address=lambda self, name, memory: self._addresses.update(
                {self._engine._index(name): memory}) is None,
            execute_async_v3=lambda self, stream_handle: self._run(self._addresses))

    class _Engine:
        __slots__ = ("tensors", "profile", "session")

        def __init__(self, header: dict, onnx_bytes: bytes) -> None:
            import onnxruntime

            self.tensors, self.profile = header["tensors"], header["profile"]
            self.session = onnxruntime.InferenceSession(onnx_bytes,
                                                        providers=["CPUExecutionProvider"])

        def _index(self, name: str) -> int:
            return [t[0] for t in self.tensors].index(name)

        def create_execution_context(self) -> Any:
            return trt.IExecutionContext(self)

    class _Context:
        __slots__ = ("_engine", "_input_shape", "_addresses")

        def __init__(self, engine: Any) -> None:
            self._engine, self._input_shape, self._addresses = engine, None, {}

        def _set_shape(self, index: int, shape: tuple) -> bool:
            low, _, high = self._engine.profile
            if not self._engine.tensors[index][2] or len(shape) != len(low) or not all(
                    a <= s <= b for a, s, b in zip(low, shape, high)):
                return False
            self._input_shape = tuple(shape)
            return True

        def _shape(self, index: int) -> tuple:
            return self._input_shape if self._engine.tensors[index][2] \
                else self._input_shape[:3]

        def _run(self, addresses: dict[int, int]) -> bool:
            tensors = self._engine.tensors
            feeds = {}
            for index, (name, dtype, is_input) in enumerate(tensors):
                if is_input:
                    array = np.empty(self._input_shape, numpy_of[dtype])
                    ctypes.memmove(array.ctypes.data, addresses[index], array.nbytes)
                    feeds[name] = array
            outputs = [t[0] for t in tensors if not t[2]]
            for name, value in zip(outputs, self._engine.session.run(outputs, feeds)):
                index = self._engine._index(name)
                value = np.ascontiguousarray(value.astype(numpy_of[tensors[index][1]]))
                ctypes.memmove(addresses[index], value.ctypes.data, value.nbytes)
            return True

    trt.ICudaEngine = type("ICudaEngine", (_Engine,), {"__slots__": (), **engine_methods})
    trt.IExecutionContext = type("IExecutionContext", (_Context,),
                                 {"__slots__": (), **context_methods})

    class Runtime:
        __slots__ = ("logger",)

        def __init__(self, logger: Logger) -> None:
            self.logger = logger

        def deserialize_cuda_engine(self, serialized_engine: bytes) -> Any:
            header, _, onnx_bytes = bytes(serialized_engine).partition(b"\n")
            header = json.loads(header)
            if header["version"] != version:  # engines do not move between releases
                return None
            return trt.ICudaEngine(header, onnx_bytes)

    trt.Logger, trt.Builder, trt.OnnxParser, trt.Runtime = Logger, Builder, OnnxParser, Runtime
    if release >= (10, 0):
        class IProgressMonitor:
            def __init__(self) -> None:
                pass

        trt.IProgressMonitor = IProgressMonitor
    return trt
