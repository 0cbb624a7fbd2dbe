"""The training losses: Lovasz-softmax and OHEM against their definitions, and the combined
loss as training builds it."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from _train_data import make_tiny_camvid
from enet_train import train
from enet_train.distributed import DistInfo
from enet_train.losses import (LOVASZ_FLOOR, SegmentationLoss, distillation_loss, lovasz_softmax,
                               ohem_cross_entropy)
from enet_train.metrics import ConfusionMatrix

IGNORE = 255


def _batch(seed: int = 0, classes: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and labels of two 9x7 images, with ignored pixels and one class never present."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, classes - 1, (2, 9, 7), generator=g)
    labels[0, 0, :3] = IGNORE
    return torch.randn(2, classes, 9, 7, generator=g), labels


def _jaccard_loss(foreground: set[int], wrong: set[int]) -> float:
    """1 - IoU of a class whose true pixels are ``foreground`` when the pixels ``wrong`` are
    mispredicted (set arithmetic, independent of the loss's cumulative sums)."""
    return 1 - len(foreground - wrong) / len(foreground | wrong)


def _lovasz_by_definition(probabilities: torch.Tensor, labels: torch.Tensor) -> float:
    """The Lovasz extension of each present class's Jaccard loss, from its definition:
    sum over the errors in decreasing order of error_i * (loss(first i) - loss(first i - 1))."""
    p = probabilities.permute(0, 2, 3, 1).reshape(-1, probabilities.shape[1])
    y = labels.reshape(-1)
    p, y = p[y != IGNORE], y[y != IGNORE]
    per_class = []
    for c in sorted(set(y.tolist())):
        errors = [abs(float(y[i] == c) - float(p[i, c])) for i in range(len(y))]
        foreground = {i for i in range(len(y)) if y[i] == c}
        order = sorted(range(len(y)), key=lambda i: -errors[i])
        total, previous = 0.0, 0.0
        for k in range(1, len(order) + 1):
            current = _jaccard_loss(foreground, set(order[:k]))
            total += errors[order[k - 1]] * (current - previous)
            previous = current
        per_class.append(total)
    return sum(per_class) / len(per_class)


def test_lovasz_of_hard_predictions_is_one_minus_iou_of_the_present_classes():
    logits, labels = _batch()
    prediction = logits.argmax(1)
    matrix = ConfusionMatrix(5, IGNORE)
    matrix.update(labels, prediction)
    present = sorted(set(labels[labels != IGNORE].tolist()))
    assert len(present) == 4  # class 4 is absent from the truth: it must not count
    want = float(1 - matrix.compute().iou[present].mean())
    one_hot = F.one_hot(prediction, 5).permute(0, 3, 1, 2).float()
    assert lovasz_softmax(one_hot, labels, IGNORE).item() == pytest.approx(want, abs=1e-6)


def test_lovasz_of_soft_predictions_follows_the_definition_and_the_floor_bound():
    logits, labels = _batch(seed=1)
    probabilities = logits.softmax(1)
    exact = lovasz_softmax(probabilities, labels, IGNORE).item()
    assert exact == pytest.approx(_lovasz_by_definition(probabilities, labels), abs=1e-5)
    floored = {f: lovasz_softmax(probabilities, labels, IGNORE, floor=f).item()
               for f in (0.1, 0.3, 0.6)}
    assert all(0 <= exact - value <= f + 1e-6 for f, value in floored.items())
    assert floored[0.6] < exact  # the floor did leave errors out


def test_ignored_pixels_get_no_gradient_and_a_step_lowers_the_loss():
    logits, labels = _batch(seed=2)
    logits.requires_grad_(True)
    loss = lovasz_softmax(logits.softmax(1), labels, IGNORE)
    loss.backward()
    ignored = (labels == IGNORE).unsqueeze(1).expand_as(logits)
    assert torch.all(logits.grad[ignored] == 0) and torch.any(logits.grad[~ignored] != 0)
    stepped = (logits - 10 * logits.grad).detach()
    assert lovasz_softmax(stepped.softmax(1), labels, IGNORE) < loss


def test_a_batch_of_only_ignored_pixels_has_zero_loss_and_a_gradient():
    logits = torch.randn(1, 3, 4, 4, requires_grad=True)
    loss = lovasz_softmax(logits.softmax(1), torch.full((1, 4, 4), IGNORE), IGNORE)
    loss.backward()
    assert loss.item() == 0 and torch.all(logits.grad == 0)


def test_segmentation_loss_is_weighted_cross_entropy_plus_weighted_lovasz():
    logits, labels = _batch(seed=3)
    weight = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
    cross_entropy = F.cross_entropy(logits, labels, weight=weight, ignore_index=IGNORE)
    assert torch.equal(SegmentationLoss(weight, IGNORE)(logits, labels), cross_entropy)
    lovasz = lovasz_softmax(logits.softmax(1), labels, IGNORE, LOVASZ_FLOOR)
    combined = SegmentationLoss(weight, IGNORE, lovasz_weight=0.5)(logits.bfloat16(), labels)
    assert combined.dtype == torch.float32
    assert combined.item() == pytest.approx((cross_entropy + 0.5 * lovasz).item(), rel=0.02)


def test_distillation_loss_is_the_kl_divergence_of_softened_distributions_by_hand():
    student = torch.tensor([[1.0, 0.0, -1.0], [0.5, 0.5, 2.0]]).T.reshape(1, 3, 1, 2)
    teacher = torch.tensor([[2.0, 1.0, 0.0], [0.0, 0.0, 0.0]]).T.reshape(1, 3, 1, 2)
    temperature = 2.0
    want = 0.0
    for pixel in range(2):
        p = [math.exp(t / temperature) for t in teacher[0, :, 0, pixel].tolist()]
        q = [math.exp(s / temperature) for s in student[0, :, 0, pixel].tolist()]
        p, q = [v / sum(p) for v in p], [v / sum(q) for v in q]
        want += sum(pi * math.log(pi / qi) for pi, qi in zip(p, q))
    want = want / 2 * temperature ** 2
    assert distillation_loss(student, teacher, temperature).item() == pytest.approx(want, rel=1e-6)


def test_distillation_loss_is_zero_for_a_student_equal_to_its_teacher_and_teaches_only_it():
    logits = torch.randn(2, 5, 4, 6)
    assert distillation_loss(logits, logits.clone(), 3.0).item() == pytest.approx(0, abs=1e-6)
    student, teacher = torch.randn(2, 5, 4, 6, requires_grad=True), torch.randn(2, 5, 4, 6)
    labels = torch.randint(0, 5, (2, 4, 6))
    plain = SegmentationLoss(None, 255)(student, labels)
    loss = SegmentationLoss(None, 255, distill_weight=0.5, temperature=2.0)(student, labels,
                                                                             teacher)
    assert loss.item() == pytest.approx(plain.item() + 0.5 * distillation_loss(
        student, teacher, 2.0).item(), rel=1e-6)
    loss.backward()
    assert student.grad is not None and teacher.grad is None


def _ohem_by_hand(logits, labels, weight, threshold, min_kept) -> float:
    """Pixel by pixel: the true class's probability, the hard pixels, their weighted mean."""
    pixels = []
    for n, y, x in torch.nonzero(labels != IGNORE).tolist():
        c = int(labels[n, y, x])
        p = torch.softmax(logits[n, :, y, x], 0)[c].item()
        pixels.append((p, float(weight[c])))
    pixels.sort()
    count = max(1, int(min_kept * len(pixels)))
    cutoff = max(threshold, pixels[count - 1][0])
    kept = [(p, w) for p, w in pixels if p <= cutoff]
    return sum(-w * math.log(p) for p, w in kept) / sum(w for _, w in kept)


@pytest.mark.parametrize("threshold, min_kept", [(0.3, 0.0), (0.3, 0.5), (0.0, 0.25), (0.9, 0.1)])
def test_ohem_is_the_weighted_cross_entropy_of_the_hard_pixels_by_hand(threshold, min_kept):
    logits, labels = _batch(seed=5)
    weight = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
    loss = ohem_cross_entropy(logits, labels, weight, IGNORE, threshold, min_kept)
    assert loss.item() == pytest.approx(_ohem_by_hand(logits, labels, weight, threshold,
                                                      min_kept), rel=1e-5)


def test_ohem_keeping_every_pixel_is_the_papers_loss_and_ignored_pixels_learn_nothing():
    logits, labels = _batch(seed=6)
    weight = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
    plain = SegmentationLoss(weight, IGNORE)(logits, labels)
    every = SegmentationLoss(weight, IGNORE, ohem=(1.0, 0.0))(logits, labels)
    assert every.item() == pytest.approx(plain.item(), rel=1e-6)
    hard = logits.clone().requires_grad_(True)
    SegmentationLoss(weight, IGNORE, ohem=(0.5, 0.1))(hard, labels).backward()
    assert torch.all(hard.grad[0, :, 0, :3] == 0)  # the ignored pixels
    easy = (hard.detach().softmax(1).gather(1, labels.clamp(max=4)[:, None])[:, 0] > 0.5)
    easy &= labels != IGNORE
    assert easy.any() and torch.all(hard.grad.abs().sum(1)[easy] == 0)  # easy pixels: none


def test_ohem_of_only_ignored_pixels_is_zero_with_a_gradient():
    logits = torch.randn(1, 3, 4, 4, requires_grad=True)
    loss = ohem_cross_entropy(logits, torch.full((1, 4, 4), IGNORE), None, IGNORE, 0.7, 0.1)
    loss.backward()
    assert loss.item() == 0 and torch.all(logits.grad == 0)


def test_training_takes_ohem_and_lovasz_into_its_loss(tmp_path):
    data = make_tiny_camvid(tmp_path / "camvid", {"train": 4, "val": 2}, height=32)
    args = train.get_args_parser().parse_args(
        ["--data", str(data), "--output-dir", str(tmp_path / "out"), "--workers", "0",
         "--batch-size", "2", "--stage", "full", "--ohem", "0.7", "0.1",
         "--lovasz-weight", "0.5"])
    criterion = train.StageRun(args, "full", DistInfo(), None, False).criterion
    assert criterion.ohem == (0.7, 0.1) and criterion.lovasz_weight == 0.5
