"""Running segment_node for real in tests: the process, and a probe node that talks to it.

The node runs as its installed executable (``segment_node`` next to ``sys.executable``, as
``pip install .[test]`` puts it; ``python -m enet_ros.ros.segment_node`` from a bare source checkout)
with ``--ros-args``, over Fast DDS on loopback with a random domain, so parallel test runs and
other engineers' nodes never see each other. The probe is an ordinary rclpy node in the test
process, spun by an executor thread: it publishes camera frames and collects what comes back.
"""
from __future__ import annotations

import array
import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Iterator

import cv2
import numpy as np

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rcl_interfaces.msg import Parameter as ParameterMsg
from rcl_interfaces.srv import GetParameters, SetParameters
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from _runtime_fixtures import blocks_frame  # noqa: F401 (the node tests take it from here)

from enet_ros.image_codec import decode_image, encode_image
from enet_ros.ros.demo import _environment


def ros_env(log_dir: Path) -> dict[str, str]:
    """Environment for a node and the probe: loopback discovery, a random private domain."""
    return {**os.environ, "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
            "ROS_DOMAIN_ID": str(random.randrange(1, 200)), "ROS_LOG_DIR": str(log_dir),
            "RCUTILS_COLORIZED_OUTPUT": "0", "PYTHONUNBUFFERED": "1"}


@contextlib.contextmanager
def probe_environment(log_dir: Path) -> Iterator[dict[str, str]]:
    """``ros_env(log_dir)`` for the node, with the probe's process environment (rclpy reads
    os.environ at init) set to the same discovery range and log folder meanwhile."""
    env = ros_env(log_dir)
    with _environment({k: env[k] for k in ("ROS_AUTOMATIC_DISCOVERY_RANGE", "ROS_LOG_DIR")}):
        yield env


def node_command() -> list[str]:
    """The installed segment_node, or the module when the package is not installed."""
    installed = Path(sys.executable).parent / "segment_node"
    if installed.is_file():
        return [str(installed)]
    found = shutil.which("segment_node")
    return [found] if found else [sys.executable, "-m", "enet_ros.ros.segment_node"]


class NodeProcess:
    """segment_node as a child process, its output in a file for the assertions to read."""

    def __init__(self, ros_args: list[str], env: dict[str, str], log_path: Path,
                 command: list[str] | None = None) -> None:
        """command: another node executable to run instead (it must log "segmenting ")."""
        self.log_path = log_path
        self._log = log_path.open("w")
        self.proc = subprocess.Popen([*(command or node_command()), "--ros-args", *ros_args],
                                     env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Block until the node logs that it is segmenting; fail with its log if it died."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "segmenting " in self.log():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"segment_node exited with {self.proc.returncode}:\n"
                                     f"{self.log()}")
            time.sleep(0.05)
        raise AssertionError(f"segment_node not ready after {timeout} s:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Send ``sig`` and return the exit status (killing it if it does not stop)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"segment_node ignored signal {sig}:\n{self.log()}")
        self._log.close()
        return self.proc.returncode


class Probe:
    """A test-side rclpy node on its own context: publishes frames, records every output."""

    def __init__(self, domain_id: int, namespace: str = "", camera: str = "/cam") -> None:
        """namespace: the node under test's; camera: where the frames go (camera/image_raw,
        camera/image_raw/compressed, camera/camera_info)."""
        self.context = Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node = Node("enet_probe", context=self.context)
        self.namespace = namespace.rstrip("/")
        self.received: dict[str, list[Any]] = defaultdict(list)
        self._lock = threading.Lock()
        self._subs: dict[str, Any] = {}
        qos = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
        self.image_pub = self.node.create_publisher(Image, f"{camera}/image_raw", qos)
        self.compressed_pub = self.node.create_publisher(
            CompressedImage, f"{camera}/image_raw/compressed", qos)
        self.info_pub = self.node.create_publisher(CameraInfo, f"{camera}/camera_info", qos)
        self.listen("diagnostics", DiagnosticArray, "/diagnostics")
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._spinner = threading.Thread(target=self._spin, daemon=True)
        self._spinner.start()

    def _spin(self) -> None:
        try:
            self.executor.spin()
        except Exception:  # the context was shut down under the executor: the probe is done
            pass

    def topic(self, relative: str) -> str:
        return f"{self.namespace}/{relative}"

    def listen(self, key: str, msg_type: type, topic: str | None = None) -> None:
        """Record every message on ``topic`` (default: the node's enet/<key>) under ``key``."""
        topic = topic or self.topic(f"enet/{key}")

        def record(msg: Any) -> None:
            with self._lock:
                self.received[key].append((time.monotonic(), msg))

        qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        self._subs[key] = self.node.create_subscription(msg_type, topic, record, qos)

    def unlisten(self, key: str) -> None:
        self.node.destroy_subscription(self._subs.pop(key))

    def messages(self, key: str) -> list[Any]:
        with self._lock:
            return [msg for _, msg in self.received[key]]

    def arrivals(self, key: str) -> list[tuple[float, Any]]:
        with self._lock:
            return list(self.received[key])

    def wait_until(self, condition: Callable[[], Any], timeout: float) -> Any:
        """condition's first truthy result within ``timeout`` seconds, else its last one: for
        waits whose outcome the caller judges (frames that may be lost are then counted)."""
        deadline = time.monotonic() + timeout
        while True:
            result = condition()
            if result or time.monotonic() >= deadline:
                return result
            time.sleep(0.02)

    def wait_for(self, condition: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
        result = self.wait_until(condition, timeout)
        if not result:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
        return result

    def wait_matched(self, publisher: Any, timeout: float = 10.0) -> None:
        self.wait_for(lambda: publisher.get_subscription_count() > 0, timeout,
                      f"a subscriber on {publisher.topic_name}")

    def wait_camera_matched(self, publisher: Any, timeout: float = 10.0) -> None:
        """Until the node under test (the one in our namespace) subscribes reliable to the
        camera ``publisher`` and the publisher is matched with every subscription discovery
        shows: segment_node's camera_reliability auto subscribes best effort until it sees a
        camera, then re-subscribes reliable within a second, and a frame sent in between may
        be lost. Another node's reliable subscription on the same topic (a module's shared
        node) must not stand in for it, hence the namespace and the full match."""
        def settled() -> bool:
            ours = self.node_subscriptions(publisher.topic_name)
            everyone = self.node.get_subscriptions_info_by_topic(publisher.topic_name)
            return (len(ours) == 1
                    and ours[0].qos_profile.reliability == ReliabilityPolicy.RELIABLE
                    and publisher.get_subscription_count() == len(everyone))
        self.wait_for(settled, timeout, f"the {self.namespace or '/'} node's reliable "
                                        f"subscription on {publisher.topic_name}, matched")

    def node_subscriptions(self, topic: str) -> list[Any]:
        """Discovery's subscriptions on ``topic`` by the node under test (our namespace)."""
        return [s for s in self.node.get_subscriptions_info_by_topic(topic)
                if s.node_namespace == (self.namespace or "/")]

    def wait_subscribed(self, key: str, timeout: float = 10.0) -> None:
        """Until the node's enet/<key> publisher sees our subscription (both sides matched)."""
        self.wait_for(lambda: self._subs[key].get_publisher_count() > 0, timeout,
                      f"a publisher of enet/{key}")

    def frame(self, key: str, stamp: tuple[int, int], timeout: float = 10.0) -> Any:
        """The message under ``key`` whose header stamp is ``stamp`` (sec, nanosec)."""
        def find() -> Any:
            return next((m for m in self.messages(key)
                         if (m.header.stamp.sec, m.header.stamp.nanosec) == stamp), None)
        return self.wait_for(find, timeout, f"enet/{key} with stamp {stamp}")

    def send_until(self, send: Callable[[], None], stamp: tuple[int, int],
                   keys: tuple[str, ...], timeout: float = 20.0) -> list[Any]:
        """``send()`` a frame stamped ``stamp`` again each second until it has come back on
        every enet/<key>; those messages. For a node just started: each of its publishers
        matches a new subscription a moment after the subscription matches it (discovery is
        two-sided), and sends nothing to it before (nor computes an output nobody takes)."""
        deadline = time.monotonic() + timeout
        while True:
            send()
            try:
                return [self.frame(key, stamp, timeout=1.0) for key in keys]
            except AssertionError:
                if time.monotonic() > deadline:
                    raise

    def diagnostics(self) -> dict[str, str] | None:
        """Key/values of the newest segmentation status from the node in our namespace, or
        None: other tests' nodes on the same domain publish on /diagnostics too."""
        for msg in reversed(self.messages("diagnostics")):
            for status in msg.status:
                if status.name.startswith(f"{self.namespace}/enet_segment:"):
                    return {"level": str(status.level[0]), "message": status.message,
                            "name": status.name, "hardware_id": status.hardware_id,
                            **{kv.key: kv.value for kv in status.values}}
        return None

    def fresh_diagnostics(self, condition: Callable[[dict[str, str]], bool],
                          timeout: float = 8.0) -> dict[str, str]:
        """The first status (from now on) for which ``condition`` holds."""
        start = len(self.messages("diagnostics"))

        def check() -> dict[str, str] | None:
            if len(self.messages("diagnostics")) <= start:
                return None
            latest = self.diagnostics()
            return latest if latest and condition(latest) else None
        return self.wait_for(check, timeout, "diagnostics meeting the condition")

    def publish_image(self, rgb: np.ndarray, encoding: str, stamp: tuple[int, int],
                      frame_id: str = "camera_optical") -> None:
        msg = raw_image(rgb, encoding, stamp, frame_id)
        self.image_pub.publish(msg)

    def publish_compressed(self, data: bytes, fmt: str, stamp: tuple[int, int],
                           frame_id: str = "camera_optical") -> None:
        msg = CompressedImage(format=fmt, data=data)
        msg.header.stamp.sec, msg.header.stamp.nanosec = stamp
        msg.header.frame_id = frame_id
        self.compressed_pub.publish(msg)

    def call(self, srv_type: type, service: str, request: Any, timeout: float = 10.0) -> Any:
        client = self.node.create_client(srv_type, service)
        try:
            if not client.wait_for_service(timeout_sec=timeout):
                raise AssertionError(f"service {service} not available")
            future = client.call_async(request)
            self.wait_for(future.done, timeout, f"a reply from {service}")
            return future.result()
        finally:
            self.node.destroy_client(client)

    def set_parameter(self, node_name: str, name: str, value: Any) -> Any:
        """SetParameters on the node; the SetParametersResult for this one parameter."""
        request = SetParameters.Request(
            parameters=[Parameter(name, value=value).to_parameter_msg()])
        return self.call(SetParameters, f"{node_name}/set_parameters", request).results[0]

    def get_parameter(self, node_name: str, name: str) -> Any:
        request = GetParameters.Request(names=[name])
        value = self.call(GetParameters, f"{node_name}/get_parameters", request).values[0]
        return Parameter.from_parameter_msg(ParameterMsg(name=name, value=value)).value

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)
        self._spinner.join(timeout=5.0)


def raw_image(rgb: np.ndarray, encoding: str, stamp: tuple[int, int],
              frame_id: str = "camera_optical") -> Image:
    """An Image message of an RGB array in ``encoding`` (rgb8, bgr8, mono8, ...)."""
    if encoding == "mono8":
        rgb = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    step, data = encode_image(rgb, encoding)
    msg = Image(height=rgb.shape[0], width=rgb.shape[1], encoding=encoding, step=step,
                is_bigendian=0)
    msg.data = array.array("B", data)
    msg.header.stamp.sec, msg.header.stamp.nanosec = stamp
    msg.header.frame_id = frame_id
    return msg


def decoded(msg: Image) -> np.ndarray:
    """An output image as RGB (labels as HxW)."""
    if msg.encoding == "mono8":
        return np.frombuffer(msg.data, np.uint8).reshape(msg.height, msg.step)[:, :msg.width]
    return decode_image(msg.encoding, msg.height, msg.width, msg.step, msg.is_bigendian,
                        msg.data)


def write_palette(path: Path, colours: tuple[tuple[int, int, int], ...]) -> Path:
    """A palette file for the fixture model's four classes (dark, red, green, blue)."""
    path.write_text("name: four\nclasses:\n" + "".join(
        f"  - {{name: {n}, color: [{r}, {g}, {b}]}}\n"
        for n, (r, g, b) in zip(("dark", "red", "green", "blue"), colours)))
    return path
