"""Training losses: the paper's class-weighted cross-entropy, optionally plus Lovasz-softmax
and distillation from a teacher network.

Cross-entropy rewards every pixel alike, so a class of thin, rare objects (CamVid's poles are
1 % of the pixels, 2-8 pixels wide) can stay at a few percent IoU while the loss looks fine.
The Lovasz-softmax loss (Berman, Rannen Triki and Blaschko, CVPR 2018) is a convex surrogate
of 1 - IoU per class: a class's share of the loss does not shrink with its pixel count, and
false positives count as they do in IoU. Its authors fine-tuned ENet with it and raised
Cityscapes test mIoU from the paper's 58.3 % to 63.1 %, so it is the fine-tuning option here.

Online hard example mining (OHEM; the cross-entropy of only the pixels the network still gets
wrong or barely right, as in Wu et al. 2016 and the HRNet and BiSeNet trainings) spends the
gradient on boundaries, thin objects and unfamiliar surfaces rather than on the sky and road
every frame already has right.

Distillation (Hinton et al., 2015, applied pixel by pixel as in Liu et al., CVPR 2019) lets the
paper's small ENet learn from a wider network's class distributions, which say more than a
label (a pole pixel the teacher finds half Building is a hint about thin structures); the
student stays exactly the paper's network.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# Lovasz errors below this are not sorted (see lovasz_softmax): 3.4x faster on ENet's outputs at
# 360x480, for at most 0.005 less loss per class
LOVASZ_FLOOR = 0.005


def lovasz_softmax(probabilities: torch.Tensor, labels: torch.Tensor, ignore_index: int,
                   floor: float = 0.0) -> torch.Tensor:
    """Mean over the classes present in ``labels`` of the Lovasz extension of 1 - IoU.

    ``probabilities`` (N, C, H, W) are softmax outputs, ``labels`` (N, H, W) class indices; the
    whole batch is one set of pixels, as the evaluation's IoU is over the whole data set. For
    one-hot probabilities the value is exactly the mean of 1 - IoU over the present classes,
    which is what the tests hold it to.

    Sorting every pixel's error for every class is what makes this loss slow on a CPU (about as
    long as ENet's forward and backward at 360x480). Errors below ``floor`` are left out: they
    would sort last, so every other error keeps its exact Jaccard weight, and all of them
    together could add at most ``floor`` to a class's loss.
    """
    num_classes = probabilities.shape[1]
    probabilities = probabilities.float().permute(0, 2, 3, 1).reshape(-1, num_classes)
    labels = labels.reshape(-1)
    valid = labels != ignore_index
    probabilities, labels = probabilities[valid], labels[valid]
    losses = []
    for c in torch.unique(labels).tolist():
        foreground = (labels == c).float()
        errors = (foreground - probabilities[:, c]).abs()
        kept = errors >= floor
        errors, order = torch.sort(errors[kept], descending=True)
        ordered = foreground[kept][order]
        # Jaccard loss of predicting the k largest errors wrong, for every k; its increments
        # are the Lovasz extension's weights of the sorted errors
        total = foreground.sum()
        intersection = total - ordered.cumsum(0)
        union = total + (1 - ordered).cumsum(0)
        jaccard = 1 - intersection / union
        weights = torch.cat([jaccard[:1], jaccard[1:] - jaccard[:-1]])
        losses.append(torch.dot(errors, weights))
    if not losses:
        return probabilities.sum() * 0  # no labelled pixel: no loss, but a graph to backprop
    return torch.stack(losses).mean()


def ohem_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor | None,
                       ignore_index: int, threshold: float, min_kept: float) -> torch.Tensor:
    """Class-weighted cross-entropy over the hard pixels only: those whose true class has a
    probability below ``threshold``, and at least the ``min_kept`` share of the labelled pixels
    (the hardest first), so that a batch the network already gets right still teaches. The
    mean is weighted as ``nn.CrossEntropyLoss``'s is: by the kept pixels' class weights."""
    num_classes = logits.shape[1]
    valid = labels != ignore_index
    safe = labels.masked_fill(~valid, 0)
    log_probs = F.log_softmax(logits.float(), dim=1)
    picked = log_probs.gather(1, safe.unsqueeze(1)).squeeze(1)[valid]  # log p(true class)
    if picked.numel() == 0:
        return logits.sum() * 0  # no labelled pixel: no loss, but a graph to backprop
    pixel_weight = (torch.ones(num_classes, device=logits.device) if weight is None
                    else weight.to(logits.device, torch.float32))[safe[valid]]
    probabilities = picked.detach().exp()
    count = max(1, min(picked.numel(), int(min_kept * picked.numel())))
    cutoff = max(threshold, float(torch.kthvalue(probabilities, count).values))
    kept = probabilities <= cutoff
    return -(picked[kept] * pixel_weight[kept]).sum() / pixel_weight[kept].sum()


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                      temperature: float = 1.0) -> torch.Tensor:
    """KL(teacher || student) of the class distributions softened by ``temperature``, summed
    over classes and averaged over every pixel, times temperature squared (so the gradient's
    size does not depend on it). Unlabelled pixels count too: the teacher has an opinion there."""
    student = F.log_softmax(student_logits.float() / temperature, dim=1)
    teacher = F.log_softmax(teacher_logits.float() / temperature, dim=1)
    per_pixel = (teacher.exp() * (teacher - student)).sum(1)
    return per_pixel.mean() * temperature ** 2


class SegmentationLoss(nn.Module):
    """Class-weighted cross-entropy (over the hard pixels only with ``ohem``: (threshold,
    min_kept), see ``ohem_cross_entropy``), plus ``lovasz_weight`` times Lovasz-softmax and
    ``distill_weight`` times the distillation loss when a teacher's logits are given (0: the
    paper's loss alone). Computed in float32 whatever the autocast precision of the logits."""

    def __init__(self, weight: torch.Tensor | None, ignore_index: int,
                 lovasz_weight: float = 0.0, distill_weight: float = 0.0,
                 temperature: float = 1.0, ohem: tuple[float, float] | None = None) -> None:
        super().__init__()
        self.cross_entropy = nn.CrossEntropyLoss(weight=weight, ignore_index=ignore_index)
        self.ignore_index = ignore_index
        self.lovasz_weight = lovasz_weight
        self.distill_weight = distill_weight
        self.temperature = temperature
        self.ohem = ohem

    def forward(self, logits: torch.Tensor, labels: torch.Tensor,
                teacher_logits: torch.Tensor | None = None) -> torch.Tensor:
        logits = logits.float()
        if self.ohem is None:
            loss = self.cross_entropy(logits, labels)
        else:
            loss = ohem_cross_entropy(logits, labels, self.cross_entropy.weight,
                                      self.ignore_index, *self.ohem)
        if self.lovasz_weight:
            loss = loss + self.lovasz_weight * lovasz_softmax(
                F.softmax(logits, dim=1), labels, self.ignore_index, LOVASZ_FLOOR)
        if teacher_logits is not None and self.distill_weight:
            loss = loss + self.distill_weight * distillation_loss(logits, teacher_logits,
                                                                  self.temperature)
        return loss
