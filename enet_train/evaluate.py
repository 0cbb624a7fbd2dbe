"""Score a checkpoint (.pth) or an exported model file (.onnx) on a data set split.

    enet-train evaluate MODEL --dataset camvid --data DIR --split val

Images are scored at the data set's native resolution: sizes that are not multiples of 8 are
padded (edge pixels repeated) and the prediction cropped back, so every labelled pixel counts.
A model file is run by an enet_ros engine exactly as the robot runs it (uint8 NHWC RGB in,
uint8 labels out), so its figures are the deployed model's: ONNX Runtime in float32 by
default, or ``--engine openvino --precision bf16`` (say) for what a reduced precision costs.
``--input-size H W`` scores a model file at the network input size the node would be given
(its ``input_height``/``input_width``): each image resized to it and the labels back to native
size by enet_ros's Segmenter, so the cost in accuracy of a faster, smaller input (or the gain
of a larger one) is measured, not guessed. Writes ``report.json`` (per-class IoU
and accuracy, mIoU, class-average and global accuracy, the confusion matrix),
``per_class_iou.md/.csv`` and ``confusion.png`` to ``--output-dir`` and prints the table.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .arguments import OneLineErrorParser, non_negative_int, size_multiple
from .checkpoint import CheckpointError, load_checkpoint
from .datasets import (DATASETS, IGNORE_INDEX, DatasetError, build_dataset, sequence_counts,
                       splits_overlap)
from . import logit_adjustment
from .logit_adjustment import Adjustment, WeightsFileError, adjusted_network, read_class_weights
from .metrics import ConfusionMatrix
from .model import SIZE_MULTIPLE
from .reports import class_table_markdown, plot_confusion, write_class_tables
from .transforms import image_to_tensor

# RGB uint8 HxWx3 -> uint8 HxW class ids at the same size.
Predictor = Callable[[np.ndarray], np.ndarray]


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    parser = OneLineErrorParser(description="Evaluate a checkpoint or model file",
                                     add_help=add_help)
    parser.add_argument("model", type=str, help="checkpoint (.pth) or exported model file (.onnx)")
    parser.add_argument("--dataset", type=str, default="camvid", choices=sorted(DATASETS),
                        help="data set layout (see enet_train/datasets)")
    parser.add_argument("--data", type=str, required=True, help="root folder of the data set")
    parser.add_argument("--split", type=str, default="val",
                        help="split to evaluate; join splits with + (train+val)")
    parser.add_argument("--val-sequences", type=str, default=None, metavar="SEQ[,SEQ]",
                        help="score only the frames of these sequences of --split (file name "
                             "before the first underscore), e.g. the sequence a fold held out")
    parser.add_argument("--output-dir", type=str, default=None,
                        help="where the report goes (default: <model>_<dataset>_<split> beside "
                             "the model)")
    parser.add_argument("--device", type=str, default="auto",
                        help="torch device for a checkpoint: auto, cpu, cuda or cuda:N")
    parser.add_argument("--threads", type=non_negative_int, default=0,
                        help="CPU threads for torch / the engine (0: their default)")
    parser.add_argument("--engine", type=str, default="onnxruntime",
                        help="enet_ros engine for a model file: onnxruntime (default), "
                             "openvino, tensorrt or auto")
    parser.add_argument("--precision", type=str, default="auto",
                        help="engine precision for a model file (OpenVINO): auto, fp32, bf16 "
                             "or fp16")
    parser.add_argument("--input-size", type=size_multiple, nargs=2, metavar=("H", "W"),
                        default=None,
                        help="model file only: run the network at this size (multiples of 8), "
                             "as the node's input_height/input_width would; labels are scored "
                             "at native size")
    logit_adjustment.add_arguments(parser, "checkpoint only: ")
    return parser


def pad_to_multiple(image: np.ndarray, multiple: int = SIZE_MULTIPLE) -> np.ndarray:
    """Pad bottom and right, repeating edge pixels, to the next multiple of ``multiple``."""
    height, width = image.shape[:2]
    bottom, right = -height % multiple, -width % multiple
    if not (bottom or right):
        return image
    return cv2.copyMakeBorder(image, 0, bottom, 0, right, cv2.BORDER_REPLICATE)


def torch_predictor(path: Path, device: torch.device, adjustment: Adjustment | None = None
                    ) -> tuple[Predictor, list[str] | None]:
    """Predictor running a checkpoint's network, its scores adjusted by (class weights file,
    strength) when given; encoder-only scores are upsampled bilinearly."""
    loaded = load_checkpoint(path)
    net = loaded.net
    if adjustment is not None:
        weights_file, strength = adjustment
        net = adjusted_network(net, read_class_weights(weights_file, net.num_classes), strength)
    net = net.to(device).eval()

    @torch.no_grad()
    def predict(image: np.ndarray) -> np.ndarray:
        return network_scores(net, image, device).argmax(0).to(torch.uint8).cpu().numpy()

    return predict, loaded.class_names


def network_scores(net: torch.nn.Module, image: np.ndarray, device: torch.device
                   ) -> torch.Tensor:
    """A network's class scores (C, H, W) for one RGB image of any size: padded to the
    network's multiple and cropped back, so each pixel is scored where it stands; an
    encoder's coarse scores are upsampled bilinearly first."""
    height, width = image.shape[:2]
    x = image_to_tensor(pad_to_multiple(image)).unsqueeze(0).to(device)
    scores = net(x)
    if scores.shape[-2:] != x.shape[-2:]:
        scores = F.interpolate(scores, size=x.shape[-2:], mode="bilinear", align_corners=False)
    return scores[0, :, :height, :width]


def onnx_predictor(path: Path, threads: int, engine_kind: str = "onnxruntime",
                   precision: str = "auto", input_size: tuple[int, int] | None = None
                   ) -> tuple[Predictor, list[str], str]:
    """Predictor running a model file in an enet_ros engine (what the robot runs), its class
    names, and "engine precision" as run. With ``input_size``, or for a fixed-size model, the
    node's own Segmenter resizes each image to the network and the labels back."""
    from enet_ros.engines import open_engine
    from enet_ros.model_file import open_model_file
    from enet_ros.palette import load_palette
    from enet_ros.segmenter import Segmenter

    model = open_model_file(path)
    engine = open_engine(engine_kind, model, threads=threads or None, precision=precision)
    runner = f"{engine.name} {engine.precision}"
    if input_size is None and model.fixed_size is None:
        def predict(image: np.ndarray) -> np.ndarray:
            height, width = image.shape[:2]
            return engine.infer(pad_to_multiple(image)[None])[0][:height, :width]

        return predict, list(model.metadata.class_names), runner
    segmenter = Segmenter(engine, load_palette(None, model.metadata),
                          tuple(input_size) if input_size else None)

    def resize_and_predict(image: np.ndarray) -> np.ndarray:
        return segmenter.segment(image, color=False, overlay=False).labels

    height, width = segmenter.input_size
    return (resize_and_predict, list(model.metadata.class_names),
            f"{runner}, network input {width}x{height}")


def make_predictor(path: Path, device: str, threads: int, engine: str = "onnxruntime",
                   precision: str = "auto", input_size: tuple[int, int] | None = None,
                   adjustment: Adjustment | None = None
                   ) -> tuple[Predictor, list[str] | None, str]:
    """(predictor, class names if known, what runs it: "torch cpu", "openvino bf16", ...)."""
    if path.suffix.lower() == ".onnx":
        if adjustment is not None:
            raise CheckpointError("--logit-adjust is for a checkpoint (.pth): a model file's "
                                  "scores are what its graph computes")
        return onnx_predictor(path, threads, engine, precision, input_size)
    if input_size is not None:
        raise CheckpointError("--input-size is for a model file (.onnx), as the node runs it; "
                              "export the checkpoint first")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return (*torch_predictor(path, torch.device(device), adjustment), f"torch {device}")


def training_args(path: Path) -> dict:
    """The arguments the model was trained with (a checkpoint's, or those a model file's
    metadata keeps), to tell whether the frames scored were trained on."""
    if path.suffix.lower() == ".onnx":
        from enet_ros.model_file import open_model_file

        return dict(open_model_file(path).metadata.training.get("train_args") or {})
    return load_checkpoint(path).args


def seen_in_training(train_args: dict, dataset: str, split: str,
                     sequences: list[str] | None) -> bool | None:
    """Whether the frames scored were among the model's training frames; None when the model
    does not say what it was trained on (or was trained on another data set)."""
    if train_args.get("dataset") != dataset or "train_split" not in train_args:
        return None
    held = train_args.get("val_sequences")
    held_out = held.split(",") if held else None
    return splits_overlap(train_args["train_split"], split, held_out, sequences)


def evaluate(predict: Predictor, dataset, show: bool = True) -> ConfusionMatrix:
    """The confusion matrix of ``predict`` over every pair of ``dataset`` (raw arrays)."""
    matrix = ConfusionMatrix(dataset.num_classes, IGNORE_INDEX)
    for index in tqdm(range(len(dataset)), desc="evaluate", disable=not show, dynamic_ncols=True):
        image, label = dataset[index]
        matrix.update(torch.from_numpy(label), torch.from_numpy(predict(image)))
    return matrix


def main(args: argparse.Namespace) -> int:
    """Evaluate, write the report, print the table; 2 and a message for what the user can fix."""
    from enet_ros.engines import EngineError
    from enet_ros.model_file import ModelFileError
    from enet_ros.segmenter import SegmenterError

    if args.threads:
        torch.set_num_threads(args.threads)
    model_path = Path(args.model)
    try:
        adjustment = logit_adjustment.requested(args)
        sequences = args.val_sequences.split(",") if args.val_sequences else None
        dataset = build_dataset(args.dataset, args.data, args.split, sequences=sequences)
        predict, model_classes, runner = make_predictor(model_path, args.device, args.threads,
                                                        args.engine, args.precision,
                                                        args.input_size, adjustment)
        if model_classes is not None and len(model_classes) != dataset.num_classes:
            raise DatasetError(f"{model_path} predicts {len(model_classes)} classes but the "
                               f"{args.dataset} data set has {dataset.num_classes}")
        seen = seen_in_training(training_args(model_path), args.dataset, args.split, sequences)
        if seen:
            print(f"note: {model_path} was trained on these frames: the scores show the fit, "
                  f"not accuracy on unseen streets", file=sys.stderr)
        began = time.perf_counter()
        matrix = evaluate(predict, dataset)
    except (DatasetError, CheckpointError, ModelFileError, EngineError, SegmenterError,
            WeightsFileError) as err:
        print(f"enet-train evaluate: error: {err}", file=sys.stderr)
        return 2
    scores = matrix.compute()
    names = dataset.class_names
    part = args.split + (f"_{args.val_sequences.replace(',', '+')}" if sequences else "") + \
        (f"_adjust{args.logit_adjust:g}" if adjustment else "")
    out = Path(args.output_dir) if args.output_dir else \
        model_path.with_name(f"{model_path.stem}_{args.dataset}_{part}")
    out.mkdir(parents=True, exist_ok=True)
    report = {"model": str(model_path), "dataset": args.dataset, "data": str(args.data),
              "split": args.split, "sequences": sequence_counts(dataset),
              "seen_in_training": seen, "images": len(dataset), "resolution": "native",
              "labelled_pixels": dict(zip(names, matrix.to_numpy().sum(1).tolist())),
              "run_by": runner,
              "logit_adjustment": None if adjustment is None else
              {"strength": args.logit_adjust, "class_weights": str(args.class_weights)},
              "seconds": round(time.perf_counter() - began, 2), **scores.as_dict(names),
              "confusion_matrix": matrix.to_numpy().tolist(), "class_names": list(names)}
    (out / "report.json").write_text(json.dumps(report, indent=1))
    write_class_tables(out / "per_class_iou", names, scores)
    plot_confusion(matrix.to_numpy(), names, out / "confusion.png")
    print(class_table_markdown(names, scores), end="")
    print(f"report: {out / 'report.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(get_args_parser().parse_args()))
