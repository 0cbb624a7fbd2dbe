"""Evaluation of checkpoints (torch) and model files (ONNX Runtime) at native resolution."""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper

from _train_data import make_tiny_camvid
from enet_ros.model_file import ModelMetadata
from enet_train import evaluate
from enet_train.datasets import build_dataset
from enet_train.datasets.camvid import CLASS_NAMES
from enet_train.metrics import confusion_matrix
from enet_train.model import ENet
from enet_train.train import used_state
from enet_train.transforms import image_to_tensor


def run(*argv: str) -> int:
    return evaluate.main(evaluate.get_args_parser().parse_args([*argv, "--threads", "1"]))


def colour_classifier(path, fixed: tuple[int, int] | None = None, classes: int = 11):
    """A contract model file (uint8 NHWC in, uint8 labels out) that reads the class off the red
    channel of the tiny data set (red = 20 * class + noise below 20): a perfect model for it."""
    height, width = fixed or ("height", "width")
    centres = 20 * np.arange(classes) + 9.5
    weights = np.zeros((3, classes), np.float32)
    weights[0] = 2 * centres  # argmax of 2 m x - m^2 = the centre m nearest to x
    graph = helper.make_graph(
        [helper.make_node("Cast", ["image"], ["x"], to=TensorProto.FLOAT),
         helper.make_node("MatMul", ["x", "w"], ["xw"]),
         helper.make_node("Add", ["xw", "b"], ["scores"]),
         helper.make_node("ArgMax", ["scores"], ["ids"], axis=3, keepdims=0),
         helper.make_node("Cast", ["ids"], ["labels"], to=TensorProto.UINT8)],
        "colour",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, ["batch", height, width, 3])],
        [helper.make_tensor_value_info("labels", TensorProto.UINT8, ["batch", height, width])],
        [onnx.numpy_helper.from_array(weights, "w"),
         onnx.numpy_helper.from_array(-(centres ** 2).astype(np.float32), "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    names = CLASS_NAMES[:classes] if classes <= 11 else CLASS_NAMES + ("x",) * (classes - 11)
    metadata = ModelMetadata(names, ((0, 0, 0),) * classes, 360, 480, "camvid")
    for key, value in metadata.to_props().items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """28x40 images: not a multiple of 8 in height, so padding and cropping back are exercised."""
    return make_tiny_camvid(tmp_path_factory.mktemp("camvid"), {"val": 3})


def test_onnx_model_file_scores_perfectly_at_native_size(data, tmp_path, capsys):
    model = colour_classifier(tmp_path / "colour.onnx")
    assert run(str(model), "--data", str(data), "--output-dir", str(tmp_path / "out")) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["mean_iou"] == 1.0 and report["global_accuracy"] == 1.0
    assert report["mean_class_accuracy"] == 1.0 and report["images"] == 3
    labelled = sum(int((label != 255).sum()) for _, label in build_dataset("camvid", data, "val"))
    assert np.trace(np.array(report["confusion_matrix"])) == labelled
    assert report["per_class"]["Sky"]["iou"] in (1.0, None)
    assert (tmp_path / "out" / "confusion.png").stat().st_size > 1000
    assert "| Road |" in (tmp_path / "out" / "per_class_iou.md").read_text()
    printed = capsys.readouterr().out
    assert "| **mean** | **100.0** | **100.0** |" in printed


def test_model_file_through_openvino_scores_the_same_and_says_so(data, tmp_path, capsys):
    pytest.importorskip("openvino")
    model = colour_classifier(tmp_path / "colour.onnx")
    reports = {}
    for engine in ("onnxruntime", "openvino"):
        out = tmp_path / engine
        assert run(str(model), "--data", str(data), "--output-dir", str(out), "--engine",
                   engine, "--precision", "fp32") == 0
        reports[engine] = json.loads((out / "report.json").read_text())
    assert reports["onnxruntime"]["run_by"] == "onnxruntime fp32"
    assert reports["openvino"]["run_by"] == "openvino fp32"
    assert reports["openvino"]["confusion_matrix"] == reports["onnxruntime"]["confusion_matrix"]
    assert reports["openvino"]["mean_iou"] == 1.0
    capsys.readouterr()
    assert run(str(model), "--data", str(data), "--engine", "openvino", "--precision",
               "int4") == 2
    assert "error: unknown precision 'int4'" in capsys.readouterr().err


def test_fixed_size_model_file_is_fed_its_size(data, tmp_path):
    model = colour_classifier(tmp_path / "fixed.onnx", fixed=(32, 48))
    predict, _, _ = evaluate.make_predictor(model, "cpu", 1)
    image, label = build_dataset("camvid", data, "val")[0]
    labels = predict(image)
    assert labels.shape == label.shape
    valid = label != 255
    assert np.mean(labels[valid] == label[valid]) > 0.9  # resizing blurs only region edges


def test_input_size_scores_what_the_node_gives_at_that_network_size(data, tmp_path, capsys):
    import cv2
    import onnxruntime as ort

    model = colour_classifier(tmp_path / "colour.onnx")
    assert run(str(model), "--data", str(data), "--input-size", "16", "24",
               "--output-dir", str(tmp_path / "out")) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["run_by"] == "onnxruntime fp32, network input 24x16"
    # By hand: the frame resized to 24x16, the network, the labels back to native by nearest.
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    want = torch.zeros(11, 11, dtype=torch.int64)
    for image, label in build_dataset("camvid", data, "val"):
        small = cv2.resize(image, (24, 16), interpolation=cv2.INTER_LINEAR)
        labels = cv2.resize(session.run(None, {"image": small[None]})[0][0],
                            (image.shape[1], image.shape[0]), interpolation=cv2.INTER_NEAREST_EXACT)
        want += confusion_matrix(torch.from_numpy(label), torch.from_numpy(labels), 11)
    assert report["confusion_matrix"] == want.tolist()
    assert report["mean_iou"] < 1.0  # 28x40 frames through 16x24: region edges move
    capsys.readouterr()
    with pytest.raises(SystemExit) as refused:  # refused as parsed, before any frame is read
        run(str(model), "--data", str(data), "--input-size", "20", "24")
    assert refused.value.code == 2
    assert "argument --input-size: 20 is not a multiple of 8" in capsys.readouterr().err
    torch.save({"model": ENet(11).state_dict(), "class_names": list(CLASS_NAMES)},
               tmp_path / "m.pth")
    assert run(str(tmp_path / "m.pth"), "--data", str(data), "--input-size", "16", "24") == 2
    assert "--input-size is for a model file" in capsys.readouterr().err


def test_checkpoint_matches_the_network_run_by_hand(tmp_path):
    data = make_tiny_camvid(tmp_path / "camvid", {"val": 2}, height=32, width=40)
    torch.manual_seed(0)
    net = ENet(11).eval()
    torch.save({"model": net.state_dict(), "class_names": list(CLASS_NAMES)}, tmp_path / "m.pth")
    assert run(str(tmp_path / "m.pth"), "--data", str(data), "--device", "cpu") == 0
    report = json.loads((tmp_path / "m_camvid_val" / "report.json").read_text())
    want = torch.zeros(11, 11, dtype=torch.int64)
    with torch.no_grad():
        for image, label in build_dataset("camvid", data, "val"):
            prediction = net(image_to_tensor(image)[None])[0].argmax(0)
            want += confusion_matrix(torch.from_numpy(label), prediction, 11)
    assert report["confusion_matrix"] == want.tolist()


def test_padding_is_cropped_back(tmp_path, data):
    torch.manual_seed(0)
    net = ENet(11).eval()
    torch.save({"model": net.state_dict()}, tmp_path / "m.pth")
    predict, names, _ = evaluate.make_predictor(tmp_path / "m.pth", "cpu", 1)
    image, _ = build_dataset("camvid", data, "val")[0]
    labels = predict(image)
    assert labels.shape == (28, 40) and labels.dtype == np.uint8 and names is None
    padded = evaluate.pad_to_multiple(image)
    assert padded.shape == (32, 40, 3)
    np.testing.assert_array_equal(padded[28:], np.repeat(image[27:28], 4, axis=0))
    with torch.no_grad():
        full = net(image_to_tensor(padded)[None])[0].argmax(0).numpy()
    np.testing.assert_array_equal(labels, full[:28])


def test_encoder_checkpoint_scores_are_upsampled(tmp_path, data):
    torch.manual_seed(0)
    net = ENet(11, encoder_only=True).eval()
    torch.save({"model": used_state(net), "stage": "encoder"}, tmp_path / "enc.pth")
    predict, _, _ = evaluate.make_predictor(tmp_path / "enc.pth", "cpu", 1)
    image, _ = build_dataset("camvid", data, "val")[0]
    padded = evaluate.pad_to_multiple(image)
    with torch.no_grad():
        scores = net(image_to_tensor(padded)[None])
        assert scores.shape[-2:] == (4, 5)
        want = F.interpolate(scores, size=(32, 40), mode="bilinear")[0].argmax(0)[:28].numpy()
    np.testing.assert_array_equal(predict(image), want)


def test_errors_are_reported_with_exit_status_2(data, tmp_path, capsys):
    model = colour_classifier(tmp_path / "twelve.onnx", classes=12)
    assert run(str(model), "--data", str(data)) == 2
    assert "predicts 12 classes but the camvid data set has 11" in capsys.readouterr().err
    assert run(str(tmp_path / "missing.pth"), "--data", str(data)) == 2
    assert "missing.pth does not exist" in capsys.readouterr().err
    assert run(str(model), "--data", str(tmp_path / "nowhere")) == 2
    assert "missing folder" in capsys.readouterr().err
