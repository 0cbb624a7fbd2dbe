"""`enet-ros demo`: segment_node running for real, fed like a camera, watched like rviz.

Starts segment_node as its own process (the same executable a launch file starts), publishes
frames on /camera/image_raw with real headers (stamped when sent) at a steady rate, subscribes
to /enet/labels and /enet/overlay, and writes what comes back: the overlays as a VP8 WebM
video (browsers and phones play it) and a contact sheet PNG of a few frames (camera | labels
painted with the model's palette | the node's overlay), so anyone can see that the overlay is
the labels. It then reports frames sent and received, the output rate and the latency from
stamp to overlay received.

This is the second module that imports rclpy (DESIGN.md keeps rclpy to ros/node.py): the demo
must be a real ROS 2 participant to show the node working. The command line imports it only
for `demo`, so every other command runs without rclpy; what needs no ROS 2 (the contact
sheet) is in enet_ros/demo_sheet.py and tested without it.

Both processes use loopback discovery (ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST), the domain in
ROS_DOMAIN_ID or else a random one, so the demo's camera never reaches a robot's network, and
Fast DDS with the shipped large shared-memory profile unless one is set.
"""
import array
import functools
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from enet_ros.demo_sheet import DemoError, SheetRow, contact_sheet
from enet_ros.depth_pairing import stamp_ns
from enet_ros.image_codec import decode_image, encode_image
from enet_ros.palette import Palette
from enet_ros.shipped import shipped_path
from enet_ros.video import WEB_VIDEO_SUFFIX, VideoError, open_web_writer

CAMERA_TOPIC = "/camera/image_raw"
LABELS_TOPIC = "/enet/labels"
OVERLAY_TOPIC = "/enet/overlay"
MASK_TOPIC = "/enet/mask"
CONFIDENCE_TOPIC = "/enet/confidence"
SHEET_ROWS = 5
STARTUP_TIMEOUT_S = 120.0     # loading and warming up a model on a slow CPU
DRAIN_TIMEOUT_S = 5.0         # after the last frame: how long to wait for the outputs
VIDEO_NAME, SHEET_NAME, LOG_NAME = f"overlay{WEB_VIDEO_SUFFIX}", "contact_sheet.png", "segment_node.log"


@dataclass
class DemoResult:
    """What happened: counts, the output rate, latencies, and the files written."""

    sent: int
    labels: int
    overlays: int
    publish_seconds: float
    output_rate_hz: float
    latencies_ms: "list[float]"
    rows: "list[SheetRow]"
    video: Path
    sheet: Path
    node_log: Path
    node_status: int

    def summary(self) -> str:
        """Two lines for the terminal."""
        lat = np.asarray(self.latencies_ms) if self.latencies_ms else np.full(1, np.nan)
        return (f"sent {self.sent} frames in {self.publish_seconds:.1f} s "
                f"({self.sent / max(self.publish_seconds, 1e-9):.1f} Hz); received "
                f"{self.labels} labels and {self.overlays} overlays ({self.output_rate_hz:.1f} Hz)"
                f"\nlatency, stamp to overlay received: median {np.median(lat):.0f} ms, "
                f"p90 {np.percentile(lat, 90):.0f} ms")


def _labels(msg: Image) -> np.ndarray:
    """Class ids of a mono8 labels message (rows may be padded to ``step``)."""
    rows = np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.step)
    return rows[:, :msg.width].copy()


def _rgb(msg: Image) -> np.ndarray:
    return decode_image(msg.encoding, msg.height, msg.width, msg.step, bool(msg.is_bigendian),
                        bytes(msg.data))


class _Collector:
    """Receives the node's outputs (executor thread): counts, latency, video, contact sheet.

    The sheet shows up to SHEET_ROWS different source frames spread over the input. Each source
    frame gets a rank when first sent; rows are kept for ranks divisible by a stride that
    doubles whenever more than twice SHEET_ROWS are kept, so memory stays bounded for a long
    video while five looped samples all make it (a frame the node dropped on one loop is
    caught on the next).
    """

    def __init__(self, fps: float, video_path: Path, parts: "tuple[str, ...]") -> None:
        self.lock = threading.Lock()
        self.parts = parts  # what a sheet row needs: labels, overlay, and mask, confidence
        self.fps = fps
        self.video_path = video_path
        self.video: "cv2.VideoWriter | None" = None
        self.video_size: "tuple[int, int] | None" = None
        self.labels = 0
        self.overlays = 0
        self.arrivals: "list[float]" = []
        self.latencies_ms: "list[float]" = []
        self.ranks: "dict[object, int]" = {}
        self.stride = 1
        self.kept: "dict[int, SheetRow]" = {}
        # stamp -> (rank, RGB) of sent frames that may join the sheet, and their outputs so
        # far; both bounded, since the node may drop frames.
        self.candidates: "OrderedDict[int, tuple[int, np.ndarray]]" = OrderedDict()
        self.partial: "dict[int, dict[str, np.ndarray]]" = {}

    def _wanted(self, rank: int) -> bool:
        return rank % self.stride == 0 and rank not in self.kept

    def sent(self, stamp: int, key: object, rgb: np.ndarray) -> None:
        """Note a published frame; keep its pixels if it may join the sheet."""
        with self.lock:
            rank = self.ranks.setdefault(key, len(self.ranks))
            if not self._wanted(rank):
                return
            self.candidates[stamp] = (rank, rgb)
            while len(self.candidates) > 64:
                old, _ = self.candidates.popitem(last=False)
                self.partial.pop(old, None)

    def rows(self) -> "list[SheetRow]":
        """SHEET_ROWS of the kept rows, evenly spread, in input order."""
        with self.lock:
            ranks = sorted(self.kept)
        if len(ranks) > SHEET_ROWS:
            ranks = [ranks[round(i * (len(ranks) - 1) / (SHEET_ROWS - 1))]
                     for i in range(SHEET_ROWS)]
        return [self.kept[rank] for rank in ranks]

    def open_video(self, width: int, height: int) -> None:
        """The WebM at the camera's size (overlays of another size are resized into it)."""
        self.video_size = (width, height)
        try:
            self.video = open_web_writer(self.video_path, self.fps, self.video_size)
        except VideoError as err:
            raise DemoError(str(err)) from None

    def on_labels(self, msg: Image) -> None:
        stamp = stamp_ns(msg.header)
        with self.lock:
            self.labels += 1
            if stamp in self.candidates:
                self._part(stamp, "labels", _labels(msg))

    def on_overlay(self, msg: Image) -> None:
        received = time.time_ns()
        stamp = stamp_ns(msg.header)
        overlay = _rgb(msg)
        with self.lock:
            self.overlays += 1
            self.arrivals.append(received * 1e-9)
            self.latencies_ms.append((received - stamp) * 1e-6)
            self._write_video(overlay)
            if stamp in self.candidates:
                self._part(stamp, "overlay", overlay)

    def on_grey(self, name: str, msg: Image) -> None:
        """enet/mask or enet/confidence: mono8, one byte a pixel like the labels."""
        stamp = stamp_ns(msg.header)
        with self.lock:
            if stamp in self.candidates:
                self._part(stamp, name, _labels(msg))

    def _part(self, stamp: int, name: str, pixels: np.ndarray) -> None:
        parts = self.partial.setdefault(stamp, {})
        parts[name] = pixels
        if len(parts) < len(self.parts):
            return
        rank, camera = self.candidates.pop(stamp)
        del self.partial[stamp]
        if not self._wanted(rank):
            return
        self.kept[rank] = SheetRow(stamp, camera, parts["labels"], parts["overlay"],
                                   parts.get("mask"), parts.get("confidence"))
        if len(self.kept) > 2 * SHEET_ROWS:
            self.stride *= 2
            self.kept = {r: row for r, row in self.kept.items() if r % self.stride == 0}

    def _write_video(self, overlay: np.ndarray) -> None:
        if self.video is None:  # outputs of a frame sent before open_video: none are
            return
        if (overlay.shape[1], overlay.shape[0]) != self.video_size:
            overlay = cv2.resize(overlay, self.video_size, interpolation=cv2.INTER_AREA)
        self.video.write(cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        with self.lock:
            if self.video is not None:
                self.video.release()

    def output_rate(self) -> float:
        with self.lock:
            if len(self.arrivals) < 2:
                return 0.0
            return (len(self.arrivals) - 1) / (self.arrivals[-1] - self.arrivals[0])


def demo_environment(environ: "Mapping[str, str]") -> "dict[str, str]":
    """The ROS settings both processes share (module docstring); the user's own kept."""
    settings = {"ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
                "ROS_DOMAIN_ID": str(random.randrange(1, 200))}
    try:
        settings["FASTRTPS_DEFAULT_PROFILES_FILE"] = str(
            shipped_path("config/fastdds_large_images.xml"))
    except FileNotFoundError:
        pass  # Fast DDS's defaults still work, with camera frames over UDP loopback
    return {key: value for key, value in settings.items() if not environ.get(key)}


@contextmanager
def _environment(updates: "dict[str, str]") -> "Iterator[None]":
    """os.environ with ``updates`` (rcl and Fast DDS read it at init), restored afterwards."""
    saved = {key: os.environ.get(key) for key in updates}
    os.environ.update(updates)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _looped(frames: "Callable[[], Iterable[tuple[object, np.ndarray]]]", count: int
            ) -> "Iterator[tuple[object, np.ndarray]]":
    """``count`` (key, RGB) frames, starting ``frames()`` over whenever it runs out."""
    sent = 0
    while sent < count:
        before = sent
        for item in frames():
            yield item
            sent += 1
            if sent == count:
                return
        if sent == before:
            raise DemoError("the input holds no readable frame")


def _camera_message(rgb: np.ndarray, stamp: int, frame_id: str = "camera") -> Image:
    step, data = encode_image(rgb, "rgb8")
    msg = Image(height=rgb.shape[0], width=rgb.shape[1], encoding="rgb8", is_bigendian=0,
                step=step)
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp, 10**9)
    msg.header.frame_id = frame_id
    msg.data = array.array("B", data)
    return msg


def _start_node(model: Path, log_path: Path, env: "dict[str, str]",
                mask_classes: "tuple[str, ...]") -> subprocess.Popen:
    command = [sys.executable, "-m", "enet_ros.ros.node", "--ros-args",
               "-p", f"model:={model}", "-p", "use_camera_info:=false",
               "-r", f"image:={CAMERA_TOPIC}"]
    if mask_classes:
        command += ["-p", f"mask_classes:={','.join(mask_classes)}"]
    with log_path.open("w") as log:
        return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)


def _wait_until(condition: "Callable[[], bool]", node: subprocess.Popen, log_path: Path,
                timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if node.poll() is not None:
            lines = log_path.read_text(errors="replace").strip().splitlines()
            raise DemoError(f"segment_node exited with status {node.returncode}: "
                            f"{lines[-1] if lines else 'no output'} (log: {log_path})")
        if time.monotonic() > deadline:
            raise DemoError(f"{what} after {timeout:.0f} s (log: {log_path})")
        time.sleep(0.05)


def _stop(node: subprocess.Popen) -> int:
    """Ctrl-C, as a person would; killed if it does not stop."""
    if node.poll() is None:
        node.send_signal(signal.SIGINT)
        try:
            node.wait(timeout=15)
        except subprocess.TimeoutExpired:
            node.kill()
            node.wait()
    return node.returncode


def run_demo(frames: "Callable[[], Iterable[tuple[object, np.ndarray]]]", model: Path,
             palette: Palette, out: Path, seconds: float, rate: float,
             mask_classes: "tuple[str, ...]" = (), confidence: bool = False) -> DemoResult:
    """Play ``frames()`` ((source key, RGB) pairs, looped as needed) to a fresh segment_node
    for ``seconds`` at ``rate`` Hz, and write out/overlay.webm and out/contact_sheet.png; the
    sheet shows enet/mask of ``mask_classes`` and enet/confidence where asked for."""
    if seconds <= 0 or rate <= 0:
        raise DemoError(f"--seconds and --rate must be positive, got {seconds} and {rate}")
    planned = max(1, round(seconds * rate))
    out.mkdir(parents=True, exist_ok=True)
    outputs = [(LABELS_TOPIC, "labels"), (OVERLAY_TOPIC, "overlay")]
    outputs += [(MASK_TOPIC, "mask")] if mask_classes else []
    outputs += [(CONFIDENCE_TOPIC, "confidence")] if confidence else []
    collector = _Collector(rate, out / VIDEO_NAME, tuple(name for _, name in outputs))
    log_path = out / LOG_NAME
    with _environment(demo_environment(os.environ)):
        node = _start_node(model, log_path, dict(os.environ), mask_classes)
        context = Context()
        camera: "Node | None" = None
        executor: "SingleThreadedExecutor | None" = None
        try:
            rclpy.init(context=context)  # ROS_DOMAIN_ID from the environment set above
            camera = Node("enet_demo_camera", context=context)
            qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
            publisher = camera.create_publisher(Image, CAMERA_TOPIC, qos)
            callbacks = {"labels": collector.on_labels, "overlay": collector.on_overlay}
            for topic, name in outputs:
                camera.create_subscription(Image, topic, callbacks.get(
                    name, functools.partial(collector.on_grey, name)), qos)
            executor = SingleThreadedExecutor(context=context)
            executor.add_node(camera)
            threading.Thread(target=executor.spin, daemon=True).start()
            # Reliable both ways: segment_node's camera_reliability auto re-subscribes
            # reliable within a second of seeing this camera; frames sent before may be lost.
            _wait_until(lambda: publisher.get_subscription_count() > 0 and all(
                camera.count_publishers(topic) > 0 for topic, _ in outputs) and all(
                info.qos_profile.reliability == ReliabilityPolicy.RELIABLE
                for info in camera.get_subscriptions_info_by_topic(CAMERA_TOPIC)),
                node, log_path, STARTUP_TIMEOUT_S, "segment_node did not subscribe to the camera")
            sent, began = 0, time.monotonic()
            for index, (key, rgb) in enumerate(_looped(frames, planned)):
                if index == 0:
                    collector.open_video(rgb.shape[1], rgb.shape[0])
                stamp = time.time_ns()
                collector.sent(stamp, key, rgb)
                publisher.publish(_camera_message(rgb, stamp))
                sent += 1
                time.sleep(max(0.0, began + (index + 1) / rate - time.monotonic()))
            publish_seconds = time.monotonic() - began
            drain_end = time.monotonic() + DRAIN_TIMEOUT_S
            while collector.overlays < sent and time.monotonic() < drain_end \
                    and node.poll() is None:
                time.sleep(0.05)
        finally:
            status = _stop(node)
            if executor is not None:
                executor.shutdown(timeout_sec=1.0)
            if camera is not None:
                camera.destroy_node()
            rclpy.try_shutdown(context=context)
            collector.close()
    sheet_path = out / SHEET_NAME
    rows = collector.rows()
    sheet = contact_sheet(rows, palette, ", ".join(mask_classes))
    if not cv2.imwrite(str(sheet_path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
        raise DemoError(f"cannot write {sheet_path}")
    return DemoResult(sent, collector.labels, collector.overlays, publish_seconds,
                      collector.output_rate(), collector.latencies_ms, rows,
                      out / VIDEO_NAME, sheet_path, log_path, status)
