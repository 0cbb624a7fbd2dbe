"""Every `enet-ros` option refuses a bad value when parsed: one line naming it, exit 2.

The walk covers every option and positional argument of every subcommand, so one added later
with a type not listed in BAD_VALUES (int, float, Path, or a new checked type without its bad
values) fails ``test_no_argument_takes_an_unchecked_type``.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from enet_ros import arguments, cli
from enet_ros.cli import build_parser, main

BAD_VALUES = {
    arguments.positive_int: ["0", "-1", "x", "1.5"],
    arguments.positive_float: ["0", "-1", "nan", "x"],
    arguments.probability: ["-0.1", "1.5", "nan", "x"],
    arguments.size_multiple: ["0", "-8", "30", "x"],
    arguments.existing_file: ["{missing}", "{folder}"],
    arguments.existing_dir: ["{missing}", "{file}"],
    arguments.existing_path: ["{missing}"],
    arguments.output_dir: ["{file}"],
    arguments.new_path: ["{file}", "{folder}"],
    arguments.palette_spec: ["no_such_palette", "{missing}.yaml"],
    arguments.depth_slop: ["-0.1", "1.5", "nan", "x"],
    arguments.points_stride: ["0", "65", "1.5", "x"],
    arguments.points_max_range: ["-1", "1000.5", "nan", "x"],
}


def subcommands() -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in build_parser()._actions
                  if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def name(action: argparse.Action) -> str:
    """What argparse calls an argument in its errors: the option, or a positional's metavar."""
    return action.option_strings[0] if action.option_strings else action.metavar or action.dest


def checked_arguments():
    """(subcommand, argument name, bad value) for every checked argument and each bad value."""
    for command, parser in subcommands().items():
        for action in parser._actions:
            for bad in BAD_VALUES.get(action.type, []):
                yield command, name(action), bad


def command_line(command: str, tmp_path: Path, replace: str | None = None,
                 value: str = "") -> list[str]:
    """A command line that parses, or the same with argument ``replace`` given ``value``."""
    required = {"segment": [("INPUT", str(tmp_path)), ("--out", str(tmp_path))],
                "bag": [("IN", str(tmp_path)), ("OUT", str(tmp_path / "new")),
                        ("--image-topic", "/camera/image_raw")]}.get(command, [])
    if replace is not None and replace not in dict(required):
        required.append((replace, value))
    argv = [command]
    for argument, given in required:
        given = value if argument == replace else given
        argv += [given] if argument.isupper() else [argument, given]
    return argv


@pytest.mark.parametrize("command, argument, bad", list(checked_arguments()))
def test_a_bad_value_is_refused_in_one_line_naming_the_argument(command, argument, bad,
                                                                tmp_path, capsys):
    (tmp_path / "a_file").write_text("")
    value = bad.format(missing=tmp_path / "missing", folder=tmp_path, file=tmp_path / "a_file")
    build_parser().parse_args(command_line(command, tmp_path))  # parses without the bad value
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(command_line(command, tmp_path, argument, value))
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"enet-ros {command}: error: argument {argument}: ")
    assert err.endswith(f" (see enet-ros {command} --help)\n") and err.count("\n") == 1


def test_every_subcommand_and_every_checked_type_is_walked():
    walked = {(command, argument) for command, argument, _ in checked_arguments()}
    assert {command for command, _ in walked} == set(subcommands())
    assert {("segment", "INPUT"), ("segment", "--out"), ("segment", "--width"),
            ("segment", "--alpha"), ("segment", "--palette"), ("segment", "--model"),
            ("bag", "IN"), ("bag", "OUT"), ("bag", "--depth-slop"), ("bag", "--points-stride"),
            ("bag", "--points-max-range"), ("bench", "--runs"), ("bench", "--threads"),
            ("info", "MODEL"), ("demo", "INPUT"), ("demo", "--seconds"), ("demo", "--rate"),
            ("demo", "--out"), ("build-engine", "--cache-dir")} <= walked
    used = {action.type for parser in subcommands().values() for action in parser._actions}
    assert set(BAD_VALUES) <= used


def test_no_argument_takes_an_unchecked_type():
    loose = [(command, name(action)) for command, parser in subcommands().items()
             for action in parser._actions
             if action.type is not None and action.type not in BAD_VALUES]
    assert loose == []


@pytest.mark.parametrize("argv, line", [
    (["segment", "{file}", "--out", "{folder}", "--width", "50"],
     "enet-ros segment: error: argument --width: 50 is not a multiple of 8 (ENet downsamples "
     "8x); try 48 (see enet-ros segment --help)"),
    (["bench", "--height", "4"],
     "enet-ros bench: error: argument --height: 4 is not a multiple of 8 (ENet downsamples "
     "8x); try 8 (see enet-ros bench --help)"),
    (["bench", "--runs", "0"],
     "enet-ros bench: error: argument --runs: 0 is not a whole number of at least 1 (see "
     "enet-ros bench --help)"),
    (["bench", "--threads", "two"],
     "enet-ros bench: error: argument --threads: 'two' is not a whole number of at least 1 "
     "(see enet-ros bench --help)"),
    (["bench", "--alpha", "1.5"],
     "enet-ros bench: error: argument --alpha: 1.5 is not a number from 0 to 1 (see enet-ros "
     "bench --help)"),
    (["demo", "--rate", "0"],
     "enet-ros demo: error: argument --rate: 0 is not a number above 0 (see enet-ros demo "
     "--help)"),
    (["info", "{missing}"],
     "enet-ros info: error: argument MODEL: {missing} does not exist (see enet-ros info "
     "--help)"),
    (["info", "{folder}"],
     "enet-ros info: error: argument MODEL: {folder} is not a file (see enet-ros info --help)"),
    (["bag", "{file}", "{missing}", "--image-topic", "/x"],
     "enet-ros bag: error: argument IN: {file} is not a folder (see enet-ros bag --help)"),
    (["bag", "{folder}", "{file}", "--image-topic", "/x"],
     "enet-ros bag: error: argument OUT: {file} exists already; choose a new path (see "
     "enet-ros bag --help)"),
    (["segment", "{file}", "--out", "{file}"],
     "enet-ros segment: error: argument --out: {file} exists and is not a folder (see "
     "enet-ros segment --help)"),
    (["segment", "{missing}.yaml", "--out", "{folder}"],
     "enet-ros segment: error: argument INPUT: {missing}.yaml does not exist (see enet-ros "
     "segment --help)"),
    (["bench", "--palette", "{missing}.yaml"],
     "enet-ros bench: error: argument --palette: palette file {missing}.yaml does not exist "
     "(see enet-ros bench --help)"),
    (["bench"] * 2, "enet-ros: error: unrecognized arguments: bench (see enet-ros --help)"),
    (["bag", "{folder}"], "enet-ros bag: error: the following arguments are required: OUT, "
                          "--image-topic (see enet-ros bag --help)"),
    (["bag", "{folder}", "{missing}", "--image-topic", "/x", "--depth-slop", "2"],
     "enet-ros bag: error: argument --depth-slop: 2 is not a number of seconds from 0 to 1 "
     "(see enet-ros bag --help)"),
    (["bag", "{folder}", "{missing}", "--image-topic", "/x", "--points-stride", "100"],
     "enet-ros bag: error: argument --points-stride: 100 is not a whole number from 1 to 64 "
     "(see enet-ros bag --help)"),
])
def test_main_refuses_before_opening_a_model(argv, line, tmp_path, monkeypatch, capsys):
    """The exact line, through main, with the model loader replaced by one that fails the
    test: nothing is opened before the arguments are judged."""
    (tmp_path / "f.png").write_bytes(b"")
    paths = {"file": tmp_path / "f.png", "folder": tmp_path, "missing": tmp_path / "missing"}
    monkeypatch.setattr(cli, "open_model_file", lambda *_: pytest.fail("a model was opened"))
    with pytest.raises(SystemExit) as exit_:
        main([arg.format(**paths) for arg in argv])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == line.format(**paths) + "\n"


def test_unknown_palette_names_the_known_ones(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bench", "--palette", "mars"])
    err = capsys.readouterr().err
    assert err.startswith("enet-ros bench: error: argument --palette: no palette named 'mars'; "
                          "known: camvid, cityscapes, sun")


def test_good_values_parse_to_what_the_commands_use(tmp_path):
    args = build_parser().parse_args(["bench", "--width", "64", "--height", "8", "--alpha", "0",
                                      "--threads", "1", "--runs", "1", "--palette", "camvid"])
    assert (args.width, args.height, args.alpha, args.threads, args.runs, args.palette) == \
        (64, 8, 0.0, 1, 1, "camvid")
    assert build_parser().parse_args(["bench", "--alpha", "1"]).alpha == 1.0
    demo = build_parser().parse_args(["demo", "--seconds", "0.5", "--rate", "30"])
    assert (demo.seconds, demo.rate, demo.out) == (0.5, 30.0, Path("demo_out"))
    assert build_parser().parse_args(["segment", str(tmp_path), "--out",
                                      str(tmp_path / "new")]).out == tmp_path / "new"


def test_bag_point_options_take_the_nodes_defaults_and_ranges(tmp_path):
    """--depth-slop, --points-* are the node's parameters: its defaults, its limits."""
    from enet_ros.ros.params import spec

    bag = ["bag", str(tmp_path), str(tmp_path / "new"), "--image-topic", "/x"]
    args = build_parser().parse_args(bag)
    for name in cli.BAG_POINTS_OPTIONS:
        assert getattr(args, name) == spec(name).default
    args = build_parser().parse_args(bag + ["--depth-slop", "1", "--points-stride", "64",
                                            "--points-max-range", "1000", "--points-classes",
                                            "Car,Road"])
    assert (args.depth_slop, args.points_stride, args.points_max_range, args.points_classes) \
        == (spec("depth_slop").float_range[1], spec("points_stride").int_range[1],
            spec("points_max_range").float_range[1], "Car,Road")


def test_bag_point_options_without_a_depth_topic_are_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "open_model_file", lambda *_: pytest.fail("a model was opened"))
    bag = ["bag", str(tmp_path), str(tmp_path / "new"), "--image-topic", "/x"]
    assert main(bag + ["--points-stride", "2", "--camera-info-topic", "/info"]) == 2
    assert capsys.readouterr().err == ("enet-ros bag: error: --points-stride, "
                                       "--camera-info-topic: no points without --depth-topic\n")


def test_width_without_height_is_refused_before_opening_a_model(monkeypatch, capsys):
    monkeypatch.setattr(cli, "open_model_file", lambda *_: pytest.fail("a model was opened"))
    assert main(["bench", "--width", "64"]) == 2
    assert capsys.readouterr().err == \
        "enet-ros bench: error: give both --width and --height, or neither\n"
