"""Segmenter: sizes, resolutions, colour and overlay on demand, agreement with a reference."""
from __future__ import annotations

import types
from pathlib import Path

import cv2
import numpy as np
import pytest
from _runtime_fixtures import (fixture_metadata, make_model_file, reference_confidence,
                               reference_labels)

from enet_ros import segmenter as segmenter_module
from enet_ros.engines import Engine, open_engine
from enet_ros.model_file import open_model_file
from enet_ros.palette import Palette, load_palette
from enet_ros.segmenter import OUTPUT_RESOLUTIONS, Segmentation, Segmenter, SegmenterError

RNG = np.random.default_rng(3)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    path = make_model_file(tmp_path_factory.mktemp("segmenter") / "model.onnx")
    return open_engine("onnxruntime", open_model_file(path), threads=1)


@pytest.fixture(scope="module")
def confident_engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """The fixture model with the confidence output."""
    path = make_model_file(tmp_path_factory.mktemp("segmenter") / "confident.onnx",
                           confidence=True)
    return open_engine("onnxruntime", open_model_file(path), threads=1)


@pytest.fixture(scope="module")
def palette() -> Palette:
    return load_palette(None, fixture_metadata())


def _frame(height: int, width: int) -> np.ndarray:
    """Blocks of flat colour, so resizing keeps most labels and the test sees real classes."""
    blocks = RNG.integers(0, 256, ((height + 7) // 8, (width + 7) // 8, 3), dtype=np.uint8)
    return np.ascontiguousarray(np.kron(blocks, np.ones((8, 8, 1), np.uint8))[:height, :width])


def test_defaults_come_from_the_model_metadata(engine: Engine, palette: Palette) -> None:
    segmenter = Segmenter(engine, palette)
    assert segmenter.input_size == (32, 48) and segmenter.output_resolution == "camera"


def test_camera_resolution_labels_are_nearest_neighbour_of_network_labels(
        engine: Engine, palette: Palette) -> None:
    rgb = _frame(50, 70)
    result = Segmenter(engine, palette, input_size=(40, 56)).segment(rgb, overlay_alpha=0.25)
    network_rgb = cv2.resize(rgb, (56, 40), interpolation=cv2.INTER_LINEAR)
    network_labels = reference_labels(network_rgb)
    np.testing.assert_array_equal(result.labels, cv2.resize(
        network_labels, (70, 50), interpolation=cv2.INTER_NEAREST_EXACT))
    # pixel centres aligned: camera pixel x takes network pixel floor((x + 0.5) * 56 / 70),
    # up to OpenCV's fixed-point rounding where that lands exactly on a pixel edge
    rows = np.minimum(((np.arange(50) + 0.5) * 40 / 50).astype(int), 39)
    cols = np.minimum(((np.arange(70) + 0.5) * 56 / 70).astype(int), 55)
    assert (result.labels == network_labels[rows[:, None], cols[None, :]]).mean() > 0.95
    assert result.labels.shape == (50, 70) and result.labels.dtype == np.uint8
    assert len(np.unique(result.labels)) >= 3
    np.testing.assert_array_equal(result.color, palette.colours[result.labels])
    np.testing.assert_array_equal(result.overlay, palette.overlay(rgb, result.labels, 0.25))
    assert set(result.timings) == {"resize", "infer", "postprocess", "total"}
    assert all(t >= 0 for t in result.timings.values())


def test_network_resolution_overlays_the_image_the_network_saw(engine: Engine,
                                                               palette: Palette) -> None:
    rgb = _frame(50, 70)
    result = Segmenter(engine, palette, (40, 56), "network").segment(rgb)
    network_rgb = cv2.resize(rgb, (56, 40), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(result.labels, reference_labels(network_rgb))
    assert result.color.shape == result.overlay.shape == (40, 56, 3)
    np.testing.assert_array_equal(result.overlay,
                                  palette.overlay(network_rgb, result.labels, 0.5))


def _resizes(monkeypatch: pytest.MonkeyPatch, allowed: int) -> list[tuple]:
    """cv2.resize recording its calls, failing the test on call ``allowed + 1``."""
    calls: list[tuple] = []
    resize = cv2.resize

    def recorded(image: np.ndarray, size: tuple, **kwargs) -> np.ndarray:
        calls.append((image.shape[:2], size, kwargs.get("interpolation")))
        if len(calls) > allowed:
            pytest.fail(f"cv2.resize called where no resize may happen: {calls}")
        return resize(image, size, **kwargs)

    monkeypatch.setattr(cv2, "resize", recorded)
    return calls


@pytest.mark.parametrize("resolution", OUTPUT_RESOLUTIONS)
def test_frame_at_network_size_is_not_resized(engine: Engine, palette: Palette, resolution: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    rgb = _frame(32, 48)
    segmenter = Segmenter(engine, palette, output_resolution=resolution)
    calls = _resizes(monkeypatch, allowed=0)
    result = segmenter.segment(rgb)
    assert calls == []
    np.testing.assert_array_equal(result.labels, reference_labels(rgb))


def test_network_resolution_resizes_the_frame_once_and_the_labels_never(
        engine: Engine, palette: Palette, monkeypatch: pytest.MonkeyPatch) -> None:
    segmenter = Segmenter(engine, palette, (40, 56), "network")
    calls = _resizes(monkeypatch, allowed=1)
    segmenter.segment(_frame(50, 70))
    assert calls == [((50, 70), (56, 40), cv2.INTER_LINEAR)]


def test_colour_and_overlay_only_when_asked(engine: Engine, palette: Palette) -> None:
    segmenter = Segmenter(engine, palette)
    bare = segmenter.segment(_frame(32, 48), color=False, overlay=False)
    assert bare.color is None and bare.overlay is None
    only_overlay = segmenter.segment(_frame(32, 48), color=False, overlay=True)
    assert only_overlay.color is None and only_overlay.overlay.shape == (32, 48, 3)


@pytest.mark.parametrize("size", [(30, 48), (0, 48), (-8, 48), (32, 48.0), (32,), (8, 8, 8)])
def test_input_size_must_be_multiples_of_8(engine: Engine, palette: Palette,
                                           size: tuple) -> None:
    with pytest.raises(SegmenterError) as raised:
        Segmenter(engine, palette, input_size=size)
    assert str(raised.value) == ("input size (height, width) must be positive multiples of 8, "
                                 f"got {size}")


def test_bad_configuration(engine: Engine, palette: Palette) -> None:
    with pytest.raises(SegmenterError) as raised:
        Segmenter(engine, palette, output_resolution="native")
    assert str(raised.value) == \
        "output_resolution must be one of ('camera', 'network'), got 'native'"
    with pytest.raises(SegmenterError) as raised:
        Segmenter(engine, Palette(("a", "b"), np.zeros((2, 3), np.uint8)))
    assert str(raised.value) == "palette has 2 classes, the model 4"


@pytest.mark.parametrize("frame, described", [
    (np.zeros((32, 48), np.uint8), "uint8 (32, 48)"),
    (np.zeros((32, 48, 3), np.float32), "float32 (32, 48, 3)"),
    (np.zeros((32, 48, 4), np.uint8), "uint8 (32, 48, 4)"),
    (np.zeros((0, 48, 3), np.uint8), "uint8 (0, 48, 3)"),
    (np.zeros((32, 0, 3), np.uint8), "uint8 (32, 0, 3)"),
    ([[[0, 0, 0]]], "list "),  # no dtype, no shape: the type's name
])
def test_frames_that_are_not_rgb_uint8_are_refused(engine: Engine, palette: Palette,
                                                   frame: object, described: str) -> None:
    with pytest.raises(SegmenterError) as raised:
        Segmenter(engine, palette).segment(frame)
    assert str(raised.value) == \
        f"segment needs a non-empty RGB uint8 HxWx3 image, got {described}"


def test_a_fixed_size_model_gives_its_size_and_refuses_others(
        tmp_path: Path, palette: Palette) -> None:
    """The graph's fixed size (here not the metadata's 32x48) is the default and the only one."""
    path = make_model_file(tmp_path / "fixed.onnx", fixed_size=(16, 24))
    fixed = open_engine("onnxruntime", open_model_file(path), threads=1)
    assert Segmenter(fixed, palette).input_size == (16, 24)
    assert Segmenter(fixed, palette, input_size=(16, 24)).input_size == (16, 24)
    with pytest.raises(SegmenterError) as raised:
        Segmenter(fixed, palette, input_size=(32, 48))
    assert str(raised.value) == \
        "this model runs at (16, 24) (height, width) only; cannot use input size (32, 48)"


def test_an_explicit_input_size_beats_the_metadata(engine: Engine, palette: Palette) -> None:
    segmenter = Segmenter(engine, palette, input_size=[40, 56])
    assert segmenter.input_size == (40, 56) and type(segmenter.input_size) is tuple


def test_confidence_only_when_asked_and_resized_like_the_labels(
        engine: Engine, confident_engine: Engine, palette: Palette) -> None:
    rgb = _frame(50, 70)
    network = Segmenter(confident_engine, palette, (40, 56), "network")
    camera = Segmenter(confident_engine, palette, (40, 56))
    assert network.has_confidence is True and Segmenter(engine, palette).has_confidence is False
    assert camera.segment(rgb).confidence is None  # not asked for: none, although the file has it
    small = network.segment(rgb, color=False, overlay=False, confidence=True).confidence
    expected, certain = reference_confidence(cv2.resize(rgb, (56, 40),
                                                        interpolation=cv2.INTER_LINEAR))
    assert small.shape == (40, 56) and small.dtype == np.uint8 and certain.mean() > 0.9
    np.testing.assert_array_equal(small[certain], expected[certain])
    result = camera.segment(rgb, color=False, overlay=False, confidence=True)
    np.testing.assert_array_equal(result.confidence, cv2.resize(
        small, (70, 50), interpolation=cv2.INTER_NEAREST_EXACT))
    np.testing.assert_array_equal(result.labels, cv2.resize(
        reference_labels(cv2.resize(rgb, (56, 40), interpolation=cv2.INTER_LINEAR)), (70, 50),
        interpolation=cv2.INTER_NEAREST_EXACT))
    # a file without the output: None, asked or not
    assert Segmenter(engine, palette).segment(rgb, confidence=True).confidence is None


def test_timings_are_the_milliseconds_between_the_steps(engine: Engine, palette: Palette,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([0.5, 0.625, 0.75, 1.0])  # start, resized, inferred, done (exact in binary)
    monkeypatch.setattr(segmenter_module, "time",
                        types.SimpleNamespace(perf_counter=lambda: next(clock)))
    result = Segmenter(engine, palette).segment(_frame(50, 70))
    assert result.timings == {"resize": 125.0, "infer": 125.0, "postprocess": 250.0,
                              "total": 500.0}


def test_a_segmentation_holds_labels_only_by_default() -> None:
    labels = np.zeros((2, 3), np.uint8)
    first, second = Segmentation(labels), Segmentation(labels)
    assert (first.color, first.overlay, first.confidence, first.timings) == (None, None, None, {})
    assert first.labels is labels and first.timings is not second.timings
