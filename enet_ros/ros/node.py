"""segment_node: ENet semantic segmentation of a camera topic, as a ROS 2 node.

A thin rclpy adapter. Everything that does work lives elsewhere and is tested without ROS:
the parameter table (params.py), the per-frame decode/segment/encode path (pipeline.py), the
newest-frame-wins hand-over (frame_slot.py), the counters and rates (stats.py) and the
camera_info math (camera_info.py). This module moves fields between messages and those.

Two nodes share this code: ``SegmentNode`` starts at once (``start``), and
``LifecycleSegmentNode`` runs the same steps as managed transitions: configure loads the model,
activate subscribes and publishes, deactivate stops, cleanup releases the engine.

Threads: the executor runs the subscription callbacks, the parameter services and the
diagnostics timer; one worker thread runs inference. The image callback only drops the frame
into a one-place slot, so a slow network never makes the node fall behind the camera: the
newest frame replaces one not yet processed, and the replaced frame is counted as dropped.

ROS 2 distributions: only API that Humble, Jazzy and Kilted all have (test/test_ros_distro_api.py
checks every call against each one's released rclpy), or a feature check with a fallback.
Run-time parameter changes are judged by the set-parameters callback Humble already has, and the
worker reads the accepted values from the node, so no post-set callback (Iron and later) is needed.
"""
import array
import sys
import threading
import time
from typing import Any

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                SetParametersResult)
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.expand_topic_name import expand_topic_name
from rclpy.parameter import Parameter
from rclpy.qos import (DurabilityPolicy, QoSPolicyKind, QoSProfile, ReliabilityPolicy,
                       qos_profile_sensor_data)
from rclpy.subscription import Subscription
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2
from std_msgs.msg import Header

from enet_ros import pointcloud
from enet_ros.class_mask import mask_table, parse_mask_classes
from enet_ros.depth_pairing import stamp_ns
from enet_ros.engines import open_engine
from enet_ros.image_codec import ImageCodecError
from enet_ros.model_file import ModelFileError, open_model_file
from enet_ros.palette import PaletteError, load_palette
from enet_ros.ros import camera_info as caminfo
from enet_ros.ros import cloud_msg, dependencies, label_info, params, pipeline
from enet_ros.ros.frame_slot import LatestSlot
from enet_ros.ros.points import PointsOutput, depth_frame
from enet_ros.ros.stats import NodeStats, SequenceGaps
from enet_ros.segmenter import Segmenter

try:  # vision_msgs is not on PyPI, and Foxy's has no LabelInfo: published where it exists
    from vision_msgs.msg import LabelInfo, VisionClass
except ImportError:
    LabelInfo = VisionClass = None
try:  # QoS overrides through qos_overrides.* parameters came with Galactic (not on Foxy)
    from rclpy.qos_overriding_options import QoSOverridingOptions
except ImportError:
    QoSOverridingOptions = None
try:  # rclpy.lifecycle came with Humble; on Foxy only the plain node runs
    from rclpy.lifecycle.node import LifecycleNode, LifecycleState, TransitionCallbackReturn
except ImportError:
    LifecycleNode = None

NODE_NAME = "enet_segment"
IMAGE_OUTPUTS = ("labels", "color", "overlay", "mask", "confidence")
LOG_THROTTLE_S = 5.0
# Iron and later pass rmw's message info (publication sequence numbers, so frames lost before
# delivery can be counted) to a subscription callback that takes two arguments; Humble never does.
MESSAGE_INFO = hasattr(Subscription, "CallbackType")
RELIABILITY_CHECK_S = 1.0


class StartupError(Exception):
    """The node cannot start (no model, bad parameter, engine unavailable); says why."""


def _overridable(*policies: Any) -> "dict[str, Any]":
    """Keywords of create_publisher/create_subscription that let users override the QoS
    ``policies`` (default: rclpy's set) with qos_overrides.* parameters; none on Foxy."""
    if QoSOverridingOptions is None:
        return {}
    options = QoSOverridingOptions(list(policies)) if policies else \
        QoSOverridingOptions.with_default_policies()
    return {"qos_overriding_options": options}


def _descriptor(spec: params.ParamSpec) -> ParameterDescriptor:
    desc = ParameterDescriptor(description=spec.description, read_only=spec.read_only,
                               additional_constraints=spec.constraints)
    if spec.int_range:
        lo, hi, step = spec.int_range
        desc.integer_range = [IntegerRange(from_value=lo, to_value=hi, step=step)]
    if spec.float_range:
        lo, hi = spec.float_range
        desc.floating_point_range = [FloatingPointRange(from_value=lo, to_value=hi, step=0.0)]
    return desc


class SegmentNode(Node):
    """Constructing it cannot fail; ``start`` declares parameters, loads and wires.

    (Split so that every failure of ``start`` happens on a node main can still destroy.)
    """

    def __init__(self, node_name: str = NODE_NAME) -> None:
        super().__init__(node_name)
        self._slot: "LatestSlot[tuple[Header, Any]]" = LatestSlot()
        self._stats = NodeStats(counts_lost=MESSAGE_INFO)
        self._gaps = SequenceGaps()
        self._camera_info: "CameraInfo | None" = None
        self._worker: "threading.Thread | None" = None
        self._engine: Any = None
        self._camera_sub: "Subscription | None" = None
        self._camera_reliability = ""
        self._depth_sub: "Subscription | None" = None
        self._depth_reliability: "str | None" = None
        # What activate made and deactivate destroys: (the node's destroy_* for it, it).
        self._entities: "list[tuple[Any, Any]]" = []
        self._segmenter: "Segmenter | None" = None
        self._mask_table: "np.ndarray | None" = None
        self._class_names: "tuple[str, ...]" = ()
        self._pubs: "dict[str, Any]" = {}

    def _resolved(self, topic: str) -> str:
        """The topic's full name after namespace and remapping. Foxy's rclpy cannot resolve
        remappings: there the name is only expanded in the namespace, so camera_reliability
        auto may find no publisher under it and keeps best effort, which any camera serves."""
        if hasattr(self, "resolve_topic_name"):
            return self.resolve_topic_name(topic)
        return expand_topic_name(topic, self.get_name(), self.get_namespace())

    def _full_name(self) -> str:
        """/namespace/name (get_fully_qualified_name came with Humble)."""
        if hasattr(self, "get_fully_qualified_name"):
            return self.get_fully_qualified_name()
        return f"{self.get_namespace().rstrip('/')}/{self.get_name()}"

    def _value(self, name: str) -> Any:
        """A parameter's current value. The worker reads the run-time ones (overlay_alpha, the
        output switches) here for every frame: a dict lookup, and always the accepted value."""
        return self.get_parameter(name).value

    # -- start-up --------------------------------------------------------------------------

    def start(self) -> None:
        """Declare, load, then subscribe and publish. StartupError on failure."""
        self.declare()
        self.configure()
        self.activate()

    def declare(self) -> None:
        """Declare the parameters (once: a lifecycle node configures again after cleanup)."""
        try:
            for spec in params.PARAMS:  # an override out of range or of the wrong type raises
                self.declare_parameter(spec.name, spec.default, _descriptor(spec))
        except ParameterException as err:
            raise StartupError(str(err)) from None
        self.add_on_set_parameters_callback(self._validate)

    def configure(self) -> None:
        """Load the model and warm up the engine; StartupError saying why when it cannot."""
        log = self.get_logger()
        try:
            for name in ("engine", "precision", "output_resolution", "transport",
                         "camera_reliability"):
                params.check_choice(name, self._value(name))
            path = params.resolve_model(self._value("model"))
            log.info(f"loading model {path}")
            model = open_model_file(path)
            mask_ids = parse_mask_classes(self._value("mask_classes"),
                                          model.metadata.class_names)
            palette = load_palette(self._value("palette") or None, model.metadata)
            self._engine = open_engine(
                self._value("engine"), model,
                providers=params.parse_providers(self._value("providers")),
                threads=params.inference_threads(self._value("threads")),
                fp16=self._value("fp16"), cache_dir=self._value("engine_cache_dir") or None,
                logger=log, precision=self._value("precision"),
                device=self._value("device") or None, spin=self._value("spin_threads"))
            height, width = self._value("input_height"), self._value("input_width")
            self._segmenter = Segmenter(
                self._engine, palette, output_resolution=self._value("output_resolution"),
                input_size=(height or model.metadata.input_height,
                            width or model.metadata.input_width) if height or width else None)
            size = self._segmenter.input_size
            log.info(f"engine {self._engine.name} on {', '.join(self._engine.providers)} in "
                     f"{self._engine.precision}; "
                     f"{model.num_classes} classes, network input {size[1]}x{size[0]}")
            began = time.perf_counter()
            self._segmenter.segment(np.zeros((*size, 3), np.uint8))
            log.info(f"warm-up inference took {(time.perf_counter() - began) * 1e3:.0f} ms")
            self._points = PointsOutput(pointcloud.settings(
                palette.class_names, palette.colours, self._value("points_classes"),
                self._value("points_stride"), self._value("points_max_range")),
                self._value("depth_slop"))
        except ModuleNotFoundError as err:  # onnx, onnxruntime: imported when first needed
            raise StartupError(dependencies.missing_message(err)) from None
        except (FileNotFoundError, ModelFileError, PaletteError, ValueError,
                RuntimeError) as err:
            # ModelFileError, PaletteError, SegmenterError are ValueErrors, EngineError a
            # RuntimeError: each says what is wrong, so the message is all the user needs.
            self.cleanup()
            raise StartupError(str(err)) from None
        self._mask_table = mask_table(mask_ids) if mask_ids else None
        if not model.has_confidence:
            log.info(f"{path.name} has no confidence output: enet/confidence is unavailable "
                     f"(re-export it with `enet-train export`, which adds it by default)")
        self._class_names = model.metadata.class_names
        for name, value, what in (
                ("class_names", list(self._class_names), "Class names of the loaded model, "
                                                         "label id order."),
                ("class_ids", list(range(len(self._class_names))),
                 "Label ids of class_names, in the same order: the pixel values of "
                 "enet/labels.")):
            if not self.has_parameter(name):  # declared by an earlier configure
                self.declare_parameter(name, value, ParameterDescriptor(
                    description=what, read_only=True), ignore_override=True)

    def activate(self) -> None:
        """Publish, subscribe to the camera and start the worker."""
        self._wire()
        self._slot = LatestSlot()
        self._worker = threading.Thread(target=self._work, name="enet_worker", daemon=True)
        self._worker.start()
        self.get_logger().info(f"segmenting {self._image_topic} ({self._camera_reliability}) "
                               f"-> {self._resolved('enet')}/*")

    def deactivate(self) -> None:
        """Stop the worker, then unsubscribe and unpublish everything ``activate`` made."""
        self._slot.close()
        if self._worker is not None:
            self._worker.join(timeout=5.0)
            self._worker = None
        for destroy, entity in self._entities:
            destroy(entity)
        self._entities = []
        self._camera_sub = None
        self._camera_reliability = ""
        self._depth_sub = None
        self._depth_reliability = None

    def cleanup(self) -> None:
        """Release the engine (and its memory); ``configure`` loads it again."""
        self._segmenter = None
        if self._engine is not None:
            self._engine.close()
            self._engine = None
            self.get_logger().info("engine released")

    def _wire(self) -> None:
        out_qos = QoSProfile(depth=2, reliability=ReliabilityPolicy.RELIABLE)
        outputs = [n for n in IMAGE_OUTPUTS
                   if (n != "mask" or self._mask_table is not None)
                   and (n != "confidence" or self._segmenter.has_confidence)]
        self._pubs = {name: self.create_publisher(Image, f"enet/{name}", out_qos,
                                                  **_overridable())
                      for name in outputs}
        self._info_pub = self.create_publisher(CameraInfo, "enet/camera_info", out_qos,
                                               **_overridable())
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._entities = [(self.destroy_publisher, p) for p in (*self._pubs.values(),
                                                                self._info_pub, self._diag_pub)]
        self._publish_label_info()
        self._compressed = self._value("transport") == "compressed"
        self._image_topic = self._resolved("image/compressed" if self._compressed
                                                    else "image")
        self._match_camera_reliability()
        if self._value("camera_reliability") == "auto":
            self._entities.append((self.destroy_timer, self.create_timer(
                RELIABILITY_CHECK_S, self._match_camera_reliability)))
        if self._value("use_camera_info"):
            self._entities.append((self.destroy_subscription, self.create_subscription(
                CameraInfo, "camera_info", self._on_camera_info, qos_profile_sensor_data)))
        self._entities.append((self.destroy_timer, self.create_timer(
            self._value("diagnostics_period"), self._publish_diagnostics)))
        self._points_pub = self.create_publisher(PointCloud2, "enet/points", out_qos,
                                                 **_overridable())
        self._entities.append((self.destroy_publisher, self._points_pub))
        self._depth_topic = self._resolved("depth")
        self._entities.append((self.destroy_timer, self.create_timer(
            RELIABILITY_CHECK_S, self._match_depth_subscription)))

    def _publish_label_info(self) -> None:
        """enet/label_info, latched (transient local) for late subscribers, where vision_msgs
        has LabelInfo; else the one log line saying where the classes are instead."""
        if LabelInfo is None:
            self.get_logger().info(label_info.UNAVAILABLE)
            return
        qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)
        publisher = self.create_publisher(LabelInfo, "enet/label_info", qos)
        self._entities.append((self.destroy_publisher, publisher))
        publisher.publish(label_info.fill_label_info(
            LabelInfo(), VisionClass, self._class_names,
            Header(stamp=self.get_clock().now().to_msg())))

    def _match_camera_reliability(self) -> None:
        """Subscribe to the camera anew when its publishers call for another reliability."""
        publishers = [p.qos_profile.reliability.name.lower()
                      for p in self.get_publishers_info_by_topic(self._image_topic)]
        # None: auto with no camera yet; keep what we have, at first best effort (serves any)
        wanted = (params.camera_reliability(self._value("camera_reliability"), publishers)
                  or self._camera_reliability or "best_effort")
        if wanted != self._camera_reliability:
            self._subscribe_camera(wanted)

    def _subscribe_camera(self, reliability: str) -> None:
        if self._camera_sub is not None:
            self._entities.remove((self.destroy_subscription, self._camera_sub))
            self.destroy_subscription(self._camera_sub)
            self.get_logger().info(f"camera publishers changed: subscribing to "
                                   f"{self._image_topic} {reliability} instead")
        qos = QoSProfile(depth=1, durability=qos_profile_sensor_data.durability,
                         reliability=ReliabilityPolicy[reliability.upper()])
        # Depth and history stay overridable through qos_overrides.*; reliability is
        # camera_reliability's (an override parameter would undo a re-subscription).
        self._camera_sub = self.create_subscription(
            CompressedImage if self._compressed else Image, self._image_topic,
            self._on_image_with_info if MESSAGE_INFO else self._on_image, qos,
            **_overridable(QoSPolicyKind.HISTORY, QoSPolicyKind.DEPTH))
        self._entities.append((self.destroy_subscription, self._camera_sub))
        self._camera_reliability = reliability

    def _match_depth_subscription(self) -> None:
        """Subscribe to depth only while enet/points has subscribers (a depth image costs the
        middleware as much as a camera frame), with the reliability chosen as the camera's."""
        wanted = None
        if self._points_pub.get_subscription_count() > 0:
            publishers = [p.qos_profile.reliability.name.lower()
                          for p in self.get_publishers_info_by_topic(self._depth_topic)]
            wanted = (params.camera_reliability(self._value("camera_reliability"), publishers)
                      or self._depth_reliability or "best_effort")
        if wanted == self._depth_reliability:
            return
        if self._depth_sub is not None:
            self._entities.remove((self.destroy_subscription, self._depth_sub))
            self.destroy_subscription(self._depth_sub)
            self._depth_sub = None
        if wanted is not None:
            qos = QoSProfile(depth=2, durability=qos_profile_sensor_data.durability,
                             reliability=ReliabilityPolicy[wanted.upper()])
            self._depth_sub = self.create_subscription(Image, self._depth_topic,
                                                       self._on_depth, qos)
            self._entities.append((self.destroy_subscription, self._depth_sub))
        self.get_logger().info(f"depth: {self._depth_topic} {wanted}" if wanted else
                               "depth: unsubscribed (nobody listens to enet/points)")
        self._depth_reliability = wanted

    # -- parameters ------------------------------------------------------------------------

    def _validate(self, changes: "list[Parameter]") -> SetParametersResult:
        """Judge only our own parameters; others (qos_overrides.*, use_sim_time) pass."""
        for change in changes:
            if change.name in params.PARAM_NAMES:
                reason = params.refuse_update(change.name, change.value)
                if reason:
                    return SetParametersResult(successful=False, reason=reason)
        return SetParametersResult(successful=True)

    # -- callbacks -------------------------------------------------------------------------

    def _on_image_with_info(self, msg: "Image | CompressedImage", info: "dict[str, Any]") -> None:
        """``_on_image`` where rclpy passes rmw's message info: count the sequence gap first."""
        self._stats.count("lost", self._gaps.see(info.get("publication_sequence_number")))
        self._on_image(msg)

    def _on_image(self, msg: "Image | CompressedImage") -> None:
        """Count the frame and hand it to the worker: nothing slow here, so the executor is
        always free to take the next frame."""
        self._stats.count("received")
        self._stats.input_rate.tick()
        if isinstance(msg, CompressedImage):
            frame: Any = pipeline.CompressedFrame(msg.format, msg.data)
        else:
            frame = pipeline.RawFrame(msg.encoding, msg.height, msg.width, msg.step,
                                      bool(msg.is_bigendian), msg.data)
        self._slot.put((msg.header, frame))

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self._camera_info = msg

    def _on_depth(self, msg: Image) -> None:
        self._points.add_depth(stamp_ns(msg.header), depth_frame(msg))

    def _listened(self, name: str) -> bool:
        """Published (mask_classes set, confidence in the file), enabled and subscribed: only
        then is output ``name`` worth computing."""
        return name in self._pubs and bool(self._value(f"publish_{name}")) and (
            self._pubs[name].get_subscription_count() > 0)

    # -- worker ----------------------------------------------------------------------------

    def _work(self) -> None:
        while not self._slot.closed:
            item = self._slot.take(timeout=0.5)
            if item is None:
                continue
            try:
                self._process(*item)
            except Exception as err:  # the worker lives on, but reports ERROR in diagnostics
                self._stats.count("failed")
                self.get_logger().error(f"segmentation failed: {type(err).__name__}: {err}",
                                        throttle_duration_sec=LOG_THROTTLE_S)

    def _process(self, header: Header, frame: Any) -> None:
        """Segment one frame into the outputs someone listens to; count whatever happens
        (an unexpected error, in segmentation or in publishing, is counted by the worker)."""
        listened = {n: self._listened(n) for n in IMAGE_OUTPUTS}
        points = self._points_pub.get_subscription_count() > 0
        # enet/points needs the labels even when nobody listens to enet/labels itself
        wanted = pipeline.Wanted(*(listened[n] or (n == "labels" and points)
                                   for n in IMAGE_OUTPUTS))
        if not wanted.any:
            self._stats.count("idle")
            return
        try:
            out = pipeline.run(self._segmenter, frame, wanted, self._value("overlay_alpha"),
                               self._mask_table)
        except ImageCodecError as err:
            self._stats.count("rejected")
            self.get_logger().warning(f"skipping a malformed frame: {err}",
                                      throttle_duration_sec=LOG_THROTTLE_S)
            return
        self._stats.count("inferred")
        self._stats.inference.add(out.timings.get("infer", float("nan")) * 1e-3)
        self._stats.processing.add(sum(out.timings[k] for k in ("decode", "segment", "encode"))
                                   * 1e-3)
        for name in IMAGE_OUTPUTS:
            encoded = getattr(out, name)
            if encoded is not None and listened[name]:
                self._pubs[name].publish(_image_msg(header, encoded))
        self._publish_camera_info(header, *out.size)
        if points:
            self._publish_points(header, out.labels)
        self._stats.count("published")
        self._stats.output_rate.tick()
        stamp = header.stamp.sec + header.stamp.nanosec * 1e-9
        if stamp > 0:
            self._stats.latency.add(self.get_clock().now().nanoseconds * 1e-9 - stamp)

    def _publish_camera_info(self, header: Header, height: int, width: int) -> None:
        info = self._camera_info
        if info is None or not self._value("publish_camera_info") \
                or self._info_pub.get_subscription_count() == 0:
            return
        try:
            scaled = caminfo.scale_to(caminfo.from_msg(info), width, height)
        except ValueError as err:
            self.get_logger().warning(f"camera_info not republished: {err}",
                                      throttle_duration_sec=LOG_THROTTLE_S)
            return
        msg = CameraInfo(header=header, width=scaled.width, height=scaled.height,
                         distortion_model=info.distortion_model, d=info.d, r=info.r,
                         k=scaled.k, p=scaled.p)
        self._info_pub.publish(msg)

    def _publish_points(self, header: Header, labels: pipeline.EncodedImage) -> None:
        """enet/points of this frame: in its depth image's frame, with the frame's stamp."""
        info = self._camera_info
        result = self._points.make(
            stamp_ns(header),
            np.frombuffer(labels.data, np.uint8).reshape(labels.height, labels.width),
            None if info is None else caminfo.from_msg(info))
        if result.points is None:
            self.get_logger().warning(f"enet/points: skipping a frame: {result.problem}",
                                      throttle_duration_sec=LOG_THROTTLE_S)
            return
        self._points_pub.publish(cloud_msg.to_msg(
            Header(stamp=header.stamp, frame_id=result.frame_id), result.points))

    def _publish_diagnostics(self) -> None:
        """One status per node, named by its fully qualified name (/front/enet_segment) and
        with the camera topic as hardware_id, so that several cameras stay apart in
        rqt_robot_monitor and diagnostic_aggregator."""
        level, message, values = self._stats.summary(
            self._slot.dropped, self._engine.name, self._engine.providers,
            {"input topic": self._image_topic, "precision": self._engine.precision,
             **self._points.diagnostics()})
        status = DiagnosticStatus(level=bytes([level]),
                                  name=f"{self._full_name()}: segmentation",
                                  message=message, hardware_id=self._image_topic,
                                  values=[KeyValue(key=k, value=v) for k, v in values])
        self._diag_pub.publish(DiagnosticArray(header=Header(
            stamp=self.get_clock().now().to_msg()), status=[status]))

    def close(self) -> None:
        """Stop the worker and release the engine; safe to call more than once."""
        self._slot.close()
        if self._worker is not None:
            self._worker.join(timeout=5.0)
        self.cleanup()


def _image_msg(header: Header, encoded: pipeline.EncodedImage) -> Image:
    msg = Image(header=header, height=encoded.height, width=encoded.width,
                encoding=encoded.encoding, is_bigendian=0, step=encoded.step)
    msg.data = array.array("B", encoded.data)  # array.array is the fast path into uint8[]
    return msg


if LifecycleNode is not None:
    class LifecycleSegmentNode(SegmentNode, LifecycleNode):
        """SegmentNode as a managed node: the same parameters and pipeline, the steps of
        ``start`` run by the lifecycle transitions. A model that fails to load is a logged
        FAILURE (the node stays unconfigured and may be configured again), not a crash."""

        def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
            try:
                self.configure()
            except StartupError as err:
                self.get_logger().error(f"cannot configure: {err}")
                return TransitionCallbackReturn.FAILURE
            return TransitionCallbackReturn.SUCCESS

        def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
            self.activate()
            return TransitionCallbackReturn.SUCCESS

        def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
            self.deactivate()
            self.get_logger().info("inactive: camera unsubscribed, outputs withdrawn")
            return TransitionCallbackReturn.SUCCESS

        def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
            self.cleanup()
            return TransitionCallbackReturn.SUCCESS

        def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
            if self._entities:  # shut down while active
                self.deactivate()
            self.cleanup()
            return TransitionCallbackReturn.SUCCESS


def main(args: "list[str] | None" = None, lifecycle: bool = False) -> int:
    """Entry point of ``segment_node`` (and, with ``lifecycle``, ``segment_lifecycle_node``);
    the exit status: 0 on a clean stop, 1 if it cannot start.

    The plain node starts at once; the lifecycle node declares its parameters and waits for
    its transitions (``ros2 lifecycle set /enet_segment configure``). Jazzy's rclpy (7.1) has
    no context manager on ``rclpy.init``; try/finally gives the same guarantee: the node is
    destroyed and rclpy shut down on every path.
    """
    if lifecycle and LifecycleNode is None:
        rclpy.logging.get_logger(NODE_NAME).fatal(
            "cannot start: the lifecycle node needs rclpy.lifecycle (ROS 2 Humble or later); "
            "run segment_node instead")
        return 1
    rclpy.init(args=args)
    node: "SegmentNode | None" = None
    try:
        if lifecycle:
            node = LifecycleSegmentNode(NODE_NAME)
            node.declare()
        else:
            node = SegmentNode()
            node.start()
        rclpy.spin(node)
    except StartupError as err:
        rclpy.logging.get_logger(NODE_NAME).fatal(f"cannot start: {err}")
        return 1
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.close()
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
