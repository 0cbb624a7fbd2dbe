"""Argument types of the `enet-train` parsers: each value checked as it is parsed.

A bad value must stop the command before any data is read or any epoch runs, with argparse's
one line naming the option and what it allows (exit status 2), never a traceback minutes later
(``--val-every 0`` used to train a whole epoch and then divide by zero).
"""
from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from .model import SIZE_MULTIPLE


def _number(kind: type, low: float, inclusive: bool, what: str) -> Callable[[str], float]:
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if value != value or (value < low if inclusive else value <= low):  # NaN, or too small
            raise argparse.ArgumentTypeError(f"{text} is not {what}")
        return value

    parse.__name__ = what  # argparse names the type in its messages
    return parse


positive_int = _number(int, 1, True, "a whole number of at least 1")
non_negative_int = _number(int, 0, True, "a whole number of at least 0")
positive_float = _number(float, 0, False, "a number above 0")
non_negative_float = _number(float, 0, True, "a number of at least 0")


def probability(text: str) -> float:
    value = non_negative_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"{text} is not a probability (0 to 1)")
    return value


def size_multiple(text: str) -> int:
    """A height or width the network takes: a positive multiple of its total stride."""
    value = positive_int(text)
    if value % SIZE_MULTIPLE:
        nearest = value - value % SIZE_MULTIPLE or SIZE_MULTIPLE
        raise argparse.ArgumentTypeError(f"{text} is not a multiple of {SIZE_MULTIPLE} (ENet "
                                         f"downsamples 8x); try {nearest}")
    return value


def class_count(text: str) -> int:
    value = positive_int(text)
    if not 2 <= value <= 256:
        raise argparse.ArgumentTypeError(f"{text} is not a class count from 2 to 256")
    return value


def existing_dir(text: str) -> str:
    if not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text} is not a folder")
    return text


def existing_file(text: str) -> str:
    if not Path(text).is_file():
        raise argparse.ArgumentTypeError(f"{text} is not a file")
    return text


class OneLineErrorParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (argparse's default prints the whole usage
    first, which for `enet-train train` is a screenful that hides the one line that matters)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")
