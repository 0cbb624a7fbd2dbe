"""Paired transforms keep image and label aligned and labels free of invented classes."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from enet_train.model import IMAGE_MEAN, IMAGE_STD
from enet_train.transforms import (ColorJitter, DownsampleLabel, RandomBlur, RandomCrop,
                                   RandomGamma, RandomHorizontalFlip, RandomHue, RandomNoise,
                                   RandomScale, Resize, ToTensor, evaluation_transforms,
                                   training_transforms)


def coded_pair(height: int, width: int, block: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """An image whose red channel is 30x the label (classes in block x block squares), so
    alignment is checkable after geometry."""
    rows, cols = np.indices((height, width)) // block
    label = ((rows * 3 + cols) % 7).astype(np.uint8)
    image = np.stack([label * 30, label * 0 + 9, label * 0 + 200], -1).astype(np.uint8)
    return image, label


@settings(max_examples=25, deadline=None)
@given(st.integers(16, 40), st.integers(16, 40), st.floats(0.5, 2.0), st.integers(0, 2 ** 16))
def test_scale_crop_flip_keep_alignment_and_classes(height, width, scale, seed):
    torch.manual_seed(seed)
    image, label = coded_pair(height, width, block=6)
    for t in (RandomScale(scale, scale), RandomCrop(16, 24), RandomHorizontalFlip(1.0)):
        image, label = t(image, label)
    assert image.shape == (16, 24, 3) and label.shape == (16, 24)
    assert set(np.unique(label)) <= set(range(7)) | {255}
    # inside a class region (all 8 neighbours alike), bilinear image values are exact
    core = label[1:-1, 1:-1]
    inside = (core != 255) & np.all([label[1 + dy:label.shape[0] - 1 + dy,
                                           1 + dx:label.shape[1] - 1 + dx] == core
                                     for dy in (-1, 0, 1) for dx in (-1, 0, 1)], axis=0)
    assert inside.sum() > 0
    np.testing.assert_array_equal(image[1:-1, 1:-1, 0][inside], core[inside].astype(int) * 30)


def test_crop_pads_image_with_mean_and_label_with_ignore():
    image, label = coded_pair(2, 3)
    out_image, out_label = RandomCrop(4, 5)(image, label)
    np.testing.assert_array_equal(out_label[:2, :3], label)
    assert (out_label[2:] == 255).all() and (out_label[:, 3:] == 255).all()
    assert tuple(out_image[3, 4]) == tuple(round(255 * m) for m in IMAGE_MEAN)


def test_resize_uses_nearest_for_labels():
    label = np.array([[0, 10], [10, 0]], np.uint8)
    _, out = Resize(7, 9)(np.zeros((2, 2, 3), np.uint8), label)
    assert out.shape == (7, 9) and set(np.unique(out)) == {0, 10}


def test_flip_mirrors_both():
    image, label = coded_pair(3, 4)
    flipped_image, flipped_label = RandomHorizontalFlip(1.0)(image, label)
    np.testing.assert_array_equal(flipped_label, label[:, ::-1])
    np.testing.assert_array_equal(flipped_image, image[:, ::-1])
    assert RandomHorizontalFlip(0.0)(image, label)[1] is label


def test_color_jitter_changes_image_not_label():
    torch.manual_seed(0)
    image, label = coded_pair(8, 8)
    out, out_label = ColorJitter(0.5, 0.5, 0.5)(image, label)
    assert out.dtype == np.uint8 and not np.array_equal(out, image)
    assert out_label is label


def test_downsample_label_samples_one_pixel_a_block_keeping_class_shares():
    label = np.arange(16 * 24, dtype=np.uint8).reshape(16, 24) % 251
    torch.manual_seed(0)
    offsets = set()
    for _ in range(600):
        _, out = DownsampleLabel(8)(np.zeros((16, 24, 3), np.uint8), label)
        assert out.shape == (2, 3) and out.flags.c_contiguous
        dy, dx = divmod(int(np.flatnonzero(label == out[0, 0])[0]), 24)
        offsets.add((dy, dx))
        # every block uses the same offset, so the grid keeps its geometry
        np.testing.assert_array_equal(out, label[dy::8, dx::8])
    assert len(offsets) == 64          # every pixel of a block gets its turn

    # a 2 px wide pole in every 8 px: the mode of each block would drop it, sampling keeps 1/4
    poles = np.zeros((64, 64), np.uint8)
    poles[:, 3::8] = poles[:, 4::8] = 2
    share = np.mean([np.mean(DownsampleLabel(8)(None, poles)[1] == 2) for _ in range(400)])
    assert abs(share - 0.25) < 0.06
    with pytest.raises(ValueError, match="not a multiple of 8"):
        DownsampleLabel(8)(None, np.zeros((9, 8), np.uint8))


def test_to_tensor_normalises_with_model_statistics():
    image = np.zeros((2, 3, 3), np.uint8)
    image[..., 0] = 255
    tensor, label = ToTensor()(image, np.ones((2, 3), np.uint8))
    assert tensor.shape == (3, 2, 3) and label.dtype == torch.int64
    assert tensor[0, 0, 0].item() == pytest.approx((1 - IMAGE_MEAN[0]) / IMAGE_STD[0])
    assert tensor[1, 0, 0].item() == pytest.approx(-IMAGE_MEAN[1] / IMAGE_STD[1])


def test_pipelines_give_network_sized_tensors():
    torch.manual_seed(0)
    image, label = coded_pair(30, 50)
    x, y = training_transforms(16, 24, scale=(0.5, 2.0), jitter=0.2, label_factor=8)(image, label)
    assert x.shape == (3, 16, 24) and y.shape == (2, 3)
    # a native-scale crop keeps pixels as they are; a resize first shrinks the content
    x, y = training_transforms(16, 24, flip=False)(image, label)
    assert x.shape == (3, 16, 24)
    assert any(np.array_equal(y.numpy(), label[top:top + 16, left:left + 24])
               for top in range(30 - 16 + 1) for left in range(50 - 24 + 1))
    _, y = training_transforms(16, 24, resize=(16, 24), flip=False)(image, label)
    assert torch.equal(y, torch.from_numpy(Resize(16, 24)(image, label)[1]).long())
    x, y = evaluation_transforms()(image, label)
    assert x.shape == (3, 30, 50) and y.shape == (30, 50)


def test_gamma_follows_its_curve_and_hue_turns_colours_but_not_greys():
    torch.manual_seed(0)
    image = np.array([[[0, 64, 255], [128, 128, 128]]], np.uint8)
    label = np.array([[3, 4]], np.uint8)
    out, out_label = RandomGamma(2.0, 2.0)(image, label)
    np.testing.assert_array_equal(out, np.round(255 * (image / 255) ** 2).astype(np.uint8))
    assert out_label is label
    turned, _ = RandomHue(60)(np.array([[[255, 0, 0], [90, 90, 90]]], np.uint8), label)
    assert tuple(turned[0, 1]) == (90, 90, 90) and tuple(turned[0, 0]) != (255, 0, 0)
    assert turned[0, 0].max() == 255  # a hue turn keeps value and saturation


@pytest.mark.parametrize("seed", range(4))
def test_photometric_augmentation_keeps_every_class_where_its_pixels_are(seed):
    """Through the whole training pipeline at full strength (no geometry), every label pixel
    stays where it was and each class region keeps a colour that tells it from the others."""
    torch.manual_seed(seed)
    image, label = coded_pair(48, 64, block=12)
    pipeline = training_transforms(48, 64, flip=False, jitter=0.4, gamma=(0.7, 1.5), hue=10,
                                   blur=1.0, noise=4)
    tensor, out_label = pipeline(image, label)
    np.testing.assert_array_equal(out_label.numpy(), label)
    red = tensor[0].numpy()
    # a region's core (3 px from its edge, beyond the blur) is brighter the higher its class
    core = np.zeros_like(label, bool)
    core[3:-3, 3:-3] = True
    for dy, dx in ((-3, 0), (3, 0), (0, -3), (0, 3)):
        core &= np.roll(label, (dy, dx), (0, 1)) == label
    means = [red[core & (label == c)].mean() for c in range(7) if (core & (label == c)).any()]
    assert len(means) == 7 and all(np.diff(means) > 0)
