"""Argument types of the `enet-train` parsers: each value checked as it is parsed.

A bad value must stop the command before any data is read or any epoch runs, with argparse's
one line naming the option and what it allows (exit status 2), never a traceback minutes later
(``--val-every 0`` used to train a whole epoch and then divide by zero). The checked types and
the one-line parser are the runtime's (``enet_ros.arguments``); what only training needs is
here. Paths stay strings, as the arguments a checkpoint keeps must be plain data.
"""
import argparse
from pathlib import Path

from enet_ros.arguments import (OneLineErrorParser, number, positive_float, positive_int,
                                probability, size_multiple)

__all__ = ["OneLineErrorParser", "class_count", "existing_dir", "existing_file",
           "non_negative_float", "non_negative_int", "positive_float", "positive_int",
           "probability", "size_multiple"]

non_negative_int = number(int, 0, True, "a whole number of at least 0")
non_negative_float = number(float, 0, True, "a number of at least 0")


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
