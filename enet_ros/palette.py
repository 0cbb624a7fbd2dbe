"""Class names and colours: which palette to use, and painting label images with it.

A palette comes from the model file's metadata by default; a launch file or the command line
may name a shipped one (config/palettes/<name>.yaml) or give a YAML path, in the format

    name: camvid
    classes:
      - {name: Sky, color: [128, 128, 128]}
      ...
      - {name: Unlabelled, color: [0, 0, 0], void: true}

A trailing class marked ``void: true`` is the data set's "ignore" class. Models are trained
either with it as an extra output (CamVid's 12-class SegNet setup) or without it (11 classes),
so a palette with one trailing void class more than the model has is accepted with the void
class dropped; any other class-count mismatch is an error.
"""
import os
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

from enet_ros.model_file import ModelMetadata
from enet_ros.shipped import share_dirs

PALETTE_SUFFIXES = (".yaml", ".yml")


class PaletteError(ValueError):
    """A palette that cannot be found or read, or that does not fit the model."""


@dataclass(frozen=True, eq=False)
class Palette:
    """Class names and their RGB colours, id order; paints label images by table lookup."""

    class_names: "tuple[str, ...]"
    colours: np.ndarray  # uint8 C x 3, RGB

    def __post_init__(self) -> None:
        colours = np.asarray(self.colours)
        if colours.ndim != 2 or colours.shape[1] != 3 or len(colours) != len(self.class_names):
            raise PaletteError(f"{len(self.class_names)} class names need a {len(self.class_names)}"
                               f"x3 colour array, got shape {colours.shape}")
        if not 1 <= len(colours) <= 256:
            raise PaletteError(f"a palette holds 1 to 256 classes, got {len(colours)}")
        if colours.dtype != np.uint8 and (colours.min() < 0 or colours.max() > 255):
            raise PaletteError("palette colours must be 0-255")
        colours = colours.astype(np.uint8)
        colours.setflags(write=False)
        object.__setattr__(self, "colours", colours)
        # 256 entries so that every uint8 label has one; ids the palette lacks paint black.
        table = np.zeros((256, 1, 3), np.uint8)
        table[:len(colours), 0] = colours
        object.__setattr__(self, "_table", table)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @classmethod
    def from_metadata(cls, metadata: ModelMetadata) -> "Palette":
        return cls(tuple(metadata.class_names), np.array(metadata.palette, np.uint8))

    def colorize(self, labels: np.ndarray) -> np.ndarray:
        """RGB HxWx3 uint8 of HxW uint8 class ids; ids beyond the palette are black."""
        if labels.dtype != np.uint8 or labels.ndim != 2:
            raise PaletteError(f"labels must be uint8 HxW, got {labels.dtype} {labels.shape}")
        # cv2.LUT on a 3-channel copy is several times faster than fancy indexing in numpy.
        return cv2.LUT(cv2.merge([labels, labels, labels]), self._table)

    def overlay(self, rgb: np.ndarray, labels_or_colour: np.ndarray, alpha: float) -> np.ndarray:
        """rgb blended with the class colours: (1 - alpha) x image + alpha x colours.

        Takes labels (HxW, painted here) or an already painted colour mask (HxWx3), so a
        caller that publishes both paints once.
        """
        if not 0.0 <= alpha <= 1.0:
            raise PaletteError(f"overlay alpha must be within 0 and 1, got {alpha}")
        colour = self.colorize(labels_or_colour) if labels_or_colour.ndim == 2 \
            else labels_or_colour
        if rgb.dtype != np.uint8 or colour.dtype != np.uint8 or rgb.shape != colour.shape:
            raise PaletteError(f"overlay needs a uint8 image and colours of one shape, got "
                               f"{rgb.dtype} {rgb.shape} and {colour.dtype} {colour.shape}")
        return cv2.addWeighted(rgb, 1.0 - alpha, colour, alpha, 0.0)


    def to_indexed_png(self, labels: np.ndarray) -> bytes:
        """An 8-bit indexed PNG of the labels whose palette is the class colours.

        Viewers show the colours while every pixel value stays the class id, which is what
        data set tools read back. OpenCV cannot write indexed PNGs, hence these few lines.
        """
        if labels.dtype != np.uint8 or labels.ndim != 2 or 0 in labels.shape:
            raise PaletteError(f"labels must be non-empty uint8 HxW, got {labels.dtype} "
                               f"{labels.shape}")
        entries = max(self.num_classes, int(labels.max()) + 1)  # every index needs an entry
        height, width = labels.shape
        rows = np.hstack([np.zeros((height, 1), np.uint8), labels])  # filter type 0 a row

        def chunk(kind: bytes, body: bytes) -> bytes:
            return struct.pack(">I", len(body)) + kind + body + \
                struct.pack(">I", zlib.crc32(kind + body))

        return (b"\x89PNG\r\n\x1a\n"
                + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0))
                + chunk(b"PLTE", self._table[:entries, 0].tobytes())
                + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
                + chunk(b"IEND", b""))

def generated_palette(class_names: "Sequence[str]") -> Palette:
    """Distinct colours for a model whose data set has no palette, the same on every run.

    The PASCAL VOC bit-interleaved colour map of ids 1..N (config/palettes/sun.yaml is made the
    same way): it spreads each id's bits over the high bits of R, G and B, so every id below
    2**24 gets its own colour, and starting at 1 skips its only black one.
    """
    colours = np.zeros((len(class_names), 3), np.uint8)
    for index in range(len(class_names)):
        code = index + 1
        for bit in range(7, -1, -1):
            colours[index] |= np.array([code & 1, code >> 1 & 1, code >> 2 & 1], np.uint8) << bit
            code >>= 3
    return Palette(tuple(class_names), colours)


def palette_dirs() -> "list[Path]":
    """Where named palettes may live: config/palettes of each folder of shipped files
    (enet_ros.shipped: the source checkout, the pip install, every ament prefix)."""
    return [folder / "config" / "palettes" for folder in share_dirs()]


def named_palettes() -> "list[str]":
    """Names of the palettes found in palette_dirs()."""
    return sorted({p.stem for d in palette_dirs() if d.is_dir()
                   for p in d.iterdir() if p.suffix in PALETTE_SUFFIXES})


def _find_named(name: str) -> Path:
    for folder in palette_dirs():
        for suffix in PALETTE_SUFFIXES:
            if (folder / f"{name}{suffix}").is_file():
                return folder / f"{name}{suffix}"
    raise PaletteError(f"no palette named {name!r}; known: {', '.join(named_palettes()) or 'none'}"
                       f" (searched {', '.join(str(d) for d in palette_dirs())}); "
                       f"or pass the path of a YAML file")


def _read_yaml(path: Path) -> "tuple[Palette, bool]":
    """The palette in a YAML file, and whether its last class is marked void."""
    try:
        document: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise PaletteError(f"cannot read palette {path}: {err}") from None
    classes = document.get("classes") if isinstance(document, dict) else None
    if not isinstance(classes, list) or not classes:
        raise PaletteError(f"palette {path} needs a non-empty 'classes' list of "
                           f"{{name: ..., color: [r, g, b]}}")
    names, colours = [], []
    for index, entry in enumerate(classes):
        name = entry.get("name") if isinstance(entry, dict) else None
        colour = entry.get("color") if isinstance(entry, dict) else None
        if not (isinstance(name, str) and isinstance(colour, list) and len(colour) == 3
                and all(isinstance(c, int) and 0 <= c <= 255 for c in colour)):
            raise PaletteError(f"palette {path} class {index}: {entry!r} is not "
                               f"{{name: <text>, color: [r, g, b] with 0-255 integers}}")
        names.append(name)
        colours.append(colour)
    return Palette(tuple(names), np.array(colours, np.uint8)), bool(classes[-1].get("void"))


def load_palette(spec: "str | None", model_metadata: "ModelMetadata | None") -> Palette:
    """The palette to paint a model's labels with.

    spec: None for the model's own (its metadata), a shipped palette's name ("camvid",
    "cityscapes", "sun"), or the path of a YAML file (anything with a path separator or a
    .yaml/.yml suffix). With a model, the class counts must agree (see the module docstring).
    """
    if spec is None or spec == "":
        if model_metadata is None:
            raise PaletteError("no palette given and no model metadata to take one from")
        return Palette.from_metadata(model_metadata)
    return read_palette(spec, model_metadata.class_names if model_metadata else None)


def palette_path(spec: str) -> Path:
    """The YAML file a palette spec names: a shipped palette's name, or a path (anything with
    a path separator or a .yaml/.yml suffix); PaletteError when there is none, so the command
    line can refuse a spec before it opens a model."""
    is_path = os.sep in spec or "/" in spec or spec.endswith(PALETTE_SUFFIXES)
    path = Path(spec).expanduser() if is_path else _find_named(spec)
    if not path.is_file():
        raise PaletteError(f"palette file {path} does not exist")
    return path


def read_palette(spec: str, class_names: "Sequence[str] | None" = None) -> Palette:
    """A shipped palette by name, or a YAML file, fitted to ``class_names`` when given."""
    palette, last_is_void = _read_yaml(palette_path(spec))
    if class_names is None or palette.num_classes == len(class_names):
        return palette
    if last_is_void and palette.num_classes == len(class_names) + 1:
        return Palette(palette.class_names[:-1], palette.colours[:-1])
    raise PaletteError(f"palette {spec!r} has {palette.num_classes} classes but the model has "
                       f"{len(class_names)} ({', '.join(class_names)}); "
                       f"use a palette made for this model, or none to use the model's own")
