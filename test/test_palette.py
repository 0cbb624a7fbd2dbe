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
