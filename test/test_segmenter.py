"""Segmenter: sizes, resolutions, colour and overlay on demand, agreement with a reference."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from _runtime_fixtures import fixture_metadata, make_model_file, reference_labels

from enet_ros.engines import Engine, open_engine
from enet_ros.model_file import open_model_file
from enet_ros.palette import Palette, load_palette
from enet_ros.segmenter import OUTPUT_RESOLUTIONS, Segmenter, SegmenterError

RNG = np.random.default_rng(3)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    path = make_model_file(tmp_path_factory.mktemp("segmenter") / "model.onnx")
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


@pytest.mark.parametrize("size,match", [((30, 48), "multiples of 8"), ((0, 48), "multiples"),
                                        ((32,), "multiples")])
def test_input_size_must_be_multiples_of_8(engine: Engine, palette: Palette, size: tuple,
                                           match: str) -> None:
    with pytest.raises(SegmenterError, match=match):
        Segmenter(engine, palette, input_size=size)


def test_bad_configuration_and_frames(engine: Engine, palette: Palette) -> None:
    with pytest.raises(SegmenterError, match="output_resolution"):
        Segmenter(engine, palette, output_resolution="native")
    with pytest.raises(SegmenterError, match="palette has 2 classes, the model 4"):
        Segmenter(engine, Palette(("a", "b"), np.zeros((2, 3), np.uint8)))
    segmenter = Segmenter(engine, palette)
    for frame in (np.zeros((32, 48), np.uint8), np.zeros((32, 48, 3), np.float32),
                  np.zeros((0, 48, 3), np.uint8)):
        with pytest.raises(SegmenterError, match="RGB uint8 HxWx3"):
            segmenter.segment(frame)
