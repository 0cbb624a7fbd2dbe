"""Class weights: exact on generated labels; the paper's CamVid figures when the data is present."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from enet_train.class_weights import (count_classes, dataset_weights, enet_weights,
                                      median_frequency_weights)
from enet_train.datasets import build_dataset

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def test_counts_exclude_void_and_track_images_per_class():
    labels = [np.array([[0, 0, 1, 255]]), np.array([[1, 1, 255, 255], [1, 2, 2, 2]])]
    counts = count_classes(labels, 4)
    assert counts.pixels.tolist() == [2, 4, 3, 0]
    # image 1 has 3 labelled pixels (classes 0, 1), image 2 has 6 (classes 1, 2)
    assert counts.image_pixels.tolist() == [3, 9, 6, 0]


def test_enet_weights_exact():
    counts = count_classes([np.array([[0, 0, 0, 1, 255]])], 3)
    np.testing.assert_allclose(enet_weights(counts),
                               [1 / math.log(1.02 + 0.75), 1 / math.log(1.02 + 0.25),
                                1 / math.log(1.02)])


def test_median_frequency_weights_exact():
    counts = count_classes([np.array([[0, 0, 0, 1]]), np.array([[2, 2]])], 4)
    # f = [3/4, 1/4, 2/2], median 3/4; class 3 absent -> 0
    np.testing.assert_allclose(median_frequency_weights(counts), [1.0, 3.0, 0.75, 0.0])


def test_no_labelled_pixels_is_an_error():
    with pytest.raises(ValueError, match="no labelled pixels"):
        enet_weights(count_classes([np.full((2, 2), 255)], 3))


def test_dataset_weights_cache(tmp_path):
    import cv2
    for split_dir in ("train", "trainannot"):
        (tmp_path / split_dir).mkdir()
    cv2.imwrite(str(tmp_path / "train" / "a.png"), np.zeros((1, 4, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "trainannot" / "a.png"), np.array([[0, 0, 1, 11]], np.uint8))
    dataset = build_dataset("camvid", tmp_path, "train")
    cache = tmp_path / "out" / "weights.json"
    first = dataset_weights(dataset, "enet", cache, "k")
    assert first[0] == pytest.approx(1 / math.log(1.02 + 2 / 3))
    # a tampered cache with the same key is trusted (proves it is read) ...
    data = json.loads(cache.read_text())
    data["weights"][0] = 99.0
    cache.write_text(json.dumps(data))
    assert dataset_weights(dataset, "enet", cache, "k")[0] == 99.0
    # ... and a different key or method recomputes
    assert dataset_weights(dataset, "enet", cache, "other")[0] == pytest.approx(first[0])
    # f = [2/3, 1/3], median 1/2
    assert dataset_weights(dataset, "median", cache, "other")[1] == pytest.approx(1.5)
    assert dataset_weights(dataset, "none") is None
    with pytest.raises(ValueError, match="unknown class weighting"):
        dataset_weights(dataset, "inverse")


@pytest.mark.skipif(not (SHARED / "camvid").is_dir(), reason="shared CamVid copy not present")
def test_camvid_enet_weights_match_the_paper():
    dataset = build_dataset("camvid", SHARED / "camvid", "train")
    weights = dataset_weights(dataset, "enet")
    np.testing.assert_allclose(weights, [5.6, 4.3, 33.6, 3.3, 15.5, 8.7, 31.5, 32.0, 12.8, 38.0,
                                         43.9], atol=0.05)
