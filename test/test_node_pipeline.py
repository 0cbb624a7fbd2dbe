"""The node's per-frame path (enet_ros.ros.pipeline) with a real segmenter, without ROS."""
from __future__ import annotations

import dataclasses
import types

import cv2
import numpy as np
import pytest

from _runtime_fixtures import make_model_file, reference_labels
from enet_ros.engines import open_engine
from enet_ros.image_codec import ImageCodecError, encode_image
from enet_ros.model_file import open_model_file
from enet_ros.palette import load_palette
from enet_ros.ros import pipeline
from enet_ros.segmenter import Segmentation, Segmenter


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


def test_mask_and_confidence_are_made_only_when_wanted(tmp_path, rgb):
    from _runtime_fixtures import reference_confidence
    from enet_ros.class_mask import mask_table

    model = open_model_file(make_model_file(tmp_path / "conf.onnx", confidence=True))
    engine = open_engine("onnxruntime", model, providers=["CPUExecutionProvider"])
    segmenter = Segmenter(engine, load_palette(None, model.metadata), input_size=(48, 64))
    assert segmenter.has_confidence
    table = mask_table((1, 2))  # red, green
    out = pipeline.run(segmenter, _frame("rgb8", rgb), pipeline.Wanted(
        True, False, False, mask=True, confidence=True), 0.5, table)
    labels = reference_labels(rgb)
    assert (out.mask.encoding, out.mask.height, out.mask.width, out.mask.step) == \
        ("mono8", 48, 64, 64)
    assert out.mask.data == np.where(np.isin(labels, (1, 2)), 255, 0).astype(np.uint8).tobytes()
    assert (out.confidence.encoding, out.confidence.step) == ("mono8", 64)
    confidence = np.frombuffer(out.confidence.data, np.uint8).reshape(48, 64)
    expected, certain = reference_confidence(rgb)
    np.testing.assert_array_equal(confidence[certain], expected[certain])
    out = pipeline.run(segmenter, _frame("rgb8", rgb), pipeline.Wanted(True, False, False), 0.5,
                       table)
    assert out.mask is None and out.confidence is None
    assert pipeline.Wanted(False, False, False, mask=True).any
    assert pipeline.Wanted(False, False, False, confidence=True).any
    engine.close()


def test_a_model_without_confidence_gives_none(segmenter, rgb):
    assert not segmenter.has_confidence
    out = pipeline.run(segmenter, _frame("rgb8", rgb),
                       pipeline.Wanted(False, False, False, confidence=True), 0.5)
    assert out.confidence is None and out.labels is None


def test_confidence_follows_the_labels_to_the_camera_size(tmp_path):
    """Upsampled by nearest neighbour like the labels: a confidence pixel stays its label's."""
    from _runtime_fixtures import reference_confidence

    model = open_model_file(make_model_file(tmp_path / "conf.onnx", confidence=True))
    engine = open_engine("onnxruntime", model, providers=["CPUExecutionProvider"])
    small = np.random.default_rng(3).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    camera = cv2.resize(small, (64, 48), interpolation=cv2.INTER_NEAREST)
    seg = Segmenter(engine, load_palette(None, model.metadata), input_size=(24, 32)).segment(
        camera, color=False, overlay=False, confidence=True)
    assert seg.confidence.shape == (48, 64)
    expected, certain = reference_confidence(small)
    expected = np.repeat(np.repeat(expected, 2, 0), 2, 1)
    certain = np.repeat(np.repeat(certain, 2, 0), 2, 1)
    np.testing.assert_array_equal(seg.confidence[certain], expected[certain])
    engine.close()


def test_every_output_field_is_the_segmentation_encoded(segmenter, rgb):
    out = pipeline.run(segmenter, _frame("bgr8", rgb), pipeline.Wanted(), 0.25)
    labels = reference_labels(rgb)
    colours = segmenter.palette.colours[labels]
    blended = segmenter.palette.overlay(rgb, labels, 0.25)
    assert out.labels == pipeline.EncodedImage("mono8", 48, 64, 64, labels.tobytes())
    assert out.color == pipeline.EncodedImage("rgb8", 48, 64, 192, colours.tobytes())
    assert out.overlay == pipeline.EncodedImage("bgr8", 48, 64, 192,
                                                blended[:, :, ::-1].tobytes())
    assert (out.mask, out.confidence) == (None, None)


def test_the_outputs_take_the_labels_size(segmenter):
    """A camera frame of another size: the labels (and so the outputs) are the camera's size."""
    small = np.random.default_rng(2).integers(0, 256, (24, 40, 3), dtype=np.uint8)
    out = pipeline.run(segmenter, _frame("rgb8", small), pipeline.Wanted(), 0.5)
    assert out.size == (24, 40)
    assert (out.labels.height, out.labels.width, out.overlay.height, out.overlay.width) == \
        (24, 40, 24, 40)


def test_a_mask_needs_a_mask_table(segmenter, rgb):
    out = pipeline.run(segmenter, _frame("rgb8", rgb), pipeline.Wanted(mask=True), 0.5)
    assert out.mask is None and out.labels is not None


class FixedSegmenter:
    """Answers every frame with the same segmentation: labels 0 and the given timings."""

    def segment(self, rgb: np.ndarray, **asked) -> Segmentation:
        return Segmentation(np.zeros(rgb.shape[:2], np.uint8),
                            timings={"resize": 1.0, "infer": 2.0, "postprocess": 3.0,
                                     "total": 6.0})


def test_timings_add_decode_and_encode_to_the_segmenters(rgb, monkeypatch):
    clock = iter([0.5, 0.625, 0.75, 1.0])  # start, decoded, segmented, encoded (exact in binary)
    monkeypatch.setattr(pipeline, "time", types.SimpleNamespace(perf_counter=lambda: next(clock)))
    out = pipeline.run(FixedSegmenter(), _frame("rgb8", rgb), pipeline.Wanted(), 0.5)
    assert out.timings == {"resize": 1.0, "infer": 2.0, "postprocess": 3.0, "total": 6.0,
                           "decode": 125.0, "segment": 6.0, "encode": 250.0}


def test_wanted_and_outputs_defaults():
    wanted = pipeline.Wanted()
    assert (wanted.labels, wanted.color, wanted.overlay, wanted.mask, wanted.confidence) == \
        (True, True, True, False, False)
    first, second = pipeline.Outputs(), pipeline.Outputs()
    assert (first.labels, first.color, first.overlay, first.mask, first.confidence, first.size,
            first.timings) == (None, None, None, None, None, (0, 0), {})
    assert first.timings is not second.timings


@pytest.mark.parametrize("flag", ["labels", "color", "overlay", "mask", "confidence"])
def test_any_output_wanted(flag):
    nothing = dict(labels=False, color=False, overlay=False, mask=False, confidence=False)
    assert pipeline.Wanted(**nothing).any is False
    assert pipeline.Wanted(**{**nothing, flag: True}).any is True


@pytest.mark.parametrize("value, field", [
    (pipeline.RawFrame("rgb8", 1, 1, 3, False, bytes(3)), "data"),
    (pipeline.CompressedFrame("png", b""), "format"),
    (pipeline.EncodedImage("mono8", 1, 1, 1, bytes(1)), "encoding"),
    (pipeline.Wanted(), "labels"),
])
def test_frames_and_their_images_are_frozen(value, field):
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(value, field, None)
