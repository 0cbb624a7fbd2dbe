"""`enet-ros demo`: a real segment_node process fed the shipped samples as a camera, with real
rclpy on a private loopback domain; what comes back is checked against the labels."""
from __future__ import annotations

import random
import subprocess
import sys

import cv2
import numpy as np
import pytest

from enet_ros import shipped
from enet_ros.cli import _demo_frames
from enet_ros.engines import open_engine
from enet_ros.model_file import open_model_file
from enet_ros.palette import Palette
from enet_ros.ros import params
from enet_ros.ros.demo import DemoError, run_demo
from enet_ros.segmenter import Segmenter

SECONDS, RATE = 3.0, 5.0


@pytest.fixture()
def ros_env(tmp_path, monkeypatch):
    monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    monkeypatch.setenv("ROS_DOMAIN_ID", str(random.randrange(1, 200)))
    monkeypatch.setenv("ROS_LOG_DIR", str(tmp_path / "ros_log"))


def test_demo_plays_the_samples_to_the_node_and_writes_what_it_publishes(tmp_path, ros_env):
    model = open_model_file(shipped.default_model())
    palette = Palette.from_metadata(model.metadata)
    samples = {path: cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
               for path in shipped.sample_frames()}
    result = run_demo(_demo_frames(None, None), model.path, palette, tmp_path / "out",
                      SECONDS, RATE, ("Road", "Sidewalk"), model.has_confidence)
    assert result.node_status == 0, result.node_log.read_text()
    assert result.sent == SECONDS * RATE
    assert 0 < result.overlays <= result.sent and 0 < result.labels <= result.sent
    assert result.output_rate_hz > 0 and len(result.latencies_ms) == result.overlays
    assert all(0 < latency < 10_000 for latency in result.latencies_ms)
    # Every sample makes the sheet once (a frame dropped on one loop is caught on the next);
    # each frame's labels are the model's, as it runs here with the node's engine settings,
    # and its overlay is the camera frame blended with those labels' colours.
    assert 1 <= len(result.rows) <= len(samples)
    engine = open_engine("auto", model, threads=params.inference_threads(0), spin=False)
    reference = Segmenter(engine, palette)
    matched = set()
    for row in result.rows:
        source = next(p for p, rgb in samples.items() if np.array_equal(rgb, row.camera))
        matched.add(source)
        assert row.labels.shape == row.camera.shape[:2] and row.labels.dtype == np.uint8
        expected = reference.segment(row.camera, overlay_alpha=0.5)
        assert len(np.unique(expected.labels)) >= 4  # a street scene, not one class
        agree = row.labels == expected.labels
        assert agree.mean() >= 0.99, (source, agree.mean())
        np.testing.assert_array_equal(row.overlay[agree], expected.overlay[agree])
        # the drivable mask is exactly Road and Sidewalk of the same frame's labels
        road, sidewalk = (model.metadata.class_names.index(c) for c in ("Road", "Sidewalk"))
        np.testing.assert_array_equal(row.mask, np.isin(row.labels, (road, sidewalk)) * 255)
        assert row.confidence.shape == row.labels.shape and row.confidence.max() > 200
    engine.close()
    assert len(matched) == len(result.rows)
    # VP8 in WebM (what browsers and phones play), decoded back: one frame per overlay
    assert result.video.name == "overlay.webm"
    assert result.video.read_bytes()[:4] == b"\x1a\x45\xdf\xa3"  # EBML: Matroska/WebM
    assert b"webm" in result.video.read_bytes()[:64]                 # its DocType
    video = cv2.VideoCapture(str(result.video))
    fourcc = int(video.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little")
    assert fourcc == b"VP80"
    decoded = []
    while True:
        ok, bgr = video.read()
        if not ok:
            break
        decoded.append(bgr)
    video.release()
    assert len(decoded) == result.overlays
    assert all(frame.shape == (360, 480, 3) for frame in decoded)
    last = cv2.cvtColor(result.rows[-1].overlay, cv2.COLOR_RGB2BGR).astype(np.int16)
    assert min(np.abs(f.astype(np.int16) - last).mean() for f in decoded) < 8  # lossy, close
    sheet = cv2.imread(str(result.sheet))
    assert sheet.shape == (24 + 240 * len(result.rows), 5 * 320, 3)  # with mask, confidence
    summary = result.summary()
    assert f"sent {result.sent} frames" in summary and f"{result.overlays} overlays" in summary


def test_a_node_that_cannot_start_is_one_line(tmp_path, ros_env):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    palette = Palette(("a", "b"), np.array([[0, 0, 0], [255, 0, 0]], np.uint8))
    with pytest.raises(DemoError, match=r"segment_node exited with status 1: .*cannot start: "
                                        r".*broken.onnx is not a readable ONNX file"):
        run_demo(_demo_frames(None, None), broken, palette, tmp_path / "out", 1.0, RATE)


def test_cli_demo_rejects_bad_input_before_starting_the_node(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    done = subprocess.run([sys.executable, "-m", "enet_ros.cli", "demo",
                           str(tmp_path / "notes.txt"), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith(
        f"enet-ros demo: error: input {tmp_path / 'notes.txt'}: not an image")
    assert not (tmp_path / "out").exists()
