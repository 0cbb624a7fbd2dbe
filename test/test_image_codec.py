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


@pytest.mark.parametrize("encoding,to_yuv", [("yuv422", cv2.COLOR_RGB2YUV_UYVY),
                                             ("yuv422_yuy2", cv2.COLOR_RGB2YUV_YUY2)])
def test_yuv422_matches_opencv_and_recovers_flat_colour(encoding: str, to_yuv: int) -> None:
    flat = np.full((4, 6, 3), (200, 100, 30), np.uint8)
    packed = cv2.cvtColor(flat, to_yuv)  # HxWx2 in the named byte order
    decoded = decode_image(encoding, 4, 6, 12, False, packed.tobytes())
    assert np.abs(decoded.astype(int) - flat).max() <= 2
    raw = RNG.integers(0, 256, (4, 6, 2), dtype=np.uint8)
    code = cv2.COLOR_YUV2RGB_UYVY if encoding == "yuv422" else cv2.COLOR_YUV2RGB_YUY2
    np.testing.assert_array_equal(decode_image(encoding, 4, 6, 12, False, raw.tobytes()),
                                  cv2.cvtColor(raw, code))


def test_nv21_matches_opencv_and_recovers_flat_colour() -> None:
    flat = np.full((4, 6, 3), (30, 160, 220), np.uint8)
    i420 = cv2.cvtColor(flat, cv2.COLOR_RGB2YUV_I420)  # Y, then U plane, then V plane
    y, u, v = i420[:4], i420[4:5].reshape(-1)[:6], i420[5:6].reshape(-1)[:6]
    vu = np.stack([v, u], axis=1).reshape(2, 6)  # NV21: interleaved V, U
    decoded = decode_image("nv21", 4, 6, 6, False, np.concatenate([y, vu]).tobytes())
    assert np.abs(decoded.astype(int) - flat).max() <= 3
    raw = RNG.integers(0, 256, (6, 6), dtype=np.uint8)
    np.testing.assert_array_equal(decode_image("nv21", 4, 6, 6, False, raw.tobytes()),
                                  cv2.cvtColor(raw, cv2.COLOR_YUV2RGB_NV21))


@pytest.mark.parametrize("encoding,pattern", [("bayer_rggb8", "RGGB"), ("bayer_bggr8", "BGGR"),
                                              ("bayer_gbrg8", "GBRG"), ("bayer_grbg8", "GRBG")])
def test_bayer_by_construction(encoding: str, pattern: str) -> None:
    """Mosaic a flat image with the ROS pattern (first letter at row 0, column 0): the
    demosaiced interior must be that colour, which pins OpenCV's shifted code names."""
    colour = (200, 100, 30)
    raw = np.zeros((8, 8), np.uint8)
    for letter, (dy, dx) in zip(pattern, [(0, 0), (0, 1), (1, 0), (1, 1)]):
        raw[dy::2, dx::2] = colour["RGB".index(letter)]
    decoded = decode_image(encoding, 8, 8, 8, False, raw.tobytes())
    assert decoded.shape == (8, 8, 3)
    np.testing.assert_array_equal(decoded[2:6, 2:6], np.full((4, 4, 3), colour, np.uint8))


def test_accepts_bytearray_memoryview_and_numpy_data() -> None:
    rgb = _rgb()
    step, data = encode_image(rgb, "bgr8")
    for form in (bytearray(data), memoryview(data), np.frombuffer(data, np.uint8)):
        np.testing.assert_array_equal(decode_image("bgr8", 6, 8, step, False, form), rgb)


def test_decoded_rgb8_is_writable() -> None:
    decoded = decode_image("rgb8", 1, 1, 3, False, b"\x01\x02\x03")
    decoded[0, 0, 0] = 9  # a view of the message's immutable bytes would raise here


@pytest.mark.parametrize("args,words", [
    (("rgb8", 2, 2, 6, False, bytes(11)), ["rgb8", "truncated", "11", "12"]),
    (("rgb8", 2, 2, 6, False, bytes(13)), ["rgb8", "13", "12", "wrong size"]),
    (("bgra8", 2, 3, 11, False, bytes(22)), ["bgra8", "step 11", "width 3", "12"]),
    (("yuv422", 2, 3, 6, False, bytes(12)), ["yuv422", "even width", "3"]),
    (("nv21", 3, 4, 4, False, bytes(16)), ["nv21", "even", "4x3"]),
    (("nv21", 2, 3, 3, False, bytes(9)), ["nv21", "even", "3x2"]),
    (("mono8", 0, 4, 4, False, b""), ["mono8", "empty", "4x0"]),
    (("mono8", 4, 0, 0, False, b""), ["mono8", "empty", "0x4"]),
    (("32FC1", 1, 1, 4, False, bytes(4)), ["32FC1", "unsupported"]),
])
def test_bad_messages_are_clear_errors(args: tuple, words: list[str]) -> None:
    with pytest.raises(ImageCodecError) as err:
        decode_image(*args)
    for word in words:
        assert word in str(err.value)


@pytest.mark.parametrize("array,encoding", [
    (np.zeros((2, 2, 3), np.float32), "rgb8"),
    (np.zeros((2, 2), np.uint8), "rgb8"),
    (np.zeros((2, 2, 3), np.uint8), "mono8"),
    (np.zeros((0, 2, 3), np.uint8), "bgr8"),
    (np.zeros((2, 2, 3), np.uint8), "yuv422"),
])
def test_encode_rejects_what_it_cannot_write(array: np.ndarray, encoding: str) -> None:
    with pytest.raises(ImageCodecError, match=encoding):
        encode_image(array, encoding)


@pytest.mark.parametrize("camera,overlay", [
    ("rgb8", "rgb8"), ("bgr8", "bgr8"), ("bgra8", "bgra8"), ("rgba8", "rgba8"), ("8UC3", "bgr8"),
    ("mono8", "rgb8"), ("mono16", "rgb8"), ("yuv422", "rgb8"), ("nv21", "rgb8"),
    ("bayer_rggb8", "rgb8")])
def test_overlay_encoding(camera: str, overlay: str) -> None:
    assert overlay_encoding(camera) == overlay
    assert overlay in ENCODABLE_ENCODINGS


def test_overlay_encoding_rejects_unknown() -> None:
    with pytest.raises(ImageCodecError, match="16UC1"):
        overlay_encoding("16UC1")


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


@pytest.mark.parametrize("format", ["jpeg", "bgr8; jpeg compressed bgr8", "rgb8; jpeg compressed bgr8"])
def test_jpeg_decodes_close(format: str) -> None:
    flat = np.full((16, 16, 3), (200, 100, 30), np.uint8)
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(flat, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, 95])
    decoded = decode_compressed(format, jpeg.tobytes())
    assert decoded.shape == (16, 16, 3) and decoded.flags.c_contiguous
    assert np.abs(decoded.astype(int) - flat).max() <= 4


@pytest.mark.parametrize("format,data,words", [
    ("jpeg", b"\xff\xd8 not really a jpeg", ["jpeg", "corrupt"]),
    ("png", b"", ["png", "no data"]),
    ("tiff", b"II*\x00", ["tiff", "neither jpeg nor png"]),
    ("16UC1; compressedDepth png", b"\x00" * 20, ["compressedDepth"]),
])
def test_bad_compressed_images_are_clear_errors(format: str, data: bytes,
                                                words: list[str]) -> None:
    with pytest.raises(ImageCodecError) as err:
        decode_compressed(format, data)
    for word in words:
        assert word in str(err.value)


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
