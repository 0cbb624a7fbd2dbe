"""The model we ship: it keeps the contract, is TensorRT-ready, says what it scores, and
segments real CamVid frames as its report claims."""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from enet_ros.engines import open_engine
from enet_ros.model_file import open_model_file
from enet_ros.palette import load_palette
from enet_ros.segmenter import Segmenter
from enet_train.tensorrt_support import check_operators

from conftest import CAMVID_CLASSES, REPO_ROOT, SHARED_DATASETS

MODEL = REPO_ROOT / "models" / "enet_camvid.onnx"
CAMVID = SHARED_DATASETS / "camvid"


def test_shipped_model_keeps_the_contract_and_is_tensorrt_ready():
    model = open_model_file(MODEL)
    assert model.metadata.class_names == CAMVID_CLASSES
    assert model.metadata.dataset == "camvid"
    assert (model.metadata.input_height, model.metadata.input_width) == (360, 480)
    assert model.fixed_size is None
    report = check_operators(onnx.load(str(MODEL)))
    assert report.tensorrt_ready, report.problems
    assert "MaxUnpool" not in report.counts


def test_shipped_model_metadata_matches_its_report():
    """models/README.md and the metadata quote the same validation mIoU."""
    validation = open_model_file(MODEL).metadata.validation
    miou = validation["mean_iou"]
    assert 0.0 < miou < 1.0
    # metadata: torch, at training's validation; report: `enet-train evaluate` on the file.
    report = json.loads((REPO_ROOT / "models" / "enet_camvid.json").read_text())
    assert report["mean_iou"] == pytest.approx(miou, abs=5e-3)
    card = (REPO_ROOT / "models" / "README.md").read_text()
    assert f"{report['mean_iou'] * 100:.1f}" in card
    # The final run trained on val too: its val figures are a fit, and the card must say so.
    assert validation["split"] == report["split"] == "val"
    if validation["seen_in_training"]:
        assert "on seen images" in card


@pytest.mark.skipif(not (CAMVID / "val").is_dir(), reason="CamVid not in ../shared/datasets")
def test_shipped_model_segments_camvid_frames_like_its_report():
    import cv2

    model = open_model_file(MODEL)
    segmenter = Segmenter(open_engine("onnxruntime", model, threads=1),
                          load_palette(None, model.metadata))
    image_files = sorted((CAMVID / "val").glob("*.png"))[:3]
    correct = total = 0
    for image_file in image_files:
        rgb = cv2.cvtColor(cv2.imread(str(image_file)), cv2.COLOR_BGR2RGB)
        truth = cv2.imread(str(CAMVID / "valannot" / image_file.name), cv2.IMREAD_GRAYSCALE)
        labels = segmenter.segment(rgb, color=False, overlay=False).labels
        assert labels.shape == truth.shape
        valid = truth < len(CAMVID_CLASSES)
        correct += int(np.sum(labels[valid] == truth[valid]))
        total += int(valid.sum())
    report = json.loads((REPO_ROOT / "models" / "enet_camvid.json").read_text())
    # Three frames vary around the validation set's global accuracy, not far below it.
    assert correct / total > report["global_accuracy"] - 0.15


FP32IO = REPO_ROOT / "models" / "enet_camvid_fp32io.onnx"


def test_shipped_float32_io_model_is_for_tensorrt_8_4_and_matches_the_default():
    from enet_train.tensorrt_support import oldest_tensorrt

    default, fp32io = open_model_file(MODEL), open_model_file(FP32IO)
    assert fp32io.io.name == "float32" and default.io.name == "uint8"
    assert fp32io.metadata.class_names == default.metadata.class_names
    assert fp32io.metadata.palette == default.metadata.palette
    assert fp32io.fixed_size is None and fp32io.operators == default.operators
    loaded = onnx.load(str(FP32IO))
    edges = [v.type.tensor_type.elem_type for v in [*loaded.graph.input, *loaded.graph.output]]
    # image, labels, confidence: the integer outputs int32, which TensorRT 8.4 gives
    assert edges == [onnx.TensorProto.FLOAT, onnx.TensorProto.INT32, onnx.TensorProto.INT32]
    assert default.has_confidence and fp32io.has_confidence
    assert oldest_tensorrt(loaded).oldest == "8.4"


@pytest.mark.skipif(not (CAMVID / "val").is_dir(), reason="CamVid not in ../shared/datasets")
def test_shipped_float32_io_model_segments_camvid_like_the_default():
    import cv2

    segmenters = []
    for path in (MODEL, FP32IO):
        model = open_model_file(path)
        segmenters.append(Segmenter(open_engine("onnxruntime", model, threads=1),
                                    load_palette(None, model.metadata)))
    same = total = 0
    for image_file in sorted((CAMVID / "val").glob("*.png"))[:3]:
        rgb = cv2.cvtColor(cv2.imread(str(image_file)), cv2.COLOR_BGR2RGB)
        default, fp32io = (s.segment(rgb, color=False, overlay=False).labels for s in segmenters)
        same += int(np.sum(default == fp32io))
        total += default.size
    # Both are exported from training/enet_camvid_trainval_last.pth: the same labels, pixel for pixel
    assert same == total
