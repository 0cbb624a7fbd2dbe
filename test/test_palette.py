"""Palettes: painting labels, blending, and finding and checking named or YAML palettes."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from enet_ros.model_file import ModelMetadata
from enet_ros.palette import (Palette, PaletteError, generated_palette, load_palette,
                              named_palettes)

RNG = np.random.default_rng(1)


def _metadata(classes: int) -> ModelMetadata:
    return ModelMetadata(tuple(f"c{i}" for i in range(classes)),
                         tuple((i, 2 * i, 3 * i) for i in range(classes)), 64, 96)


def test_colorize_is_a_table_lookup_and_unknown_ids_are_black() -> None:
    palette = Palette(("a", "b", "c"), np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]], np.uint8))
    labels = np.array([[0, 1, 2, 3], [255, 2, 1, 0]], np.uint8)
    expected = np.array([[[1, 2, 3], [4, 5, 6], [7, 8, 9], [0, 0, 0]],
                         [[0, 0, 0], [7, 8, 9], [4, 5, 6], [1, 2, 3]]], np.uint8)
    np.testing.assert_array_equal(palette.colorize(labels), expected)


def test_colorize_matches_indexing_on_a_camera_sized_image() -> None:
    palette = load_palette("cityscapes", None)
    labels = RNG.integers(0, 19, (360, 640), dtype=np.uint8)
    colour = palette.colorize(labels)
    assert colour.shape == (360, 640, 3) and colour.dtype == np.uint8
    np.testing.assert_array_equal(colour, palette.colours[labels])


@pytest.mark.parametrize("labels", [np.zeros((2, 2), np.int64), np.zeros((2, 2, 1), np.uint8)])
def test_colorize_rejects_non_label_arrays(labels: np.ndarray) -> None:
    with pytest.raises(PaletteError, match="uint8 HxW"):
        Palette(("a", "b"), np.zeros((2, 3), np.uint8)).colorize(labels)


def test_overlay_blends_with_alpha_from_labels_or_colours() -> None:
    palette = Palette(("a", "b"), np.array([[255, 0, 0], [0, 0, 255]], np.uint8))
    rgb = RNG.integers(0, 256, (4, 5, 3), dtype=np.uint8)
    labels = RNG.integers(0, 2, (4, 5), dtype=np.uint8)
    expected = 0.7 * rgb + 0.3 * palette.colours[labels]
    blended = palette.overlay(rgb, labels, 0.3)
    assert blended.dtype == np.uint8
    assert np.abs(blended - expected).max() <= 0.5 + 1e-6  # rounded to nearest
    np.testing.assert_array_equal(palette.overlay(rgb, palette.colorize(labels), 0.3), blended)
    np.testing.assert_array_equal(palette.overlay(rgb, labels, 0.0), rgb)
    np.testing.assert_array_equal(palette.overlay(rgb, labels, 1.0), palette.colours[labels])


@pytest.mark.parametrize("alpha,labels,match", [(1.5, np.zeros((4, 5), np.uint8), "alpha"),
                                                (0.5, np.zeros((3, 5), np.uint8), "one shape")])
def test_overlay_rejects_bad_alpha_and_shapes(alpha: float, labels: np.ndarray,
                                              match: str) -> None:
    palette = Palette(("a", "b"), np.zeros((2, 3), np.uint8))
    with pytest.raises(PaletteError, match=match):
        palette.overlay(np.zeros((4, 5, 3), np.uint8), labels, alpha)


def test_palette_is_frozen_and_validated() -> None:
    palette = Palette(("a", "b"), np.zeros((2, 3), np.uint8))
    with pytest.raises(dataclasses.FrozenInstanceError):
        palette.class_names = ("x",)  # type: ignore[misc]
    with pytest.raises(ValueError):
        palette.colours[0, 0] = 1
    with pytest.raises(PaletteError, match="2x3"):
        Palette(("a", "b"), np.zeros((3, 3), np.uint8))


def test_no_spec_takes_the_models_palette() -> None:
    palette = load_palette(None, _metadata(4))
    assert palette.class_names == ("c0", "c1", "c2", "c3")
    np.testing.assert_array_equal(palette.colours[3], [3, 6, 9])
    with pytest.raises(PaletteError, match="no palette"):
        load_palette(None, None)


def test_shipped_palettes() -> None:
    assert {"camvid", "cityscapes", "sun"} <= set(named_palettes())
    camvid = load_palette("camvid", _metadata(11))
    assert camvid.class_names == ("Sky", "Building", "Pole", "Road", "Sidewalk", "Tree",
                                  "SignSymbol", "Fence", "Car", "Pedestrian", "Bicyclist")
    np.testing.assert_array_equal(camvid.colours[3], [128, 64, 128])  # SegNet's road
    camvid12 = load_palette("camvid", _metadata(12))
    assert camvid12.class_names[11] == "Unlabelled" and not camvid12.colours[11].any()
    cityscapes = load_palette("cityscapes", _metadata(19))
    assert cityscapes.num_classes == 19 and cityscapes.class_names[0] == "road"
    np.testing.assert_array_equal(cityscapes.colours[[0, 10, 18]],
                                  [[128, 64, 128], [70, 130, 180], [119, 11, 32]])
    sun = load_palette("sun", _metadata(37))
    assert sun.class_names[:3] == ("wall", "floor", "cabinet") and sun.class_names[-1] == "bag"
    assert len({tuple(c) for c in sun.colours}) == 37


@pytest.mark.parametrize("spec,classes", [("camvid", 13), ("camvid", 10), ("cityscapes", 20),
                                          ("sun", 36)])
def test_class_count_mismatch_is_an_error(spec: str, classes: int) -> None:
    with pytest.raises(PaletteError, match=f"has .* classes but the model has {classes}"):
        load_palette(spec, _metadata(classes))


def test_yaml_path_and_ament_prefix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = "name: two\nclasses:\n  - {name: floor, color: [1, 2, 3]}\n" \
           "  - {name: obstacle, color: [250, 0, 0]}\n"
    path = tmp_path / "two.yml"
    path.write_text(text)
    assert load_palette(str(path), _metadata(2)).class_names == ("floor", "obstacle")
    share = tmp_path / "prefix" / "share" / "enet_ros" / "config" / "palettes"
    share.mkdir(parents=True)
    (share / "robotlab.yaml").write_text(text)
    monkeypatch.setenv("AMENT_PREFIX_PATH", f"/nonexistent:{tmp_path / 'prefix'}")
    np.testing.assert_array_equal(load_palette("robotlab", _metadata(2)).colours[1], [250, 0, 0])


@pytest.mark.parametrize("text,match", [
    ("classes: []\n", "non-empty 'classes'"),
    ("[1, 2\n", "cannot read"),
    ("classes:\n  - {name: a, color: [1, 2]}\n", "class 0"),
    ("classes:\n  - {name: a, color: [1, 2, 3]}\n  - {color: [1, 2, 300]}\n", "class 1"),
])
def test_bad_yaml_is_a_clear_error(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(PaletteError, match=match):
        load_palette(str(path), None)


def test_unknown_name_and_missing_file() -> None:
    with pytest.raises(PaletteError, match="no palette named 'pascal'.*camvid"):
        load_palette("pascal", None)
    with pytest.raises(PaletteError, match="does not exist"):
        load_palette("/nonexistent/p.yaml", None)


def test_indexed_png_keeps_ids_and_shows_colours(tmp_path: Path) -> None:
    import cv2
    from PIL import Image  # reads indexed PNGs; OpenCV only returns their colours

    palette = load_palette("camvid", _metadata(11))
    labels = RNG.integers(0, 11, (7, 9), dtype=np.uint8)
    labels[0, 0] = 200  # beyond the palette: still written, shown black
    path = tmp_path / "labels.png"
    path.write_bytes(palette.to_indexed_png(labels))
    with Image.open(path) as image:
        assert image.mode == "P"
        np.testing.assert_array_equal(np.asarray(image), labels)
        assert image.getpalette()[:33] == palette.colours.ravel().tolist()
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    np.testing.assert_array_equal(bgr[..., ::-1], palette.colorize(labels))


def test_generated_palette_is_distinct_deterministic_and_never_black() -> None:
    names = [f"class {i}" for i in range(256)]
    palette = generated_palette(names)
    assert palette.class_names == tuple(names)
    assert len({tuple(c) for c in palette.colours}) == 256
    assert palette.colours.max(axis=1).min() > 0
    np.testing.assert_array_equal(palette.colours, generated_palette(names).colours)
    np.testing.assert_array_equal(palette.colours[:4], [[128, 0, 0], [0, 128, 0],
                                                        [128, 128, 0], [0, 0, 128]])
    sun = load_palette("sun", None)  # made with the same colour map
    np.testing.assert_array_equal(generated_palette(sun.class_names).colours, sun.colours)


# -- exact messages and edges: each case fails when its check or its wording changes ----------

def _error(call, *args) -> str:
    with pytest.raises(PaletteError) as err:
        call(*args)
    return str(err.value)


@pytest.mark.parametrize("names, colours, message", [
    (("a", "b"), np.zeros((2, 4), np.uint8), "2 class names need a 2x3 colour array, got shape "
                                             "(2, 4)"),
    (("a", "b"), np.zeros((3, 3), np.uint8), "2 class names need a 2x3 colour array, got shape "
                                             "(3, 3)"),
    (("a",), np.zeros(3, np.uint8), "1 class names need a 1x3 colour array, got shape (3,)"),
    ((), np.zeros((0, 3), np.uint8), "a palette holds 1 to 256 classes, got 0"),
    (("c",) * 257, np.zeros((257, 3), np.uint8), "a palette holds 1 to 256 classes, got 257"),
    (("a",), np.array([[-1, 0, 0]]), "palette colours must be 0-255"),
    (("a",), np.array([[0, 0, 256]]), "palette colours must be 0-255"),
])
def test_palette_construction_errors(names, colours, message) -> None:
    assert _error(Palette, names, colours) == message


def test_palette_bounds_that_are_allowed() -> None:
    assert Palette(("only",), np.zeros((1, 3), np.uint8)).num_classes == 1
    assert Palette(("c",) * 256, np.zeros((256, 3), np.uint8)).num_classes == 256
    extremes = Palette(("a", "b"), np.array([[0, 0, 0], [255, 255, 255]], np.int64))
    assert extremes.colours.dtype == np.uint8
    np.testing.assert_array_equal(extremes.colours, [[0, 0, 0], [255, 255, 255]])


def test_palettes_compare_by_identity_and_hash() -> None:
    """A palette holds an array: equality by value would be ambiguous, and hashing it would
    fail, so palettes are equal only to themselves (and usable as keys)."""
    colours = np.array([[1, 2, 3]], np.uint8)
    palette = Palette(("a",), colours)
    assert palette == palette and palette != Palette(("a",), colours.copy())
    assert {palette: 1}[palette] == 1


def test_painting_errors_word_for_word() -> None:
    palette = Palette(("a", "b"), np.array([[0, 0, 0], [255, 0, 0]], np.uint8))
    assert _error(palette.colorize, np.zeros((2, 2), np.int32)) == \
        "labels must be uint8 HxW, got int32 (2, 2)"
    rgb = np.zeros((2, 2, 3), np.uint8)
    assert _error(palette.overlay, rgb, np.zeros((2, 2), np.uint8), 1.5) == \
        "overlay alpha must be within 0 and 1, got 1.5"
    assert _error(palette.overlay, rgb.astype(np.float32), np.zeros((2, 2), np.uint8), 0.5) \
        == "overlay needs a uint8 image and colours of one shape, got float32 (2, 2, 3) and " \
           "uint8 (2, 2, 3)"
    assert _error(palette.to_indexed_png, np.zeros((0, 3), np.uint8)) == \
        "labels must be non-empty uint8 HxW, got uint8 (0, 3)"
    assert _error(palette.to_indexed_png, np.zeros((2, 2, 1), np.uint8)) == \
        "labels must be non-empty uint8 HxW, got uint8 (2, 2, 1)"


def _chunks(png: bytes) -> dict[bytes, bytes]:
    """The chunks of a PNG by type, read here independently of the writer."""
    import struct
    import zlib
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, offset = {}, 8
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset:offset + 4])
        kind, body = png[offset + 4:offset + 8], png[offset + 8:offset + 8 + length]
        (crc,) = struct.unpack(">I", png[offset + 8 + length:offset + 12 + length])
        assert crc == zlib.crc32(kind + body)
        chunks[kind] = body
        offset += 12 + length
    return chunks


@pytest.mark.parametrize("labels, entries", [
    (np.array([[0, 1, 1]], np.uint8), 2),           # one row; the palette's own 2 entries
    (np.array([[0], [5]], np.uint8), 6),            # an id beyond the palette: 6 entries
])
def test_indexed_png_chunks(labels: np.ndarray, entries: int) -> None:
    import struct
    import zlib
    palette = Palette(("a", "b"), np.array([[9, 8, 7], [255, 0, 0]], np.uint8))
    chunks = _chunks(palette.to_indexed_png(labels))
    assert list(chunks) == [b"IHDR", b"PLTE", b"IDAT", b"IEND"]
    height, width = labels.shape
    assert chunks[b"IHDR"] == struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0)
    assert chunks[b"PLTE"] == bytes([9, 8, 7, 255, 0, 0] + [0] * 3 * (entries - 2))
    assert zlib.decompress(chunks[b"IDAT"]) == b"".join(b"\x00" + row.tobytes()
                                                        for row in labels)
    assert chunks[b"IEND"] == b""


def test_generated_palette_is_the_voc_colour_map() -> None:
    """PASCAL VOC's colours of ids 1.., written out: id bits 0, 1, 2 go to the top bits of R,
    G, B, the next three to the bits below, and so on."""
    colours = generated_palette([f"c{i}" for i in range(8)]).colours
    np.testing.assert_array_equal(colours, [[128, 0, 0], [0, 128, 0], [128, 128, 0],
                                            [0, 0, 128], [128, 0, 128], [0, 128, 128],
                                            [128, 128, 128], [64, 0, 0]])


def test_finding_palettes_word_for_word(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from enet_ros import palette as module
    monkeypatch.setattr(module, "palette_dirs", lambda: [tmp_path / "a", tmp_path / "b"])
    assert _error(load_palette, "pascal", None) == (
        f"no palette named 'pascal'; known: none (searched {tmp_path / 'a'}, {tmp_path / 'b'});"
        f" or pass the path of a YAML file")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.yml").write_text("classes:\n  - {name: a, color: [1, 2, 3]}\n")
    (tmp_path / "a" / "y.yaml").write_text("classes:\n  - {name: b, color: [4, 5, 6]}\n")
    assert named_palettes() == ["x", "y"]
    assert load_palette("x", None).class_names == ("a",)
    assert _error(load_palette, "z", None).startswith("no palette named 'z'; known: x, y (")
    monkeypatch.chdir(tmp_path / "a")
    assert load_palette("x.yml", None).class_names == ("a",)  # a suffix makes it a path
    assert _error(load_palette, "missing.yml", None) == "palette file missing.yml does not exist"


def test_an_empty_spec_is_the_models_palette() -> None:
    """The node's palette parameter defaults to "": the model's own."""
    np.testing.assert_array_equal(load_palette("", _metadata(3)).colours, [[0, 0, 0],
                                                                          [1, 2, 3], [2, 4, 6]])
    assert _error(load_palette, "", None) == \
        "no palette given and no model metadata to take one from"


@pytest.mark.parametrize("text, message", [
    ("classes: []\n", "palette {path} needs a non-empty 'classes' list of {{name: ..., color: "
                      "[r, g, b]}}"),
    ("[1, 2\n", "cannot read palette {path}: "),
    ("classes:\n  - {name: a, color: [1, 2, 256]}\n", "palette {path} class 0: {{'name': 'a', "
     "'color': [1, 2, 256]}} is not {{name: <text>, color: [r, g, b] with 0-255 integers}}"),
    ("classes:\n  - {name: a, color: [1.5, 2, 3]}\n", "palette {path} class 0: {{'name': 'a', "
     "'color': [1.5, 2, 3]}} is not {{name: <text>, color: [r, g, b] with 0-255 integers}}"),
])
def test_bad_yaml_word_for_word(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    assert _error(load_palette, str(path), None).startswith(message.format(path=path))


def test_class_count_mismatch_word_for_word() -> None:
    assert _error(load_palette, "cityscapes", _metadata(2)) == (
        "palette 'cityscapes' has 19 classes but the model has 2 (c0, c1); use a palette made "
        "for this model, or none to use the model's own")
