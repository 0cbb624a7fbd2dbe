"""The CUDA runtime calls of the TensorRT engine, through ctypes, where cuda-python is missing.

cuda-python needs CUDA 11 or later; JetPack 4.6 (TX1, Nano) has CUDA 10.2, whose
libcudart.so every JetPack image carries. This module has the shape of cuda-python's
``cudart`` for exactly the calls ``tensorrt_engine`` makes: each returns (error, value...),
errors compare equal to ``cudaError_t.cudaSuccess`` when 0. ``ENET_ROS_CUDART`` names the
library file when it is not where the loader looks. ImportError when no library loads, so the
engine counts as unavailable, as it does without cuda-python.
"""
import ctypes
import ctypes.util
import enum
import os
import types

# libcudart.so's cudaDeviceProp starts with char name[256]; the struct grows with each CUDA
# release, so a buffer larger than any release's holds it.
DEVICE_PROP_BYTES = 8192
NAME_BYTES = 256


class cudaError_t(enum.IntEnum):  # noqa: N801 - cuda-python's names
    cudaSuccess = 0


class cudaMemcpyKind(enum.IntEnum):  # noqa: N801
    cudaMemcpyHostToDevice = 1
    cudaMemcpyDeviceToHost = 2


def _load() -> ctypes.CDLL:
    names = (os.environ.get("ENET_ROS_CUDART"), ctypes.util.find_library("cudart"),
             "libcudart.so", "/usr/local/cuda/lib64/libcudart.so")
    for name in names:
        if name:
            try:
                return ctypes.CDLL(name)
            except OSError:
                continue
    raise ImportError("no CUDA runtime library (libcudart.so) loads: set ENET_ROS_CUDART to "
                      "its path, or install cuda-python (CUDA 11 and later)")


_lib = _load()
_pointer = ctypes.c_void_p


def cudaGetDeviceCount() -> tuple:  # noqa: N802
    count = ctypes.c_int(0)
    return _lib.cudaGetDeviceCount(ctypes.byref(count)), count.value


def cudaGetDeviceProperties(device: int) -> tuple:  # noqa: N802
    prop = ctypes.create_string_buffer(DEVICE_PROP_BYTES)
    error = _lib.cudaGetDeviceProperties(prop, ctypes.c_int(device))
    return error, types.SimpleNamespace(name=prop.raw[:NAME_BYTES].split(b"\0")[0])


def cudaStreamCreate() -> tuple:  # noqa: N802
    stream = _pointer()
    return _lib.cudaStreamCreate(ctypes.byref(stream)), stream.value or 0


def cudaMalloc(nbytes: int) -> tuple:  # noqa: N802
    pointer = _pointer()
    return _lib.cudaMalloc(ctypes.byref(pointer), ctypes.c_size_t(nbytes)), pointer.value


def cudaFree(pointer: int) -> tuple:  # noqa: N802
    return (_lib.cudaFree(_pointer(pointer)),)


def cudaMemcpyAsync(dst: int, src: int, nbytes: int, kind: int, stream: int) -> tuple:  # noqa: N802
    return (_lib.cudaMemcpyAsync(_pointer(dst), _pointer(src), ctypes.c_size_t(nbytes),
                                 ctypes.c_int(int(kind)), _pointer(stream)),)


def cudaStreamSynchronize(stream: int) -> tuple:  # noqa: N802
    return (_lib.cudaStreamSynchronize(_pointer(stream)),)


def cudaStreamDestroy(stream: int) -> tuple:  # noqa: N802
    return (_lib.cudaStreamDestroy(_pointer(stream)),)
