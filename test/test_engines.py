"""Engines: labels agree with the fixture's numpy reference; providers, errors, TensorRT."""
from __future__ import annotations

import importlib.util
import logging
import sys
from pathlib import Path

import numpy as np
import pytest
from _runtime_fixtures import reference_confidence, reference_labels

from enet_ros import engines
from enet_ros.engines import EngineError, open_engine, tensorrt_available
from enet_ros.engines.onnxruntime_engine import CPU, choose_providers

RNG = np.random.default_rng(2)
HAS_TENSORRT = importlib.util.find_spec("tensorrt") is not None


def test_onnxruntime_labels_match_the_reference_at_any_size(fixture_models: dict) -> None:
    engine = open_engine("onnxruntime", fixture_models["dynamic"], threads=1)
    assert engine.name == "onnxruntime" and engine.providers == [CPU]
    assert engine.input_size is None
    for shape in [(1, 16, 24, 3), (2, 40, 8, 3)]:
        batch = RNG.integers(0, 256, shape, dtype=np.uint8)
        labels, confidence = engine.infer_with_confidence(batch)
        assert labels.dtype == confidence.dtype == np.uint8
        assert labels.shape == confidence.shape == shape[:3]
        np.testing.assert_array_equal(labels, reference_labels(batch, 5))
        expected, certain = reference_confidence(batch, 5)
        np.testing.assert_array_equal(confidence[certain], expected[certain])
        np.testing.assert_array_equal(engine.infer(batch), labels)
    engine.close()


def test_fixed_size_model_rejects_other_sizes(fixture_models: dict) -> None:
    engine = open_engine("onnxruntime", fixture_models["fixed"])
    assert engine.input_size == (16, 24)
    batch = RNG.integers(0, 256, (1, 16, 24, 3), dtype=np.uint8)
    labels, confidence = engine.infer_with_confidence(batch)  # a file without confidence
    np.testing.assert_array_equal(labels, reference_labels(batch))
    assert confidence is None
    with pytest.raises(EngineError, match="takes 24x16 images only, got 32x16"):
        engine.infer(np.zeros((1, 16, 32, 3), np.uint8))


@pytest.mark.parametrize("batch", [np.zeros((1, 8, 8, 3), np.float32), np.zeros((8, 8, 3), np.uint8),
                                   np.zeros((1, 8, 8, 4), np.uint8), np.zeros((0, 8, 8, 3), np.uint8)])
def test_bad_batches_are_engine_errors(fixture_models: dict, batch: np.ndarray) -> None:
    engine = open_engine("onnxruntime", fixture_models["dynamic"])
    with pytest.raises(EngineError, match="uint8 NxHxWx3"):
        engine.infer(batch)


def test_closed_engine_says_so(fixture_models: dict) -> None:
    engine = open_engine("onnxruntime", fixture_models["dynamic"])
    engine.close()
    with pytest.raises(EngineError, match="closed"):
        engine.infer(np.zeros((1, 8, 8, 3), np.uint8))


def test_provider_choice_keeps_order_filters_and_puts_cpu_last() -> None:
    available = ["CUDAExecutionProvider", CPU]
    assert choose_providers(None, available) == (["CUDAExecutionProvider", CPU],
                                                  ["TensorrtExecutionProvider"])
    assert choose_providers([CPU, "CUDAExecutionProvider"], available) == \
        (["CUDAExecutionProvider", CPU], [])
    assert choose_providers(["OpenVINOExecutionProvider"], available) == \
        ([CPU], ["OpenVINOExecutionProvider"])


def test_missing_providers_and_fallback_are_logged(fixture_models: dict,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="enet_ros"):
        engine = open_engine("onnxruntime", fixture_models["dynamic"], fp16=True,
                             providers=["TensorrtExecutionProvider", "CUDAExecutionProvider"])
    if engine.providers != [CPU]:
        pytest.skip(f"this onnxruntime has GPU providers: {engine.providers}")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("lacks TensorrtExecutionProvider, CUDAExecutionProvider" in w for w in warnings)
    assert any("fp16 applies to TensorRT only" in w for w in warnings)
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert any("runs dynamic.onnx on CPUExecutionProvider" in i for i in infos)


def test_engine_kind_and_threads_are_checked(fixture_models: dict) -> None:
    with pytest.raises(EngineError, match="unknown engine 'tflite'"):
        open_engine("tflite", fixture_models["dynamic"])
    with pytest.raises(EngineError, match="threads must be at least 1"):
        open_engine("onnxruntime", fixture_models["dynamic"], threads=0)


def test_auto_without_tensorrt_or_openvino_is_onnxruntime(fixture_models: dict, monkeypatch) -> None:
    if tensorrt_available():
        pytest.skip("TensorRT and a GPU are present: auto picks TensorRT")
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino fails, as uninstalled
    monkeypatch.delitem(sys.modules, "enet_ros.engines.openvino_engine", raising=False)
    monkeypatch.delattr(engines, "openvino_engine", raising=False)
    assert open_engine("auto", fixture_models["dynamic"]).name == "onnxruntime"


@pytest.mark.skipif(HAS_TENSORRT, reason="tensorrt is installed")
def test_tensorrt_without_the_package_is_a_clear_error(fixture_models: dict) -> None:
    with pytest.raises(EngineError, match=r"needs the tensorrt package and a CUDA runtime \(cuda-python, or libcudart.so"):
        open_engine("tensorrt", fixture_models["dynamic"])


@pytest.mark.skipif(not HAS_TENSORRT, reason="tensorrt is not importable here (no GPU stack)")
def test_tensorrt_agrees_with_the_reference_and_caches(fixture_models: dict, tmp_path: Path) -> None:
    if not tensorrt_available():
        pytest.skip("tensorrt is installed but no CUDA GPU answers")
    from enet_ros.engines.tensorrt_engine import engine_cache_path
    engine = open_engine("tensorrt", fixture_models["dynamic"], cache_dir=str(tmp_path))
    batch = RNG.integers(0, 256, (2, 64, 96, 3), dtype=np.uint8)
    labels = engine.infer(batch)
    assert (labels == reference_labels(batch, 5)).mean() > 0.99  # back ends may break ties apart
    assert engine_cache_path(fixture_models["dynamic"], False, tmp_path).is_file()
    engine.close()


def test_onnxruntime_threads_sleep_between_runs_unless_told_to_spin(fixture_models: dict) -> None:
    entry = "session.intra_op.allow_spinning"
    quiet = open_engine("onnxruntime", fixture_models["dynamic"], threads=2, spin=False)
    assert quiet.backend._session.get_session_options().get_session_config_entry(entry) == "0"
    batch = RNG.integers(0, 256, (1, 16, 24, 3), dtype=np.uint8)
    np.testing.assert_array_equal(quiet.infer(batch), reference_labels(batch, 5))
    spinning = open_engine("onnxruntime", fixture_models["dynamic"], threads=2)
    with pytest.raises(Exception, match="does not have configuration"):  # ORT's default: spin
        spinning.backend._session.get_session_options().get_session_config_entry(entry)
