"""mask_classes: names checked against the model's classes, and the 255/0 mask of the labels."""
from __future__ import annotations

import numpy as np
import pytest

from enet_ros.class_mask import class_mask, mask_table, parse_mask_classes

CAMVID = ("Sky", "Building", "Pole", "Road", "Sidewalk", "Tree", "SignSymbol", "Fence", "Car",
          "Pedestrian", "Bicyclist", "Unlabelled")


def test_names_become_ids_in_label_order_spaces_and_order_aside():
    assert parse_mask_classes("Sidewalk, Road", CAMVID) == (3, 4)
    assert parse_mask_classes("Road,Sidewalk", CAMVID) == (3, 4)
    assert parse_mask_classes("", CAMVID) == parse_mask_classes(" , ", CAMVID) == ()


def test_an_unknown_name_is_an_error_naming_the_models_classes():
    with pytest.raises(ValueError, match="mask_classes names road, Grass, which the model "
                                         "lacks; its classes are Sky, Building, Pole, Road"):
        parse_mask_classes("road,Sidewalk,Grass", CAMVID)


def test_mask_is_255_exactly_where_the_label_is_chosen():
    labels = np.array([[0, 3, 4], [11, 4, 255]], np.uint8)
    mask = class_mask(labels, mask_table((3, 4)))
    assert mask.dtype == np.uint8 and mask.shape == labels.shape
    assert mask.tobytes() == bytes([0, 255, 255, 0, 255, 0])
    assert not class_mask(labels, mask_table(())).any()
