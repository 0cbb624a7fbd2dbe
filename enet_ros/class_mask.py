"""``mask_classes``: the classes a robot treats as one region (drivable ground, say) as a mask.

Costmap layers and OpenCV want a binary image, not class ids: 255 where the label is one of the
chosen classes, 0 elsewhere. The names are checked against the model's own classes when the
node starts, so a typo is a start-up error naming the valid ones, not a silently empty mask.
The mask is a 256-entry lookup table applied to the labels (cv2.LUT): one pass, whatever the
number of classes.
"""
from typing import Sequence

import cv2
import numpy as np

MASK_ON = 255


def parse_mask_classes(text: str, class_names: "Sequence[str]") -> "tuple[int, ...]":
    """The class ids named in ``text`` ("Road,Sidewalk"; empty: none), in label id order.

    ValueError naming the model's classes when a name is not one of them.
    """
    wanted = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in class_names]
    if unknown:
        raise ValueError(f"mask_classes names {', '.join(unknown)}, which the model lacks; "
                         f"its classes are {', '.join(class_names)}")
    return tuple(i for i, name in enumerate(class_names) if name in wanted)


def mask_table(class_ids: "Sequence[int]") -> np.ndarray:
    """The lookup table of ``class_mask``: MASK_ON at the given ids, 0 elsewhere."""
    table = np.zeros(256, np.uint8)
    table[list(class_ids)] = MASK_ON
    return table


def class_mask(labels: np.ndarray, table: np.ndarray) -> np.ndarray:
    """uint8 HxW mask of uint8 HxW labels: ``table[label]`` for every pixel."""
    return cv2.LUT(labels, table)
