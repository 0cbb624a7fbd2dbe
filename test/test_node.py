"""segment_node end to end, with real rclpy: its installed executable, real topics, real
parameter services, a tiny model. One node per module scope (starting one costs seconds).

Node A: raw transport, camera resolution, config/segment.yaml, namespace /test_cam.
Node B: compressed transport, network resolution, stopped with Ctrl-C (SIGINT).
Node C: input size, palette and use_camera_info:=false set at start; a model that fails on
bright frames. Then the shipped model by default, and the Humble fallback (no message info).
"""
from __future__ import annotations

import importlib.util
import signal
import sys
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import pytest
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image

from _node_harness import (NodeProcess, Probe, blocks_frame, decoded, probe_environment,
                           raw_image, write_palette)
from _runtime_fixtures import make_model_file
from enet_ros.engines import open_engine
from enet_ros.image_codec import decode_compressed, decode_image
from enet_ros.model_file import open_model_file
from enet_ros.palette import load_palette
from enet_ros.ros import params
from enet_ros.segmenter import Segmenter
from enet_ros.shipped import sample_frames

ROOT = Path(__file__).resolve().parents[1]
NS = "/test_cam"
NODE = f"{NS}/enet_segment"
H, W = 48, 64                      # camera frames; the fixture model runs at 32x48 (h x w)
K_FULL = (200.0, 0.0, 64.0, 0.0, 210.0, 48.0, 0.0, 0.0, 1.0)
P_FULL = (202.0, 0.0, 65.0, -20.0, 0.0, 212.0, 49.0, 0.0, 0.0, 0.0, 1.0, 0.0)
OUTPUTS = {"labels": Image, "color": Image, "overlay": Image, "camera_info": CameraInfo}


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return make_model_file(tmp_path_factory.mktemp("model") / "tiny.onnx")


@pytest.fixture(scope="module")
def reference(model):
    """The same model, palette and network size as the node, run in this process."""
    mf = open_model_file(model)
    engine = open_engine("onnxruntime", mf, providers=["CPUExecutionProvider"])
    segmenters = {res: Segmenter(engine, load_palette(None, mf.metadata), output_resolution=res)
                  for res in ("camera", "network")}
    yield segmenters
    engine.close()


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """ROS environment for the node and the probe."""
    with probe_environment(tmp_path_factory.mktemp("ros_log")) as env:
        yield env


@pytest.fixture(scope="module")
def node_a(env, model, tmp_path_factory):
    node = NodeProcess(["--params-file", str(ROOT / "config" / "segment.yaml"),
                        "-p", f"model:={model}", "-r", f"__ns:={NS}",
                        "-p", "qos_overrides./cam/image_raw.subscription.depth:=2",
                        "-p", "diagnostics_period:=0.25",  # the tests wait on its counters
                        "-r", "image:=/cam/image_raw", "-r", "camera_info:=/cam/camera_info"],
                       env, tmp_path_factory.mktemp("node_a") / "node.log")
    node.wait_ready()
    yield node
    status = node.stop(signal.SIGTERM)
    assert status == 0 and "Traceback" not in node.log(), node.log()


@pytest.fixture(scope="module")
def probe(env, node_a):
    probe = Probe(int(env["ROS_DOMAIN_ID"]), namespace=NS)
    yield probe
    probe.close()


def _camera_reliability(probe: Probe) -> ReliabilityPolicy | None:
    """The reliability of the node's camera subscription as discovery reports it (None while
    there is not exactly one: a re-subscription in progress)."""
    subs = probe.node_subscriptions("/cam/image_raw")
    return subs[0].qos_profile.reliability if len(subs) == 1 else None


@pytest.fixture
def outputs(probe):
    """The probe subscribed to every output, with a calibrated, 2x-binned camera_info sent."""
    for key, msg_type in OUTPUTS.items():
        if key not in probe._subs:
            probe.listen(key, msg_type)
    for key in OUTPUTS:
        probe.wait_subscribed(key)
    probe.wait_camera_matched(probe.image_pub)
    info = CameraInfo(width=2 * W, height=2 * H, k=K_FULL, p=P_FULL, binning_x=2, binning_y=2,
                      distortion_model="plumb_bob", d=[0.1, -0.05, 0.0, 0.0, 0.01])
    send_camera_info(probe, info, lambda stamp: probe.publish_image(blocks_frame(H, W), "rgb8",
                                                                    stamp))
    return probe


def send_camera_info(probe: Probe, info: CameraInfo,
                     send_frame: Callable[[tuple[int, int]], None]) -> None:
    """Publish ``info`` until the node republishes it with a frame. camera_info is best effort
    and the node keeps only the latest, so only an enet/camera_info coming back shows that the
    node holds it; a sleep after one publish would show nothing."""
    probe.wait_matched(probe.info_pub)
    for _ in range(5):
        probe.info_pub.publish(info)
        stamp = next_stamp()
        send_frame(stamp)
        try:
            probe.frame("camera_info", stamp, timeout=3.0)
            return
        except AssertionError:
            continue  # the frame overtook the info, or the info was lost: send both again
    raise AssertionError("the node never republished camera_info with a frame")


_last_stamp = [0]


def next_stamp() -> tuple[int, int]:
    """The wall-clock time (what the node measures latency against), unique per frame."""
    ns = max(time.time_ns(), _last_stamp[0] + 1000)
    _last_stamp[0] = ns
    return divmod(ns, 10**9)


# -- node A -----------------------------------------------------------------------------------

def test_no_inference_while_nobody_listens(probe):
    """Frames arrive and are counted, but with no subscriber to any output none is inferred."""
    for key in [k for k in OUTPUTS if k in probe._subs]:
        probe.unlisten(key)
    probe.wait_for(lambda: all(probe.node.count_subscribers(probe.topic(f"enet/{k}")) == 0
                               for k in OUTPUTS), 10, "output subscribers gone")
    probe.wait_camera_matched(probe.image_pub)
    before = probe.fresh_diagnostics(lambda d: True)
    skipped = "frames skipped (no subscribers)"
    for count in range(1, 6):  # one at a time: a newer frame would replace an unhandled one
        probe.publish_image(blocks_frame(H, W), "rgb8", next_stamp())
        after = probe.fresh_diagnostics(lambda d: int(d[skipped]) >= int(before[skipped]) + count)
    assert int(after["frames received"]) == int(before["frames received"]) + 5
    assert after["frames inferred"] == before["frames inferred"]
    assert int(after[skipped]) == int(before[skipped]) + 5


@pytest.mark.parametrize("encoding, overlay_encoding",
                         [("bgr8", "bgr8"), ("rgb8", "rgb8"), ("mono8", "rgb8")])
def test_outputs_match_direct_inference(outputs, reference, encoding, overlay_encoding):
    probe = outputs
    rgb = blocks_frame(H, W, seed=hash(encoding) % 100)
    sent = raw_image(rgb, encoding, next_stamp(), frame_id=f"cam_{encoding}")
    stamp = (sent.header.stamp.sec, sent.header.stamp.nanosec)
    probe.image_pub.publish(sent)
    labels, color, overlay = (probe.frame(k, stamp) for k in ("labels", "color", "overlay"))
    for msg in (labels, color, overlay):
        assert msg.header.frame_id == f"cam_{encoding}"
        assert (msg.height, msg.width) == (H, W)
    assert (labels.encoding, color.encoding, overlay.encoding) == ("mono8", "rgb8",
                                                                   overlay_encoding)
    # What the node saw, segmented here by the same segmenter.
    seen = decode_image(encoding, H, W, sent.step, False, sent.data)
    expected = reference["camera"].segment(seen, overlay_alpha=0.5)
    agreement = np.mean(decoded(labels) == expected.labels)
    assert agreement >= 0.999, agreement
    # a frame that tells classes apart (grey only separates dark from bright)
    assert len(np.unique(expected.labels)) >= (2 if encoding == "mono8" else 4)
    np.testing.assert_array_equal(decoded(color), expected.color)
    np.testing.assert_allclose(decoded(overlay).astype(int), expected.overlay.astype(int), atol=1)


def test_camera_info_is_scaled_to_the_labels(outputs):
    """2x-binned 128x96 calibration, 64x48 frames, camera resolution: K and P halved."""
    probe = outputs
    stamp = next_stamp()
    probe.publish_image(blocks_frame(H, W), "bgr8", stamp)
    info = probe.frame("camera_info", stamp)
    assert (info.width, info.height, info.binning_x, info.binning_y) == (W, H, 0, 0)
    assert info.header.frame_id == "camera_optical"
    np.testing.assert_allclose(info.k, [v / 2 if i < 6 else v for i, v in enumerate(K_FULL)])
    np.testing.assert_allclose(info.p, [v / 2 if i < 8 else v for i, v in enumerate(P_FULL)])
    np.testing.assert_allclose(info.d, [0.1, -0.05, 0.0, 0.0, 0.01])
    assert info.distortion_model == "plumb_bob"


def test_malformed_frames_are_counted_and_the_node_lives(outputs, node_a):
    probe = outputs
    before = probe.fresh_diagnostics(lambda d: True)
    good = raw_image(blocks_frame(H, W), "rgb8", (0, 0))
    bad = [
        Image(height=H, width=W, encoding="no_such_encoding", step=W * 3, data=good.data),
        Image(height=H, width=W, encoding="rgb8", step=W * 3 - 1, data=good.data),  # odd step
        Image(height=H, width=W, encoding="rgb8", step=W * 3, data=good.data[:100]),  # truncated
        Image(height=0, width=0, encoding="rgb8", step=0),                             # empty
    ]
    for count, msg in enumerate(bad, start=1):
        msg.header.stamp.sec, msg.header.stamp.nanosec = next_stamp()
        probe.image_pub.publish(msg)
        # one at a time: a newer frame would replace an unprocessed one
        after = probe.fresh_diagnostics(
            lambda d: int(d["frames rejected"]) >= int(before["frames rejected"]) + count)
    assert int(after["frames rejected"]) == int(before["frames rejected"]) + len(bad)
    assert after["level"] == "1" and "malformed" in after["message"]
    assert "malformed frame" in node_a.log()
    stamp = next_stamp()
    probe.publish_image(blocks_frame(H, W), "rgb8", stamp)
    assert probe.frame("labels", stamp).width == W
    assert node_a.proc.poll() is None


def test_overlay_alpha_changes_at_run_time_and_bad_values_are_refused(outputs):
    probe = outputs
    assert probe.set_parameter(NODE, "overlay_alpha", 1.0).successful
    stamp = next_stamp()
    probe.publish_image(blocks_frame(H, W, seed=3), "rgb8", stamp)
    overlay, color = probe.frame("overlay", stamp), probe.frame("color", stamp)
    np.testing.assert_array_equal(decoded(overlay), decoded(color))  # alpha 1: colours only

    for value in (1.5, -0.1):
        result = probe.set_parameter(NODE, "overlay_alpha", value)
        assert not result.successful
    assert probe.get_parameter(NODE, "overlay_alpha") == 1.0
    assert not probe.set_parameter(NODE, "model", "/elsewhere.onnx").successful
    assert not probe.set_parameter(NODE, "input_width", 64).successful
    assert probe.get_parameter(NODE, "class_names") == ["dark", "red", "green", "blue"]

    assert probe.set_parameter(NODE, "overlay_alpha", 0.0).successful
    stamp = next_stamp()
    rgb = blocks_frame(H, W, seed=4)
    probe.publish_image(rgb, "rgb8", stamp)
    np.testing.assert_array_equal(decoded(probe.frame("overlay", stamp)), rgb)  # camera only
    assert probe.set_parameter(NODE, "overlay_alpha", 0.5).successful


def test_camera_subscription_follows_the_publishers_reliability(outputs):
    """camera_reliability auto: reliable while the only camera publisher is (the probe's),
    best effort as soon as a best-effort one joins, and frames from it are segmented; reliable
    again when it leaves. Depth stays a qos_overrides.* parameter; camera_info stays best
    effort."""
    probe = outputs
    assert _camera_reliability(probe) == ReliabilityPolicy.RELIABLE
    assert probe.get_parameter(NODE, "qos_overrides./cam/image_raw.subscription.depth") == 2
    (info_sub,) = probe.node_subscriptions("/cam/camera_info")
    assert info_sub.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT

    best_effort = probe.node.create_publisher(Image, "/cam/image_raw", QoSProfile(
        depth=1, reliability=ReliabilityPolicy.BEST_EFFORT))
    try:
        probe.wait_for(lambda: _camera_reliability(probe) == ReliabilityPolicy.BEST_EFFORT,
                       timeout=5.0, what="a best-effort camera subscription")
        probe.wait_matched(best_effort)
        stamp = next_stamp()
        best_effort.publish(raw_image(blocks_frame(H, W), "rgb8", stamp))
        assert probe.frame("labels", stamp).header.stamp.sec == stamp[0]
    finally:
        probe.node.destroy_publisher(best_effort)
    probe.wait_camera_matched(probe.image_pub)
    assert _camera_reliability(probe) == ReliabilityPolicy.RELIABLE


@pytest.mark.parametrize("output", list(OUTPUTS))
def test_each_output_switch_stops_its_output_only(outputs, output):
    probe = outputs
    assert probe.set_parameter(NODE, f"publish_{output}", False).successful
    try:
        off = next_stamp()
        probe.publish_image(blocks_frame(H, W), "rgb8", off)
        for key in [k for k in OUTPUTS if k != output]:
            probe.frame(key, off)
    finally:
        assert probe.set_parameter(NODE, f"publish_{output}", True).successful
    on = next_stamp()
    probe.publish_image(blocks_frame(H, W), "rgb8", on)
    probe.frame(output, on)  # and back on
    # One reliable writer delivers in order: had the frame sent while off been published on
    # this topic, it would have arrived before the one sent after.
    assert [(m.header.stamp.sec, m.header.stamp.nanosec) for m in probe.messages(output)
            if (m.header.stamp.sec, m.header.stamp.nanosec) in (off, on)] == [on]


def test_a_burst_drops_old_frames_and_keeps_latency_bounded(outputs):
    """Frames faster than the node can segment: the newest always comes out, promptly, and
    every received frame is either published, dropped, rejected or skipped."""
    probe = outputs
    before = probe.fresh_diagnostics(lambda d: True)
    big = blocks_frame(4 * H, 4 * W)   # 256x192: slower to process than to send
    stamps = [next_stamp() for _ in range(40)]
    for stamp in stamps:  # ~1 kHz: faster than any machine segments and paints 256x192
        probe.publish_image(big, "bgr8", stamp)
        time.sleep(0.001)
    sent_last = time.monotonic()
    last = probe.frame("labels", stamps[-1], timeout=10)
    assert last.width == 4 * W
    arrived = next(t for t, m in probe.arrivals("labels")
                   if (m.header.stamp.sec, m.header.stamp.nanosec) == stamps[-1])
    assert arrived - sent_last < 1.0
    burst = {s for s in stamps}
    published = [m for m in probe.messages("labels")
                 if (m.header.stamp.sec, m.header.stamp.nanosec) in burst]
    after = probe.fresh_diagnostics(
        lambda d: int(d["frames published"]) - int(before["frames published"])
        >= len(published))
    delta = {k: int(after[k]) - int(before[k]) for k in
             ("frames received", "frames published", "frames dropped", "frames rejected",
              "frames skipped (no subscribers)", "frames failed", "frames lost before delivery")}
    # The probe may miss an output (the publisher keeps the last 2 for a slow reader).
    assert len(published) <= delta["frames published"] < len(stamps)
    # Every frame sent is accounted for: lost in the middleware (sequence gaps), or received;
    # and every frame received was published, dropped unprocessed, rejected or skipped.
    assert delta["frames received"] + delta["frames lost before delivery"] == len(stamps)
    assert delta["frames dropped"] + delta["frames lost before delivery"] > 0
    assert delta["frames received"] == delta["frames published"] + delta["frames dropped"] + \
        delta["frames rejected"] + delta["frames skipped (no subscribers)"] + \
        delta["frames failed"]


def test_diagnostics_report_engine_rates_and_latency(outputs):
    probe = outputs
    stamps = [next_stamp() for _ in range(10)]
    for stamp in stamps:
        probe.publish_image(blocks_frame(H, W), "rgb8", stamp)
    probe.frame("labels", stamps[-1])  # the newest frame always comes out
    diag = probe.fresh_diagnostics(lambda d: float(d["output rate (Hz)"]) > 0)
    # Named by the fully qualified node name, the camera topic as hardware: cameras stay apart.
    assert diag["name"] == f"{NODE}: segmentation"
    assert diag["hardware_id"] == "/cam/image_raw"
    # engine auto: OpenVINO where it is installed (the test extra has it), else ONNX Runtime
    engine = "openvino" if importlib.util.find_spec("openvino") else "onnxruntime"
    assert diag["engine"] == engine
    assert diag["providers"] == {"openvino": "CPU", "onnxruntime": "CPUExecutionProvider"}[engine]
    assert diag["precision"] in ("fp32", "bf16")
    assert float(diag["input rate (Hz)"]) > 0
    assert 0 <= float(diag["latency median (ms)"]) < 1000
    assert diag["input topic"] == "/cam/image_raw"


# -- node B: compressed, network resolution, Ctrl-C ------------------------------------------

def test_compressed_input_network_resolution_and_ctrl_c(env, model, reference, probe,
                                                       tmp_path):
    node = NodeProcess(["-p", f"model:={model}", "-p", "transport:=compressed",
                        "-p", "output_resolution:=network", "-r", "__ns:=/zip_cam",
                        "-r", "image/compressed:=/cam/image_raw/compressed",
                        "-r", "camera_info:=/cam/camera_info"], env, tmp_path / "node.log")
    try:
        node.wait_ready()
        zipped = Probe(int(env["ROS_DOMAIN_ID"]), namespace="/zip_cam")
        try:
            for key, msg_type in OUTPUTS.items():
                zipped.listen(key, msg_type)
                zipped.wait_subscribed(key)
            zipped.wait_camera_matched(zipped.compressed_pub)
            png = cv2.imencode(".png", blocks_frame(H, W))[1].tobytes()
            send_camera_info(zipped, CameraInfo(width=W, height=H, k=K_FULL, p=P_FULL),
                             lambda stamp: zipped.publish_compressed(png, "png", stamp))
            for fmt, ext in (("png", ".png"), ("rgb8; jpeg compressed bgr8", ".jpg")):
                rgb = blocks_frame(H, W, seed=7)
                data = cv2.imencode(ext, rgb[:, :, ::-1])[1].tobytes()
                stamp = next_stamp()
                zipped.publish_compressed(data, fmt, stamp)
                labels = zipped.frame("labels", stamp)
                overlay = zipped.frame("overlay", stamp)
                assert (labels.height, labels.width) == (32, 48)  # the network's size
                assert overlay.encoding == "rgb8" and overlay.width == 48
                expected = reference["network"].segment(decode_compressed(fmt, data))
                assert np.mean(decoded(labels) == expected.labels) >= 0.999
                info = zipped.frame("camera_info", stamp)
                assert (info.width, info.height) == (48, 32)
                np.testing.assert_allclose(info.k[:3], np.array(K_FULL[:3]) * 48 / W)
                np.testing.assert_allclose(info.k[3:6], np.array(K_FULL[3:6]) * 32 / H)
        finally:
            zipped.close()
    finally:
        status = node.stop(signal.SIGINT)
    assert status == 0 and "Traceback" not in node.log(), node.log()


@pytest.mark.parametrize("override, message", [
    ("model:=BROKEN", "not a readable ONNX file"),
    ("input_width:=100", "not a valid step"),
    ("output_resolution:=retina", "not one of camera, network"),
])
def test_a_node_that_cannot_start_says_why_and_exits_1(env, model, tmp_path, override,
                                                      message):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    node = NodeProcess(["-p", f"model:={model}", "-p", override.replace("BROKEN", str(broken))],
                       env, tmp_path / "node.log")
    status = node.proc.wait(timeout=60)
    node.stop()
    log = node.log()
    assert status == 1, log
    assert "cannot start" in log and message in log and "Traceback" not in log, log


# -- node C: overrides at start (input size, palette, no camera_info), a failing inference ----

PALETTE = ((250, 250, 0), (0, 250, 250), (250, 0, 250), (90, 90, 90))  # dark, red, green, blue


def failing_model(path: Path) -> Path:
    """The fixture model with a trap: ONNX Runtime fails on any pixel above 200 (a Gather out
    of bounds), so a bright frame fails inference after a normal start (warm-up is all zeros)."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(make_model_file(path)))
    graph = model.graph
    first = graph.node[0]
    assert (first.op_type, first.output[0]) == ("Cast", "pixels")
    first.output[0] = "raw_pixels"
    graph.initializer.append(numpy_helper.from_array(np.zeros(201, np.float32), "trap_table"))
    trap = [helper.make_node("Cast", ["image"], ["trap_index"], to=onnx.TensorProto.INT64),
            helper.make_node("Gather", ["trap_table", "trap_index"], ["trap"]),
            helper.make_node("Add", ["raw_pixels", "trap"], ["pixels"])]
    for offset, node in enumerate(trap, start=1):
        graph.node.insert(offset, node)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def test_start_overrides_and_a_failing_inference(env, probe, tmp_path):
    """input_width/input_height, palette and use_camera_info:=false at start; then a frame
    whose inference fails is counted in diagnostics (ERROR) and the node goes on."""
    palette = write_palette(tmp_path / "four.yaml", PALETTE)
    model = failing_model(tmp_path / "trap.onnx")
    # ONNX Runtime: its Gather fails on an out-of-range index (OpenVINO's clamps it)
    node = NodeProcess(["-p", f"model:={model}", "-p", "engine:=onnxruntime",
                        "-p", "input_width:=24",
                        "-p", "input_height:=16", "-p", "output_resolution:=network",
                        "-p", f"palette:={palette}", "-p", "use_camera_info:=false",
                        "-r", "__ns:=/c_cam", "-r", "image:=/cam/image_raw",
                        "-r", "camera_info:=/cam/camera_info"], env, tmp_path / "node.log")
    try:
        node.wait_ready()
        c = Probe(int(env["ROS_DOMAIN_ID"]), namespace="/c_cam")
        try:
            for key in ("labels", "color"):
                c.listen(key, Image)
                c.wait_subscribed(key)
            c.listen("camera_info", CameraInfo)
            c.wait_camera_matched(c.image_pub)
            assert not c.node_subscriptions("/cam/camera_info")  # use_camera_info:=false
            c.info_pub.publish(CameraInfo(width=W, height=H, k=K_FULL, p=P_FULL))
            dark = np.full((H, W, 3), 10, np.uint8)                # all pixels <= 200
            stamp = next_stamp()
            c.publish_image(dark, "rgb8", stamp)
            labels, color = c.frame("labels", stamp), c.frame("color", stamp)
            assert (labels.height, labels.width) == (16, 24)        # the override, not 32x48
            assert np.all(decoded(labels) == 0)
            assert np.all(decoded(color) == PALETTE[0])             # the palette parameter
            # The node counts a frame published after its last publish call (camera_info
            # would come before): once diagnostics count it, nothing more is on its way.
            c.fresh_diagnostics(lambda d: int(d["frames published"]) >= 1)
            assert c.messages("camera_info") == []

            before = c.fresh_diagnostics(lambda d: True)
            c.publish_image(blocks_frame(H, W), "rgb8", next_stamp())  # 230s: trap fires
            failed = c.fresh_diagnostics(
                lambda d: int(d["frames failed"]) > int(before["frames failed"]))
            assert int(failed["frames failed"]) == int(before["frames failed"]) + 1
            assert failed["level"] == "2" and "failed in segmentation" in failed["message"]
            assert "segmentation failed" in node.log()
            stamp = next_stamp()
            c.publish_image(dark, "rgb8", stamp)                   # and it goes on
            assert c.frame("labels", stamp).width == 24
            assert node.proc.poll() is None
        finally:
            c.close()
    finally:
        status = node.stop(signal.SIGTERM)
    assert status == 0 and "Traceback" not in node.log(), node.log()


def test_the_default_model_runs_end_to_end(env, probe, tmp_path, shipped_segmenter):
    """model left empty (the launch files' and config's default): the shipped model, whose
    labels of a sample frame agree with the same model run here."""
    node = NodeProcess(["-r", "__ns:=/default_cam", "-r", "image:=/cam/image_raw",
                        "-p", "use_camera_info:=false"], env, tmp_path / "node.log")
    try:
        node.wait_ready(timeout=60)
        assert SHIPPED.name in node.log()
        d = Probe(int(env["ROS_DOMAIN_ID"]), namespace="/default_cam")
        try:
            d.listen("labels", Image)
            d.wait_subscribed("labels")
            d.wait_camera_matched(d.image_pub)
            rgb = cv2.cvtColor(cv2.imread(str(sample_frames()[0])), cv2.COLOR_BGR2RGB)
            stamp = next_stamp()
            d.publish_image(rgb, "bgr8", stamp)
            labels = d.frame("labels", stamp, timeout=30)
            names = d.get_parameter("/default_cam/enet_segment", "class_names")
            assert names == list(open_model_file(SHIPPED).metadata.class_names)
            assert (labels.height, labels.width) == rgb.shape[:2]
            expected = shipped_segmenter.segment(rgb, color=False, overlay=False).labels
            assert len(np.unique(expected)) >= 4  # a street scene, not one class
            assert np.mean(decoded(labels) == expected) >= 0.99
        finally:
            d.close()
    finally:
        status = node.stop(signal.SIGTERM)
    assert status == 0 and "Traceback" not in node.log(), node.log()


def test_without_message_info_frames_flow_and_losses_are_unavailable(env, model, probe,
                                                                      monkeypatch):
    """Humble's rclpy has no message info: the node, told so by its feature check, subscribes
    with a one-argument callback and reports lost frames as unavailable. Run in this process
    (Jazzy's rclpy, the check's answer replaced) so the callback type can be read back."""
    import threading

    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.subscription import Subscription

    from enet_ros.ros import node as node_module

    monkeypatch.setattr(node_module, "MESSAGE_INFO", False)
    # The default context, as segment_node's main uses it; the probes have their own.
    rclpy.init(args=["--ros-args", "-p", f"model:={model}", "-r", "__ns:=/humble_cam",
                     "-r", "image:=/cam/image_raw", "-p", "use_camera_info:=false"],
               domain_id=int(env["ROS_DOMAIN_ID"]))
    segment = node_module.SegmentNode()
    executor = SingleThreadedExecutor()
    try:
        segment.start()
        executor.add_node(segment)
        (sub,) = [s for s in segment.subscriptions if s.topic_name == "/cam/image_raw"]
        assert sub._callback_type == Subscription.CallbackType.MessageOnly
        spinner = threading.Thread(target=executor.spin, daemon=True)
        spinner.start()
        h = Probe(int(env["ROS_DOMAIN_ID"]), namespace="/humble_cam")
        try:
            h.listen("labels", Image)
            h.wait_subscribed("labels")
            h.wait_camera_matched(h.image_pub)
            stamp = next_stamp()
            h.publish_image(blocks_frame(H, W), "rgb8", stamp)
            assert h.frame("labels", stamp).width == W
            diag = h.fresh_diagnostics(lambda d: d["name"].startswith("/humble_cam/"))
            assert diag["frames lost before delivery"].startswith("n/a")
        finally:
            h.close()
    finally:
        segment.close()
        executor.shutdown(timeout_sec=1.0)
        segment.destroy_node()
        rclpy.try_shutdown()


# -- node D: OpenVINO; the node as a neighbour on a small CPU ------------------------------

def test_openvino_engine_in_the_node(env, model, reference, tmp_path):
    pytest.importorskip("openvino")
    node = NodeProcess(["-p", f"model:={model}", "-p", "engine:=openvino",
                        "-p", "precision:=fp32", "-r", "__ns:=/ov_cam",
                        "-r", "image:=/cam/image_raw"], env, tmp_path / "node.log")
    try:
        node.wait_ready()
        ov_probe = Probe(int(env["ROS_DOMAIN_ID"]), namespace="/ov_cam")
        try:
            ov_probe.listen("labels", Image)
            ov_probe.wait_subscribed("labels")
            ov_probe.wait_camera_matched(ov_probe.image_pub)
            rgb = blocks_frame(H, W, seed=11)
            stamp = next_stamp()
            ov_probe.publish_image(rgb, "rgb8", stamp)
            labels = decoded(ov_probe.frame("labels", stamp))
            expected = reference["camera"].segment(rgb).labels
            assert len(np.unique(expected)) == 4
            assert np.mean(labels == expected) >= 0.999
            diag = ov_probe.fresh_diagnostics(lambda d: d["name"].startswith("/ov_cam/")
                                              and int(d["frames published"]) >= 1)
            assert (diag["engine"], diag["providers"], diag["precision"]) == \
                ("openvino", "CPU", "fp32")
        finally:
            ov_probe.close()
    finally:
        status = node.stop(signal.SIGINT)
    log = node.log()
    assert status == 0 and "Traceback" not in log, log
    # the node's defaults: all CPUs but one, threads not pinned (spin_threads false)
    assert f"in fp32, {params.inference_threads(0)} threads, pinned False" in log, log


SHIPPED = ROOT / "models" / "enet_camvid.onnx"


def frames_through(env: dict[str, str], log: Path, namespace: str, ros_args: list[str],
                   command: list[str] | None = None) -> tuple[int, dict[str, str] | None]:
    """Start a node, send it 30 640x360 bgr8 frames at 10 Hz from this process (a separate
    subscriber): (frames whose enet/labels came back, the node's last diagnostics). Waits
    until segment_node's diagnostics account for every frame and its published labels are
    in (a relay node, which reports nothing, gets 3 s to deliver all 30)."""
    node = NodeProcess([*ros_args, "-r", f"__ns:={namespace}", "-r", "image:=/rate/image_raw"],
                       env, log, command)
    try:
        node.wait_ready(timeout=60)
        probe = Probe(int(env["ROS_DOMAIN_ID"]), namespace=namespace)
        try:
            camera = probe.node.create_publisher(Image, "/rate/image_raw", 5)
            probe.listen("labels", Image)
            probe.wait_subscribed("labels")
            probe.wait_camera_matched(camera)
            frame = np.random.default_rng(0).integers(0, 256, (360, 640, 3), np.uint8)
            stamps = []
            tick = time.monotonic()
            for _ in range(30):
                stamps.append(next_stamp())
                camera.publish(raw_image(frame, "bgr8", stamps[-1]))
                tick += 0.1
                time.sleep(max(0.0, tick - time.monotonic()))

            def got() -> set[tuple[int, int]]:
                return {(m.header.stamp.sec, m.header.stamp.nanosec)
                        for m in probe.messages("labels")} & set(stamps)

            expected = 30
            if command is None:
                diag = probe.wait_until(lambda: accounted(probe.diagnostics(), 30), 20.0)
                expected = int(diag["frames published"]) if diag else 30
            probe.wait_until(lambda: len(got()) >= expected, 3.0)
            return len(got()), probe.diagnostics()
        finally:
            probe.close()
    finally:
        node.stop(signal.SIGINT)


def accounted(diag: dict[str, str] | None, sent: int) -> dict[str, str] | None:
    """diag, once it accounts for all ``sent`` frames: each lost before delivery or received,
    and each received one published, dropped, rejected, skipped or failed (none in hand)."""
    if diag is None:
        return None
    received = int(diag["frames received"])
    handled = sum(int(diag[k]) for k in ("frames published", "frames dropped",
                                         "frames rejected", "frames skipped (no subscribers)",
                                         "frames failed"))
    done = received + int(diag["frames lost before delivery"]) == sent and handled == received
    return diag if done else None


@pytest.fixture(scope="module")
def shipped_segmenter():
    """The shipped model in this process, with the engine settings of the node's defaults
    (engine and precision auto, all CPUs but one, threads that do not spin)."""
    if not SHIPPED.is_file():
        pytest.skip("no shipped model in this checkout")
    model = open_model_file(SHIPPED)
    engine = open_engine("auto", model, threads=params.inference_threads(0), spin=False)
    yield Segmenter(engine, load_palette(None, model.metadata))
    engine.close()


def test_a_separate_subscriber_gets_every_frame_at_10_hz(env, tmp_path, shipped_segmenter):
    """The shipped model with the node's defaults (engine auto, threads that leave a core and
    do not spin, camera_reliability auto, which turns reliable for this reliable camera
    publisher): the labels of >= 29 of 30 frames reach a separate subscriber in
    benchmarks/node_speed.py; this test allows 27. A relay node with the same topics, a
    reliable subscription and no inference runs first: when even it loses frames, the machine
    is too busy to judge. Before both, the engine is timed here as the node runs it: a machine
    that cannot segment a frame well within 100 ms cannot pass, whatever the node does."""
    frame = np.random.default_rng(0).integers(0, 256, (360, 640, 3), np.uint8)
    shipped_segmenter.segment(frame, color=False, overlay=False)  # warm-up
    seconds = []
    for _ in range(7):
        start = time.perf_counter()
        shipped_segmenter.segment(frame, color=False, overlay=False)
        seconds.append(time.perf_counter() - start)
    median_ms = float(np.median(seconds)) * 1e3
    if median_ms > 70:
        pytest.skip(f"this machine segments a 640x360 frame in {median_ms:.0f} ms (median of "
                    f"7, {shipped_segmenter.engine.name} as the node runs it): too slow for "
                    f"10 Hz with the margin DDS and encoding need")
    relay, _ = frames_through(env, tmp_path / "relay.log", "/relay_cam",
                              ["-p", "reliability:=reliable"],
                              [sys.executable, str(ROOT / "benchmarks" / "relay_node.py")])
    received, diag = frames_through(env, tmp_path / "node.log", "/rate_cam",
                                    ["-p", f"model:={SHIPPED}"])
    print(f"labels of {received}/30 frames at 10 Hz through segment_node ({diag}); "
          f"{relay}/30 through a relay node")
    if relay < 29:
        pytest.skip(f"machine too busy to judge: a relay node with no inference passed only "
                    f"{relay}/30 frames (segment_node {received}/30)")
    assert received >= 27, (received, diag)
