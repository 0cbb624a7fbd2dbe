"""One camera frame in, the node's encoded output images out: everything between the topics.

The node hands this module plain message fields and gets plain fields back (encoding, size,
step, bytes), so the whole per-frame path -- decode, segment, encode, pick the overlay's
encoding, skip what nobody listens to -- runs and is tested without rclpy. The node itself is
left with moving fields between messages and this.
"""
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from enet_ros.class_mask import class_mask
from enet_ros.image_codec import decode_compressed, decode_image, encode_image, overlay_encoding

# What the overlay of a compressed frame is published as: JPEG/PNG have no ROS encoding.
COMPRESSED_OVERLAY_ENCODING = "rgb8"


@dataclass(frozen=True)
class RawFrame:
    """The fields of a sensor_msgs/Image that decoding needs."""

    encoding: str
    height: int
    width: int
    step: int
    is_bigendian: bool
    data: Any  # bytes-like: bytes, array.array('B'), memoryview, numpy


@dataclass(frozen=True)
class CompressedFrame:
    """The fields of a sensor_msgs/CompressedImage that decoding needs."""

    format: str
    data: Any


@dataclass(frozen=True)
class EncodedImage:
    """The fields of an output sensor_msgs/Image (header aside)."""

    encoding: str
    height: int
    width: int
    step: int
    data: bytes


@dataclass(frozen=True)
class Wanted:
    """Which outputs to produce for this frame: enabled and listened to."""

    labels: bool = True
    color: bool = True
    overlay: bool = True
    mask: bool = False        # needs a mask table (mask_classes) passed to ``run``
    confidence: bool = False  # needs a model file with the confidence output

    @property
    def any(self) -> bool:
        return self.labels or self.color or self.overlay or self.mask or self.confidence


@dataclass
class Outputs:
    """The encoded outputs of one frame; None for those not wanted."""

    labels: "EncodedImage | None" = None
    color: "EncodedImage | None" = None
    overlay: "EncodedImage | None" = None
    mask: "EncodedImage | None" = None
    confidence: "EncodedImage | None" = None
    size: "tuple[int, int]" = (0, 0)                # (height, width) of the outputs
    timings: "dict[str, float]" = field(default_factory=dict)  # milliseconds, as the segmenter


def decode(frame: "RawFrame | CompressedFrame") -> "tuple[np.ndarray, str]":
    """(RGB uint8 HxWx3, encoding the overlay should use); ImageCodecError for a bad frame."""
    if isinstance(frame, CompressedFrame):
        return decode_compressed(frame.format, frame.data), COMPRESSED_OVERLAY_ENCODING
    rgb = decode_image(frame.encoding, frame.height, frame.width, frame.step,
                       bool(frame.is_bigendian), frame.data)
    return rgb, overlay_encoding(frame.encoding)


def _encoded(array: np.ndarray, encoding: str) -> EncodedImage:
    step, data = encode_image(array, encoding)
    return EncodedImage(encoding, array.shape[0], array.shape[1], step, data)


def run(segmenter: Any, frame: "RawFrame | CompressedFrame", wanted: Wanted,
        overlay_alpha: float, mask_table: "np.ndarray | None" = None) -> Outputs:
    """Decode, segment and encode one frame, computing only the wanted outputs.

    ``segmenter`` is an ``enet_ros.segmenter.Segmenter``; ``mask_table`` the
    ``enet_ros.class_mask.mask_table`` of mask_classes (the mask is made only with one). Raises
    ImageCodecError for a frame that cannot be decoded; the caller counts and skips it.
    """
    start = time.perf_counter()
    rgb, overlay_enc = decode(frame)
    decoded = time.perf_counter()
    seg = segmenter.segment(rgb, color=wanted.color, overlay=wanted.overlay,
                            overlay_alpha=overlay_alpha, confidence=wanted.confidence)
    segmented = time.perf_counter()
    out = Outputs(size=(int(seg.labels.shape[0]), int(seg.labels.shape[1])))
    if wanted.labels:
        out.labels = _encoded(seg.labels, "mono8")
    if wanted.color and seg.color is not None:
        out.color = _encoded(seg.color, "rgb8")
    if wanted.overlay and seg.overlay is not None:
        out.overlay = _encoded(seg.overlay, overlay_enc)
    if wanted.mask and mask_table is not None:
        out.mask = _encoded(class_mask(seg.labels, mask_table), "mono8")
    if seg.confidence is not None:
        out.confidence = _encoded(seg.confidence, "mono8")
    out.timings = {**seg.timings, "decode": (decoded - start) * 1e3,
                   "segment": seg.timings["total"],
                   "encode": (time.perf_counter() - segmented) * 1e3}
    return out
