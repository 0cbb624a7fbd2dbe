"""The node's parameters, defined once, as plain data.

The node turns each ``ParamSpec`` into a ``declare_parameter`` call with a ParameterDescriptor;
the tests compare the same table with config/segment.yaml and the launch files, so a parameter
cannot be documented, launched or configured under a name the node does not declare. No rclpy
here: this module, its validation rules and the default-model lookup are tested directly.
"""
import math
import os
from dataclasses import dataclass
from pathlib import Path

from enet_ros import shipped
from enet_ros.engines.base import ENGINE_KINDS, PRECISIONS

OUTPUT_RESOLUTIONS = ("camera", "network")
TRANSPORTS = ("raw", "compressed")
RELIABILITIES = ("auto", "reliable", "best_effort")


@dataclass(frozen=True)
class ParamSpec:
    """One parameter: name, default (its type too), why it exists, its limits."""

    name: str
    default: "bool | int | float | str"
    description: str
    read_only: bool = True
    int_range: "tuple[int, int, int] | None" = None        # (from, to, step)
    float_range: "tuple[float, float] | None" = None       # (from, to)
    choices: "tuple[str, ...] | None" = None               # checked at start by the node

    @property
    def constraints(self) -> str:
        """Human-readable limits for the descriptor's additional_constraints."""
        if self.choices:
            return "one of: " + ", ".join(self.choices)
        if self.int_range:
            lo, hi, step = self.int_range
            return f"{lo} to {hi}" + (f", a multiple of {step}" if step > 1 else "")
        if self.float_range:
            return f"{self.float_range[0]} to {self.float_range[1]}"
        return ""


PARAMS: "tuple[ParamSpec, ...]" = (
    ParamSpec("model", "", "Path of the ENet model file (.onnx). Empty: the shipped "
              f"{shipped.DEFAULT_MODEL} from the package's share directory."),
    ParamSpec("engine", "auto", "Inference back end; auto picks TensorRT when it is "
              "installed and usable, else ONNX Runtime when it has a GPU provider, else "
              "OpenVINO when installed, else ONNX Runtime on the CPU.", choices=ENGINE_KINDS),
    ParamSpec("providers", "", "ONNX Runtime execution providers to try, comma-separated, "
              "best first (e.g. 'CUDAExecutionProvider,CPUExecutionProvider'). Empty: the "
              "engine's default order. Unavailable ones are skipped with a warning."),
    ParamSpec("threads", 0, "CPU threads for inference; 0: every CPU the node may use but "
              "one (at least 1), leaving the camera driver and DDS a core.",
              int_range=(0, 256, 1)),
    ParamSpec("spin_threads", False, "Let CPU inference threads hold their cores between "
              "frames (ONNX Runtime's spinning intra-op threads, OpenVINO's threads pinned to "
              "cores): faster on an otherwise idle CPU, but they starve the camera "
              "driver, DDS and the other nodes on a small one."),
    ParamSpec("precision", "auto", "OpenVINO inference precision; auto: bf16 on a CPU that "
              "reports it (fp16 on a GPU), else fp32. OpenVINO only.", choices=PRECISIONS),
    ParamSpec("device", "CPU", "OpenVINO device: CPU, GPU (an Intel GPU) or GPU.N; an absent "
              "one falls back to the CPU with a warning. OpenVINO only."),
    ParamSpec("fp16", False, "Build the TensorRT engine in half precision (TensorRT only)."),
    ParamSpec("engine_cache_dir", "", "Where TensorRT keeps built engines between runs; "
              "empty: the engine's default cache."),
    ParamSpec("input_width", 0, "Network input width in pixels; 0: the model's training "
              "width from its metadata.", int_range=(0, 8192, 8)),
    ParamSpec("input_height", 0, "Network input height in pixels; 0: the model's training "
              "height from its metadata.", int_range=(0, 8192, 8)),
    ParamSpec("output_resolution", "camera", "Size of labels, colour and overlay: 'camera' "
              "(the input frame's size, labels upsampled by nearest neighbour) or 'network' "
              "(the network's input size, cheaper).", choices=OUTPUT_RESOLUTIONS),
    ParamSpec("palette", "", "Class colours: a palette name (config/palettes) or a YAML "
              "file; empty: the palette stored in the model file."),
    ParamSpec("mask_classes", "", "Class names, comma-separated (e.g. 'Road,Sidewalk'), that "
              "enet/mask marks 255; checked against the model's classes at start. Empty: no "
              "enet/mask."),
    ParamSpec("overlay_alpha", 0.5, "Weight of the class colours in enet/overlay: 0 shows "
              "the camera image only, 1 the colours only. Changeable at run time.",
              read_only=False, float_range=(0.0, 1.0)),
    ParamSpec("publish_labels", True, "Publish enet/labels (mono8 class ids). Changeable at "
              "run time.", read_only=False),
    ParamSpec("publish_color", True, "Publish enet/color (rgb8 class colours). Changeable at "
              "run time.", read_only=False),
    ParamSpec("publish_overlay", True, "Publish enet/overlay (camera image blended with the "
              "colours). Changeable at run time.", read_only=False),
    ParamSpec("publish_mask", True, "Publish enet/mask (mono8, 255 where the label is one of "
              "mask_classes, 0 elsewhere) when mask_classes names any. Changeable at run time.",
              read_only=False),
    ParamSpec("publish_confidence", True, "Publish enet/confidence (mono8, round(255 x the "
              "top class's probability)) when the model file has that output. Changeable at "
              "run time.", read_only=False),
    ParamSpec("publish_camera_info", True, "Publish enet/camera_info (camera_info scaled to "
              "the labels' size) when camera_info arrives. Changeable at run time.",
              read_only=False),
    ParamSpec("transport", "raw", "Input transport: 'raw' subscribes to image "
              "(sensor_msgs/Image), 'compressed' to image/compressed "
              "(sensor_msgs/CompressedImage).", choices=TRANSPORTS),
    ParamSpec("camera_reliability", "auto", "Reliability of the camera subscription. auto: "
              "reliable while every publisher of the camera topic is reliable (a frame too "
              "large for Fast DDS's shared memory goes over UDP in fragments, and best effort "
              "loses the whole frame with any fragment), else best effort, which every "
              "publisher can serve; re-checked every second as publishers come and go. "
              "reliable or best_effort: always that.", choices=RELIABILITIES),
    ParamSpec("use_camera_info", True, "Subscribe to camera_info and publish enet/camera_info "
              "scaled to the labels."),
    ParamSpec("diagnostics_period", 1.0, "Seconds between /diagnostics messages.",
              float_range=(0.1, 60.0)),
    # enet/points: the labels in 3D from a depth image registered to the camera image
    ParamSpec("depth_slop", 0.0, "Seconds a depth image's stamp may differ from the camera "
              "frame's for enet/points to pair them (the nearest wins); 0: equal stamps only.",
              float_range=(0.0, 1.0)),
    ParamSpec("points_classes", "", "Class names whose pixels enet/points keeps, "
              "comma-separated (e.g. 'Car,Pedestrian'); empty: every class."),
    ParamSpec("points_stride", 1, "enet/points takes every n-th depth pixel in each "
              "direction (2: a quarter of the points).", int_range=(1, 64, 1)),
    ParamSpec("points_max_range", 0.0, "Metres beyond which enet/points drops a depth; 0: "
              "no limit (zero and non-finite depths are always dropped).",
              float_range=(0.0, 1000.0)),
)

PARAM_NAMES = frozenset(p.name for p in PARAMS)


def spec(name: str) -> ParamSpec:
    """The spec of parameter ``name``; KeyError when the node has no such parameter."""
    for p in PARAMS:
        if p.name == name:
            return p
    raise KeyError(name)


def check_choice(name: str, value: str) -> str:
    """``value`` when it is one of the parameter's choices; else ValueError saying which are."""
    choices = spec(name).choices or ()
    if value not in choices:
        raise ValueError(f"parameter {name}={value!r} is not one of {', '.join(choices)}")
    return value


def camera_reliability(setting: str, publishers: "list[str]") -> "str | None":
    """The reliability ('reliable' or 'best_effort') the camera subscription should have,
    given the setting and the lower-case reliability policy name of each publisher on the
    topic; None: keep the current one (auto with no publisher yet to match).

    A reliable subscription receives nothing from a best-effort publisher, so auto asks for
    reliable only when every publisher offers it.
    """
    if setting != "auto":
        return check_choice("camera_reliability", setting)
    if not publishers:
        return None
    return "reliable" if all(p == "reliable" for p in publishers) else "best_effort"


def refuse_update(name: str, value: object) -> "str | None":
    """Why a run-time change of our parameter ``name`` to ``value`` is refused, or None.

    rclpy refuses read-only parameters itself on every distribution, before this is asked.
    Types and ranges it enforces from Galactic on (static typing); Foxy's rclpy lets a
    parameter change type and checks a float range only for a float, so ``overlay_alpha:=2``
    or ``publish_color:=0`` would reach the worker there without these checks.
    """
    p = spec(name)
    if isinstance(p.default, bool):
        return None if isinstance(value, bool) else f"{name} must be true or false"
    if p.float_range is not None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"{name} must be a number"
        lo, hi = p.float_range
        if not (math.isfinite(value) and lo <= value <= hi):
            return f"{name} must be between {lo} and {hi}, got {value}"
    return None


def inference_threads(requested: int) -> int:
    """``requested``, or for 0 every CPU this process may run on but one (at least 1)."""
    if requested:
        return requested
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cpus or 1) - 1)


def parse_providers(text: str) -> "list[str] | None":
    """'A, B' -> ['A', 'B']; empty -> None (the engine's default order)."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    return names or None


def resolve_model(path: str, environ: "dict[str, str] | None" = None) -> Path:
    """The model file to load: ``path`` when given, else the shipped one (enet_ros.shipped).

    FileNotFoundError (one message listing where it looked) when none is given and none found.
    """
    if path:
        return Path(path).expanduser()
    try:
        return shipped.default_model(environ)
    except FileNotFoundError as err:
        raise FileNotFoundError(f"no model given and {err}; set the 'model' parameter "
                                f"(--ros-args -p model:=/path/to/model.onnx)") from None
