"""The OpenVINO engine, run for real: labels against the numpy reference and ONNX Runtime,
precision and device choice and their fallbacks, and what happens without openvino."""
from __future__ import annotations

import logging
import sys

import cv2
import numpy as np
import pytest
from _runtime_fixtures import reference_confidence, reference_labels
from conftest import REPO_ROOT, SHARED_DATASETS

from enet_ros import engines
from enet_ros.engines import EngineError, open_engine, tensorrt_available
from enet_ros.model_file import open_model_file

ov = pytest.importorskip("openvino")
from enet_ros.engines.openvino_engine import (MAX_STATIC_SHAPES, choose_device,  # noqa: E402
                                              choose_precision)

RNG = np.random.default_rng(9)
SHIPPED = REPO_ROOT / "models" / "enet_camvid.onnx"
CAMVID_VAL = SHARED_DATASETS / "camvid" / "val"
CPU_CAPABILITIES = list(ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))


def test_fp32_labels_equal_the_reference_at_any_size_and_batch(fixture_models: dict) -> None:
    engine = open_engine("openvino", fixture_models["dynamic"], precision="fp32", threads=1)
    assert (engine.name, engine.providers, engine.precision) == ("openvino", ["CPU"], "fp32")
    assert engine.input_size is None
    # more shapes than get a static compilation: the rest run on the dynamic one
    shapes = [(1, 16, 24, 3), (2, 40, 8, 3), (1, 8, 8, 3), (3, 24, 16, 3), (1, 32, 48, 3),
              (1, 56, 64, 3), (1, 16, 24, 3)]
    assert len(set(shapes)) > MAX_STATIC_SHAPES
    for shape in shapes:
        batch = RNG.integers(0, 256, shape, dtype=np.uint8)
        labels, confidence = engine.infer_with_confidence(batch)
        assert labels.dtype == confidence.dtype == np.uint8
        assert labels.shape == confidence.shape == shape[:3]
        np.testing.assert_array_equal(labels, reference_labels(batch, 5))
        expected, certain = reference_confidence(batch, 5)
        np.testing.assert_array_equal(confidence[certain], expected[certain])
    red = np.zeros((1, 8, 8, 3), np.uint8)
    red[..., 0] = 250
    first = engine.infer(red)
    assert (engine.infer(np.zeros_like(red)) == 0).all()  # dark
    assert (first == 1).all()  # still red: a copy, not the request's reused output buffer
    engine.close()
    with pytest.raises(EngineError, match="closed"):
        engine.infer(np.zeros((1, 8, 8, 3), np.uint8))


def test_fixed_size_model_and_bad_batches(fixture_models: dict) -> None:
    engine = open_engine("openvino", fixture_models["fixed"], precision="fp32")
    assert engine.input_size == (16, 24)
    batch = RNG.integers(0, 256, (1, 16, 24, 3), dtype=np.uint8)
    labels, confidence = engine.infer_with_confidence(batch)  # a file without confidence
    np.testing.assert_array_equal(labels, reference_labels(batch))
    assert confidence is None
    with pytest.raises(EngineError, match="takes 24x16 images only, got 32x16"):
        engine.infer(np.zeros((1, 16, 32, 3), np.uint8))
    with pytest.raises(EngineError, match="uint8 NxHxWx3"):
        engine.infer(np.zeros((1, 16, 24, 3), np.float32))


def test_precision_follows_the_reported_capabilities() -> None:
    assert choose_precision("auto", "CPU", ["BF16", "FP32", "INT8"]) == ("bf16", None)
    assert choose_precision("auto", "CPU", ["FP32", "INT8"]) == ("fp32", None)
    assert choose_precision("auto", "GPU.0", ["FP32", "FP16", "BF16"]) == ("fp16", None)
    assert choose_precision("fp32", "CPU", ["BF16"]) == ("fp32", None)
    precision, warning = choose_precision("fp16", "CPU", ["BF16", "FP32"])
    assert precision == "fp32" and "CPU does not report FP16" in warning
    assert choose_device("gpu", ["CPU", "GPU.0"]) == ("GPU", None)
    assert choose_device("GPU.0", ["CPU", "GPU.0"]) == ("GPU.0", None)
    device, warning = choose_device("GPU", ["CPU"])
    assert device == "CPU" and warning.startswith("FALLBACK: asked for OpenVINO device GPU")


def test_auto_precision_is_what_this_cpu_reports_and_is_logged(
        fixture_models: dict, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="enet_ros"):
        engine = open_engine("openvino", fixture_models["dynamic"], threads=1, spin=False)
    assert engine.precision == ("bf16" if "BF16" in CPU_CAPABILITIES else "fp32")
    (info,) = [r.getMessage() for r in caplog.records if "runs dynamic.onnx" in r.getMessage()]
    assert "on CPU" in info and f"in {engine.precision}, 1 threads, pinned False" in info


def test_device_and_precision_fallbacks_are_warnings(fixture_models: dict,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    if any(d.startswith("GPU") for d in ov.Core().available_devices):
        pytest.skip("OpenVINO has a GPU here: no fallback to see")
    with caplog.at_level(logging.INFO, logger="enet_ros"):
        engine = open_engine("openvino", fixture_models["dynamic"], device="GPU", precision="fp16")
    assert engine.providers == ["CPU"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(w.startswith("FALLBACK: asked for OpenVINO device GPU") for w in warnings)
    if "FP16" not in CPU_CAPABILITIES:
        assert engine.precision == "fp32"
        assert any("CPU does not report FP16" in w for w in warnings)
    batch = RNG.integers(0, 256, (1, 16, 24, 3), dtype=np.uint8)
    assert (engine.infer(batch) == reference_labels(batch, 5)).mean() > 0.99


def test_bad_settings_are_engine_errors(fixture_models: dict) -> None:
    with pytest.raises(EngineError, match="unknown precision 'int4'"):
        open_engine("openvino", fixture_models["dynamic"], precision="int4")
    with pytest.raises(EngineError, match="threads must be at least 1"):
        open_engine("openvino", fixture_models["dynamic"], threads=0)


def test_auto_prefers_openvino_to_onnxruntime_on_the_cpu(fixture_models: dict) -> None:
    if tensorrt_available():
        pytest.skip("TensorRT and a GPU are present: auto picks TensorRT")
    import onnxruntime as ort

    from enet_ros.engines.onnxruntime_engine import CPU, DEFAULT_PROVIDERS
    if set(ort.get_available_providers()) & (set(DEFAULT_PROVIDERS) - {CPU}):
        pytest.skip("this onnxruntime has a GPU provider: auto picks it")
    assert open_engine("auto", fixture_models["dynamic"]).name == "openvino"


def test_without_openvino_asking_for_it_says_how_to_install(fixture_models: dict, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino fails, as uninstalled
    monkeypatch.delitem(sys.modules, "enet_ros.engines.openvino_engine")
    monkeypatch.delattr(engines, "openvino_engine", raising=False)
    with pytest.raises(EngineError, match=r"needs the openvino package: pip install "
                                          r"'enet_ros\[openvino\]'"):
        open_engine("openvino", fixture_models["dynamic"])


def _camvid_frames(count: int) -> list[np.ndarray]:
    files = sorted(CAMVID_VAL.glob("*.png"))[:count]
    return [cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB) for f in files]


@pytest.mark.skipif(not CAMVID_VAL.is_dir(), reason="CamVid not in ../shared/datasets")
def test_shipped_model_agrees_with_onnxruntime_in_fp32_and_bf16() -> None:
    """Real frames, the real network: fp32 is the same computation (>= 99.9 % equal labels;
    near-ties in max-pooling may flip a few), bf16 keeps >= 99 %."""
    model = open_model_file(SHIPPED)
    reference = open_engine("onnxruntime", model)
    batch = np.stack(_camvid_frames(4))
    expected = reference.infer(batch)
    for precision, least in (("fp32", 0.999), ("bf16", 0.99)):
        if precision.upper() not in CPU_CAPABILITIES:
            continue
        engine = open_engine("openvino", model, precision=precision)
        assert engine.precision == precision
        agreement = float((engine.infer(batch) == expected).mean())
        assert agreement >= least, (precision, agreement)
        engine.close()
