"""image_codec against OpenCV's conversions, exact round trips, padding and bad messages."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enet_ros.image_codec import (ENCODABLE_ENCODINGS, ImageCodecError, decode_compressed,
                                  decode_image, encode_image, overlay_encoding)

RNG = np.random.default_rng(0)


def _rgb(height: int = 6, width: int = 8) -> np.ndarray:
    return RNG.integers(0, 256, (height, width, 3), dtype=np.uint8)


def _pad(rows: np.ndarray, extra: int) -> tuple[int, bytes]:
    """(step, data) of rows (2-D uint8, one row a line) with `extra` junk bytes a row."""
    padded = np.concatenate([rows, np.full((rows.shape[0], extra), 0xAB, np.uint8)], axis=1)
    return padded.shape[1], padded.tobytes()


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "rgba8", "bgra8"])
def test_colour_round_trip_is_exact(encoding: str) -> None:
    rgb = _rgb()
    step, data = encode_image(rgb, encoding)
    assert step == rgb.shape[1] * (4 if "a" in encoding[3:] else 3)
    assert len(data) == step * rgb.shape[0]
    decoded = decode_image(encoding, 6, 8, step, False, data)
    assert decoded.dtype == np.uint8 and decoded.flags.c_contiguous
    np.testing.assert_array_equal(decoded, rgb)


def test_encoded_bytes_are_in_the_named_order() -> None:
    rgb = np.array([[[1, 2, 3]]], np.uint8)
    assert encode_image(rgb, "rgb8") == (3, b"\x01\x02\x03")
    assert encode_image(rgb, "bgr8") == (3, b"\x03\x02\x01")
    assert encode_image(rgb, "rgba8") == (4, b"\x01\x02\x03\xff")
    assert encode_image(rgb, "bgra8") == (4, b"\x03\x02\x01\xff")


def test_mono8_labels_round_trip() -> None:
    labels = RNG.integers(0, 20, (5, 7), dtype=np.uint8)
    step, data = encode_image(labels, "mono8")
    assert (step, data) == (7, labels.tobytes())
    decoded = decode_image("mono8", 5, 7, step, False, data)
    np.testing.assert_array_equal(decoded, np.repeat(labels[:, :, None], 3, axis=2))


def test_8uc3_is_bgr8_like_cv_bridge() -> None:
    rgb = _rgb()
    step, data = encode_image(rgb, "bgr8")
    np.testing.assert_array_equal(decode_image("8UC3", 6, 8, step, False, data), rgb)


@pytest.mark.parametrize("encoding", ["rgb8", "bgra8", "mono8", "mono16", "yuv422",
                                      "bayer_grbg8"])
def test_row_padding_in_step_is_skipped(encoding: str) -> None:
    bpp = {"rgb8": 3, "bgra8": 4, "mono8": 1, "mono16": 2, "yuv422": 2, "bayer_grbg8": 1}
    rows = RNG.integers(0, 256, (6, 8 * bpp[encoding]), dtype=np.uint8)
    tight = decode_image(encoding, 6, 8, rows.shape[1], False, rows.tobytes())
    step, data = _pad(rows, 5)
    np.testing.assert_array_equal(decode_image(encoding, 6, 8, step, False, data), tight)


def test_nv21_padding_in_step_is_skipped() -> None:
    rows = RNG.integers(0, 256, (9, 8), dtype=np.uint8)
    tight = decode_image("nv21", 6, 8, 8, False, rows.tobytes())
    step, data = _pad(rows, 4)
    np.testing.assert_array_equal(decode_image("nv21", 6, 8, step, False, data), tight)


@pytest.mark.parametrize("bigendian", [False, True])
def test_mono16_keeps_the_high_byte_in_either_byte_order(bigendian: bool) -> None:
    values = np.array([[0, 255, 256, 65535], [0x1234, 0x8000, 0x00FF, 0xFF00]], np.uint16)
    data = values.astype(">u2" if bigendian else "<u2").tobytes()
    decoded = decode_image("mono16", 2, 4, 8, bigendian, data)
    expected = np.array([[0, 0, 1, 255], [0x12, 0x80, 0, 0xFF]], np.uint8)
    np.testing.assert_array_equal(decoded, np.repeat(expected[:, :, None], 3, axis=2))


def bt601(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """RGB of YUV samples by BT.601 with video range (Y 16-235, chroma 16-240 around 128):
    the formula OpenCV's YUV2RGB_UYVY/YUY2/NV21 use, written out here as the reference."""
    y, u, v = (np.asarray(c, np.float64) for c in (y, u, v))
    luma = 1.164 * np.maximum(y - 16, 0)
    rgb = np.stack([luma + 1.596 * (v - 128),
                    luma - 0.391 * (u - 128) - 0.813 * (v - 128),
                    luma + 2.018 * (u - 128)], axis=-1)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


# Hand-made (Y, U, V) pixels and the colours they are: black, white, grey, and the BT.601
# video-range primaries.
KNOWN_YUV = [((16, 128, 128), (0, 0, 0)), ((235, 128, 128), (255, 255, 255)),
             ((126, 128, 128), (128, 128, 128)), ((81, 90, 240), (255, 0, 0)),
             ((145, 54, 34), (0, 255, 0)), ((41, 240, 110), (0, 0, 255))]


@pytest.mark.parametrize("encoding, order", [("yuv422", "UYVY"), ("yuv422_yuy2", "YUYV")])
def test_yuv422_is_bt601_in_the_named_byte_order(encoding: str, order: str) -> None:
    """Each pair of pixels shares U and V; the bytes come in the order the name gives."""
    def packed(pairs: list[tuple[int, int, int, int]]) -> bytes:
        """The bytes of (Y0, U, V, Y1) pixel pairs in the named order."""
        return bytes(b for y0, u, v, y1 in pairs
                     for b in {"UYVY": (u, y0, v, y1), "YUYV": (y0, u, y1, v)}[order])
    # one pair a known colour (both pixels the same), then random pairs with two lumas
    pairs = [(y, u, v, y) for (y, u, v), _ in KNOWN_YUV]
    pairs += [tuple(int(x) for x in RNG.integers(0, 256, 4)) for _ in range(6)]
    decoded = decode_image(encoding, 2, 12, 24, False, packed(pairs))
    pixels = decoded.reshape(-1, 3)
    for index, (_, colour) in enumerate(KNOWN_YUV):
        assert np.abs(pixels[2 * index:2 * index + 2].astype(int) - colour).max() <= 2, index
    y = np.array([[p[0], p[3]] for p in pairs]).reshape(-1)
    u = np.repeat([p[1] for p in pairs], 2)
    v = np.repeat([p[2] for p in pairs], 2)
    assert np.abs(pixels.astype(int) - bt601(y, u, v)).max() <= 1


def test_nv21_is_bt601_with_vu_interleaved_and_shared_by_2x2() -> None:
    """NV21: the Y plane, then a half-height plane of V, U pairs, each pair the chroma of a
    2x2 block of pixels."""
    height, width = 4, 6
    y = RNG.integers(0, 256, (height, width), dtype=np.uint8)
    u = RNG.integers(0, 256, (height // 2, width // 2), dtype=np.uint8)
    v = RNG.integers(0, 256, (height // 2, width // 2), dtype=np.uint8)
    (luma, chroma_u, chroma_v), _ = KNOWN_YUV[3]   # block (0, 0): red
    y[:2, :2], u[0, 0], v[0, 0] = luma, chroma_u, chroma_v
    vu = np.stack([v, u], axis=-1).reshape(height // 2, width)
    decoded = decode_image("nv21", height, width, width, False,
                           np.concatenate([y, vu]).tobytes())
    full_u, full_v = (np.kron(c, np.ones((2, 2), np.uint8)) for c in (u, v))
    assert np.abs(decoded.astype(int) - bt601(y, full_u, full_v)).max() <= 1
    assert np.abs(decoded[:2, :2].astype(int) - (255, 0, 0)).max() <= 2


def demosaiced(raw: np.ndarray, pattern: str) -> np.ndarray:
    """Bilinear demosaicing written out: each channel of a pixel is its own sample where the
    pattern puts that colour there, else the mean of that colour's samples among its eight
    neighbours (two, four or four diagonal ones). Interior pixels only (border 1 dropped)."""
    height, width = raw.shape
    site = np.array([[pattern[2 * (r % 2) + (c % 2)] for c in range(width)]
                     for r in range(height)])
    out = np.zeros((height - 2, width - 2, 3), np.float64)
    for r in range(1, height - 1):
        for c in range(1, width - 1):
            for channel, colour in enumerate("RGB"):
                if site[r, c] == colour:
                    out[r - 1, c - 1, channel] = raw[r, c]
                    continue
                window = raw[r - 1:r + 2, c - 1:c + 2]
                same = site[r - 1:r + 2, c - 1:c + 2] == colour
                out[r - 1, c - 1, channel] = window[same].mean()
    return out


@pytest.mark.parametrize("encoding,pattern", [("bayer_rggb8", "RGGB"), ("bayer_bggr8", "BGGR"),
                                              ("bayer_gbrg8", "GBRG"), ("bayer_grbg8", "GRBG")])
def test_bayer_is_bilinear_with_the_ros_pattern(encoding: str, pattern: str) -> None:
    """The ROS pattern's first letter is the colour at row 0, column 0 (OpenCV's code names
    shift it): hand-made pixels, demosaiced by the formula above, pin both the pattern and
    the interpolation."""
    raw = RNG.integers(0, 256, (8, 10), dtype=np.uint8)
    decoded = decode_image(encoding, 8, 10, 10, False, raw.tobytes())
    assert decoded.shape == (8, 10, 3)
    assert np.abs(decoded[1:-1, 1:-1].astype(float) - demosaiced(raw, pattern)).max() <= 0.5 + 1e-9


def _strided(data: bytes) -> np.ndarray:
    """data as a non-contiguous numpy view (every other byte of a larger array)."""
    spread = np.zeros(2 * len(data), np.uint8)
    spread[::2] = np.frombuffer(data, np.uint8)
    return spread[::2]


def test_accepts_bytearray_memoryview_and_numpy_data() -> None:
    rgb = _rgb()
    step, data = encode_image(rgb, "bgr8")
    for form in (bytearray(data), memoryview(data), np.frombuffer(data, np.uint8),
                 _strided(data), np.frombuffer(data, np.uint8).reshape(6, step),
                 np.frombuffer(data, "<u2")):
        np.testing.assert_array_equal(decode_image("bgr8", 6, 8, step, False, form), rgb)
    png = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))[1].tobytes()
    np.testing.assert_array_equal(decode_compressed("png", _strided(png)), rgb)


def test_decoded_rgb8_is_writable() -> None:
    decoded = decode_image("rgb8", 1, 1, 3, False, b"\x01\x02\x03")
    decoded[0, 0, 0] = 9  # a view of the message's immutable bytes would raise here


SUPPORTED = ("rgb8, bgr8, 8UC3, rgba8, bgra8, mono8, mono16, yuv422, yuv422_yuy2, nv21, "
             "bayer_rggb8, bayer_bggr8, bayer_gbrg8, bayer_grbg8")


@pytest.mark.parametrize("args,message", [
    (("rgb8", 2, 2, 6, False, bytes(11)), "rgb8 2x2 data truncated: 11 bytes, step 6 needs 12"),
    (("rgb8", 2, 2, 6, False, bytes(13)),
     "rgb8 2x2 data has 13 bytes, step 6 x rows gives 12: wrong size"),
    (("nv21", 2, 2, 2, False, bytes(4)), "nv21 2x2 data truncated: 4 bytes, step 2 needs 6"),
    (("bgra8", 2, 3, 11, False, bytes(22)),
     "bgra8 step 11 is less than width 3 x 4 bytes a pixel = 12"),
    (("yuv422", 2, 3, 6, False, bytes(12)),
     "yuv422 needs an even width (pixels come in pairs), got width 3"),
    (("yuv422_yuy2", 2, 3, 6, False, bytes(12)),
     "yuv422_yuy2 needs an even width (pixels come in pairs), got width 3"),
    (("nv21", 3, 4, 4, False, bytes(16)),
     "nv21 needs an even width and height (chroma is subsampled 2x2), got 4x3"),
    (("nv21", 2, 3, 3, False, bytes(9)),
     "nv21 needs an even width and height (chroma is subsampled 2x2), got 3x2"),
    (("mono8", 0, 4, 4, False, b""), "mono8 image is empty (4x0)"),
    (("mono8", 4, 0, 0, False, b""), "mono8 image is empty (0x4)"),
    (("32FC1", 1, 1, 4, False, bytes(4)),
     f"unsupported image encoding '32FC1'; supported: {SUPPORTED}"),
])
def test_bad_messages_are_clear_errors(args: tuple, message: str) -> None:
    with pytest.raises(ImageCodecError) as err:
        decode_image(*args)
    assert str(err.value) == message


@pytest.mark.parametrize("array,encoding,message", [
    (np.zeros((2, 2, 3), np.float32), "rgb8",
     "rgb8 needs a non-empty uint8 HxWx3 RGB array, got float32 (2, 2, 3)"),
    (np.zeros((2, 2), np.uint8), "rgb8",
     "rgb8 needs a non-empty uint8 HxWx3 RGB array, got uint8 (2, 2)"),
    (np.zeros((2, 2, 4), np.uint8), "bgra8",
     "bgra8 needs a non-empty uint8 HxWx3 RGB array, got uint8 (2, 2, 4)"),
    (np.zeros((2, 2, 3), np.uint8), "mono8",
     "mono8 needs a non-empty uint8 HxW array, got uint8 (2, 2, 3)"),
    (np.zeros((0, 2, 3), np.uint8), "bgr8",
     "bgr8 needs a non-empty uint8 HxWx3 RGB array, got uint8 (0, 2, 3)"),
    (np.zeros((2, 2, 3), np.uint8), "yuv422",
     "cannot encode 'yuv422'; encodable: rgb8, bgr8, rgba8, bgra8, mono8 (see "
     "overlay_encoding)"),
])
def test_encode_rejects_what_it_cannot_write(array: np.ndarray, encoding: str,
                                             message: str) -> None:
    with pytest.raises(ImageCodecError) as err:
        encode_image(array, encoding)
    assert str(err.value) == message


@pytest.mark.parametrize("camera,overlay", [
    ("rgb8", "rgb8"), ("bgr8", "bgr8"), ("bgra8", "bgra8"), ("rgba8", "rgba8"), ("8UC3", "bgr8"),
    ("mono8", "rgb8"), ("mono16", "rgb8"), ("yuv422", "rgb8"), ("nv21", "rgb8"),
    ("bayer_rggb8", "rgb8")])
def test_overlay_encoding(camera: str, overlay: str) -> None:
    assert overlay_encoding(camera) == overlay
    assert overlay in ENCODABLE_ENCODINGS


def test_overlay_encoding_rejects_unknown() -> None:
    with pytest.raises(ImageCodecError) as err:
        overlay_encoding("16UC1")
    assert str(err.value) == "unsupported image encoding '16UC1'"


@pytest.mark.parametrize("format", ["png", "bgr8; png compressed bgr8", "rgb8; png compressed",
                                    ""])
def test_png_decodes_exactly(format: str) -> None:
    rgb = _rgb(5, 7)
    ok, png = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    np.testing.assert_array_equal(decode_compressed(format, png.tobytes()), rgb)


def test_compressed_rgb8_channel_order_is_honoured() -> None:
    """A publisher that fed RGB bytes to the codec says so; they come back unswapped."""
    rgb = _rgb(5, 7)
    ok, png = cv2.imencode(".png", rgb)
    np.testing.assert_array_equal(decode_compressed("rgb8; png compressed rgb8", png), rgb)


@pytest.mark.parametrize("format", ["jpeg", "jpg", "bgr8; jpeg compressed bgr8",
                                    "rgb8; jpeg compressed bgr8"])
def test_jpeg_decodes_close(format: str) -> None:
    flat = np.full((16, 16, 3), (200, 100, 30), np.uint8)
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(flat, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, 95])
    decoded = decode_compressed(format, jpeg.tobytes())
    assert decoded.shape == (16, 16, 3) and decoded.flags.c_contiguous
    assert np.abs(decoded.astype(int) - flat).max() <= 4


@pytest.mark.parametrize("format,data,message", [
    ("jpeg", b"\xff\xd8 not really a jpeg",
     "compressed image ('jpeg', 20 bytes) is corrupt or not a format OpenCV decodes"),
    ("png", b"", "compressed image ('png') has no data"),
    ("tiff", b"II*\x00", "compressed image format 'tiff' is neither jpeg nor png"),
    ("16UC1; compressedDepth png", b"\x00" * 20, "compressed image format '16UC1; "
     "compressedDepth png' is a depth image (compressedDepth), not a camera image"),
])
def test_bad_compressed_images_are_clear_errors(format: str, data: bytes, message: str) -> None:
    with pytest.raises(ImageCodecError) as err:
        decode_compressed(format, data)
    assert str(err.value) == message


@settings(max_examples=60, deadline=None)
@given(encoding=st.sampled_from(["rgb8", "bgr8", "rgba8", "bgra8", "mono8"]),
       height=st.integers(1, 9), width=st.integers(1, 9), padding=st.integers(0, 7),
       seed=st.integers(0, 2**32 - 1))
def test_random_round_trips_are_exact(encoding: str, height: int, width: int, padding: int,
                                      seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = (height, width) if encoding == "mono8" else (height, width, 3)
    array = rng.integers(0, 256, shape, dtype=np.uint8)
    step, data = encode_image(array, encoding)
    rows = np.frombuffer(data, np.uint8).reshape(height, step)
    padded_step, padded = _pad(rows, padding)
    decoded = decode_image(encoding, height, width, padded_step, False, padded)
    expected = array if encoding != "mono8" else np.repeat(array[:, :, None], 3, axis=2)
    np.testing.assert_array_equal(decoded, expected)
    # and back: re-encoding the decoded image gives the original bytes
    again = decoded[:, :, 0] if encoding == "mono8" else decoded
    assert encode_image(again, encoding) == (step, data)
