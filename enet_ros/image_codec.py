"""sensor_msgs/Image and CompressedImage fields to and from numpy arrays, without ROS.

The node, the bag tool and the tests all pass plain message fields (encoding, height, width,
step, is_bigendian, data) so this module needs no message classes and no cv_bridge, which is
not on PyPI. Everything is decoded to one form, contiguous RGB uint8 HxWx3, because that is
what the model file takes; OpenCV does the colour conversions since it is faster than numpy
and is what cv_bridge users compare against.
"""
import cv2
import numpy as np


class ImageCodecError(ValueError):
    """An image message that cannot be decoded or an array that cannot be encoded as asked."""


# OpenCV's Bayer codes name the pattern from the second row's second and third pixels, so
# ROS "rggb" (R at row 0, column 0) is OpenCV's "BG". test_image_codec verifies each by
# mosaicing a known image. The short names exist in OpenCV 4 and 5 alike.
_BAYER_TO_RGB = {
    "bayer_rggb8": cv2.COLOR_BayerBG2RGB,
    "bayer_bggr8": cv2.COLOR_BayerRG2RGB,
    "bayer_gbrg8": cv2.COLOR_BayerGR2RGB,
    "bayer_grbg8": cv2.COLOR_BayerGB2RGB,
}

# Bytes a pixel takes in a row: one byte a channel, except mono16's one 16-bit channel.
_BYTES_PER_PIXEL = {
    "rgb8": 3,
    "bgr8": 3,
    "8UC3": 3,  # cv_bridge treats an untyped 3-channel image as bgr8
    "rgba8": 4,
    "bgra8": 4,
    "mono8": 1,
    "mono16": 2,
    "yuv422": 2,  # UYVY
    "yuv422_yuy2": 2,  # YUYV
    "nv21": 1,  # a full-size Y plane, then a half-height interleaved VU plane
    **{name: 1 for name in _BAYER_TO_RGB},
}

_TO_RGB = {
    "bgr8": cv2.COLOR_BGR2RGB,
    "8UC3": cv2.COLOR_BGR2RGB,
    "rgba8": cv2.COLOR_RGBA2RGB,
    "bgra8": cv2.COLOR_BGRA2RGB,
    "mono8": cv2.COLOR_GRAY2RGB,
    "yuv422": cv2.COLOR_YUV2RGB_UYVY,
    "yuv422_yuy2": cv2.COLOR_YUV2RGB_YUY2,
    **_BAYER_TO_RGB,
}

# What encode_image writes, and the conversion from RGB (HxW labels for mono8).
_FROM_RGB = {
    "rgb8": None,
    "bgr8": cv2.COLOR_RGB2BGR,
    "rgba8": cv2.COLOR_RGB2RGBA,
    "bgra8": cv2.COLOR_RGB2BGRA,
    "mono8": None,
}

SUPPORTED_ENCODINGS = tuple(_BYTES_PER_PIXEL)
ENCODABLE_ENCODINGS = tuple(_FROM_RGB)


def _rows(encoding: str, height: int) -> int:
    """Rows of `step` bytes the data holds: nv21 adds half as many again for its VU plane."""
    return height + height // 2 if encoding == "nv21" else height


def _check_geometry(encoding: str, height: int, width: int, step: int, size: int) -> int:
    """Bytes a pixel of a well-formed image; ImageCodecError naming what is wrong otherwise."""
    bytes_per_pixel = _BYTES_PER_PIXEL.get(encoding)
    if bytes_per_pixel is None:
        raise ImageCodecError(f"unsupported image encoding {encoding!r}; supported: "
                              f"{', '.join(SUPPORTED_ENCODINGS)}")
    if height <= 0 or width <= 0:
        raise ImageCodecError(f"{encoding} image is empty ({width}x{height})")
    if encoding in ("yuv422", "yuv422_yuy2") and width % 2:
        raise ImageCodecError(f"{encoding} needs an even width (pixels come in pairs), "
                              f"got width {width}")
    if encoding == "nv21" and (width % 2 or height % 2):
        raise ImageCodecError(f"nv21 needs an even width and height (chroma is subsampled "
                              f"2x2), got {width}x{height}")
    row_bytes = width * bytes_per_pixel
    if step < row_bytes:
        raise ImageCodecError(f"{encoding} step {step} is less than width {width} x "
                              f"{bytes_per_pixel} bytes a pixel = {row_bytes}")
    expected = step * _rows(encoding, height)
    if size < expected:
        raise ImageCodecError(f"{encoding} {width}x{height} data truncated: {size} bytes, "
                              f"step {step} needs {expected}")
    if size > expected:
        raise ImageCodecError(f"{encoding} {width}x{height} data has {size} bytes, step "
                              f"{step} x rows gives {expected}: wrong size")
    return bytes_per_pixel


def _bytes(data: "bytes | bytearray | memoryview | np.ndarray") -> np.ndarray:
    """A message's data as a flat uint8 array, without a copy where it can be had (a numpy
    array of another dtype or layout is taken as the bytes it holds, in C order)."""
    if isinstance(data, np.ndarray):
        return np.ascontiguousarray(data).reshape(-1).view(np.uint8)
    return np.frombuffer(data, np.uint8)


def decode_image(encoding: str, height: int, width: int, step: int, is_bigendian: bool,
                 data: "bytes | bytearray | memoryview | np.ndarray") -> np.ndarray:
    """An Image message's fields as contiguous RGB uint8 HxWx3.

    mono16 keeps its 8 most significant bits, as cv_bridge does when asked for 8 bits, so
    the full range of the sensor maps onto 0-255.
    """
    buffer = _bytes(data)
    bytes_per_pixel = _check_geometry(encoding, height, width, step, buffer.size)
    rows = buffer.reshape(_rows(encoding, height), step)[:, :width * bytes_per_pixel]
    if encoding == "mono16":
        samples = rows.copy().view(">u2" if is_bigendian else "<u2")
        return cv2.cvtColor((samples >> 8).astype(np.uint8), cv2.COLOR_GRAY2RGB)
    if encoding == "nv21":
        return cv2.cvtColor(np.ascontiguousarray(rows), cv2.COLOR_YUV2RGB_NV21)
    if encoding == "rgb8":
        return rows.reshape(height, width, 3).copy()  # owned and writable, unlike the message
    # one byte a channel: rows of width x channels bytes are what OpenCV takes as HxWxC
    pixels = rows.reshape(height, width, bytes_per_pixel)
    return cv2.cvtColor(np.ascontiguousarray(pixels), _TO_RGB[encoding])


def encode_image(rgb_or_labels: np.ndarray, encoding: str) -> "tuple[int, bytes]":
    """(step, data) of an Image message holding this RGB HxWx3 (or HxW mono8) array.

    Rows are written unpadded, so step is width x bytes a pixel.
    """
    if encoding not in _FROM_RGB:
        raise ImageCodecError(f"cannot encode {encoding!r}; encodable: "
                              f"{', '.join(ENCODABLE_ENCODINGS)} (see overlay_encoding)")
    conversion = _FROM_RGB[encoding]
    array = np.asarray(rgb_or_labels)
    labels = encoding == "mono8"
    expected = "HxW" if labels else "HxWx3 RGB"
    shape_ok = array.ndim == 2 if labels else (array.ndim == 3 and array.shape[2] == 3)
    if array.dtype != np.uint8 or not shape_ok or 0 in array.shape:
        raise ImageCodecError(f"{encoding} needs a non-empty uint8 {expected} array, got "
                              f"{array.dtype} {array.shape}")
    if conversion is not None:
        array = cv2.cvtColor(np.ascontiguousarray(array), conversion)
    return array[0].size, np.ascontiguousarray(array).tobytes()  # size of a row, in bytes


def overlay_encoding(input_encoding: str) -> str:
    """The encoding to publish an overlay of a camera image in: the camera's own where it is
    a colour encoding encode_image writes, else rgb8 (an overlay is colour, and bayer or YUV
    cannot be written back losslessly)."""
    if input_encoding not in _BYTES_PER_PIXEL:
        raise ImageCodecError(f"unsupported image encoding {input_encoding!r}")
    if input_encoding == "8UC3":
        return "bgr8"
    return input_encoding if input_encoding in ("bgr8", "rgba8", "bgra8") else "rgb8"


def _stored_as_rgb(format: str) -> bool:
    """Whether the publisher handed the compressor RGB (else BGR, OpenCV's order).

    image_transport's format is "<original>; <codec> compressed <encoding fed to codec>" (or
    just the codec name from other publishers). OpenCV's codecs treat 3 channels as BGR, so
    only an explicit "compressed rgb8" means the stored order is already RGB.
    """
    text = format.lower()
    if "compresseddepth" in text:
        raise ImageCodecError(f"compressed image format {format!r} is a depth image "
                              f"(compressedDepth), not a camera image")
    codecs = [c for c in ("jpeg", "jpg", "png") if c in text]
    if text.strip() and not codecs:
        raise ImageCodecError(f"compressed image format {format!r} is neither jpeg nor png")
    _, _, fed = text.partition("compressed")
    return fed.strip().startswith("rgb")


def decode_compressed(format: str, data: "bytes | bytearray | memoryview | np.ndarray"
                      ) -> np.ndarray:
    """A CompressedImage's fields (jpeg or png) as contiguous RGB uint8 HxWx3."""
    stored_rgb = _stored_as_rgb(format)
    buffer = _bytes(data)
    if buffer.size == 0:
        raise ImageCodecError(f"compressed image ({format!r}) has no data")
    image = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    if image is None:
        raise ImageCodecError(f"compressed image ({format!r}, {buffer.size} bytes) is corrupt "
                              f"or not a format OpenCV decodes")
    return image if stored_rgb else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
