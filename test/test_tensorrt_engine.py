"""The native TensorRT engine on each TensorRT API it supports, against fakes of each release.

No TensorRT runs here (and none has been run on real hardware yet): ``_fake_tensorrt`` gives
each release's documented Python API and nothing more, so these tests prove the engine calls
only what that release has, builds the right network, picks the right API, caches per
release, and returns the contract's labels for both I/O kinds.
"""
from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pytest
from _fake_tensorrt import make_fake_cuda, make_fake_tensorrt
from _runtime_fixtures import make_model_file, reference_confidence, reference_labels

import enet_ros.engines as engines
from enet_ros.engines import EngineError, open_engine
from enet_ros.model_file import ModelFile, open_model_file
from enet_ros.shipped import shipped_path

MODULE = "enet_ros.engines.tensorrt_engine"
RNG = np.random.default_rng(11)


@pytest.fixture
def install_tensorrt(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable]:
    """install(version): the fake release and cuda-python in sys.modules, the engine re-imported."""
    saved = sys.modules.pop(MODULE, None), getattr(engines, "tensorrt_engine", None)

    def install(version: str):  # noqa: ANN202 - a module
        monkeypatch.setitem(sys.modules, "tensorrt", make_fake_tensorrt(version))
        monkeypatch.setitem(sys.modules, "cuda", make_fake_cuda())
        monkeypatch.setitem(sys.modules, "cuda.bindings", None)  # the pre-12.6 import path
        sys.modules.pop(MODULE, None)
        return importlib.import_module(MODULE)

    yield install
    sys.modules.pop(MODULE, None)
    if hasattr(engines, "tensorrt_engine"):
        del engines.tensorrt_engine
    if saved[0] is not None:
        sys.modules[MODULE], engines.tensorrt_engine = saved


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ModelFile]:
    folder = tmp_path_factory.mktemp("trt")
    return {io: open_model_file(make_model_file(folder / f"{io}.onnx", num_classes=5,
                                                confidence=True, io=io))
            for io in ("uint8", "float32")}


# (release, the API the engine must pick): bindings before 8.5, tensor names from 8.5 on
RELEASES = [("8.2.1", False), ("8.4.1", False), ("8.5.2", True), ("8.6.1", True),
            ("10.3.0", True)]


@pytest.mark.parametrize("version, tensor_api", RELEASES)
def test_the_api_is_chosen_by_what_the_release_offers(install_tensorrt, version, tensor_api):
    module = install_tensorrt(version)
    assert module.tensor_api() is tensor_api
    explicit = 1 << int(module.trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    assert module.network_flags() == (0 if version.startswith("10.") else explicit)


def test_a_release_with_neither_api_is_a_clear_error(install_tensorrt):
    module = install_tensorrt("8.6.1")
    del module.trt.IExecutionContext.execute_async_v3, module.trt.IExecutionContext.execute_async_v2
    with pytest.raises(EngineError, match="neither execute_async_v3 nor execute_async_v2"):
        module.tensor_api()


@pytest.mark.parametrize("version, io", [("8.2.1", "float32"), ("8.4.1", "float32"),
                                         ("8.5.2", "float32"), ("8.5.2", "uint8"),
                                         ("8.6.1", "uint8"), ("10.3.0", "uint8"),
                                         ("10.3.0", "float32")])
def test_labels_match_the_reference_on_each_release(install_tensorrt, models, tmp_path,
                                                    version, io):
    install_tensorrt(version)
    engine = open_engine("tensorrt", models[io], cache_dir=str(tmp_path))
    assert engine.name == "tensorrt" and engine.providers[0].startswith(f"TensorRT {version}")
    for shape in [(1, 64, 96, 3), (3, 72, 64, 3)]:  # the profile's shapes change per batch
        batch = RNG.integers(0, 256, shape, dtype=np.uint8)
        labels, confidence = engine.infer_with_confidence(batch)
        assert labels.dtype == confidence.dtype == np.uint8
        assert labels.shape == confidence.shape == shape[:3]
        np.testing.assert_array_equal(labels, reference_labels(batch, 5))
        expected, certain = reference_confidence(batch, 5)
        np.testing.assert_array_equal(confidence[certain], expected[certain])
    engine.close()
    with pytest.raises(EngineError, match="closed"):
        engine.infer(np.zeros((1, 64, 64, 3), np.uint8))


def test_uint8_model_on_tensorrt_8_4_fails_to_parse_and_says_so(install_tensorrt, models,
                                                                tmp_path):
    install_tensorrt("8.4.1")
    with pytest.raises(EngineError, match="TensorRT cannot parse .*uint8.onnx"):
        open_engine("tensorrt", models["uint8"], cache_dir=str(tmp_path))


def test_engine_cache_is_per_release_and_reused(install_tensorrt, models, tmp_path):
    batch = RNG.integers(0, 256, (1, 64, 64, 3), dtype=np.uint8)
    for version in ("8.5.2", "10.3.0"):
        module = install_tensorrt(version)
        for builds in (1, 1):  # the second open reads the cache
            engine = open_engine("tensorrt", models["float32"], cache_dir=str(tmp_path))
            np.testing.assert_array_equal(engine.infer(batch), reference_labels(batch, 5))
            engine.close()
            assert module.trt.builds == builds
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 2 and "trt10.3.0-Fake-Jetson-Orin-fp32" in names[0] \
        and "trt8.5.2-Fake-Jetson-Orin-fp32" in names[1]


def test_sizes_outside_the_profile_are_engine_errors(install_tensorrt, models, tmp_path):
    module = install_tensorrt("8.2.1")
    engine = open_engine("tensorrt", models["float32"], cache_dir=str(tmp_path))
    with pytest.raises(EngineError, match="outside the engine's profile"):
        engine.infer(np.zeros((1, 8, 64, 3), np.uint8))
    with pytest.raises(EngineError, match="batches of up to 4"):
        engine.infer(np.zeros((5, 64, 64, 3), np.uint8))
    engine.close()
    assert not module.cudart.memory  # every device buffer freed


def test_build_engine_cli_builds_and_caches(install_tensorrt, models, tmp_path, capsys):
    from enet_ros.cli import main

    install_tensorrt("10.3.0")
    assert main(["build-engine", str(models["float32"].path), "--cache-dir",
                 str(tmp_path)]) == 0
    built = Path(capsys.readouterr().out.split("TensorRT engine: ")[1].strip())
    assert built.parent == tmp_path and built.is_file() and "trt10.3.0" in built.name


def test_the_jetpack4_file_runs_on_tensorrt_8_2_with_its_own_fp16_cache_entry(install_tensorrt,
                                                                             tmp_path):
    """The shipped opset-13 file through the 8.2 bindings API in FP16 (what a TX1 or Nano
    runs) gives ONNX Runtime's labels and confidence, cached apart from the opset-17 file of
    the same I/O: the key holds each file's name and hash."""
    jetpack4 = open_model_file(shipped_path("models/enet_camvid_jetpack4.onnx"))
    fp32io = open_model_file(shipped_path("models/enet_camvid_fp32io.onnx"))
    module = install_tensorrt("8.2.1")
    assert not module.tensor_api()
    batch = RNG.integers(0, 256, (1, 64, 96, 3), dtype=np.uint8)
    reference = open_engine("onnxruntime", jetpack4, ["CPUExecutionProvider"], threads=1)
    expected = reference.infer_with_confidence(batch)
    for model in (jetpack4, fp32io, jetpack4):  # the second jetpack4 open reads the cache
        engine = open_engine("tensorrt", model, fp16=True, cache_dir=str(tmp_path))
        if model is jetpack4:
            for got, want in zip(engine.infer_with_confidence(batch), expected):
                np.testing.assert_array_equal(got, want)
        engine.close()
    assert module.trt.builds == 2
    names = sorted(p.name for p in tmp_path.iterdir())
    assert [n.split("-")[0] for n in names] == ["enet_camvid_fp32io", "enet_camvid_jetpack4"]
    assert names[1] == f"enet_camvid_jetpack4-{jetpack4.sha256[:16]}-trt8.2.1-Fake-Jetson-Orin-" \
                       "fp16.engine"


FAKE_CUDART = r"""
#include <stdlib.h>
#include <string.h>
int cudaGetDeviceCount(int *count) { *count = 1; return 0; }
int cudaGetDeviceProperties(char *prop, int device) {
    strcpy(prop, "Fake Maxwell");
    return device == 0 ? 0 : 101;
}
int cudaStreamCreate(void **stream) { *stream = (void *)7; return 0; }
int cudaMalloc(void **pointer, size_t nbytes) { *pointer = malloc(nbytes); return *pointer ? 0 : 2; }
int cudaFree(void *pointer) { free(pointer); return 0; }
int cudaMemcpyAsync(void *dst, const void *src, size_t nbytes, int kind, void *stream) {
    if ((kind != 1 && kind != 2) || stream != (void *)7) return 21;
    memcpy(dst, src, nbytes);
    return 0;
}
int cudaStreamSynchronize(void *stream) { return stream == (void *)7 ? 0 : 400; }
int cudaStreamDestroy(void *stream) { return 0; }
"""


@pytest.fixture
def fake_libcudart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A libcudart.so whose "device" memory is host memory (what _fake_tensorrt reads), built
    with the machine's C compiler; no cuda-python importable."""
    import shutil
    import subprocess

    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler to build a stand-in libcudart.so")
    source, library = tmp_path / "cudart.c", tmp_path / "libcudart.so"
    source.write_text(FAKE_CUDART)
    subprocess.run([compiler, "-shared", "-fPIC", "-o", str(library), str(source)], check=True,
                   capture_output=True, timeout=120)
    monkeypatch.setenv("ENET_ROS_CUDART", str(library))
    monkeypatch.setitem(sys.modules, "cuda", None)
    monkeypatch.setitem(sys.modules, "cuda.bindings", None)
    monkeypatch.delitem(sys.modules, "enet_ros.engines.cudart_ctypes", raising=False)
    return library


def test_without_cuda_python_the_engine_runs_on_libcudart_through_ctypes(
        install_tensorrt, fake_libcudart, models, tmp_path, monkeypatch):
    """JetPack 4.6 (CUDA 10.2) has no cuda-python: TensorRT 8.2's bindings API with device
    memory, copies and the stream from libcudart.so itself."""
    install_tensorrt("8.2.1")
    monkeypatch.setitem(sys.modules, "cuda", None)  # install_tensorrt put the fake one there
    sys.modules.pop(MODULE, None)
    module = importlib.import_module(MODULE)
    assert module.cudart.__name__ == "enet_ros.engines.cudart_ctypes"
    assert module.gpu_name() == "Fake Maxwell"
    engine = open_engine("tensorrt", models["float32"], cache_dir=str(tmp_path / "cache"),
                         fp16=True)
    assert "Fake Maxwell" in engine.providers[0] and engine.precision == "fp16"
    batch = RNG.integers(0, 256, (2, 64, 96, 3), dtype=np.uint8)
    np.testing.assert_array_equal(engine.infer(batch), reference_labels(batch, 5))
    engine.close()


def test_no_libcudart_is_an_import_error_saying_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("ENET_ROS_CUDART", str(tmp_path / "missing.so"))
    monkeypatch.setattr("ctypes.util.find_library", lambda name: None)
    monkeypatch.setattr("ctypes.CDLL", lambda name: (_ for _ in ()).throw(OSError(name)))
    monkeypatch.delitem(sys.modules, "enet_ros.engines.cudart_ctypes", raising=False)
    with pytest.raises(ImportError, match="set ENET_ROS_CUDART to its path, or install "
                                          "cuda-python"):
        importlib.import_module("enet_ros.engines.cudart_ctypes")
