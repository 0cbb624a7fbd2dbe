"""The enet-ros command, run in-process through main(argv)."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from _depth_scene import cloud_points
from _runtime_bags import COLOR, DEPTH, TYPESTORE, write_bag, write_points_bag
from _runtime_fixtures import (fixture_metadata, make_model_file, reference_confidence,
                               reference_labels)
from rosbags.rosbag2 import Reader, StoragePlugin

from enet_ros.cli import build_parser, main
from enet_ros.palette import Palette

RNG = np.random.default_rng(5)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_model_file(tmp_path_factory.mktemp("cli") / "tiny.onnx")


def _status(argv: list[str]) -> int:
    """main's exit status, whether it returns it (an error met running the command) or
    argparse exits with it (a value refused as it is parsed)."""
    try:
        return main(argv)
    except SystemExit as exit_:
        return exit_.code


def _read_rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def _write_rgb(path: Path, rgb: np.ndarray) -> None:
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def test_segment_images_and_folders(tmp_path: Path, model: Path,
                                    capsys: pytest.CaptureFixture) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    images = {name: RNG.integers(0, 256, (32, 48, 3), dtype=np.uint8) for name in ("a", "b")}
    for name, rgb in images.items():
        _write_rgb(folder / f"{name}.png", rgb)
    single = RNG.integers(0, 256, (32, 48, 3), dtype=np.uint8)
    _write_rgb(tmp_path / "c.png", single)
    images["c"] = single
    out = tmp_path / "out"
    assert main(["segment", str(folder), str(tmp_path / "c.png"), "--model", str(model),
                 "--out", str(out), "--engine", "onnxruntime", "--threads", "1"]) == 0
    from PIL import Image
    palette = Palette.from_metadata(fixture_metadata())
    for name, rgb in images.items():
        expected = reference_labels(rgb)
        with Image.open(out / f"{name}_labels.png") as labels:
            assert labels.mode == "P"
            np.testing.assert_array_equal(np.asarray(labels), expected)
        colours = palette.colours[expected]
        np.testing.assert_array_equal(_read_rgb(out / f"{name}_color.png"), colours)
        blended = np.rint(0.5 * rgb + 0.5 * colours.astype(float)).astype(np.uint8)
        assert np.abs(_read_rgb(out / f"{name}_overlay.png").astype(int) - blended).max() <= 1
    printed = capsys.readouterr().out
    assert "3 frames in" in printed and "frames/s" in printed and "%" in printed


def test_segment_video(tmp_path: Path, model: Path) -> None:
    path = tmp_path / "clip.avi"
    video = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 5, (48, 32))
    if not video.isOpened():
        pytest.skip("this OpenCV build writes no MJPG video")
    for _ in range(3):
        video.write(np.full((32, 48, 3), (0, 0, 255), np.uint8))  # red in BGR
    video.release()
    assert main(["segment", str(path), "--model", str(model), "--out", str(tmp_path / "out"),
                 "--engine", "onnxruntime"]) == 0
    written = sorted((tmp_path / "out" / "clip").glob("*_labels.png"))
    assert [p.name for p in written] == [f"00000{i}_labels.png" for i in range(3)]
    from PIL import Image
    with Image.open(written[0]) as labels:
        assert (np.asarray(labels) == 1).mean() > 0.95  # class 1 is red


def test_bag_command(tmp_path: Path, model: Path, capsys: pytest.CaptureFixture) -> None:
    write_bag(tmp_path / "in", StoragePlugin.MCAP, [np.zeros((32, 48, 3), np.uint8)] * 2)
    assert main(["bag", str(tmp_path / "in"), str(tmp_path / "out"), "--image-topic",
                 "/camera/image_raw", "--model", str(model), "--engine", "onnxruntime"]) == 0
    with Reader(tmp_path / "out") as reader:
        counts = {c.topic: c.msgcount for c in reader.connections}
    assert counts == {"/camera/image_raw": 2, "/chatter": 2, "/enet/labels": 2,
                      "/enet/color": 2, "/enet/overlay": 2}
    assert "2 frames in" in capsys.readouterr().out


def test_bag_command_adds_points_and_prints_the_frames_without(
        tmp_path: Path, model: Path, capsys: pytest.CaptureFixture) -> None:
    written = write_points_bag(tmp_path / "in", StoragePlugin.MCAP)
    assert main(["bag", str(tmp_path / "in"), str(tmp_path / "out"), "--image-topic", COLOR,
                 "--depth-topic", DEPTH, "--depth-slop", "0.005", "--points-classes",
                 "red,blue", "--points-stride", "2", "--points-max-range", "10", "--model",
                 str(model), "--engine", "onnxruntime"]) == 0
    clouds = []
    with Reader(tmp_path / "out") as reader:
        assert {c.topic: c.msgcount for c in reader.connections}["/enet/points"] == 3
        for conn, _, raw in reader.messages():
            if conn.topic == "/enet/points":
                clouds.append(cloud_points(TYPESTORE.deserialize_cdr(raw, conn.msgtype)))
    assert all(0 < len(c) <= 24 * 32 and set(c["label"]) <= {1, 3} for c in clouds)
    printed = capsys.readouterr().out.splitlines()
    assert printed[-4:] == [
        f"copied {len(written)} messages and added /enet/labels, /color, /overlay, /points "
        f"to {tmp_path / 'out'}",
        "/enet/points for 3 of 6 frames",
        "  no depth: 1 frame, first: no depth image within 0.005 s of the frame's stamp",
        "  bad depth: 2 frames, first: malformed depth image: depth encoding 'mono16' is not "
        "one of 16UC1, 32FC1"]


def test_bag_point_errors_are_one_line(tmp_path: Path, model: Path,
                                       capsys: pytest.CaptureFixture) -> None:
    write_points_bag(tmp_path / "in")
    cases = [
        (["--depth-topic", "/camera/depth"], f"bag {tmp_path / 'in'} has no topic "
         f"'/camera/depth'; its image topics: {DEPTH}, {COLOR} (all: "),
        (["--depth-topic", DEPTH, "--points-classes", "red,Car"],
         "points_classes names Car, which the model does not have; its classes: dark, red, "
         "green, blue"),
    ]
    for index, (options, message) in enumerate(cases):
        assert _status(["bag", str(tmp_path / "in"), str(tmp_path / f"out{index}"),
                        "--image-topic", COLOR, "--model", str(model), *options]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"enet-ros bag: error: {message}"), err
        assert not (tmp_path / f"out{index}").exists()


def test_bench_and_info(model: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["bench", "--model", str(model), "--width", "48", "--height", "32", "--runs",
                 "3", "--engine", "onnxruntime"]) == 0
    printed = capsys.readouterr().out
    assert "model only" in printed and "end to end" in printed and "p90" in printed
    assert main(["info", str(model)]) == 0
    printed = capsys.readouterr().out
    for expected in ("sha256", "ONNX opset   17", "ArgMax", "Conv", "dynamic",
                     "trained at   48x32 on fixture", "  1 red", "mean_iou: 1.0"):
        assert expected in printed


def test_bench_json_compares_engines_interleaved(model: Path,
                                                 capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("openvino")
    assert main(["bench", "--model", str(model), "--width", "48", "--height", "32", "--runs",
                 "3", "--engine", "openvino", "--engine", "onnxruntime", "--precision", "fp32",
                 "--threads", "1", "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2  # one JSON object a line, nothing else on stdout
    openvino, onnxruntime = (json.loads(line) for line in lines)
    assert (openvino["engine"], openvino["precision"], openvino["providers"]) == \
        ("openvino", "fp32", ["CPU"])
    assert (onnxruntime["engine"], onnxruntime["precision"], onnxruntime["providers"]) == \
        ("onnxruntime", "fp32", ["CPUExecutionProvider"])
    for result in (openvino, onnxruntime):
        assert (result["width"], result["height"], result["runs"]) == (48, 32, 3)
        assert 0 < result["engine_median_ms"] <= result["engine_p90_ms"]
        assert 0 < result["pipeline_median_ms"] <= result["pipeline_p90_ms"]
    assert openvino["engine_vs_first"] == 1.0
    assert onnxruntime["engine_vs_first"] == pytest.approx(
        onnxruntime["engine_median_ms"] / openvino["engine_median_ms"], rel=0.02)


@pytest.mark.parametrize("argv,message", [
    (["info", "missing.onnx"], "does not exist"),
    (["segment", "nothing.png", "--model", "MODEL", "--out", "OUT"], "argument INPUT: "
                                                                      "nothing.png does not exist"),
    (["segment", "IMAGE", "--model", "MODEL", "--out", "OUT", "--width", "50", "--height",
      "32"], "argument --width: 50 is not a multiple of 8"),
    (["segment", "IMAGE", "--model", "MODEL", "--out", "OUT", "--palette", "cityscapes"],
     "has 19 classes but the model has 4"),
    (["bench", "--model", "MODEL", "--runs", "0"],
     "argument --runs: 0 is not a whole number of at least 1"),
    (["bench", "--model", "MODEL", "--width", "640"], "give both --width and --height"),
    (["segment", "IMAGE", "--model", "MODEL", "--out", "OUT", "--height", "32"],
     "give both --width and --height"),
    (["segment", "IMAGE", "--model", "MODEL", "--out", "IMAGE"], "exists and is not a folder"),
    (["demo", "--model", "MODEL", "--out", "IMAGE"], "exists and is not a folder"),
    (["bag", "IN", "OUT", "--image-topic", "/x", "--model", "MODEL"], "does not exist"),
])
def test_errors_are_one_line_with_status_2(tmp_path: Path, model: Path, argv: list[str],
                                           message: str, capsys: pytest.CaptureFixture) -> None:
    image = tmp_path / "frame.png"
    _write_rgb(image, np.zeros((32, 48, 3), np.uint8))
    replace = {"MODEL": str(model), "OUT": str(tmp_path / "out"), "IMAGE": str(image),
               "IN": str(tmp_path / "no_bag"), "missing.onnx": str(tmp_path / "missing.onnx"),
               "nothing.png": "nothing.png"}
    assert _status([replace.get(a, a) for a in argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"enet-ros {argv[0]}: error:") and message in err[-1]
    assert not any("Traceback" in line for line in err)


def test_corrupt_model_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    assert main(["info", str(bad)]) == 2
    assert "not a readable ONNX file" in capsys.readouterr().err


def test_build_engine_without_tensorrt(model: Path, capsys: pytest.CaptureFixture) -> None:
    from enet_ros.engines import tensorrt_available
    if tensorrt_available():
        pytest.skip("TensorRT is usable here")
    assert main(["build-engine", str(model)]) == 2
    assert "needs TensorRT" in capsys.readouterr().err


def test_every_command_defaults_to_the_shipped_model(tmp_path: Path, monkeypatch:
                                                     pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture) -> None:
    """`segment samples --out out`, `info` and `bench` need no --model, from any folder."""
    from enet_ros import shipped
    monkeypatch.chdir(tmp_path)
    samples = shipped.sample_frames()
    assert main(["segment", str(samples[0].parent), "--out", "out", "--threads", "1"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").glob("*_overlay.png")) == \
        sorted(f"{p.stem}_overlay.png" for p in samples)
    assert main(["info"]) == 0
    printed = capsys.readouterr().out
    assert f"model file   {shipped.default_model()}" in printed
    assert "trained at   480x360 on camvid" in printed
    assert main(["bench", "--runs", "1"]) == 0  # the model's own size, as --help says
    assert "network 480x360, frames of that size in bgr8" in capsys.readouterr().out
    assert main(["bench", "--runs", "1", "--width", "96", "--height", "64"]) == 0
    assert "network 96x64" in capsys.readouterr().out
    (tmp_path / "in").mkdir()
    for argv in (["bag", "in", "new", "--image-topic", "/x"], ["build-engine"]):
        assert build_parser().parse_args(argv).model is None  # None: the shipped model


def test_segment_skips_unreadable_inputs_and_says_so(tmp_path: Path, model: Path,
                                                     capfd: pytest.CaptureFixture) -> None:
    """One line of ours for each unreadable file and none of FFmpeg's (capfd sees what
    FFmpeg writes to fd 2 itself); the count is of input files, not frames."""
    folder = tmp_path / "frames"
    folder.mkdir()
    good = {name: RNG.integers(0, 256, (32, 48, 3), dtype=np.uint8) for name in ("a", "c")}
    for name, rgb in good.items():
        _write_rgb(folder / f"{name}.png", rgb)
    (folder / "b.png").write_bytes(b"not a png")
    (folder / "d.jpg").write_bytes(b"")
    (tmp_path / "broken.mp4").write_bytes(b"\x00" * 64)
    out = tmp_path / "out"
    status = main(["segment", str(folder), str(tmp_path / "broken.mp4"), "--model", str(model),
                   "--out", str(out), "--engine", "onnxruntime"])
    assert status == 1
    from PIL import Image
    for name, rgb in good.items():
        with Image.open(out / f"{name}_labels.png") as labels:
            np.testing.assert_array_equal(np.asarray(labels), reference_labels(rgb))
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{n}_{kind}.png" for n in good for kind in ("labels", "color", "overlay"))
    captured = capfd.readouterr()
    assert "moov" not in captured.err and "[mov" not in captured.err, captured.err
    skipped = [line for line in captured.err.splitlines() if "skipped" in line]
    assert skipped == [
        f"enet-ros segment: skipped {folder / 'b.png'}: not a readable image (empty, truncated "
        f"or another format)",
        f"enet-ros segment: skipped {folder / 'd.jpg'}: not a readable image (empty, truncated "
        f"or another format)",
        f"enet-ros segment: skipped {tmp_path / 'broken.mp4'}: no video frame could be decoded",
        "enet-ros segment: 3 of 5 input files could not be read (listed above) and were "
        "skipped"]
    assert "2 frames in" in captured.out
    (folder / "a.png").unlink()
    (folder / "c.png").unlink()
    fresh = tmp_path / "never_made"
    assert main(["segment", str(folder), "--model", str(model), "--out", str(fresh)]) == 2
    assert capfd.readouterr().err.strip().splitlines()[-1] == \
        "enet-ros segment: error: none of the 2 input files could be read"
    assert not fresh.exists()  # a failed run leaves no empty output folder


def test_bag_errors_are_one_line(tmp_path: Path, model: Path,
                                 capsys: pytest.CaptureFixture) -> None:
    write_bag(tmp_path / "bag", StoragePlugin.MCAP, [np.zeros((32, 48, 3), np.uint8)])
    (tmp_path / "frames").mkdir()
    _write_rgb(tmp_path / "frames" / "a.png", np.zeros((32, 48, 3), np.uint8))
    cases = [
        ("frames", "/camera/image_raw", f"{tmp_path / 'frames'} is not a rosbag2 folder (no "
                                        f"metadata.yaml)"),
        ("frames/a.png", "/camera/image_raw", f"argument IN: {tmp_path / 'frames' / 'a.png'} "
                                              f"is not a folder"),
        ("bag", "/camera/rgb", "has no topic '/camera/rgb'; its image topics: /camera/image_raw"),
        ("bag", "/chatter", "/chatter carries std_msgs/msg/String, not an Image or "
                            "CompressedImage"),
    ]
    for index, (src, topic, message) in enumerate(cases):
        assert _status(["bag", str(tmp_path / src), str(tmp_path / f"out{index}"),
                        "--image-topic", topic, "--model", str(model)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("enet-ros bag: error: "), err
        assert message in err[0], err[0]


def test_segment_writes_the_confidence_when_asked(tmp_path: Path, model: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    with_confidence = make_model_file(tmp_path / "confident.onnx", confidence=True)
    rgb = RNG.integers(0, 256, (32, 48, 3), dtype=np.uint8)
    assert cv2.imwrite(str(tmp_path / "a.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    out = tmp_path / "out"
    assert _status(["segment", str(tmp_path / "a.png"), "--out", str(out), "--model",
                    str(with_confidence), "--confidence"]) == 0
    written = cv2.imread(str(out / "a_confidence.png"), cv2.IMREAD_UNCHANGED)
    expected, certain = reference_confidence(rgb)
    assert written.dtype == np.uint8 and written.shape == rgb.shape[:2]
    np.testing.assert_array_equal(written[certain], expected[certain])
    assert "and confidence to" in capsys.readouterr().out
    assert _status(["segment", str(tmp_path / "a.png"), "--out", str(tmp_path / "o2"),
                    "--model", str(model), "--confidence"]) == 2
    assert "tiny.onnx has no confidence output" in capsys.readouterr().err
    assert not (tmp_path / "o2").exists()
