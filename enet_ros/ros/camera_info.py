"""Camera intrinsics for the labels image: the math behind ``enet/camera_info``.

A labels image may differ from what the camera calibrated: the driver may publish a binned or
cropped (ROI) image, and the node may resize to the network's size. The CameraInfo published
with the labels therefore describes the labels image itself: ROI and binning folded into K and
P, then K and P scaled to the labels' width and height, binning and ROI reset. Downstream code
(projecting labels into 3D) can then use it as it is, without knowing any of this happened.

The conventions are those of ``image_geometry.PinholeCameraModel`` and ``image_proc``'s resize:
a pixel coordinate u maps to u' = (u - roi.x_offset) / binning_x, then u'' = u' * scale_x.
Distortion coefficients and R are in normalised coordinates, so they carry over unchanged.
Pure Python with no ROS imports; the node copies fields between this and the message.
"""
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Intrinsics:
    """The size-dependent fields of sensor_msgs/CameraInfo (row-major K 3x3 and P 3x4)."""

    width: int
    height: int
    k: "tuple[float, ...]"           # 9 values
    p: "tuple[float, ...]"           # 12 values
    binning_x: int = 0             # 0 and 1 both mean no binning, as in CameraInfo
    binning_y: int = 0
    roi_x_offset: int = 0
    roi_y_offset: int = 0
    roi_width: int = 0             # 0 means the full (binned) image, as in CameraInfo
    roi_height: int = 0
    roi_do_rectify: bool = False

    def __post_init__(self) -> None:
        if len(self.k) != 9 or len(self.p) != 12:
            raise ValueError(f"K needs 9 values and P 12, got {len(self.k)} and {len(self.p)}")


def effective(info: Intrinsics) -> Intrinsics:
    """The intrinsics of the image the driver actually publishes: ROI and binning folded in.

    The calibration (K, P, width, height) is for the full sensor; a camera publishing a ROI
    shifts the principal point by the offset, and binning divides focal lengths, principal
    point and sizes. The result has no ROI and no binning.
    """
    bx, by = max(info.binning_x, 1), max(info.binning_y, 1)
    has_roi = info.roi_width > 0 and info.roi_height > 0
    ox, oy = (info.roi_x_offset, info.roi_y_offset) if has_roi else (0, 0)
    width = info.roi_width if has_roi else info.width
    height = info.roi_height if has_roi else info.height
    k, p = list(info.k), list(info.p)
    # K = [fx 0 cx; 0 fy cy; 0 0 1]; P = [fx' 0 cx' Tx; 0 fy' cy' Ty; 0 0 1 0].
    # A crop moves the principal point; it does not change fx, fy, Tx, Ty.
    k[2] -= ox
    k[5] -= oy
    # In P the principal point is multiplied into the row with the third column, so cropping
    # subtracts offset * P[2][*] from row 0 and row 1 (P[2] is [0 0 1 0] for a pinhole).
    for col in range(4):
        p[col] -= ox * p[8 + col]
        p[4 + col] -= oy * p[8 + col]
    return _scaled(replace(info, width=width, height=height, k=tuple(k), p=tuple(p),
                           roi_x_offset=0, roi_y_offset=0, roi_width=0, roi_height=0,
                           roi_do_rectify=False),
                   1.0 / bx, 1.0 / by, width // bx, height // by)


def scale_to(info: Intrinsics, width: int, height: int) -> Intrinsics:
    """Intrinsics for an image of ``width`` x ``height`` showing the same view as ``info``.

    ``info`` may carry ROI and binning; the result describes the resized image with neither.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"target size must be positive, got {width}x{height}")
    base = effective(info)
    if base.width <= 0 or base.height <= 0:
        raise ValueError(f"camera_info has no size ({base.width}x{base.height}): "
                         f"cannot scale it")
    return _scaled(base, width / base.width, height / base.height, width, height)


def _scaled(info: Intrinsics, sx: float, sy: float, width: int, height: int) -> Intrinsics:
    """Scale rows 0 and 1 of K and P by sx and sy (row 2 is the homogeneous row)."""
    k = tuple(v * sx if i < 3 else v * sy if i < 6 else v for i, v in enumerate(info.k))
    p = tuple(v * sx if i < 4 else v * sy if i < 8 else v for i, v in enumerate(info.p))
    return replace(info, width=width, height=height, k=k, p=p, binning_x=0, binning_y=0)


def from_msg(msg: Any) -> Intrinsics:
    """The Intrinsics of a sensor_msgs/CameraInfo (read by attribute: no ROS import here)."""
    roi = msg.roi
    return Intrinsics(msg.width, msg.height, tuple(msg.k), tuple(msg.p), msg.binning_x,
                      msg.binning_y, roi.x_offset, roi.y_offset, roi.width, roi.height,
                      roi.do_rectify)
