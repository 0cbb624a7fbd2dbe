"""Labelled point clouds: a registered depth image, the labels and a pinhole model -> points.

A depth image registered to the camera image (``aligned_depth_to_color``: 16UC1 millimetres or
32FC1 metres, one depth a colour pixel) puts every labelled pixel in 3D. This module does the
arithmetic on plain message fields and numpy arrays, without ROS, so that the node and the
tests share it: decoding the depth image, projecting its pixels, picking each pixel's label
(nearest, when labels and depth differ in size), filtering, and laying the points out as
PointCloud2 data: x, y, z float32 metres, rgb (the class colour as PCL and rviz read it: a
float32 field holding the bits 0x00RRGGBB) and label uint8, packed into 17 bytes a point.

The projection is depth_image_proc's: a pixel (u, v) at depth z lies at
x = (u - cx) z / fx, y = (v - cy) z / fy, with fx, fy, cx, cy from the projection matrix P of
the camera_info (image_geometry's PinholeCameraModel), scaled to the depth image's size.
Only Python 3.6 syntax and numpy 1.19 calls, as the rest of the runtime.
"""
from typing import NamedTuple, Sequence, Tuple

import numpy as np

from enet_ros.ros import camera_info as caminfo


class DepthError(ValueError):
    """A depth image that cannot give points (encoding, size, step, no valid depth)."""


# encoding -> (sample dtype, metres a unit); the two encodings registered depth comes in.
DEPTH_ENCODINGS = {"16UC1": ("u2", 0.001), "32FC1": ("f4", 1.0)}

# sensor_msgs/PointField datatypes, repeated here so this module needs no ROS messages.
UINT8, FLOAT32 = 2, 7
# (name, offset, datatype, count) of each field, as sensor_msgs/PointField has them.
FIELDS: "Tuple[Tuple[str, int, int, int], ...]" = (
    ("x", 0, FLOAT32, 1), ("y", 4, FLOAT32, 1), ("z", 8, FLOAT32, 1),
    ("rgb", 12, FLOAT32, 1), ("label", 16, UINT8, 1))
# The layout of one point; equal to sensor_msgs_py.point_cloud2.dtype_from_fields(FIELDS).
POINT_DTYPE = np.dtype({"names": [f[0] for f in FIELDS],
                        "formats": ["<f4" if f[2] == FLOAT32 else "u1" for f in FIELDS],
                        "offsets": [f[1] for f in FIELDS], "itemsize": 17})


class Pinhole(NamedTuple):
    """Focal lengths and principal point, in pixels of the depth image."""

    fx: float
    fy: float
    cx: float
    cy: float


class CloudSettings(NamedTuple):
    """What to keep and how to colour it; built once at start by ``settings``."""

    keep: np.ndarray     # bool [256]: keep points with this label
    colours: np.ndarray  # uint32 [256]: 0x00RRGGBB of each label
    stride: int          # every stride-th pixel in each direction
    max_range: float     # metres; 0 keeps every depth


class CloudFields(NamedTuple):
    """The fields of a sensor_msgs/PointCloud2 (header aside), as create_cloud fills them."""

    height: int
    width: int
    fields: "Tuple[Tuple[str, int, int, int], ...]"
    is_bigendian: bool
    point_step: int
    row_step: int
    data: np.ndarray  # uint8, a view of the points (bytes-like: no copy until the message)
    is_dense: bool


def settings(class_names: "Sequence[str]", colours: np.ndarray, classes: str = "",
             stride: int = 1, max_range: float = 0.0) -> CloudSettings:
    """The settings for a model's classes and palette colours (uint8 [classes, 3]).

    ``classes``: comma-separated class names to keep, empty for all. ValueError naming the
    model's classes for a name it does not have, or for a stride below 1.
    """
    names = [n.strip() for n in classes.split(",") if n.strip()]
    unknown = [n for n in names if n not in class_names]
    if unknown:
        raise ValueError(f"points_classes names {', '.join(unknown)}, which the model does not "
                         f"have; its classes: {', '.join(class_names)}")
    if stride < 1:
        raise ValueError(f"points_stride must be at least 1, got {stride}")
    keep = np.zeros(256, bool)
    if names:
        keep[[list(class_names).index(n) for n in names]] = True
    else:
        keep[:] = True
    rgb = np.zeros((256, 3), np.uint32)
    rgb[:len(colours)] = np.asarray(colours, np.uint8)
    packed = (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]
    return CloudSettings(keep, packed.astype(np.uint32), int(stride), float(max_range))


def decode_depth(encoding: str, height: int, width: int, step: int, is_bigendian: bool,
                 data: object) -> np.ndarray:
    """An Image message's depth as a HxW array of its samples (uint16 mm or float32 m), in
    native byte order; DepthError for another encoding or a size or step that does not fit."""
    if encoding not in DEPTH_ENCODINGS:
        raise DepthError(f"depth encoding {encoding!r} is not one of "
                         f"{', '.join(DEPTH_ENCODINGS)}")
    sample = np.dtype(DEPTH_ENCODINGS[encoding][0])
    buffer = np.frombuffer(data, np.uint8)
    if height <= 0 or width <= 0:
        raise DepthError(f"depth image is empty ({width}x{height})")
    if step < width * sample.itemsize:
        raise DepthError(f"depth step {step} is less than width {width} x "
                         f"{sample.itemsize} bytes")
    if buffer.size != step * height:
        raise DepthError(f"depth {width}x{height} data has {buffer.size} bytes, step {step} "
                         f"x {height} rows needs {step * height}")
    rows = buffer.reshape(height, step)[:, :width * sample.itemsize]
    order = ">" if is_bigendian else "<"
    # A copy when rows are padded or the byte order is foreign; a view otherwise.
    samples = np.ascontiguousarray(rows).view(sample.newbyteorder(order))
    return samples.astype(sample.newbyteorder("="), copy=False)


def pinhole(info: caminfo.Intrinsics, width: int, height: int) -> Pinhole:
    """The pinhole model of ``info`` for an image of width x height showing its view (ROI
    and binning folded in); ValueError when P has no focal length."""
    scaled = caminfo.scale_to(info, width, height)
    fx, fy, cx, cy = scaled.p[0], scaled.p[5], scaled.p[2], scaled.p[6]
    if not (fx > 0 and fy > 0):
        raise ValueError(f"camera_info's P has no focal length (fx {fx}, fy {fy})")
    return Pinhole(fx, fy, cx, cy)


def labelled_points(depth: np.ndarray, metres_per_unit: float, labels: np.ndarray,
                    camera: Pinhole, cfg: CloudSettings) -> np.ndarray:
    """The kept points of a depth image as a structured array of POINT_DTYPE, row by row.

    ``depth``: HxW samples from decode_depth; ``labels``: uint8 class ids of any size showing
    the same view (each depth pixel takes the label whose pixel centre is nearest). A pixel is
    dropped when its depth is zero or not finite, beyond ``max_range``, or its label is not
    kept. DepthError when no sampled pixel has a depth at all (an empty or broken sensor).
    """
    rows = np.arange(0, depth.shape[0], cfg.stride)
    cols = np.arange(0, depth.shape[1], cfg.stride)
    z = depth[::cfg.stride, ::cfg.stride].astype(np.float32) * np.float32(metres_per_unit)
    valid = np.isfinite(z) & (z > 0)
    if not valid.any():
        raise DepthError("depth image has no valid depth (all zero or not finite)")
    if cfg.max_range > 0:
        valid &= z <= cfg.max_range
    grid_labels = _labels_at(labels, depth.shape, cfg.stride)
    # Flat indices: np.nonzero of a 2D mask costs several times as much.
    kept = np.flatnonzero(valid & cfg.keep[grid_labels])
    points = np.empty(kept.size, POINT_DTYPE)
    # A ray slope a column and a row, multiplied over the grid: cheaper than turning the
    # flat indices back into rows and columns (an integer division a point).
    x_slope = ((cols - camera.cx) / camera.fx).astype(np.float32)
    y_slope = ((rows - camera.cy) / camera.fy).astype(np.float32)
    points["x"] = (x_slope[None, :] * z).ravel()[kept]
    points["y"] = (y_slope[:, None] * z).ravel()[kept]
    points["z"] = z.ravel()[kept]
    kept_labels = grid_labels.ravel()[kept]
    points["rgb"] = cfg.colours[kept_labels].view(np.float32)
    points["label"] = kept_labels
    return points


def _labels_at(labels: np.ndarray, shape: "Tuple[int, int]", stride: int) -> np.ndarray:
    """The labels at every stride-th pixel of an image of ``shape`` showing the same view:
    the label whose pixel centre is nearest (centres aligned, as the segmenter resizes)."""
    if labels.shape == tuple(shape):
        return labels[::stride, ::stride]
    rows, cols = (np.minimum(((np.arange(0, n, stride) + 0.5) * (m / n)).astype(np.int64),
                             m - 1) for n, m in zip(shape, labels.shape))
    return labels[rows[:, None], cols[None, :]]


def cloud_fields(points: np.ndarray) -> CloudFields:
    """PointCloud2 fields for the points, byte for byte what sensor_msgs_py's create_cloud
    gives on a little-endian machine: one unordered row, is_dense false."""
    data = np.ascontiguousarray(points, POINT_DTYPE).view(np.uint8)
    return CloudFields(1, len(points), FIELDS, False, POINT_DTYPE.itemsize,
                       POINT_DTYPE.itemsize * len(points), data, False)
