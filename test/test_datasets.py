"""Data set loaders on tiny generated fixtures in each data set's exact on-disk layout."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from enet_train.datasets import (IGNORE_INDEX, DatasetError, build_dataset, pad_collate,
                                 sequence_counts, sequence_of, splits_overlap)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
RNG = np.random.default_rng(0)


def write_png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), array), path


def make_pair(image_path: Path, label_path: Path, label: np.ndarray) -> np.ndarray:
    """Write a random BGR image and the given label; return the image as RGB."""
    bgr = RNG.integers(0, 256, (*label.shape, 3), dtype=np.uint8)
    write_png(image_path, bgr)
    write_png(label_path, label)
    return bgr[..., ::-1]


def make_camvid(root: Path, split: str = "train", n: int = 2, shape=(16, 24)) -> list[np.ndarray]:
    labels = []
    for i in range(n):
        label = RNG.integers(0, 12, shape, dtype=np.uint8)
        name = f"0001TP_{i:06d}.png"
        make_pair(root / split / name, root / f"{split}annot" / name, label)
        labels.append(label)
    return labels


def test_camvid_reads_rgb_and_maps_void_to_ignore(tmp_path):
    root = tmp_path / "CamVid"
    label = np.array([[0, 10, 11], [3, 11, 5]], dtype=np.uint8)
    rgb = make_pair(root / "val" / "a.png", root / "valannot" / "a.png", label)
    dataset = build_dataset("camvid", root, "val")
    assert len(dataset) == 1 and dataset.num_classes == 11
    assert dataset.class_names[0] == "Sky" and dataset.class_names[-1] == "Bicyclist"
    image, got = dataset[0]
    np.testing.assert_array_equal(image, rgb)
    np.testing.assert_array_equal(got, [[0, 10, IGNORE_INDEX], [3, IGNORE_INDEX, 5]])


def test_transforms_are_applied_and_cache_returns_same_arrays(tmp_path):
    make_camvid(tmp_path, n=1)
    calls = []
    dataset = build_dataset("camvid", tmp_path, "train",
                            transforms=lambda i, l: calls.append(1) or (i, l), cache=True)
    first, second = dataset[0], dataset[0]
    assert len(calls) == 2
    assert first[0] is second[0]  # decoded once, served from RAM


def test_joined_splits_hold_every_pair_of_each_in_order(tmp_path):
    train_labels = make_camvid(tmp_path, "train", n=2)
    val_labels = make_camvid(tmp_path, "val", n=1)
    joined = build_dataset("camvid", tmp_path, "train+val", cache=True)
    assert len(joined) == 3 and joined.class_names == build_dataset("camvid", tmp_path,
                                                                    "val").class_names
    assert [p[0].parent.name for p in joined.pairs] == ["train", "train", "val"]
    for got, raw in zip((joined[i][1] for i in range(3)), train_labels + val_labels):
        np.testing.assert_array_equal(got, np.where(raw == 11, IGNORE_INDEX, raw))
    with pytest.raises(DatasetError, match="test"):
        build_dataset("camvid", tmp_path, "train+test")


@pytest.mark.parametrize(("train_split", "val_split", "overlap"), [
    ("train", "val", False), ("train+val", "val", True), ("train", "train", True),
    ("train+extra", "val+test", False), ("train", "val+train", True), ("trainval", "val", False)])
def test_splits_overlap_when_they_share_a_split_name(train_split, val_split, overlap):
    assert splits_overlap(train_split, val_split) is overlap


def test_cityscapes_maps_label_ids_to_19_train_ids(tmp_path):
    label = np.array([[7, 8, 26, 33], [0, 1, 4, 23]], dtype=np.uint8)
    name = "aachen_000000_000019"
    make_pair(tmp_path / "leftImg8bit" / "train" / "aachen" / f"{name}_leftImg8bit.png",
              tmp_path / "gtFine" / "train" / "aachen" / f"{name}_gtFine_labelIds.png", label)
    # a colour / instance file beside it must not be picked up
    write_png(tmp_path / "gtFine" / "train" / "aachen" / f"{name}_gtFine_color.png",
              np.zeros((2, 4, 3), np.uint8))
    dataset = build_dataset("cityscapes", tmp_path, "train")
    assert dataset.num_classes == 19 and dataset.class_names[13] == "car"
    _, got = dataset[0]
    np.testing.assert_array_equal(got, [[0, 1, 13, 18], [255, 255, 255, 10]])


def test_cityscapes_rejects_ids_above_33(tmp_path):
    make_pair(tmp_path / "leftImg8bit" / "val" / "x" / "x_1_leftImg8bit.png",
              tmp_path / "gtFine" / "val" / "x" / "x_1_gtFine_labelIds.png",
              np.array([[7, 34]], np.uint8))
    with pytest.raises(DatasetError, match=r"x_1_gtFine_labelIds.png.*\[34\]"):
        build_dataset("cityscapes", tmp_path, "val")[0]


def test_sunrgbd_pairs_by_number_and_shifts_ids(tmp_path):
    for i, value in ((1, 1), (2, 37)):
        make_pair(tmp_path / "image" / "train" / f"img-{i:06d}.jpg",
                  tmp_path / "label37" / "train" / f"img37labels-{i:06d}.png",
                  np.array([[0, value]], np.uint8))
    dataset = build_dataset("sunrgbd", tmp_path, "train")
    assert dataset.num_classes == 37 and dataset.class_names[0] == "wall"
    assert [dataset[i][1].tolist() for i in range(2)] == [[[255, 0]], [[255, 36]]]


def test_folder_reads_class_names_and_keeps_255(tmp_path):
    (tmp_path / "classes.txt").write_text("ground\n\nobstacle\nsky\n")
    make_pair(tmp_path / "images" / "val" / "f.jpg", tmp_path / "labels" / "val" / "f.png",
              np.array([[0, 1, 2, 255]], np.uint8))
    dataset = build_dataset("folder", tmp_path, "val")
    assert dataset.class_names == ("ground", "obstacle", "sky")
    image, label = dataset[0]
    assert image.shape == (1, 4, 3) and label.tolist() == [[0, 1, 2, 255]]


def test_label_outside_class_range_names_file_and_ids(tmp_path):
    make_pair(tmp_path / "train" / "a.png", tmp_path / "trainannot" / "a.png",
              np.array([[1, 12, 200]], np.uint8))
    with pytest.raises(DatasetError, match=r"trainannot/a.png: label ids \[12, 200\] are outside"):
        build_dataset("camvid", tmp_path, "train")[0]


def test_size_mismatch_names_both_files(tmp_path):
    write_png(tmp_path / "train" / "a.png", np.zeros((4, 6, 3), np.uint8))
    write_png(tmp_path / "trainannot" / "a.png", np.zeros((4, 5), np.uint8))
    with pytest.raises(DatasetError, match=r"trainannot/a.png: label is 5x4 but its image "
                                           r".*train/a.png is 6x4"):
        build_dataset("camvid", tmp_path, "train")[0]


def test_unreadable_image_and_label_are_named(tmp_path):
    make_camvid(tmp_path, n=1)
    image_path, label_path = build_dataset("camvid", tmp_path, "train").pairs[0]
    image_path.write_bytes(b"not a png")
    with pytest.raises(DatasetError, match=rf"{image_path.name}: cannot read the image"):
        build_dataset("camvid", tmp_path, "train")[0]
    make_camvid(tmp_path, n=1)
    label_path.write_bytes(b"")
    with pytest.raises(DatasetError, match=rf"{label_path.name}: cannot read the label"):
        build_dataset("camvid", tmp_path, "train").load_label(0)


def test_colour_label_is_rejected(tmp_path):
    write_png(tmp_path / "train" / "a.png", np.zeros((2, 2, 3), np.uint8))
    write_png(tmp_path / "trainannot" / "a.png", np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(DatasetError, match="one-channel 8-bit"):
        build_dataset("camvid", tmp_path, "train")[0]


def test_empty_split_missing_folder_and_missing_label(tmp_path):
    (tmp_path / "val").mkdir()
    (tmp_path / "valannot").mkdir()
    with pytest.raises(DatasetError, match=r"CamVid val split in .*: no image/label pairs"):
        build_dataset("camvid", tmp_path, "val")
    with pytest.raises(DatasetError, match=r"test: missing folder"):
        build_dataset("camvid", tmp_path, "test")
    write_png(tmp_path / "val" / "lonely.png", np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(DatasetError, match=r"lonely.png: no label"):
        build_dataset("camvid", tmp_path, "val")
    with pytest.raises(DatasetError, match=r"classes.txt: missing class-names file"):
        build_dataset("folder", tmp_path, "val")
    with pytest.raises(DatasetError, match="unknown data set 'voc'"):
        build_dataset("voc", tmp_path, "val")


def test_pad_collate_pads_to_multiple_of_8_with_ignore():
    batch = [(torch.ones(3, 5, 9), torch.zeros(5, 9, dtype=torch.long)),
             (torch.ones(3, 8, 4), torch.ones(8, 4, dtype=torch.long))]
    images, labels = pad_collate(batch)
    assert images.shape == (2, 3, 8, 16) and labels.shape == (2, 8, 16)
    assert images[0, :, 5:].abs().sum() == 0 and images[0, :, :5, :9].min() == 1
    assert (labels[0, 5:] == IGNORE_INDEX).all() and (labels[0, :5, :9] == 0).all()
    assert (labels[1, :, 4:] == IGNORE_INDEX).all() and (labels[1, :, :4] == 1).all()


@pytest.mark.skipif(not (SHARED / "camvid").is_dir(), reason="shared CamVid copy not present")
def test_real_camvid_split_sizes():
    train = build_dataset("camvid", SHARED / "camvid", "train")
    val = build_dataset("camvid", SHARED / "camvid", "val")
    assert (len(train), len(val)) == (367, 101)
    image, label = val[0]
    assert image.shape == (360, 480, 3) and label.shape == (360, 480)
    assert set(np.unique(label)) <= set(range(11)) | {IGNORE_INDEX}


def make_sequences(root: Path) -> Path:
    """CamVid-named frames of three sequences spread over two splits, as the real ones are."""
    for split, names in (("train", ["0001TP_006690", "0006R0_f00930", "0016E5_00390",
                                    "0016E5_00420"]),
                         ("val", ["0016E5_07959", "0016E5_07961"])):
        for name in names:
            make_pair(root / split / f"{name}.png", root / f"{split}annot" / f"{name}.png",
                      np.zeros((8, 8), np.uint8))
    return root


def frame_names(dataset) -> list[str]:
    return sorted(image.name for image, _ in dataset.pairs)


def test_a_held_out_sequence_splits_the_frames_with_none_in_both_halves(tmp_path):
    root = make_sequences(tmp_path / "CamVid")
    every = frame_names(build_dataset("camvid", root, "train+val"))
    trained = build_dataset("camvid", root, "train+val", sequences=["0006R0"], exclude=True)
    held_out = build_dataset("camvid", root, "train+val", sequences=["0006R0"])
    assert frame_names(held_out) == ["0006R0_f00930.png"]
    assert sequence_counts(trained) == {"0001TP": 1, "0016E5": 4}
    assert not set(frame_names(trained)) & set(frame_names(held_out))
    assert sorted(frame_names(trained) + frame_names(held_out)) == every


def test_leave_one_sequence_out_folds_hold_out_every_frame_exactly_once(tmp_path):
    root = make_sequences(tmp_path / "CamVid")
    every = build_dataset("camvid", root, "train+val")
    held_out = [name for sequence in sequence_counts(every)
                for name in frame_names(build_dataset("camvid", root, "train+val",
                                                      sequences=[sequence]))]
    assert sorted(held_out) == frame_names(every) and len(set(held_out)) == len(every)


def test_an_unknown_sequence_is_an_error_naming_the_real_ones(tmp_path):
    root = make_sequences(tmp_path / "CamVid")
    with pytest.raises(DatasetError, match=r"no sequence 0006RO; its sequences are 0001TP, "
                                           r"0006R0, 0016E5"):
        build_dataset("camvid", root, "train+val", sequences=["0006RO"])


def test_sequence_is_the_name_before_the_first_underscore():
    assert sequence_of(Path("x/0016E5_07959.png")) == "0016E5"
    assert sequence_of(Path("aachen_000000_000019_leftImg8bit.png")) == "aachen"


@pytest.mark.parametrize("train, val, held_out, sequences, seen", [
    ("train", "val", None, None, False),
    ("train+val", "val", None, None, True),
    ("train+val", "train+val", ["0006R0"], ["0006R0"], False),
    ("train+val", "train+val", ["0006R0"], None, True),
    ("train+val", "train", ["0006R0"], ["0006R0", "0016E5"], True),
])
def test_splits_overlap_knows_held_out_sequences(train, val, held_out, sequences, seen):
    assert splits_overlap(train, val, held_out, sequences) is seen
