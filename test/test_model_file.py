"""The model-file contract checker, branch by branch: each broken file gets its one-line error.

The files are written with onnx.helper (one node is enough: the checker reads the graph's
edges and metadata, it never runs it), from a valid file that each case breaks in one way.
"""
from __future__ import annotations

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
                external: bool = False) -> Path:
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
    model = helper.make_model(graph)
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


BROKEN = {
    "wrong input name": (dict(input_name="img"), "inputs are ['img'], the contract wants one "
                                                 "named 'image'"),
    "channels-first layout": (dict(input_shape=["batch", 3, "height", "width"]),
                              "input 'image' must be [N, H, W, 3] (RGB, channels last)"),
    "four channels": (dict(input_shape=["batch", "height", "width", 4]),
                      "must be [N, H, W, 3]"),
    "float input in a uint8 file": (dict(input_type=F32), "input 'image' is float, but the "
                                                          "metadata says I/O 'uint8'"),
    "no labels output": (dict(outputs=[("scores", U8, NHW)]),
                         "no output named 'labels' (outputs: ['scores'])"),
    "labels with a channel axis": (dict(outputs=[("labels", U8, NHWC)]),
                                   "output 'labels' must be [N, H, W]"),
    "int64 labels (an ArgMax left uncast)": (dict(outputs=[("labels", I64, NHW)]),
                                             "output 'labels' is int64, but the metadata "
                                             "says I/O 'uint8'"),
    "float32 confidence (before the uint8 contract)": (
        dict(outputs=[("labels", U8, NHW), ("confidence", F32, NHW)]),
        "output 'confidence' is float, but the metadata says I/O 'uint8'"),
    "confidence with a channel axis": (
        dict(outputs=[("labels", U8, NHW), ("confidence", U8, NHWC)]),
        "output 'confidence' must have the labels' shape"),
    "fixed size not a multiple of 8": (dict(input_shape=[1, 36, 48, 3]),
                                       "fixed input size (36, 48) is not a multiple of 8"),
    "external weights": (dict(external=True), "stores weights in an external file"),
    "missing metadata": (dict(props={}), "metadata lacks enet_format_version, class_names, "
                                         "palette, input_height, input_width"),
    "wrong format version": (dict(props=_props(enet_format_version="2")),
                             "model file format version '2', this enet_ros reads version 1"),
    "malformed metadata": (dict(props=_props(palette="[[0, 0")), "malformed metadata"),
    "unknown I/O kind": (dict(props=_props(enet_io="float16")),
                         "I/O kind 'float16' is unknown; this enet_ros reads uint8, float32"),
    "float32 metadata on a uint8 graph": (dict(io="float32"),
                                          "input 'image' is uint8, but the metadata says I/O "
                                          "'float32' (float32 image in, int32 labels out)"),
    "float32 file with uint8 labels": (dict(io="float32", input_type=F32),
                                       "output 'labels' is uint8, but the metadata says I/O "
                                       "'float32'"),
    "uint8 metadata on a float32 graph": (dict(input_type=F32, outputs=[("labels", I32, NHW)]),
                                          "input 'image' is float, but the metadata says I/O "
                                          "'uint8' (uint8 image in, uint8 labels out)"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_each_broken_contract_is_one_line_saying_what(tmp_path: Path, case: str) -> None:
    changes, message = BROKEN[case]
    path = write_model(tmp_path / "broken.onnx", **changes)
    with pytest.raises(ModelFileError) as raised:
        open_model_file(path)
    text = str(raised.value)
    assert message in text and str(path) in text and "\n" not in text


@pytest.mark.parametrize("content, message", [(None, "does not exist"),
                                              (b"\x08garbage" * 4, "not a readable ONNX file")])
def test_missing_and_unreadable_files(tmp_path: Path, content: bytes | None,
                                      message: str) -> None:
    path = tmp_path / "m.onnx"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelFileError, match=message):
        open_model_file(path)


def test_empty_graph(tmp_path: Path) -> None:
    path = tmp_path / "empty.onnx"
    onnx.save(helper.make_model(helper.make_graph([], "g", [], [])), str(path))
    with pytest.raises(ModelFileError, match="holds an empty graph"):
        open_model_file(path)


def test_the_exporter_cannot_write_an_unknown_io_kind() -> None:
    with pytest.raises(ModelFileError, match="I/O kind 'int8' is unknown"):
        fixture_metadata(io="int8")
