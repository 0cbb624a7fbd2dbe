"""tools/held_out_probes.py: its tones do what they say, and its ensemble scores agree with
enet-train evaluate's for one network."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import torch

from _train_data import make_tiny_camvid
from enet_train.datasets import build_dataset
from enet_train.datasets.camvid import CLASS_NAMES
from enet_train.evaluate import evaluate, torch_predictor
from enet_train.model import ENet

SPEC = importlib.util.spec_from_file_location(
    "held_out_probes", Path(__file__).parents[1] / "tools" / "held_out_probes.py")
probes = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(probes)


def test_gamma_takes_a_grey_frame_to_the_median_luma_asked_for():
    rng = np.random.default_rng(0)
    for scale in (60, 250):
        frame = np.repeat((rng.random((40, 51, 1)) * scale).astype(np.uint8), 3, axis=2)
        toned = probes.gamma_to_median(72.0)(frame)
        assert abs(np.median(probes.luma(toned)) - 72) <= 1


def test_histogram_matching_keeps_a_frame_matched_to_its_own_histogram_and_darkens():
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (40, 50, 3)).astype(np.uint8)
    own = np.cumsum(np.bincount(probes.luma(frame).ravel(), minlength=256)) / (40 * 50)
    np.testing.assert_array_equal(probes.histogram_matched(own)(frame), frame)
    dark = np.cumsum(np.bincount((probes.luma(frame) // 2).ravel(), minlength=256)) / (40 * 50)
    toned = probes.histogram_matched(dark)(frame)
    assert abs(np.median(probes.luma(toned)) - np.median(probes.luma(frame)) / 2) <= 2


def probe_rows(tmp_path, monkeypatch, capsys, *argv: str) -> tuple[list[str], str]:
    """The table rows a probe prints on a tiny two-sequence CamVid, and evaluate's mean IoU
    of the checkpoint it is given on the held-out sequence, as the probe prints it."""
    data = make_tiny_camvid(tmp_path / "camvid", {"train": 4, "val": 2}, height=32,
                            sequences=("0001TP", "0006R0"))
    torch.manual_seed(0)
    checkpoint = tmp_path / "a.pth"
    torch.save({"model": ENet(11).state_dict(), "class_names": list(CLASS_NAMES)}, checkpoint)
    monkeypatch.setattr(sys, "argv", ["held_out_probes.py", *(
        str(checkpoint) if arg == "CKPT" else arg for arg in argv),
        "--data", str(data), "--sequence", "0006R0"])
    probes.main()
    predict, _ = torch_predictor(checkpoint, torch.device("cpu"))
    held = build_dataset("camvid", data, "train+val", sequences=["0006R0"])
    want = evaluate(predict, held, show=False).compute()
    return capsys.readouterr().out.strip().splitlines()[2:], f"**{100 * want.mean_iou:.1f}**"


def test_ensemble_of_one_network_twice_scores_as_evaluate_does(tmp_path, monkeypatch, capsys):
    rows, want = probe_rows(tmp_path, monkeypatch, capsys, "ensemble", "CKPT", "CKPT")
    assert [row.split(" | ")[0] for row in rows] == ["| a", "| a", "| a + a"]
    assert len({row.split(" | ", 1)[1] for row in rows}) == 1  # the same scores
    assert rows[0].split(" | ")[1] == want


def test_tone_probe_scores_the_frames_as_recorded_as_evaluate_does(tmp_path, monkeypatch,
                                                                   capsys):
    rows, want = probe_rows(tmp_path, monkeypatch, capsys, "tone", "CKPT", "--medians", "60")
    assert [row.split(" | ")[0] for row in rows] == [
        "| as recorded", "| gamma to median luma 60", "| luma histogram of the training frames"]
    assert rows[0].split(" | ")[1] == want
