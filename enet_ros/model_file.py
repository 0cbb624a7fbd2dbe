"""The model file contract: the one artifact that crosses from training to the robot.

An ENet model file is a self-contained ONNX file with

* input ``image``: uint8 [N, H, W, 3] RGB (H, W dynamic multiples of 8, or fixed),
* output ``labels``: uint8 [N, H, W] class ids, and optionally ``confidence``: uint8
  [N, H, W], floor(255 x the winning class's softmax probability + 0.5) (rounded in the graph,
  so every engine gives the same bytes; files without it run, their users get no confidence),
* metadata_props describing itself (``ModelMetadata``).

A second I/O flavour (``IO_KINDS["float32"]``) takes float32 RGB 0..255 and gives int32 labels
and int32 confidence (the same 0..255 values), the same graph otherwise: TensorRT before 8.5
parses no uint8 tensor at all and before 8.6 casts none, so JetPack 4 and 5 need it. The
metadata names the flavour, the checker holds the graph to it, and the engines convert at the
edges, so callers always see uint8 in and out.

This module both writes (``ModelMetadata.to_props``, used by the exporter) and checks
(``open_model_file``) that contract, so the two sides cannot drift apart. It needs the ``onnx``
package only, never torch or an inference engine.
"""
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

FORMAT_VERSION = 1
INPUT_NAME = "image"
LABELS_NAME = "labels"
CONFIDENCE_NAME = "confidence"
SIZE_MULTIPLE = 8

_KEY_FORMAT = "enet_format_version"
_KEY_IO = "enet_io"
_REQUIRED_KEYS = (_KEY_FORMAT, "class_names", "palette", "input_height", "input_width")


class ModelFileError(ValueError):
    """A model file that is missing, unreadable, or breaks the contract; says what to do."""


@dataclass(frozen=True)
class IOKind:
    """One I/O flavour of the contract: the dtypes of the graph's image input and of its
    integer outputs (labels, and confidence where the file has it: both hold values 0..255)."""

    name: str
    input_dtype: np.dtype
    labels_dtype: np.dtype

    def describe(self) -> str:
        return f"{self.input_dtype.name} image in, {self.labels_dtype.name} labels out"


IO_KINDS = {
    "uint8": IOKind("uint8", np.dtype(np.uint8), np.dtype(np.uint8)),
    # For TensorRT < 8.6: float32 RGB 0..255 in, int32 class ids (and confidence) out.
    "float32": IOKind("float32", np.dtype(np.float32), np.dtype(np.int32)),
}
DEFAULT_IO = "uint8"  # files written before the key existed are all uint8


@dataclass(frozen=True)
class ModelMetadata:
    """What a model file says about itself; the defaults of every consumer."""

    class_names: "tuple[str, ...]"
    palette: "tuple[tuple[int, int, int], ...]"
    input_height: int
    input_width: int
    dataset: str = "unknown"
    training: "dict[str, Any]" = field(default_factory=dict)
    validation: "dict[str, Any]" = field(default_factory=dict)
    io: str = DEFAULT_IO  # a key of IO_KINDS

    def __post_init__(self) -> None:
        if self.io not in IO_KINDS:
            raise ModelFileError(f"I/O kind {self.io!r} is unknown; this enet_ros reads "
                                 f"{', '.join(IO_KINDS)}: upgrade enet_ros or re-export")
        if not 2 <= len(self.class_names) <= 256:
            raise ModelFileError(f"a model needs 2 to 256 classes, got {len(self.class_names)}")
        if len(self.palette) != len(self.class_names):
            raise ModelFileError(f"palette has {len(self.palette)} colours for "
                                 f"{len(self.class_names)} classes; give one colour a class")
        for colour in self.palette:
            if len(colour) != 3 or not all(isinstance(c, int) and 0 <= c <= 255 for c in colour):
                raise ModelFileError(f"palette colour {colour!r} is not three integers 0-255")
        for name, value in (("input_height", self.input_height), ("input_width", self.input_width)):
            if not isinstance(value, int) or value <= 0 or value % SIZE_MULTIPLE:
                raise ModelFileError(f"{name} must be a positive multiple of {SIZE_MULTIPLE}, "
                                     f"got {value!r}")

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def to_props(self) -> "dict[str, str]":
        """ONNX metadata_props (string to string) carrying this metadata."""
        return {
            _KEY_FORMAT: str(FORMAT_VERSION),
            _KEY_IO: self.io,
            "class_names": json.dumps(list(self.class_names)),
            "palette": json.dumps([list(c) for c in self.palette]),
            "input_height": str(self.input_height),
            "input_width": str(self.input_width),
            "dataset": self.dataset,
            "training": json.dumps(self.training, sort_keys=True),
            "validation": json.dumps(self.validation, sort_keys=True),
        }

    @classmethod
    def from_props(cls, props: "dict[str, str]") -> "ModelMetadata":
        """Parse metadata_props; a missing key or a malformed value is a ModelFileError."""
        missing = [k for k in _REQUIRED_KEYS if k not in props]
        if missing:
            raise ModelFileError(f"metadata lacks {', '.join(missing)}: not an enet_ros model "
                                 f"file (export it with `enet-train export`)")
        if props[_KEY_FORMAT] != str(FORMAT_VERSION):
            raise ModelFileError(f"model file format version {props[_KEY_FORMAT]!r}, this "
                                 f"enet_ros reads version {FORMAT_VERSION}: re-export the model")
        try:
            names = json.loads(props["class_names"])
            palette = json.loads(props["palette"])
            training = json.loads(props.get("training", "{}"))
            validation = json.loads(props.get("validation", "{}"))
            height, width = int(props["input_height"]), int(props["input_width"])
        except (ValueError, TypeError) as err:
            raise ModelFileError(f"malformed metadata: {err}") from None
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ModelFileError("metadata class_names is not a list of strings")
        if not isinstance(palette, list) or not all(isinstance(c, list) for c in palette):
            raise ModelFileError("metadata palette is not a list of [r, g, b] colours")
        return cls(tuple(names), tuple(tuple(c) for c in palette), height, width,
                   props.get("dataset", "unknown"), training, validation,
                   props.get(_KEY_IO, DEFAULT_IO))


@dataclass(frozen=True)
class ModelFile:
    """A validated model file: where it is, what it says, and the shape of its graph."""

    path: Path
    metadata: ModelMetadata
    fixed_size: "tuple[int, int] | None"
    has_confidence: bool
    opset: int
    operators: "tuple[str, ...]"
    sha256: str

    @property
    def num_classes(self) -> int:
        return self.metadata.num_classes

    @property
    def io(self) -> IOKind:
        """The dtypes at the graph's edges, which the engines convert from and to uint8."""
        return IO_KINDS[self.metadata.io]


def _dims(value_info: Any) -> "list[int | str]":
    """Each dimension as an int, or its symbolic name (or '?') when dynamic."""
    shape = value_info.type.tensor_type.shape
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in shape.dim]


def _check_io_dtype(path: Path, role: str, value_info: Any, expected: np.dtype,
                    io: IOKind) -> None:
    """A graph edge whose dtype is not the one the metadata's I/O kind names is an error."""
    import onnx

    elem_type = value_info.type.tensor_type.elem_type
    if elem_type != onnx.helper.np_dtype_to_tensor_dtype(expected):
        actual = onnx.TensorProto.DataType.Name(elem_type).lower()
        raise ModelFileError(f"{path}: {role} {value_info.name!r} is {actual}, but the "
                             f"metadata says I/O {io.name!r} ({io.describe()}); re-export "
                             f"with `enet-train export`")


def open_model_file(path: "str | Path") -> ModelFile:
    """Load and validate a model file; every failure is one ModelFileError saying what to do."""
    import onnx  # imported here so that metadata handling works without it

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file {path} does not exist: pass --model with the path "
                             f"of an exported .onnx file")
    data = path.read_bytes()
    try:
        model = onnx.load_from_string(data)
    except Exception as err:  # onnx raises DecodeError and others: all mean "not ONNX"
        raise ModelFileError(f"{path} is not a readable ONNX file ({type(err).__name__}); "
                             f"re-export or re-download it") from None
    graph = model.graph
    if not graph.node:
        raise ModelFileError(f"{path} holds an empty graph: re-export it")
    if any(init.data_location == onnx.TensorProto.EXTERNAL for init in graph.initializer):
        raise ModelFileError(f"{path} stores weights in an external file; export a single file")
    props = {p.key: p.value for p in model.metadata_props}
    try:
        metadata = ModelMetadata.from_props(props)
    except ModelFileError as err:
        raise ModelFileError(f"{path}: {err}") from None

    initializers = {init.name for init in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers]
    outputs = {o.name: o for o in graph.output}
    io = IO_KINDS[metadata.io]
    if [i.name for i in inputs] != [INPUT_NAME]:
        raise ModelFileError(f"{path}: inputs are {[i.name for i in inputs]}, the contract "
                             f"wants one named {INPUT_NAME!r}")
    image = inputs[0]
    dims = _dims(image)
    if len(dims) != 4 or dims[3] != 3:
        raise ModelFileError(f"{path}: input {INPUT_NAME!r} must be [N, H, W, 3] (RGB, "
                             f"channels last), got shape {dims}")
    _check_io_dtype(path, "input", image, io.input_dtype, io)
    if LABELS_NAME not in outputs:
        raise ModelFileError(f"{path}: no output named {LABELS_NAME!r} "
                             f"(outputs: {sorted(outputs)})")
    labels = outputs[LABELS_NAME]
    if len(_dims(labels)) != 3:
        raise ModelFileError(f"{path}: output {LABELS_NAME!r} must be [N, H, W], got shape "
                             f"{_dims(labels)}")
    _check_io_dtype(path, "output", labels, io.labels_dtype, io)
    has_confidence = CONFIDENCE_NAME in outputs
    if has_confidence:
        if _dims(outputs[CONFIDENCE_NAME]) != _dims(labels):
            raise ModelFileError(f"{path}: output {CONFIDENCE_NAME!r} must have the labels' "
                                 f"shape {_dims(labels)}, got {_dims(outputs[CONFIDENCE_NAME])}")
        # The same dtype as the labels: a float32 confidence (enet_train before the uint8
        # contract) is refused with what to do, not misread.
        _check_io_dtype(path, "output", outputs[CONFIDENCE_NAME], io.labels_dtype, io)
    height, width = dims[1], dims[2]
    fixed = (height, width) if isinstance(height, int) and isinstance(width, int) else None
    if fixed and (fixed[0] % SIZE_MULTIPLE or fixed[1] % SIZE_MULTIPLE):
        raise ModelFileError(f"{path}: fixed input size {fixed} is not a multiple of 8")
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    operators = tuple(sorted({n.op_type for n in graph.node}))
    return ModelFile(path, metadata, fixed, has_confidence, opset, operators,
                     hashlib.sha256(data).hexdigest())
