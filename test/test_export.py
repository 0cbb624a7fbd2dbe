"""The export: exact index-free unpooling, BatchNorm folding, the model-file contract."""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F

from enet_ros.model_file import ModelMetadata, open_model_file
from enet_train.export import (JETPACK4_OPSET, ONNX_TRANSLATIONS, ExportError, FirstMaximum,
                               MaskUnpool, MaxPoolWithMask, export_onnx, inference_network,
                               label_agreement, onnxruntime_labels, torch_labels)
from enet_train.model import IMAGE_MEAN, IMAGE_STD
from enet_train.transforms import image_to_tensor
from enet_train.tensorrt_support import check_operators, oldest_tensorrt

from conftest import CAMVID_CLASSES, REPO_ROOT, SHARED_DATASETS, make_enet


def _tie_heavy(shape, seed=0):
    """Values from {0, 1, 2} with flat patches: most 2x2 windows hold tied maxima."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 3, shape, generator=g).float()
    x[..., : shape[-2] // 2, : shape[-1] // 2] = 1.0
    return x


def _torch_unpool(x):
    pooled, indices = F.max_pool2d(x, 2, 2, return_indices=True)
    return pooled, F.max_unpool2d(pooled * 3 + 1, indices, 2, 2)


def test_mask_unpooling_is_exact_against_torch_on_ties():
    x = _tie_heavy((3, 5, 16, 24))
    pooled_ref, unpooled_ref = _torch_unpool(x)
    pooled, mask = MaxPoolWithMask()(x)
    assert torch.equal(pooled, pooled_ref)
    assert torch.equal(MaskUnpool()(pooled * 3 + 1, mask), unpooled_ref)
    # Exactly one position a window is chosen.
    assert torch.equal(F.avg_pool2d(mask, 2) * 4, torch.ones_like(pooled))


def test_naive_equality_mask_is_wrong_on_ties():
    """Why the first-maximum mask exists: x == upsample(maxpool(x)) marks every tied position."""
    x = _tie_heavy((1, 2, 8, 8))
    pooled_ref, unpooled_ref = _torch_unpool(x)
    naive = (x == F.interpolate(pooled_ref, scale_factor=2.0)).float()
    assert not torch.equal(F.interpolate(pooled_ref * 3 + 1, scale_factor=2.0) * naive,
                           unpooled_ref)


def test_mask_unpooling_is_exact_in_onnxruntime(tmp_path):
    """The exported mask operators reproduce torch's indices in ONNX Runtime, ties included."""
    import onnxruntime as ort

    class PoolUnpool(torch.nn.Module):
        def forward(self, x):
            pooled, mask = MaxPoolWithMask()(x)
            return MaskUnpool()(pooled * 3 + 1, mask)

    x = _tie_heavy((2, 4, 16, 16), seed=1)
    path = tmp_path / "unpool.onnx"
    torch.onnx.export(PoolUnpool().eval(), (x,), str(path), input_names=["x"], opset_version=18,
                      dynamo=True, external_data=False, verbose=False,
                      custom_translation_table=ONNX_TRANSLATIONS)
    out = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        None, {"x": x.numpy()})[0]
    np.testing.assert_array_equal(out, _torch_unpool(x)[1].numpy())
    graph = onnx.shape_inference.infer_shapes(onnx.load(str(path))).graph
    assert not check_operators(onnx.load(str(path))).problems
    # One DCR DepthToSpace interleaves the float masks: no Concat of booleans (a reference
    # kernel in OpenVINO, 12 of 44 ms) and no 6-D Transpose (9 of 62 ms in ONNX Runtime).
    types = {v.name: v.type.tensor_type.elem_type for v in graph.value_info}
    nodes = {n.op_type: n for n in graph.node}
    assert [a.s for a in nodes["DepthToSpace"].attribute if a.name == "mode"] == [b"DCR"]
    assert [n.op_type for n in graph.node].count("DepthToSpace") == 1 and "Transpose" not in nodes
    assert {types[name] for name in nodes["Concat"].input} == {onnx.TensorProto.FLOAT}
    ov = pytest.importorskip("openvino")
    request = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    np.testing.assert_array_equal(request({"x": x.numpy()})[0], _torch_unpool(x)[1].numpy())


def test_inference_network_matches_training_network(enet_network):
    """Folding and mask unpooling change the arithmetic, not the function."""
    torch.set_num_threads(1)
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        ref = enet_network(x)
        folded = inference_network(enet_network)(x)
    np.testing.assert_allclose(folded.numpy(), ref.numpy(), rtol=1e-3, atol=1e-3)
    assert not any(isinstance(m, (torch.nn.BatchNorm2d, torch.nn.Dropout2d))
                   for m in inference_network(enet_network).modules())


def test_scale_relu_prelu_is_prelu_for_any_slope():
    from enet_train.export import ScaleReluPReLU

    prelu = torch.nn.PReLU(8)
    with torch.no_grad():
        prelu.weight.copy_(torch.tensor([-1.0, -0.3, 0.0, 0.25, 0.7, 1.0, 1.5, 3.0]))
    x = torch.randn(3, 8, 5, 7) * 10
    x[0, :, 0, 0] = 0.0
    with torch.no_grad():
        ref, out = prelu(x), ScaleReluPReLU(prelu, 8)(x)
    positive = x >= 0
    assert torch.equal(out[positive], ref[positive])  # exact where x >= 0
    torch.testing.assert_close(out, ref, rtol=1e-6, atol=1e-6)
    shared = torch.nn.PReLU(1, init=0.1)
    torch.testing.assert_close(ScaleReluPReLU(shared, 8)(x), shared(x), rtol=1e-6, atol=1e-6)


def test_inference_network_matches_with_any_prelu_slopes(enet_network):
    """PReLU rewritten, initial block, downsampling and final conv restructured: same function,
    for slopes below 0 and above 1 too, and the same labels through the export wrapper."""
    import copy

    from enet_train.export import ImageToLabels, PhaseFullConv

    torch.set_num_threads(1)
    net = copy.deepcopy(enet_network)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.PReLU):
                m.weight.uniform_(-0.5, 1.5)
    inference = inference_network(net)
    assert isinstance(inference.fullconv, PhaseFullConv)
    assert not any(isinstance(m, torch.nn.PReLU) for m in inference.modules())
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        np.testing.assert_allclose(inference(x).numpy(), net(x).numpy(), rtol=1e-4, atol=1e-4)
        images = torch.from_numpy(_smooth_frames(2, 64, 96))
        ref_labels, ref_conf = ImageToLabels(net, True)(images)
        labels, conf = ImageToLabels(inference, True)(images)
    assert labels.dtype == torch.uint8 and labels.shape == (2, 64, 96)
    assert (labels == ref_labels).float().mean() >= 0.999
    torch.testing.assert_close(conf, ref_conf, rtol=1e-4, atol=1e-4)
    assert isinstance(inference.fullconv, PhaseFullConv)  # the wrapper left the network intact


def test_encoder_only_network_cannot_be_exported():
    from enet_train.model import ENet

    with pytest.raises(ExportError, match="encoder-only"):
        inference_network(ENet(11, encoder_only=True))


def test_model_file_follows_the_contract(enet_model_file):
    model = open_model_file(enet_model_file)
    assert model.fixed_size is None and model.has_confidence and model.opset >= 17
    assert model.metadata.class_names == CAMVID_CLASSES
    assert model.metadata.palette[3] == (128, 64, 128)  # Road
    assert (model.metadata.input_height, model.metadata.input_width) == (360, 480)
    loaded = onnx.load(str(enet_model_file))
    assert not loaded.graph.initializer or all(
        i.data_location != onnx.TensorProto.EXTERNAL for i in loaded.graph.initializer)
    report = check_operators(loaded)
    assert report.tensorrt_ready, report.problems
    assert "MaxUnpool" not in report.counts and "Dropout" not in report.counts
    assert "PRelu" not in report.counts and "ConvTranspose" in report.counts
    # Labels and confidence from ReduceMax (FirstMaximum): no TopK layer for TensorRT to build
    assert not {"ArgMax", "TopK", "Softmax", "Reciprocal"} & set(report.counts)
    # Every training BatchNorm is folded; the BatchNormalizations left are PReLU's per-channel
    # scales (mean 0, variance 1, epsilon 0, shift 0).
    values = {i.name: onnx.numpy_helper.to_array(i) for i in loaded.graph.initializer}
    for node in loaded.graph.node:
        if node.op_type == "BatchNormalization":
            _, shift, mean, var = (values[name] for name in node.input[1:])
            eps = [a.f for a in node.attribute if a.name == "epsilon"]
            assert eps == [0.0] and not shift.any() and not mean.any() and (var == 1).all()


def _smooth_frames(n, h, w, seed=0):
    import cv2
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (n, h // 16 + 1, w // 16 + 1, 3), dtype=np.uint8)
    return np.stack([cv2.resize(c, (w, h), interpolation=cv2.INTER_NEAREST) for c in coarse])


@pytest.mark.parametrize("size", [(64, 96), (120, 160)])
def test_onnxruntime_labels_agree_with_torch_at_any_multiple_of_8(enet_network, enet_model_file,
                                                                   size):
    import onnxruntime as ort

    frames = _smooth_frames(2, *size)
    ort_labels = onnxruntime_labels(enet_model_file, frames)
    assert ort_labels.shape == (2, *size) and ort_labels.dtype == np.uint8
    assert label_agreement(ort_labels, torch_labels(enet_network, frames)) >= 0.995
    session = ort.InferenceSession(str(enet_model_file), providers=["CPUExecutionProvider"])
    labels, confidence = session.run(None, {"image": frames})
    assert confidence.shape == (2, *size) and confidence.dtype == np.uint8
    # floor(255 p + 0.5) of the training network's own top probability; the folded graph
    # computes p in another order, which may tip a value sitting on a rounding boundary
    with torch.no_grad():
        logits = copy.deepcopy(enet_network).eval()(
            (torch.from_numpy(frames).float().permute(0, 3, 1, 2) / 255.0
             - torch.tensor(IMAGE_MEAN).reshape(1, 3, 1, 1))
            / torch.tensor(IMAGE_STD).reshape(1, 3, 1, 1))
    expected = np.floor(torch.softmax(logits.double(), 1).amax(1).numpy() * 255 + 0.5)
    same_label = labels == torch_labels(enet_network, frames)
    difference = np.abs(confidence.astype(int) - expected)[same_label]
    assert difference.max() <= 1 and (difference == 0).mean() >= 0.99
    assert confidence.min() >= np.floor(255 / len(CAMVID_CLASSES))  # never below uniform


def test_onnxruntime_refuses_sizes_that_are_not_multiples_of_8(enet_model_file):
    """The graph itself refuses: 60 rows halve to 30 and 15, and then the shapes of the
    encoder and the decoder disagree (why the runtime checks sizes before a frame reaches it)."""
    import onnxruntime as ort
    from onnxruntime.capi.onnxruntime_pybind11_state import Fail

    session = ort.InferenceSession(str(enet_model_file), providers=["CPUExecutionProvider"])
    with pytest.raises(Fail, match=r"Non-zero status code returned while running \w+ node.*"
                                   r"Shape mismatch"):
        session.run(None, {"image": np.zeros((1, 60, 64, 3), np.uint8)})


@pytest.mark.skipif(not (SHARED_DATASETS / "camvid" / "val").is_dir(),
                    reason="CamVid not present in ../shared/datasets")
def test_onnxruntime_agrees_with_torch_on_camvid_frames(enet_network, enet_model_file):
    import cv2
    files = sorted((SHARED_DATASETS / "camvid" / "val").glob("*.png"))[:4]
    frames = np.stack([cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB) for f in files])
    agreement = label_agreement(onnxruntime_labels(enet_model_file, frames),
                                torch_labels(enet_network, frames))
    assert agreement >= 0.998, agreement


@pytest.fixture(scope="module")
def enet_fp32io_model_file(enet_network, enet_model_file, tmp_path_factory):
    """``enet_model_file`` again, with float32 image in and int32 labels out."""
    from dataclasses import replace

    metadata = replace(open_model_file(enet_model_file).metadata, io="float32")
    out = tmp_path_factory.mktemp("fp32io") / "enet_random_fp32io.onnx"
    return export_onnx(enet_network, out, metadata, confidence=True)


def test_float32_io_file_has_no_8_bit_or_64_bit_edges_and_the_same_operators(
        enet_model_file, enet_fp32io_model_file):
    uint8, float32 = onnx.load(str(enet_model_file)), onnx.load(str(enet_fp32io_model_file))
    edges = {v.name: v.type.tensor_type.elem_type for v in [*float32.graph.input,
                                                             *float32.graph.output]}
    assert edges == {"image": onnx.TensorProto.FLOAT, "labels": onnx.TensorProto.INT32,
                     "confidence": onnx.TensorProto.INT32}
    assert open_model_file(enet_fp32io_model_file).io.name == "float32"
    counts = check_operators(uint8).counts
    # The uint8 file has one Cast more: the image's, from uint8 to float32.
    assert check_operators(float32).counts == {**counts, "Cast": counts["Cast"] - 1}
    casts = [n for n in uint8.graph.node if "image" in n.input and n.op_type != "Shape"]
    assert [n.op_type for n in casts] == ["Cast"]  # nothing but Cast reads the uint8 image
    assert oldest_tensorrt(uint8).oldest == "8.6" and oldest_tensorrt(float32).oldest == "8.4"


@pytest.mark.skipif(not (SHARED_DATASETS / "camvid" / "val").is_dir(),
                    reason="CamVid not present in ../shared/datasets")
def test_both_io_kinds_give_identical_labels_through_the_runtime(enet_model_file,
                                                                 enet_fp32io_model_file):
    import cv2

    from enet_ros.engines import open_engine
    from enet_ros.palette import load_palette
    from enet_ros.segmenter import Segmenter

    files = sorted((SHARED_DATASETS / "camvid" / "val").glob("*.png"))[:3]
    segmenters = []
    for path in (enet_model_file, enet_fp32io_model_file):
        model = open_model_file(path)
        segmenters.append(Segmenter(open_engine("onnxruntime", model, threads=1),
                                    load_palette(None, model.metadata)))
    for f in files:
        rgb = cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB)
        uint8, float32 = (s.segment(rgb, color=False, overlay=False).labels for s in segmenters)
        assert uint8.dtype == float32.dtype == np.uint8 and uint8.shape == rgb.shape[:2]
        np.testing.assert_array_equal(uint8, float32)


@pytest.fixture(scope="module")
def enet_jetpack4_model_file(enet_fp32io_model_file, tmp_path_factory):
    """``enet_fp32io_model_file`` at opset 13, for TensorRT 8.2 (JetPack 4.6)."""
    out = tmp_path_factory.mktemp("jetpack4") / "enet_random_jetpack4.onnx"
    return export_onnx(make_enet(), out, open_model_file(enet_fp32io_model_file).metadata,
                       confidence=True, opset=JETPACK4_OPSET)


def test_first_maximum_is_argmax_with_its_tie_rule_and_the_softmax_top():
    scores = torch.randint(0, 4, (3, 7, 5, 6)).float()  # small integers: ties everywhere
    scores[0, :, 0, 0] = 2.0  # all seven tied: class 0
    first, total = FirstMaximum(7)(scores)
    assert first.dtype == torch.float32 and first.shape == (3, 5, 6)
    torch.testing.assert_close(first, scores.argmax(dim=1).float(), rtol=0, atol=0)
    assert first[0, 0, 0] == 0
    torch.testing.assert_close(1.0 / total, torch.softmax(scores, dim=1).amax(dim=1))


def test_jetpack4_file_is_opset_13_for_tensorrt_8_2_with_the_same_labels(
        enet_network, enet_fp32io_model_file, enet_jetpack4_model_file):
    model = onnx.load(str(enet_jetpack4_model_file))
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 13)]
    counts = check_operators(model).counts
    assert not {"ArgMax", "TopK", "Softmax", "Reciprocal"} & set(counts)
    assert counts["ReduceMax"] == 2 and counts["ReduceSum"] == 1 and "Identity" not in counts
    # TensorRT builds a BatchNormalization as one scale layer only when its parameters are weights
    weights = {i.name for i in model.graph.initializer}
    assert all(set(n.input[1:]) <= weights for n in model.graph.node
               if n.op_type == "BatchNormalization")
    assert oldest_tensorrt(model).oldest == "8.2"
    assert open_model_file(enet_jetpack4_model_file).io.name == "float32"
    frames = _smooth_frames(2, 64, 96)
    labels = onnxruntime_labels(enet_jetpack4_model_file, frames)
    np.testing.assert_array_equal(labels, onnxruntime_labels(enet_fp32io_model_file, frames))
    assert label_agreement(labels, torch_labels(enet_network, frames)) >= 0.995


def test_oldest_tensorrt_follows_the_8_2_tables():
    from onnx import TensorProto, helper

    def model(op, opset):
        graph = helper.make_graph(
            [helper.make_node(op, ["x"], ["y"])], "g",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])

    def oldest(op, opset):
        report = oldest_tensorrt(model(op, opset))
        return report.oldest, report.reasons

    assert oldest("Exp", 13) == ("8.2", (
        "operators: all in TensorRT 8.2's parser", "opset 13: documented from TensorRT 8.2",
        "x: float, from TensorRT 8.2", "y: float, from TensorRT 8.2"))
    assert oldest("Reciprocal", 13) == ("8.4", (
        "operators: all in TensorRT 8.4's parser (Reciprocal from 8.4)",))
    assert oldest("Exp", 14) == ("8.4", ("opset 14: documented from TensorRT 8.4",))


def test_cli_check_reports_the_oldest_tensorrt_of_each_io_kind(enet_model_file,
                                                               enet_fp32io_model_file,
                                                               enet_jetpack4_model_file):
    for path, io, oldest in [(enet_model_file, "uint8", "8.6"),
                             (enet_fp32io_model_file, "float32", "8.4"),
                             (enet_jetpack4_model_file, "float32", "8.2")]:
        done = _cli("check", path)
        assert done.returncode == 0, done.stderr
        assert f"I/O {io}" in done.stdout
        assert f"oldest TensorRT that accepts it: {oldest}" in done.stdout


def test_metadata_and_network_class_counts_must_agree(tmp_path):
    net = make_enet(5)
    metadata = ModelMetadata(CAMVID_CLASSES, ((0, 0, 0),) * 11, 64, 64)
    with pytest.raises(ExportError, match="5 classes"):
        export_onnx(net, tmp_path / "m.onnx", metadata)


def test_export_writes_only_the_opsets_tensorrt_releases_need(tmp_path):
    metadata = ModelMetadata(("a", "b"), ((0, 0, 0), (1, 1, 1)), 64, 64)
    with pytest.raises(ExportError, match="opset 15: the export writes 17 .* or 13 "):
        export_onnx(make_enet(2), tmp_path / "m.onnx", metadata, opset=15)


def test_export_size_must_be_a_multiple_of_8(tmp_path):
    net = make_enet(2)
    metadata = ModelMetadata(("a", "b"), ((0, 0, 0), (1, 1, 1)), 64, 64)
    with pytest.raises(ExportError, match="multiple of 8"):
        export_onnx(net, tmp_path / "m.onnx", metadata, fixed_size=(60, 64))


def _cli(*args, cwd=None):
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run([sys.executable, "-m", "enet_train.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=600)


def test_cli_exports_a_checkpoint_to_a_fixed_size_file_and_checks_it(tmp_path):
    net = make_enet(4, seed=3)
    names = ["road", "car", "tree", "sky"]
    ckpt = tmp_path / "best.pth"
    torch.save({"model": net.state_dict(), "class_names": names, "epoch": 7,
                "args": {"dataset": "custom", "train_split": "train+val", "val_split": "val"},
                "metrics": {"mean_iou": 0.25}}, ckpt)
    out = tmp_path / "m.onnx"
    palette = tmp_path / "pal.yaml"
    common = ["export", ckpt, "--out", out, "--height", 64, "--width", 96, "--fixed-size",
              "--palette", palette, "--verify-count", 2, "--io", "float32"]
    done = _cli(*common, cwd=tmp_path)
    assert done.returncode == 2 and "pal.yaml" in done.stderr and "Traceback" not in done.stderr
    palette.write_text("name: custom\nclasses:\n" + "".join(
        f"  - {{name: {n}, color: [{i}, {i}, {i}]}}\n" for i, n in enumerate(names)))
    (tmp_path / "empty").mkdir()
    done = _cli(*common, "--verify-images", tmp_path / "empty", cwd=tmp_path)
    assert done.returncode == 2 and "no images" in done.stderr
    done = _cli(*common, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "label agreement, ONNX Runtime vs torch" in done.stdout
    model = open_model_file(out)
    assert model.fixed_size == (64, 96) and model.has_confidence  # on by default
    assert model.io.name == "float32"
    assert model.metadata.class_names == tuple(names)
    assert model.metadata.palette[2] == (2, 2, 2)
    # A final run on train+val scored its own training images: the metadata says so.
    assert model.metadata.validation == {"mean_iou": 0.25, "split": "val",
                                         "seen_in_training": True}
    assert model.metadata.training["epoch"] == 7
    check = _cli("check", out)
    assert check.returncode == 0 and "every operator is supported" in check.stdout
    assert "ConvTranspose" in check.stdout and "MaxUnpool" not in check.stdout


def test_cli_export_folds_the_logit_adjustment_into_the_file(tmp_path):
    """--logit-adjust: the file's labels are those of the scores minus strength x ln(weight),
    the metadata says so, and the checkpoint's validation figures (before it) are left out."""
    net = make_enet(4, seed=3).eval()
    ckpt = tmp_path / "best.pth"
    torch.save({"model": net.state_dict(), "class_names": ["a", "b", "c", "d"],
                "args": {"dataset": "lab"}, "metrics": {"mean_iou": 0.25}}, ckpt)
    weights = [1.0, 40.0, 2.0, 9.0]
    (tmp_path / "class_weights.json").write_text(json.dumps({"weights": weights}))
    common = ["export", ckpt, "--out", tmp_path / "m.onnx", "--height", 32, "--width", 48,
              "--verify-count", 2, "--logit-adjust", 1.5]
    done = _cli(*common, cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.strip().endswith(
        "--logit-adjust needs --class-weights, the class_weights.json the run wrote to its "
        "--output-dir")
    done = _cli(*common, "--class-weights", tmp_path / "class_weights.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    model = open_model_file(tmp_path / "m.onnx")
    assert model.metadata.training["logit_adjustment"] == {"strength": 1.5,
                                                           "class_weights": weights}
    assert model.metadata.validation == {}
    images = np.random.default_rng(0).integers(0, 256, (2, 32, 48, 3), dtype=np.uint8)
    with torch.no_grad():
        scores = net(torch.stack([image_to_tensor(i) for i in images]))
    offsets = -1.5 * torch.log(torch.tensor(weights)).view(1, -1, 1, 1)
    want = (scores + offsets).argmax(1).numpy()
    got = onnxruntime_labels(tmp_path / "m.onnx", images)
    assert label_agreement(got, want) > 0.999
    assert label_agreement(got, scores.argmax(1).numpy()) < 0.99  # it moved decisions


def test_cli_exports_for_jetpack4_at_opset_13(tmp_path):
    ckpt = tmp_path / "best.pth"
    torch.save({"model": make_enet(3, seed=2).state_dict(), "args": {"dataset": "lab"},
                "class_names": ["a", "b", "c"]}, ckpt)
    common = ["export", ckpt, "--out", tmp_path / "m.onnx", "--height", 32, "--width", 48,
              "--fixed-size", "--no-verify", "--target", "jetpack4"]
    done = _cli(*common, "--io", "uint8", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.strip().endswith(
        "--target jetpack4 writes --io float32; leave --io out")
    done = _cli(*common, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    model = open_model_file(tmp_path / "m.onnx")
    assert (model.opset, model.io.name, model.fixed_size) == (13, "float32", (32, 48))
    check = _cli("check", tmp_path / "m.onnx")
    assert check.returncode == 0 and "oldest TensorRT that accepts it: 8.2 " in check.stdout


def test_export_confidence_is_on_unless_turned_off():
    from enet_train.cli import get_args_parser

    parse = get_args_parser().parse_args
    assert parse(["export", "best.pth", "--out", "m.onnx"]).confidence is True
    assert parse(["export", "best.pth", "--out", "m.onnx", "--no-confidence"]).confidence is False


def test_export_without_a_palette_generates_distinct_colours(tmp_path):
    """A data set with no shipped palette gets generated colours, never all black."""
    names = ["floor", "wall", "door"]
    ckpt = tmp_path / "best.pth"
    torch.save({"model": make_enet(3, seed=1).state_dict(), "args": {"dataset": "lab"},
                "class_names": names}, ckpt)
    done = _cli("export", ckpt, "--out", tmp_path / "m.onnx", "--height", 32, "--width", 32,
                "--no-verify", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    metadata = open_model_file(tmp_path / "m.onnx").metadata
    assert metadata.dataset == "lab"
    assert metadata.palette == ((128, 0, 0), (0, 128, 0), (128, 128, 0))


def test_check_names_the_operators_tensorrt_lacks(tmp_path):
    """torch's default export of the training network keeps MaxPool's indices; `check` says so."""
    net = make_enet(3).eval()
    path = tmp_path / "naive.onnx"
    torch.onnx.export(net, (torch.zeros(1, 3, 32, 32),), str(path), input_names=["x"],
                      opset_version=18, dynamo=True, external_data=False, verbose=False)
    report = check_operators(onnx.load(str(path)))
    assert not report.tensorrt_ready
    assert sum("outputs indices" in p for p in report.problems) >= 2


def test_check_flags_maxunpool():
    from onnx import TensorProto, helper

    node = helper.make_node("MaxUnpool", ["x", "i"], ["y"], kernel_shape=[2, 2], strides=[2, 2])
    graph = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 2, 2]),
         helper.make_tensor_value_info("i", TensorProto.INT64, [1, 1, 2, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 4, 4])])
    report = check_operators(helper.make_model(graph))
    assert report.problems == ("MaxUnpool: not supported by TensorRT's ONNX parser",)


@pytest.mark.parametrize("args, message", [
    (["export", "missing.pth", "--out", "m.onnx"], "does not exist"),
    (["export", "corrupt.pth", "--out", "m.onnx"], "not a readable torch checkpoint"),
    (["check", "corrupt.pth"], "not a readable ONNX file"),
    (["check", "missing.onnx"], "does not exist"),
])
def test_cli_errors_are_one_line(tmp_path, args, message):
    (tmp_path / "corrupt.pth").write_bytes(b"\x00garbage" * 10)
    done = _cli(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_mask_unpool_weights_move_with_the_module_and_are_not_saved():
    from enet_train.export import MaskUnpool

    unpool = MaskUnpool(4).to(torch.float64)
    assert unpool.identity.dtype == torch.float64 and unpool.state_dict() == {}
    assert MaskUnpool().identity is None
