"""The node's per-frame path (enet_ros.ros.pipeline) with a real segmenter, without ROS."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from _runtime_fixtures import make_model_file, reference_labels
from enet_ros.engines import open_engine
from enet_ros.image_codec import ImageCodecError, encode_image
from enet_ros.model_file import open_model_file
from enet_ros.palette import load_palette
from enet_ros.ros import pipeline
from enet_ros.segmenter import Segmenter


@pytest.fixture(scope="module")
def segmenter(tmp_path_factory):
    model = open_model_file(make_model_file(tmp_path_factory.mktemp("m") / "tiny.onnx"))
    engine = open_engine("onnxruntime", model, providers=["CPUExecutionProvider"])
    yield Segmenter(engine, load_palette(None, model.metadata), input_size=(48, 64))
    engine.close()


def _frame(encoding: str, rgb: np.ndarray) -> pipeline.RawFrame:
    step, data = encode_image(rgb, encoding)
    return pipeline.RawFrame(encoding, rgb.shape[0], rgb.shape[1], step, False, data)


@pytest.fixture
def rgb() -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (48, 64, 3), dtype=np.uint8)


def test_all_outputs_encoded_with_the_input_encoding_for_overlay(segmenter, rgb):
    out = pipeline.run(segmenter, _frame("bgr8", rgb), pipeline.Wanted(), 0.5)
    assert (out.labels.encoding, out.color.encoding, out.overlay.encoding) == \
        ("mono8", "rgb8", "bgr8")
    assert out.size == (48, 64) and out.labels.step == 64 and out.color.step == 192
    labels = np.frombuffer(out.labels.data, np.uint8).reshape(48, 64)
    np.testing.assert_array_equal(labels, reference_labels(rgb))
    assert {"decode", "segment", "encode", "infer"} <= set(out.timings)


class SpySegmenter:
    """The real segmenter, recording what each call asks it to compute: an output dropped
    only at encode time (computed, then thrown away) shows here."""

    def __init__(self, segmenter: Segmenter) -> None:
        self.segmenter = segmenter
        self.asked: list[dict] = []

    def segment(self, rgb: np.ndarray, **asked):
        self.asked.append(asked)
        return self.segmenter.segment(rgb, **asked)


@pytest.mark.parametrize("wanted, color, overlay", [
    (pipeline.Wanted(True, False, False), False, False),
    (pipeline.Wanted(False, True, False), True, False),
    (pipeline.Wanted(False, False, True), False, True),
    (pipeline.Wanted(True, True, True), True, True),
])
def test_only_wanted_outputs_are_computed(segmenter, rgb, wanted, color, overlay):
    spy = SpySegmenter(segmenter)
    out = pipeline.run(spy, _frame("rgb8", rgb), wanted, 0.25)
    (asked,) = spy.asked
    assert (asked["color"], asked["overlay"], asked["overlay_alpha"]) == (color, overlay, 0.25)
    assert (out.labels is not None, out.color is not None, out.overlay is not None) == \
        (wanted.labels, wanted.color, wanted.overlay)
    assert not pipeline.Wanted(False, False, False).any


def test_compressed_frames_give_an_rgb8_overlay(segmenter, rgb):
    data = cv2.imencode(".png", rgb[:, :, ::-1])[1].tobytes()
    out = pipeline.run(segmenter, pipeline.CompressedFrame("png", data), pipeline.Wanted(), 1.0)
    assert out.overlay.encoding == "rgb8"
    assert out.overlay.data == out.color.data  # alpha 1: the colours only


@pytest.mark.parametrize("frame", [
    pipeline.RawFrame("yuv444_planar_unknown", 2, 2, 6, False, bytes(12)),
    pipeline.RawFrame("rgb8", 4, 4, 11, False, bytes(44)),
    pipeline.RawFrame("rgb8", 4, 4, 12, False, bytes(20)),
    pipeline.RawFrame("rgb8", 0, 0, 0, False, b""),
    pipeline.CompressedFrame("jpeg", b"\xff\xd8 not really"),
    pipeline.CompressedFrame("png", b""),
])
def test_malformed_frames_raise_image_codec_errors(segmenter, frame):
    with pytest.raises(ImageCodecError):
        pipeline.run(segmenter, frame, pipeline.Wanted(), 0.5)
