"""Confusion-matrix scores against torchmetrics on the same random predictions."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torchmetrics.classification import MulticlassAccuracy, MulticlassJaccardIndex

from enet_train.metrics import ConfusionMatrix, Scores, confusion_matrix

C, IGNORE = 5, 255


def random_batches(seed: int, n: int = 3):
    """(target, prediction) batches where every class occurs in the target and ~10 % is void."""
    g = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(n):
        target = torch.randint(0, C, (2, 7, 9), generator=g)
        target[torch.rand(target.shape, generator=g) < 0.1] = IGNORE
        target[0, 0, :C] = torch.arange(C)
        # predictions right ~60 % of the time, so the scores are far from 0 and 1
        guess = torch.randint(0, C, target.shape, generator=g)
        prediction = torch.where(torch.rand(target.shape, generator=g) < 0.6,
                                 target.clamp(max=C - 1), guess)
        batches.append((target, prediction))
    return batches


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scores_match_torchmetrics(seed):
    batches = random_batches(seed)
    cm = ConfusionMatrix(C, IGNORE)
    metrics = {
        "iou": MulticlassJaccardIndex(C, average=None, ignore_index=IGNORE),
        "miou": MulticlassJaccardIndex(C, average="macro", ignore_index=IGNORE),
        "acc": MulticlassAccuracy(C, average=None, ignore_index=IGNORE),
        "macc": MulticlassAccuracy(C, average="macro", ignore_index=IGNORE),
        "gacc": MulticlassAccuracy(C, average="micro", ignore_index=IGNORE),
    }
    for target, prediction in batches:
        cm.update(target, prediction)
        for m in metrics.values():
            m.update(prediction, target)
    want = {k: m.compute().numpy() for k, m in metrics.items()}
    got = cm.compute()
    np.testing.assert_allclose(got.iou, want["iou"], rtol=1e-6)
    np.testing.assert_allclose(got.mean_iou, want["miou"], rtol=1e-6)
    np.testing.assert_allclose(got.class_accuracy, want["acc"], rtol=1e-6)
    np.testing.assert_allclose(got.mean_class_accuracy, want["macc"], rtol=1e-6)
    np.testing.assert_allclose(got.global_accuracy, want["gacc"], rtol=1e-6)
    assert 0.3 < got.mean_iou < 0.9


def test_ignored_pixels_do_not_count_and_absent_classes_are_nan():
    target = torch.tensor([0, 0, 1, 1, IGNORE])
    prediction = torch.tensor([0, 2, 1, 1, 3])
    matrix = confusion_matrix(target, prediction, 4, IGNORE)
    assert matrix.sum() == 4 and matrix[:, 3].sum() == 0
    scores = Scores.from_matrix(matrix.numpy())
    # class 2 predicted but never true: IoU 0, no accuracy; class 3 nowhere: neither
    np.testing.assert_allclose(scores.iou, [0.5, 1.0, 0.0, np.nan])
    np.testing.assert_allclose(scores.class_accuracy, [0.5, 1.0, np.nan, np.nan])
    assert scores.mean_iou == pytest.approx(0.5)
    assert scores.mean_class_accuracy == pytest.approx(0.75)
    assert scores.global_accuracy == pytest.approx(0.75)
    report = scores.as_dict(["a", "b", "c", "d"])
    assert report["per_class"]["d"] == {"iou": None, "accuracy": None}


def test_reading_does_not_mutate_and_updates_accumulate():
    cm = ConfusionMatrix(3)
    assert cm.to_numpy().sum() == 0
    cm.update(torch.tensor([0, 1]), torch.tensor([0, 2]))
    first = cm.compute()
    again = cm.compute()
    np.testing.assert_array_equal(first.iou, again.iou)
    copy = cm.to_numpy()
    copy[0, 0] = 100
    assert cm.to_numpy()[0, 0] == 1
    cm.update(torch.tensor([2]), torch.tensor([2]))
    assert cm.to_numpy().sum() == 3
    cm.reduce_from_all_processes()  # no process group: unchanged
    assert cm.to_numpy().sum() == 3


def test_out_of_range_ids_are_errors():
    with pytest.raises(ValueError, match="target holds ids outside 0..2"):
        confusion_matrix(torch.tensor([3]), torch.tensor([0]), 3)
    with pytest.raises(ValueError, match="prediction holds ids outside"):
        confusion_matrix(torch.tensor([0]), torch.tensor([5]), 3)


def test_errors_and_defaults_word_for_word():
    with pytest.raises(ValueError) as err:
        confusion_matrix(torch.tensor([-1]), torch.tensor([0]), 3)
    assert str(err.value) == "target holds ids outside 0..2 other than 255"
    with pytest.raises(ValueError) as err:
        confusion_matrix(torch.tensor([0]), torch.tensor([3]), 3)  # one past the last class
    assert str(err.value) == "prediction holds ids outside 0..2"
    # 255 is ignored by default, in the function and in the accumulator
    assert confusion_matrix(torch.tensor([255, 1]), torch.tensor([0, 1]), 2).tolist() == \
        [[0, 0], [0, 1]]
    cm = ConfusionMatrix(2)
    cm.update(torch.tensor([255, 0]), torch.tensor([1, 0]))
    assert cm.to_numpy().tolist() == [[1, 0], [0, 0]]


def test_scores_of_one_pixel_classes_and_of_nothing():
    scores = Scores.from_matrix(np.array([[1, 0], [1, 0]]))  # class 1: one pixel, missed
    np.testing.assert_allclose(scores.class_accuracy, [1.0, 0.0])
    np.testing.assert_allclose(scores.iou, [0.5, 0.0])
    empty = Scores.from_matrix(np.zeros((2, 2), np.int64))
    assert np.isnan(empty.mean_iou) and np.isnan(empty.mean_class_accuracy)
    assert np.isnan(empty.global_accuracy)
    with pytest.raises(AttributeError):
        empty.mean_iou = 1.0  # frozen: a report cannot be edited after the fact
    assert scores.as_dict(["a", "b"]) == {
        "mean_iou": 0.25, "mean_class_accuracy": 0.5, "global_accuracy": 0.5,
        "per_class": {"a": {"iou": 0.5, "accuracy": 1.0}, "b": {"iou": 0.0, "accuracy": 0.0}}}


def test_reduce_in_a_process_group_of_one(tmp_path):
    """Under DDP (gloo, one process here) a rank that saw no batch still takes part, with
    zeros, and a matrix is summed with the others' (its own, once)."""
    import torch.distributed as dist
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rendezvous'}", rank=0,
                            world_size=1)
    try:
        idle = ConfusionMatrix(2)
        idle.reduce_from_all_processes()
        assert idle.to_numpy().tolist() == [[0, 0], [0, 0]] and idle.matrix is not None
        busy = ConfusionMatrix(2)
        busy.update(torch.tensor([0, 1]), torch.tensor([0, 0]))
        busy.reduce_from_all_processes()
        assert busy.to_numpy().tolist() == [[1, 0], [1, 0]]
    finally:
        dist.destroy_process_group()
