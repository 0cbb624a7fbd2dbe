"""Every `enet-train` option refuses a bad value when parsed: one line naming it, exit 2.

The walk covers every option of the train, evaluate, export, info, check and summary parsers, so an
option added later without a checked type fails ``test_no_option_takes_an_unchecked_number``.
"""
from __future__ import annotations

import argparse

import pytest

from _train_data import make_tiny_camvid
from enet_train import arguments, train
from enet_train.cli import get_args_parser

BAD_VALUES = {
    arguments.positive_int: ["0", "-1", "x", "1.5"],
    arguments.non_negative_int: ["-1", "x"],
    arguments.positive_float: ["0", "-1", "nan", "x"],
    arguments.non_negative_float: ["-1", "nan", "x"],
    arguments.probability: ["-0.1", "1.5", "x"],
    arguments.size_multiple: ["0", "-8", "30", "x"],
    arguments.class_count: ["1", "257", "x"],
    arguments.existing_file: ["{missing}", "{folder}"],
    arguments.existing_dir: ["{missing}", "{file}"],
}


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = get_args_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def checked_options():
    """(subcommand, option, nargs, bad value) for every checked option and each bad value."""
    for command, parser in subcommands().items():
        for action in parser._actions:
            for bad in BAD_VALUES.get(action.type, []):
                if action.option_strings:
                    yield command, action.option_strings[0], action.nargs, bad


def required_args(command: str, tmp_path) -> list[str]:
    (tmp_path / "model.onnx").write_bytes(b"")
    return {"train": ["--data", str(tmp_path)], "evaluate": [str(tmp_path / "model.onnx"),
                                                            "--data", str(tmp_path)],
            "export": [str(tmp_path / "model.onnx"), "--out", str(tmp_path / "o.onnx")],
            "info": [], "check": [str(tmp_path / "model.onnx")],
            "summary": [str(tmp_path / "log.csv")]}[command]


@pytest.mark.parametrize("command, option, nargs, bad", list(checked_options()))
def test_a_bad_value_is_refused_in_one_line_naming_the_option(command, option, nargs, bad,
                                                              tmp_path, capsys):
    (tmp_path / "a_file").write_text("")
    value = bad.format(missing=tmp_path / "missing", folder=tmp_path, file=tmp_path / "a_file")
    values = [value] * (nargs if isinstance(nargs, int) else 1)
    with pytest.raises(SystemExit) as exit_:
        get_args_parser().parse_args([command, *required_args(command, tmp_path), option,
                                      *values])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"error: argument {option}" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_no_option_takes_an_unchecked_number():
    unchecked = [(command, action.option_strings)
                 for command, parser in subcommands().items() for action in parser._actions
                 if action.type in (int, float) and action.dest != "seed"]
    assert unchecked == []


def test_sizes_are_multiples_of_8_and_the_error_says_which_to_try(capsys):
    with pytest.raises(SystemExit):
        get_args_parser().parse_args(["info", "--height", "363"])
    assert "363 is not a multiple of 8 (ENet downsamples 8x); try 360" in capsys.readouterr().err


@pytest.mark.parametrize("extra, message", [
    (["--scale", "1.5", "0.75"], "--scale 1.5 0.75: MIN must not exceed MAX"),
    (["--gamma", "2", "1"], "--gamma 2.0 1.0: MIN must not exceed MAX"),
    (["--val-sequences", "A,"], "give sequence names separated by commas"),
    (["--stage", "full", "--encoder-checkpoint", "nowhere.pth"],
     "--encoder-checkpoint nowhere.pth: no such file"),
    (["--stage", "encoder", "--teacher", __file__], "--teacher teaches stage full"),
    (["--batch-size", "9"], "fewer than one batch of 9"),
    (["--paste-classes", "Pole,Tre"], "--paste-classes 'Pole,Tre': no class Tre; the data set's"),
])
def test_a_bad_combination_is_one_line_and_status_2_before_any_epoch(extra, message, tmp_path,
                                                                     capsys):
    data = make_tiny_camvid(tmp_path / "camvid", {"train": 4, "val": 2}, height=32)
    args = train.get_args_parser().parse_args(
        ["--data", str(data), "--output-dir", str(tmp_path / "out"), "--workers", "0",
         "--train-size", "32", "32", "--epochs-encoder", "1", *extra])
    assert train.main(args) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out" / "encoder" / "last.pth").exists()
