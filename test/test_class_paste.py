"""Rare-class copy-paste: exactly the chosen classes' pixels move, with their image pixels, where
they stand in the source; the training run pastes only when asked."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from _train_data import make_tiny_camvid
from enet_train import train
from enet_train.class_paste import ClassPaste, class_ids, paste
from enet_train.datasets import DatasetError, SegmentationDataset
from enet_train.distributed import DistInfo
from enet_train.transforms import training_transforms

NAMES = ("Sky", "Building", "Pole", "Road")


def frame(label: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An image whose red channel is 40x the label and green a column ramp, so where each image
    pixel came from (which frame, mirrored or not) is readable."""
    columns = np.broadcast_to(np.arange(label.shape[1], dtype=np.uint8), label.shape)
    return np.stack([label * 40, columns, np.full_like(label, 7)], -1), label


def test_paste_copies_only_the_chosen_classes_pixels_with_their_image():
    image, label = frame(np.zeros((4, 6), np.uint8))  # all Sky
    source_label = np.array([[1, 2, 2, 3, 0, 0]] * 4, np.uint8)
    source_image = frame(source_label)[0] + 1  # tells source pixels from the frame's
    before = image.copy(), label.copy()
    out_image, out_label = paste(image, label, source_image, source_label, [2, 3], flip=False)
    np.testing.assert_array_equal(out_label, [[0, 2, 2, 3, 0, 0]] * 4)
    pasted = np.isin(source_label, [2, 3])
    np.testing.assert_array_equal(out_image[pasted], source_image[pasted])
    np.testing.assert_array_equal(out_image[~pasted], image[~pasted])
    np.testing.assert_array_equal(image, before[0])  # a cached frame is not changed
    np.testing.assert_array_equal(label, before[1])


def test_paste_mirrors_the_source_and_fits_it_to_the_frame():
    image, label = frame(np.zeros((4, 6), np.uint8))
    source_label = np.zeros((8, 12), np.uint8)
    source_label[:, :2] = 2  # a pole at the source's left edge, twice the frame's size
    source_image = frame(source_label)[0]
    out_image, out_label = paste(image, label, source_image, source_label, [2], flip=True)
    np.testing.assert_array_equal(out_label, [[0, 0, 0, 0, 0, 2]] * 4)  # at the right edge
    assert (out_image[:, 5, 0] == 80).all() and (out_image[:, :5, 0] == 0).all()


def test_class_ids_by_name_and_a_typo_lists_the_classes():
    assert class_ids("Pole, Road", NAMES) == [2, 3]
    with pytest.raises(DatasetError, match="no class Tre; the data set's classes are Sky, "):
        class_ids("Pole,Tre", NAMES)
    with pytest.raises(DatasetError, match="no class"):
        class_ids(",", NAMES)


def frames_dataset(transforms=None) -> SegmentationDataset:
    """Three cached 8x8 frames (Building, Road, Sky) with a Pole in column 1, 2 and 3."""
    dataset = SegmentationDataset([("a", "a"), ("b", "b"), ("c", "c")], NAMES,
                                  np.arange(4, dtype=np.uint8), transforms, cache=True)
    for index, value in enumerate((1, 3, 0)):
        label = np.full((8, 8), value, np.uint8)
        label[:, index + 1] = 2
        dataset._cache[index] = frame(label)
    return dataset


@pytest.mark.parametrize("seed", range(4))
def test_every_frame_pasted_gets_another_frames_pole_with_its_pixels(seed):
    torch.manual_seed(seed)
    dataset = frames_dataset()
    pasting = ClassPaste(dataset, [2], probability=1.0)
    for index in range(3):
        own_image, own_label = dataset.load(index)
        image, label = pasting[index]
        changed = np.flatnonzero((label != own_label).any(0))
        assert len(changed) == 1  # one other frame's pole column, never the frame's own
        column = changed[0]
        source = column - 1 if column - 1 in (0, 1, 2) and column - 1 != index else 6 - column
        assert source in (0, 1, 2) and source != index
        mirrored = column != source + 1
        assert (label[:, column] == 2).all()
        np.testing.assert_array_equal(image[..., 0], label * 40)  # image follows the label
        assert (image[:, column, 1] == (7 - column if mirrored else column)).all()
        keep = np.arange(8) != column
        np.testing.assert_array_equal(image[:, keep], own_image[:, keep])
    assert [dataset.load(i)[1][0].tolist() for i in range(3)] == [
        [1, 2, 1, 1, 1, 1, 1, 1], [3, 3, 2, 3, 3, 3, 3, 3], [0, 0, 0, 2, 0, 0, 0, 0]]


def test_probability_zero_gives_the_frames_through_their_transforms_unchanged():
    torch.manual_seed(0)
    transforms = training_transforms(8, 8, flip=False)
    plain, pasting = frames_dataset(transforms), ClassPaste(frames_dataset(transforms), [2], 0.0)
    for index in range(3):
        for a, b in zip(plain[index], pasting[index]):
            torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_paste_classes_wraps_the_training_frames_only(tmp_path):
    data = make_tiny_camvid(tmp_path / "camvid", {"train": 4, "val": 2}, height=32)
    args = train.get_args_parser().parse_args(
        ["--data", str(data), "--workers", "0", "--batch-size", "2", "--paste-classes", "Pole,Pedestrian",
         "--paste-probability", "0.25"])
    train_set, train_loader, val_loader, fit_loader = train.make_loaders(args, "full", DistInfo())
    pasting = train_loader.dataset
    assert isinstance(pasting, ClassPaste) and pasting.dataset is train_set
    assert pasting.ids == [2, 9] and pasting.probability == 0.25
    assert not isinstance(val_loader.dataset, ClassPaste)
    assert not isinstance(fit_loader.dataset.dataset, ClassPaste)  # the scored training subset
