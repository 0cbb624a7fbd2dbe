"""Argument types of the ``enet-ros`` parser: each value checked as it is parsed.

A bad value stops the command before a model is opened or a frame is read, with one line
naming the option and what it allows (exit status 2): ``--runs 0`` used to open the engine
first, ``--out`` naming a file to segment every frame and then fail writing, and a missing
model to surface as whatever the loader said. ``enet_train.arguments`` builds on these (the
training side may import the runtime, never the reverse); this stays within Python 3.6
(JetPack 4.6).
"""
import argparse
from pathlib import Path
from typing import Callable, Optional, Union

from enet_ros.model_file import SIZE_MULTIPLE
from enet_ros.palette import PaletteError, palette_path
from enet_ros.ros.params import spec


def number(kind: type, low: float, inclusive: bool, what: str,
           high: "Optional[float]" = None) -> "Callable[[str], Union[int, float]]":
    """A type accepting ``kind`` values from ``low`` (or above it) up to ``high`` (if given,
    inclusive); NaN never."""
    def parse(text: str) -> "Union[int, float]":
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if value != value or (value < low if inclusive else value <= low) or (
                high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{text} is not {what}")
        return value

    parse.__name__ = what  # argparse names the type in its messages
    return parse


def node_parameter(name: str, what: str) -> "Callable[[str], Union[int, float]]":
    """A type accepting the values the node accepts for its numeric parameter ``name`` (its
    range in enet_ros.ros.params), so that a command's option and the node's parameter agree."""
    p = spec(name)
    low, high = p.float_range if p.float_range is not None else p.int_range[:2]
    return number(type(p.default), low, True, f"{what} from {low:g} to {high:g}", high)


positive_int = number(int, 1, True, "a whole number of at least 1")
positive_float = number(float, 0, False, "a number above 0")
probability = number(float, 0, True, "a number from 0 to 1", 1)  # an opacity, a fraction
# enet-ros bag's point cloud: the node's enet/points parameters
depth_slop = node_parameter("depth_slop", "a number of seconds")
points_stride = node_parameter("points_stride", "a whole number")
points_max_range = node_parameter("points_max_range", "a number of metres")


def size_multiple(text: str) -> int:
    """A network height or width: a positive multiple of the model's total stride."""
    value = positive_int(text)
    if value % SIZE_MULTIPLE:
        nearest = value - value % SIZE_MULTIPLE or SIZE_MULTIPLE
        raise argparse.ArgumentTypeError(f"{text} is not a multiple of {SIZE_MULTIPLE} (ENet "
                                         f"downsamples 8x); try {nearest}")
    return value


def _existing(is_kind: "Callable[[Path], bool]", kind: str) -> "Callable[[str], Path]":
    """A type accepting a path that is there and is ``kind``, saying which of the two fails."""
    def parse(text: str) -> Path:
        path = Path(text)
        if not path.exists():
            raise argparse.ArgumentTypeError(f"{text} does not exist")
        if not is_kind(path):
            raise argparse.ArgumentTypeError(f"{text} is not {kind}")
        return path

    parse.__name__ = kind
    return parse


existing_file = _existing(Path.is_file, "a file")
existing_dir = _existing(Path.is_dir, "a folder")


def existing_path(text: str) -> Path:
    """A file or a folder that is there (what is inside is judged when it is read)."""
    if not Path(text).exists():
        raise argparse.ArgumentTypeError(f"{text} does not exist")
    return Path(text)


def output_dir(text: str) -> Path:
    """A folder to write into: one that exists, or a path where one can be made."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} exists and is not a folder")
    return path


def new_path(text: str) -> Path:
    """Something this command creates and will not overwrite."""
    if Path(text).exists():
        raise argparse.ArgumentTypeError(f"{text} exists already; choose a new path")
    return Path(text)


def palette_spec(text: str) -> str:
    """A shipped palette's name or a YAML file that is there (read with the model later)."""
    try:
        palette_path(text)
    except PaletteError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


class OneLineErrorParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line: argparse's default prints the whole usage
    first, a screenful for ``enet-ros segment`` that hides the one line that matters."""

    def error(self, message: str) -> None:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")
