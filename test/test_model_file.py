"""The model-file contract checker, branch by branch: each broken file gets its one-line error.

The files are written with onnx.helper (one node is enough: the checker reads the graph's
edges and metadata, it never runs it), from a valid file that each case breaks in one way.
"""
from __future__ import annotations

import dataclasses
import hashlib
import re
from pathlib import Path

import onnx
import pytest
from _runtime_fixtures import fixture_metadata
from onnx import TensorProto, helper

from enet_ros.model_file import IO_KINDS, ModelFileError, ModelMetadata, open_model_file

U8, F32, I32, I64 = TensorProto.UINT8, TensorProto.FLOAT, TensorProto.INT32, TensorProto.INT64
NHWC, NHW = ["batch", "height", "width", 3], ["batch", "height", "width"]


def write_model(path: Path, io: str = "uint8", input_name: str = "image",
                input_type: int = U8, input_shape: list = NHWC,
                outputs: list | None = None, props: dict | None = None,
                external: bool = False, opsets: dict[str, int] | None = None) -> Path:
    """A one-node graph with the given edges and metadata (the valid uint8 file by default)."""
    outputs = outputs if outputs is not None else [("labels", U8, NHW)]
    weight = helper.make_tensor("weight", F32, [1], [1.0])
    if external:
        weight.ClearField("float_data")
        weight.data_location = TensorProto.EXTERNAL
        weight.external_data.add(key="location", value="weights.bin")
    node = helper.make_node("Identity", [input_name], [o[0] for o in outputs][:1])
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info(input_name, input_type, input_shape)],
        [helper.make_tensor_value_info(name, dtype, shape) for name, dtype, shape in outputs],
        initializer=[weight])
    model = helper.make_model(graph) if opsets is None else helper.make_model(
        graph, opset_imports=[helper.make_opsetid(domain, version)
                              for domain, version in opsets.items()])
    metadata = props if props is not None else fixture_metadata(io=io).to_props()
    for key, value in metadata.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(path))
    return path


def _props(**changes: str | None) -> dict[str, str]:
    props = fixture_metadata().to_props()
    for key, value in changes.items():
        if value is None:
            del props[key]
        else:
            props[key] = value
    return props


def test_valid_files_of_both_io_kinds_open(tmp_path: Path) -> None:
    uint8 = open_model_file(write_model(tmp_path / "u8.onnx"))
    assert uint8.io is IO_KINDS["uint8"] and uint8.fixed_size is None
    float32 = open_model_file(write_model(tmp_path / "f32.onnx", "float32", input_type=F32,
                                          outputs=[("labels", I32, NHW)]))
    assert float32.io is IO_KINDS["float32"] and float32.metadata.io == "float32"
    assert (float32.io.input_dtype.name, float32.io.labels_dtype.name) == ("float32", "int32")


def test_a_file_from_before_the_io_key_is_uint8(tmp_path: Path) -> None:
    model = open_model_file(write_model(tmp_path / "old.onnx", props=_props(enet_io=None)))
    assert model.metadata.io == "uint8" and model.io is IO_KINDS["uint8"]


def test_metadata_round_trips_with_its_io_kind() -> None:
    metadata = fixture_metadata(io="float32")
    assert ModelMetadata.from_props(metadata.to_props()) == metadata


RE_EXPORT = "; re-export with `enet-train export`"
UINT8_SAYS = "but the metadata says I/O 'uint8' (uint8 image in, uint8 labels out)" + RE_EXPORT
FLOAT32_SAYS = ("but the metadata says I/O 'float32' (float32 image in, int32 labels out)" +
                RE_EXPORT)
# Each case: how the valid file is broken, and the whole error (PATH: where the file is).
BROKEN = {
    "wrong input name": (dict(input_name="img"), "PATH: inputs are ['img'], the contract "
                                                 "wants one named 'image'"),
    "channels-first layout": (dict(input_shape=["batch", 3, "height", "width"]),
                              "PATH: input 'image' must be [N, H, W, 3] (RGB, channels last), "
                              "got shape ['batch', 3, 'height', 'width']"),
    "four channels": (dict(input_shape=["batch", "height", "width", 4]),
                      "PATH: input 'image' must be [N, H, W, 3] (RGB, channels last), got "
                      "shape ['batch', 'height', 'width', 4]"),
    "unnamed dynamic axes (shown as ?)": (dict(input_shape=["batch", 3, None, "width"]),
                                          "PATH: input 'image' must be [N, H, W, 3] (RGB, "
                                          "channels last), got shape ['batch', 3, '?', 'width']"),
    "float input in a uint8 file": (dict(input_type=F32),
                                    "PATH: input 'image' is float, " + UINT8_SAYS),
    "no labels output": (dict(outputs=[("scores", U8, NHW)]),
                         "PATH: no output named 'labels' (outputs: ['scores'])"),
    "labels with a channel axis": (dict(outputs=[("labels", U8, NHWC)]),
                                   "PATH: output 'labels' must be [N, H, W], got shape "
                                   "['batch', 'height', 'width', 3]"),
    "int64 labels (an ArgMax left uncast)": (dict(outputs=[("labels", I64, NHW)]),
                                             "PATH: output 'labels' is int64, " + UINT8_SAYS),
    "float32 confidence (before the uint8 contract)": (
        dict(outputs=[("labels", U8, NHW), ("confidence", F32, NHW)]),
        "PATH: output 'confidence' is float, " + UINT8_SAYS),
    "confidence with a channel axis": (
        dict(outputs=[("labels", U8, NHW), ("confidence", U8, NHWC)]),
        "PATH: output 'confidence' must have the labels' shape ['batch', 'height', 'width'], "
        "got ['batch', 'height', 'width', 3]"),
    "fixed height not a multiple of 8": (dict(input_shape=[1, 36, 48, 3]),
                                         "PATH: fixed input size (36, 48) is not a multiple "
                                         "of 8"),
    "fixed width not a multiple of 8": (dict(input_shape=[1, 32, 44, 3]),
                                        "PATH: fixed input size (32, 44) is not a multiple "
                                        "of 8"),
    "external weights": (dict(external=True),
                         "PATH stores weights in an external file; export a single file"),
    "missing metadata": (dict(props={}), "PATH: metadata lacks enet_format_version, "
                                         "class_names, palette, input_height, input_width: not "
                                         "an enet_ros model file (export it with `enet-train "
                                         "export`)"),
    "wrong format version": (dict(props=_props(enet_format_version="2")),
                             "PATH: model file format version '2', this enet_ros reads "
                             "version 1: re-export the model"),
    "malformed metadata": (dict(props=_props(palette="[[0, 0")),
                           "PATH: malformed metadata: Expecting ',' delimiter: line 1 column 7 "
                           "(char 6)"),
    "malformed size": (dict(props=_props(input_width="wide")),
                       "PATH: malformed metadata: invalid literal for int() with base 10: "
                       "'wide'"),
    "class names not a list": (dict(props=_props(class_names='"dark"')),
                               "PATH: metadata class_names is not a list of strings"),
    "class names not strings": (dict(props=_props(class_names="[0, 1, 2, 3]")),
                                "PATH: metadata class_names is not a list of strings"),
    "palette not a list": (dict(props=_props(palette="{}")),
                           "PATH: metadata palette is not a list of [r, g, b] colours"),
    "palette colours not lists": (dict(props=_props(palette='["red", "green", "blue", "k"]')),
                                  "PATH: metadata palette is not a list of [r, g, b] colours"),
    "metadata breaking the metadata's own rules": (
        dict(props=_props(input_height="30")),
        "PATH: input_height must be a positive multiple of 8, got 30"),
    "unknown I/O kind": (dict(props=_props(enet_io="float16")),
                         "PATH: I/O kind 'float16' is unknown; this enet_ros reads uint8, "
                         "float32: upgrade enet_ros or re-export"),
    "float32 metadata on a uint8 graph": (dict(io="float32"),
                                          "PATH: input 'image' is uint8, " + FLOAT32_SAYS),
    "float32 file with uint8 labels": (dict(io="float32", input_type=F32),
                                       "PATH: output 'labels' is uint8, " + FLOAT32_SAYS),
    "uint8 metadata on a float32 graph": (dict(input_type=F32, outputs=[("labels", I32, NHW)]),
                                          "PATH: input 'image' is float, " + UINT8_SAYS),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_each_broken_contract_is_one_line_saying_what(tmp_path: Path, case: str) -> None:
    changes, message = BROKEN[case]
    path = write_model(tmp_path / "broken.onnx", **changes)
    with pytest.raises(ModelFileError) as raised:
        open_model_file(path)
    assert str(raised.value) == message.replace("PATH", str(path))


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    with pytest.raises(ModelFileError) as raised:
        open_model_file(path)
    assert str(raised.value) == (f"model file {path} does not exist: pass --model with the path "
                                 f"of an exported .onnx file")
    path.write_bytes(b"\x08garbage" * 4)
    with pytest.raises(ModelFileError) as raised:
        open_model_file(str(path))
    # the exception's name is protobuf's (DecodeError, or another with other protobuf builds)
    assert re.fullmatch(re.escape(f"{path} is not a readable ONNX file (") + r"\w+" +
                        re.escape("); re-export or re-download it"), str(raised.value))


def test_empty_graph(tmp_path: Path) -> None:
    path = tmp_path / "empty.onnx"
    onnx.save(helper.make_model(helper.make_graph([], "g", [], [])), str(path))
    with pytest.raises(ModelFileError) as raised:
        open_model_file(path)
    assert str(raised.value) == f"{path} holds an empty graph: re-export it"


def test_the_exporter_cannot_write_an_unknown_io_kind() -> None:
    with pytest.raises(ModelFileError) as raised:
        fixture_metadata(io="int8")
    assert str(raised.value) == ("I/O kind 'int8' is unknown; this enet_ros reads uint8, "
                                 "float32: upgrade enet_ros or re-export")


def test_what_a_file_says_about_its_graph(tmp_path: Path) -> None:
    path = write_model(tmp_path / "m.onnx", input_shape=[1, 32, 48, 3],
                       outputs=[("labels", U8, [1, 32, 48]), ("confidence", U8, [1, 32, 48])],
                       opsets={"": 13, "com.microsoft": 20})
    model = open_model_file(str(path))
    assert model.path == path and model.fixed_size == (32, 48) and model.has_confidence
    assert (model.opset, model.operators) == (13, ("Identity",))
    assert model.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert model.num_classes == 4 and model.metadata == fixture_metadata()
    # the default domain may also be spelled out; a file importing neither has opset 0
    assert open_model_file(write_model(tmp_path / "a.onnx", opsets={"ai.onnx": 11})).opset == 11
    assert open_model_file(write_model(tmp_path / "c.onnx", opsets={"com.x": 1})).opset == 0
    dynamic = open_model_file(write_model(tmp_path / "d.onnx"))
    assert dynamic.fixed_size is None and not dynamic.has_confidence


@pytest.mark.parametrize("shape", [["batch", 32, "width", 3], ["batch", "height", 48, 3]])
def test_a_half_fixed_input_is_dynamic(tmp_path: Path, shape: list) -> None:
    assert open_model_file(write_model(tmp_path / "m.onnx", input_shape=shape)).fixed_size is None


def test_files_and_their_metadata_are_frozen(tmp_path: Path) -> None:
    model = open_model_file(write_model(tmp_path / "m.onnx"))
    for value, attribute in ((model, "opset"), (model.metadata, "io"), (model.io, "name")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, attribute, "changed")


def test_metadata_defaults_and_props() -> None:
    metadata = ModelMetadata(("a", "b"), ((1, 2, 3), (4, 5, 6)), 16, 24)
    assert (metadata.dataset, metadata.training, metadata.validation, metadata.io) == \
        ("unknown", {}, {}, "uint8")
    assert metadata.num_classes == 2
    metadata = dataclasses.replace(metadata, training={"lr": 0.1, "epochs": 3},
                                   validation={"z": 1, "a": [2]}, dataset="camvid")
    # keys sorted: the same metadata always gives the same file (and sha256)
    assert metadata.to_props() == {
        "enet_format_version": "1", "enet_io": "uint8", "class_names": '["a", "b"]',
        "palette": "[[1, 2, 3], [4, 5, 6]]", "input_height": "16", "input_width": "24",
        "dataset": "camvid", "training": '{"epochs": 3, "lr": 0.1}',
        "validation": '{"a": [2], "z": 1}'}
    # only the required keys: the rest take their defaults
    required = {k: v for k, v in metadata.to_props().items()
                if k not in ("enet_io", "dataset", "training", "validation")}
    assert ModelMetadata.from_props(required) == ModelMetadata(
        ("a", "b"), ((1, 2, 3), (4, 5, 6)), 16, 24)


def _metadata(classes: int = 4, palette: tuple | None = None, height: object = 32,
              width: object = 48) -> ModelMetadata:
    names = tuple(f"c{i}" for i in range(classes))
    return ModelMetadata(names, palette if palette is not None else ((0, 0, 0),) * classes,
                         height, width)


@pytest.mark.parametrize("classes", [2, 256])
def test_two_to_256_classes(classes: int) -> None:
    assert _metadata(classes).num_classes == classes


@pytest.mark.parametrize("arguments, message", [
    (dict(classes=1), "a model needs 2 to 256 classes, got 1"),
    (dict(classes=257), "a model needs 2 to 256 classes, got 257"),
    (dict(palette=((0, 0, 0),) * 3), "palette has 3 colours for 4 classes; give one colour a "
                                     "class"),
    (dict(palette=((0, 0, 0),) * 3 + ((0, 0, 256),)),
     "palette colour (0, 0, 256) is not three integers 0-255"),
    (dict(palette=((0, 0, 0),) * 3 + ((-1, 0, 0),)),
     "palette colour (-1, 0, 0) is not three integers 0-255"),
    (dict(palette=((0, 0, 0),) * 3 + ((0, 0.0, 0),)),
     "palette colour (0, 0.0, 0) is not three integers 0-255"),
    (dict(palette=((0, 0, 0),) * 3 + ((0, 0),)),
     "palette colour (0, 0) is not three integers 0-255"),
    (dict(palette=((0, 0, 0),) * 3 + ((0, 0, 0, 0),)),
     "palette colour (0, 0, 0, 0) is not three integers 0-255"),
    (dict(height=0), "input_height must be a positive multiple of 8, got 0"),
    (dict(height=-8), "input_height must be a positive multiple of 8, got -8"),
    (dict(height=32.0), "input_height must be a positive multiple of 8, got 32.0"),
    (dict(width=0), "input_width must be a positive multiple of 8, got 0"),
    (dict(width=44), "input_width must be a positive multiple of 8, got 44"),
    (dict(width="48"), "input_width must be a positive multiple of 8, got '48'"),
])
def test_metadata_breaking_its_rules(arguments: dict, message: str) -> None:
    with pytest.raises(ModelFileError) as raised:
        _metadata(**arguments)
    assert str(raised.value) == message


def test_palette_extremes_are_colours() -> None:
    assert _metadata(2, ((0, 0, 0), (255, 255, 255))).palette[1] == (255, 255, 255)
