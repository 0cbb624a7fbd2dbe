"""One camera frame in, a Segmentation out: resize, infer, labels, colour mask, overlay.

The ROS node, the bag tool and the command line all call ``Segmenter.segment``, so a frame
is processed the same way wherever it comes from. Work nobody asked for is skipped: colour,
overlay and confidence are computed only when requested, and the camera image is resized only when its size
differs from the network's.
"""
import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from enet_ros.engines import Engine
from enet_ros.model_file import SIZE_MULTIPLE
from enet_ros.palette import Palette

OUTPUT_RESOLUTIONS = ("camera", "network")

# Nearest neighbour at pixel centres, as the image's bilinear resize samples them (OpenCV 4.5.1
# on); JetPack 4.6's OpenCV 4.1 has only INTER_NEAREST, whose labels may sit up to a pixel off.
NEAREST = getattr(cv2, "INTER_NEAREST_EXACT", cv2.INTER_NEAREST)


class SegmenterError(ValueError):
    """A configuration or frame the segmenter cannot work with."""


@dataclass
class Segmentation:
    """The result of one frame.

    labels: uint8 HxW class ids, at the camera's or the network's resolution.
    color: RGB HxWx3 palette colours of the labels, or None when not asked for.
    overlay: RGB HxWx3 at the labels' resolution: the camera image (camera resolution) or the
        image the network saw (network resolution) blended with the colours; None when not
        asked for.
    confidence: uint8 HxW at the labels' resolution, round(255 x the top class's probability),
        or None when not asked for or the model file has no confidence output.
    timings: milliseconds spent in resize, infer and postprocess (label resize, colour,
        overlay), and their total.
    """

    labels: np.ndarray
    color: "np.ndarray | None" = None
    overlay: "np.ndarray | None" = None
    timings: "dict[str, float]" = field(default_factory=dict)
    confidence: "np.ndarray | None" = None


def _ms(start: float, end: float) -> float:
    return (end - start) * 1e3


class Segmenter:
    """Segments RGB frames with an engine and paints them with a palette.

    input_size: (height, width) the network runs at, multiples of 8; by default the engine's
    fixed size, else the size the model was trained at (its metadata).
    output_resolution: "camera" (labels resized back with nearest neighbour, pixel centres
    aligned) or "network" (labels as the network gave them; cheaper, and the node scales
    camera_info to match).
    """

    def __init__(self, engine: Engine, palette: Palette,
                 input_size: "tuple[int, int] | None" = None,
                 output_resolution: str = "camera") -> None:
        metadata = engine.model.metadata
        size = input_size or engine.input_size or (metadata.input_height, metadata.input_width)
        if len(size) != 2 or not all(isinstance(s, int) and s > 0 and s % SIZE_MULTIPLE == 0
                                     for s in size):
            raise SegmenterError(f"input size (height, width) must be positive multiples of "
                                 f"{SIZE_MULTIPLE}, got {tuple(size)}")
        if engine.input_size is not None and tuple(size) != tuple(engine.input_size):
            raise SegmenterError(f"this model runs at {engine.input_size} (height, width) "
                                 f"only; cannot use input size {tuple(size)}")
        if output_resolution not in OUTPUT_RESOLUTIONS:
            raise SegmenterError(f"output_resolution must be one of {OUTPUT_RESOLUTIONS}, "
                                 f"got {output_resolution!r}")
        if palette.num_classes != metadata.num_classes:
            raise SegmenterError(f"palette has {palette.num_classes} classes, the model "
                                 f"{metadata.num_classes}")
        self.engine = engine
        self.palette = palette
        self.input_size: "tuple[int, int]" = (int(size[0]), int(size[1]))
        self.output_resolution = output_resolution

    @property
    def has_confidence(self) -> bool:
        """Whether the model file has the confidence output ``segment`` can return."""
        return self.engine.model.has_confidence

    def segment(self, rgb: np.ndarray, color: bool = True, overlay: bool = True,
                overlay_alpha: float = 0.5, confidence: bool = False) -> Segmentation:
        """Segment one RGB uint8 HxWx3 frame (any size; it is resized to input_size)."""
        if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 \
                or rgb.shape[2] != 3 or 0 in rgb.shape:
            raise SegmenterError(f"segment needs a non-empty RGB uint8 HxWx3 image, got "
                                 f"{getattr(rgb, 'dtype', type(rgb).__name__)} "
                                 f"{getattr(rgb, 'shape', '')}")
        height, width = self.input_size
        start = time.perf_counter()
        same_size = rgb.shape[:2] == (height, width)
        network_rgb = rgb if same_size else cv2.resize(rgb, (width, height),
                                                       interpolation=cv2.INTER_LINEAR)
        resized = time.perf_counter()
        labels, certainty = self.engine.infer_with_confidence(network_rgb[np.newaxis])
        labels, certainty = labels[0], (certainty[0] if confidence and certainty is not None
                                        else None)
        inferred = time.perf_counter()
        base = network_rgb
        if self.output_resolution == "camera" and not same_size:
            # nearest neighbour for both, so each confidence pixel stays its label's
            camera_size = (rgb.shape[1], rgb.shape[0])
            labels = cv2.resize(labels, camera_size, interpolation=NEAREST)
            if certainty is not None:
                certainty = cv2.resize(certainty, camera_size, interpolation=NEAREST)
            base = rgb
        colour = self.palette.colorize(labels) if color or overlay else None
        blended = self.palette.overlay(base, colour, overlay_alpha) if overlay else None
        done = time.perf_counter()
        timings = {"resize": _ms(start, resized), "infer": _ms(resized, inferred),
                   "postprocess": _ms(inferred, done), "total": _ms(start, done)}
        return Segmentation(labels, colour if color else None, blended, timings, certainty)
