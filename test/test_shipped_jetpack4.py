"""The JetPack 4.6 model file (TX1, Nano, TX2: TensorRT 8.2): opset 13, float32 I/O, labels
without ArgMax/TopK, and the same labels as the other shipped files on real CamVid frames."""
from __future__ import annotations

import numpy as np
import onnx
import pytest

from enet_ros.engines import open_engine
from enet_ros.model_file import open_model_file
from enet_train.tensorrt_support import check_operators, oldest_tensorrt

from conftest import REPO_ROOT, SHARED_DATASETS

JETPACK4 = REPO_ROOT / "models" / "enet_camvid_jetpack4.onnx"
FP32IO = REPO_ROOT / "models" / "enet_camvid_fp32io.onnx"
CAMVID_VAL = SHARED_DATASETS / "camvid" / "val"


def test_jetpack4_file_is_for_tensorrt_8_2_and_has_no_topk_layer():
    loaded = onnx.load(str(JETPACK4))
    assert [(o.domain, o.version) for o in loaded.opset_import] == [("", 13)]
    report = check_operators(loaded)
    assert report.tensorrt_ready, report.problems
    assert not {"ArgMax", "TopK", "Softmax", "Reciprocal", "Identity"} & set(report.counts)
    assert oldest_tensorrt(loaded).oldest == "8.2"
    model, fp32io = open_model_file(JETPACK4), open_model_file(FP32IO)
    assert model.io.name == "float32" and model.has_confidence and model.fixed_size is None
    assert model.metadata.class_names == fp32io.metadata.class_names
    assert model.metadata.palette == fp32io.metadata.palette
    assert model.metadata.training["train_args"] == fp32io.metadata.training["train_args"]
    assert "--target jetpack4" in model.metadata.training["export_command"]


@pytest.mark.skipif(not CAMVID_VAL.is_dir(), reason="CamVid not in ../shared/datasets")
@pytest.mark.parametrize("kind", ["onnxruntime", "openvino"])
def test_jetpack4_file_segments_camvid_like_the_float32_io_file(kind):
    import cv2

    if kind == "openvino":
        pytest.importorskip("openvino")
    files = sorted(CAMVID_VAL.glob("*.png"))[:6]
    frames = np.stack([cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB) for f in files])
    results = []
    for path in (JETPACK4, FP32IO):
        engine = open_engine(kind, open_model_file(path), threads=1, spin=False)
        results.append([engine.infer_with_confidence(frame[np.newaxis]) for frame in frames])
        engine.close()
    labels = [np.concatenate([r[0] for r in result]) for result in results]
    confidence = [np.concatenate([r[1] for r in result]).astype(int) for result in results]
    # 0 of 17,452,800 pixels differ on all 101 val frames in both engines (models/README.md)
    assert np.mean(labels[0] == labels[1]) >= 0.999
    assert np.abs(confidence[0] - confidence[1]).max() <= 1
