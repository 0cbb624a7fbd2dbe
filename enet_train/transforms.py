"""Paired image/label transforms: numpy HWC RGB uint8 image and HxW uint8 label in.

Each is a small callable class ``t(image, label) -> (image, label)``. Geometry changes both
alike; labels are only ever resized by nearest neighbour (interpolating class ids invents
classes). ``ToTensor`` ends a pipeline: float CHW normalised with the model's mean/std, int64 label.
Randomness comes from torch's generator, which DataLoader seeds per worker and ``torch.manual_seed``
seeds in the main process, so runs are reproducible.
"""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch

from .datasets import IGNORE_INDEX
from .model import IMAGE_MEAN, IMAGE_STD, SIZE_MULTIPLE

Pair = tuple[np.ndarray, np.ndarray]


def _uniform(low: float, high: float) -> float:
    return float(torch.empty(()).uniform_(low, high))


def _resize(image: np.ndarray, label: np.ndarray, height: int, width: int) -> Pair:
    """Bilinear image, nearest label. INTER_NEAREST_EXACT samples pixel centres as INTER_LINEAR
    does; plain INTER_NEAREST is shifted by up to a pixel against the image."""
    return (cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR),
            cv2.resize(label, (width, height), interpolation=cv2.INTER_NEAREST_EXACT))


class Compose:
    def __init__(self, transforms: Sequence) -> None:
        self.transforms = list(transforms)

    def __call__(self, image: np.ndarray, label: np.ndarray):
        for t in self.transforms:
            image, label = t(image, label)
        return image, label


class Resize:
    """To a fixed height x width (e.g. train or validate below native resolution)."""

    def __init__(self, height: int, width: int) -> None:
        self.height, self.width = height, width

    def __call__(self, image: np.ndarray, label: np.ndarray) -> Pair:
        if image.shape[:2] == (self.height, self.width):
            return image, label
        return _resize(image, label, self.height, self.width)


class RandomScale:
    """Scale both sides of ``base`` (the output of a Resize, or the native size) by a random
    factor in [low, high]: objects seen at many sizes, the main accuracy gain of augmentation."""

    def __init__(self, low: float, high: float) -> None:
        if not 0 < low <= high:
            raise ValueError(f"scale range must satisfy 0 < low <= high, got {low}, {high}")
        self.low, self.high = low, high

    def __call__(self, image: np.ndarray, label: np.ndarray) -> Pair:
        scale = _uniform(self.low, self.high)
        height, width = (max(1, round(s * scale)) for s in image.shape[:2])
        return _resize(image, label, height, width)


class RandomCrop:
    """A random height x width window; smaller inputs are padded first, the image with the mean
    colour (0 after normalisation) and the label with the ignore value, so padding never counts."""

    def __init__(self, height: int, width: int, ignore_index: int = IGNORE_INDEX) -> None:
        self.height, self.width = height, width
        self.ignore_index = ignore_index
        self.fill = tuple(round(255 * m) for m in IMAGE_MEAN)

    def __call__(self, image: np.ndarray, label: np.ndarray) -> Pair:
        pad_h, pad_w = max(self.height - image.shape[0], 0), max(self.width - image.shape[1], 0)
        if pad_h or pad_w:
            image = cv2.copyMakeBorder(image, 0, pad_h, 0, pad_w, cv2.BORDER_CONSTANT,
                                       value=self.fill)
            label = cv2.copyMakeBorder(label, 0, pad_h, 0, pad_w, cv2.BORDER_CONSTANT,
                                       value=self.ignore_index)
        top = int(torch.randint(image.shape[0] - self.height + 1, ()))
        left = int(torch.randint(image.shape[1] - self.width + 1, ()))
        window = (slice(top, top + self.height), slice(left, left + self.width))
        return image[window], label[window]


class RandomHorizontalFlip:
    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def __call__(self, image: np.ndarray, label: np.ndarray) -> Pair:
        if float(torch.rand(())) < self.p:
            return image[:, ::-1], label[:, ::-1]
        return image, label


class ColorJitter:
    """Random brightness, contrast and saturation factors in [1 - x, 1 + x]; label untouched."""

    def __init__(self, brightness: float = 0.0, contrast: float = 0.0,
                 saturation: float = 0.0) -> None:
        self.brightness, self.contrast, self.saturation = brightness, contrast, saturation

    def __call__(self, image: np.ndarray, label: np.ndarray) -> Pair:
        out = image.astype(np.float32)
        if self.brightness:
            out *= _uniform(1 - self.brightness, 1 + self.brightness)
        if self.contrast:
            mean = out @ np.float32([0.299, 0.587, 0.114])
            out = (out - mean.mean()) * _uniform(1 - self.contrast, 1 + self.contrast) + mean.mean()
        if self.saturation:
            grey = (out @ np.float32([0.299, 0.587, 0.114]))[..., None]
            out = (out - grey) * _uniform(1 - self.saturation, 1 + self.saturation) + grey
        return np.clip(out, 0, 255).astype(np.uint8), label


class RandomGamma:
    """Pixel values raised to a random power in [low, high] (on 0..1): the exposure and tone
    curve of another camera or another hour, which a brightness factor alone does not give."""

    def __init__(self, low: float, high: float) -> None:
        if not 0 < low <= high:
            raise ValueError(f"gamma range must satisfy 0 < low <= high, got {low}, {high}")
        self.low, self.high = low, high

    def __call__(self, image: np.ndarray, label: np.ndarray) -> Pair:
        table = 255 * (np.arange(256, dtype=np.float32) / 255) ** _uniform(self.low, self.high)
        return cv2.LUT(image, np.clip(table.round(), 0, 255).astype(np.uint8)), label


class RandomHue:
    """Hue turned by a random angle in [-degrees, degrees]: white balance of another camera."""

    def __init__(self, degrees: float) -> None:
        self.degrees = degrees

    def __call__(self, image: np.ndarray, label: np.ndarray) -> Pair:
        hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)  # hue 0..179, 2 degrees a step
        shift = round(_uniform(-self.degrees, self.degrees) / 2)
        hsv[..., 0] = ((hsv[..., 0].astype(np.int16) + shift) % 180).astype(np.uint8)
        return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB), label


class RandomBlur:
    """With probability ``p``, a Gaussian blur of sigma 0.2-1.5 px: focus and motion of a
    moving car, so thin edges are not learnt from one camera's sharpness."""

    def __init__(self, p: float) -> None:
        self.p = p

    def __call__(self, image: np.ndarray, label: np.ndarray) -> Pair:
        if float(torch.rand(())) >= self.p:
            return image, label
        return cv2.GaussianBlur(image, (0, 0), _uniform(0.2, 1.5)), label


class RandomNoise:
    """Gaussian pixel noise of a random standard deviation in [0, sigma] (0..255 units): sensor
    noise in low light."""

    def __init__(self, sigma: float) -> None:
        self.sigma = sigma

    def __call__(self, image: np.ndarray, label: np.ndarray) -> Pair:
        noise = torch.randn(image.shape).numpy() * _uniform(0.0, self.sigma)
        return np.clip(image + noise, 0, 255).astype(np.uint8), label


class DownsampleLabel:
    """The label at 1/``factor`` size, for training the encoder alone (its head is 1/8 size).

    Each factor x factor block takes the class of one pixel at a random offset shared by the
    whole label (nearest-neighbour sampling, as the paper's Torch code scales labels). Over
    epochs every pixel gets its turn, so each class keeps its share of the labels: the mode of
    each block, tried before, halved Pole on CamVid (1.0 % of pixels, 0.5 % of block modes)
    because a pole 1-5 px wide rarely fills most of an 8 x 8 block, and the encoder then
    learnt no poles. The image is left as is.
    """

    def __init__(self, factor: int = SIZE_MULTIPLE) -> None:
        self.factor = factor

    def __call__(self, image: np.ndarray, label: np.ndarray) -> Pair:
        f = self.factor
        height, width = label.shape
        if height % f or width % f:
            raise ValueError(f"label size {width}x{height} is not a multiple of {f}")
        dy, dx = (int(v) for v in torch.randint(f, (2,)))
        return image, np.ascontiguousarray(label[dy::f, dx::f])


_MEAN = torch.tensor(IMAGE_MEAN).view(3, 1, 1)
_STD = torch.tensor(IMAGE_STD).view(3, 1, 1)


def image_to_tensor(image: np.ndarray) -> torch.Tensor:
    """RGB uint8 HxWx3 to float CxHxW normalised with the model's IMAGE_MEAN/STD."""
    tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255
    return (tensor - _MEAN) / _STD


class ToTensor:
    """Image to normalised float CHW (``image_to_tensor``); label to int64 HxW."""

    def __call__(self, image: np.ndarray, label: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        return image_to_tensor(image), torch.from_numpy(np.ascontiguousarray(label)).long()


def training_transforms(height: int, width: int, resize: tuple[int, int] | None = None,
                        scale: tuple[float, float] = (1.0, 1.0), flip: bool = True,
                        jitter: float = 0.0, label_factor: int = 1,
                        gamma: tuple[float, float] | None = None, hue: float = 0.0,
                        blur: float = 0.0, noise: float = 0.0) -> Compose:
    """(Resize to ``resize``,) random scale, random height x width crop, flip, jitter, the
    photometric changes asked for (gamma, hue, blur, noise), (label down by ``label_factor``
    for the encoder stage), to tensor.

    Without ``resize`` the crop is taken at native scale, so a crop smaller than the images
    trains faster while objects keep the size they have at validation and on the robot.
    """
    steps: list = [Resize(*resize)] if resize else []
    if scale != (1.0, 1.0):
        steps.append(RandomScale(*scale))
    steps.append(RandomCrop(height, width))
    if flip:
        steps.append(RandomHorizontalFlip())
    if jitter:
        steps.append(ColorJitter(jitter, jitter, jitter))
    if gamma:
        steps.append(RandomGamma(*gamma))
    if hue:
        steps.append(RandomHue(hue))
    if blur:
        steps.append(RandomBlur(blur))
    if noise:
        steps.append(RandomNoise(noise))
    if label_factor > 1:
        steps.append(DownsampleLabel(label_factor))
    steps.append(ToTensor())
    return Compose(steps)


def evaluation_transforms(size: tuple[int, int] | None = None) -> Compose:
    """Native resolution (or a fixed ``size``) to tensor; labels keep full size for scoring."""
    return Compose(([Resize(*size)] if size else []) + [ToTensor()])
