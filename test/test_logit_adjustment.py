"""Logit adjustment: class weights taken back out of the scores, folded into the last bias."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from _train_data import make_tiny_camvid
from enet_train import evaluate
from enet_train.datasets import build_dataset
from enet_train.datasets.camvid import CLASS_NAMES
from enet_train.logit_adjustment import (WeightsFileError, adjusted_network, read_class_weights,
                                         score_offsets)
from enet_train.metrics import confusion_matrix
from enet_train.model import ENet
from enet_train.train import used_state
from enet_train.transforms import image_to_tensor

WEIGHTS = [6.6, 3.8, 35.2, 3.5, 12.3, 9.0, 34.0, 26.6, 15.1, 36.8, 34.8]


def weights_file(path, weights=WEIGHTS):
    path.write_text(json.dumps({"for": {"method": "enet"}, "weights": weights}))
    return path


def test_offsets_are_minus_strength_times_the_log_weight():
    np.testing.assert_allclose(score_offsets(np.array([1.0, np.e, 10.0]), 0.5),
                               [0.0, -0.5, -0.5 * np.log(10.0)], rtol=1e-12)
    assert not score_offsets(np.array([3.0, 7.0]), 0.0).any()


@pytest.mark.parametrize("encoder_only", [False, True], ids=["full", "encoder"])
def test_adjusted_scores_are_the_scores_plus_the_offsets_at_every_pixel(encoder_only):
    torch.manual_seed(0)
    net = ENet(11, encoder_only=encoder_only).eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    adjusted = adjusted_network(net, np.array(WEIGHTS), 0.75).eval()
    x = torch.randn(2, 3, 32, 48)
    with torch.no_grad():
        scores, moved = net(x), adjusted(x)
    offsets = torch.tensor(score_offsets(np.array(WEIGHTS), 0.75), dtype=torch.float32)
    torch.testing.assert_close(moved, scores + offsets.view(1, -1, 1, 1), rtol=0, atol=1e-5)
    for key, value in net.state_dict().items():  # the original is untouched
        assert torch.equal(value, before[key]), key
    last = "encoder_head.bias" if encoder_only else "fullconv.bias"
    changed = [k for k, v in adjusted.state_dict().items() if not torch.equal(v, before[k])]
    assert changed == [last]


def test_weights_file_errors(tmp_path):
    assert read_class_weights(weights_file(tmp_path / "w.json"), 11).tolist() == WEIGHTS
    with pytest.raises(WeightsFileError, match="cannot read class weights .*nope.json"):
        read_class_weights(tmp_path / "nope.json", 11)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(WeightsFileError, match="not a class_weights.json of enet-train train"):
        read_class_weights(tmp_path / "bad.json", 11)
    for bad in (WEIGHTS[:10], WEIGHTS[:10] + [0.0], WEIGHTS[:10] + ["x"]):
        with pytest.raises(WeightsFileError, match="does not hold 11 positive class weights"):
            read_class_weights(weights_file(tmp_path / "odd.json", bad), 11)


def run(*argv: str) -> int:
    return evaluate.main(evaluate.get_args_parser().parse_args([*argv, "--threads", "1"]))


def test_evaluate_scores_the_adjusted_network_and_says_so(tmp_path, capsys):
    """The confusion matrix is the argmax of the scores plus the offsets, run by hand, and
    differs from the plain network's (the offsets move decisions); the report records it."""
    data = make_tiny_camvid(tmp_path / "camvid", {"val": 2}, height=32, width=40)
    torch.manual_seed(0)
    net = ENet(11).eval()
    torch.save({"model": used_state(net), "class_names": list(CLASS_NAMES)}, tmp_path / "m.pth")
    weights = weights_file(tmp_path / "class_weights.json")
    assert run(str(tmp_path / "m.pth"), "--data", str(data), "--device", "cpu",
               "--logit-adjust", "2", "--class-weights", str(weights)) == 0
    report = json.loads((tmp_path / "m_camvid_val_adjust2" / "report.json").read_text())
    assert report["logit_adjustment"] == {"strength": 2.0, "class_weights": str(weights)}
    offsets = torch.tensor(score_offsets(np.array(WEIGHTS), 2.0), dtype=torch.float32)
    want, plain = (torch.zeros(11, 11, dtype=torch.int64) for _ in range(2))
    with torch.no_grad():
        for image, label in build_dataset("camvid", data, "val"):
            scores = net(image_to_tensor(image)[None])[0]
            want += confusion_matrix(torch.from_numpy(label),
                                     (scores + offsets.view(-1, 1, 1)).argmax(0), 11)
            plain += confusion_matrix(torch.from_numpy(label), scores.argmax(0), 11)
    assert report["confusion_matrix"] == want.tolist() != plain.tolist()


def test_evaluate_refuses_what_it_cannot_adjust(tmp_path, capsys):
    data = make_tiny_camvid(tmp_path / "camvid", {"val": 1}, height=32, width=40)
    torch.save({"model": used_state(ENet(11))}, tmp_path / "m.pth")
    assert run(str(tmp_path / "m.pth"), "--data", str(data), "--logit-adjust", "0.5") == 2
    assert "--logit-adjust needs --class-weights" in capsys.readouterr().err
    weights = weights_file(tmp_path / "w.json", WEIGHTS[:5])
    assert run(str(tmp_path / "m.pth"), "--data", str(data), "--logit-adjust", "0.5",
               "--class-weights", str(weights)) == 2
    assert "does not hold 11 positive class weights" in capsys.readouterr().err
    (tmp_path / "m.onnx").write_bytes(b"")
    assert run(str(tmp_path / "m.onnx"), "--data", str(data), "--logit-adjust", "0.5",
               "--class-weights", str(weights)) == 2
    assert "--logit-adjust is for a checkpoint (.pth)" in capsys.readouterr().err
