"""The `enet-train` command: info, train, evaluate, export, check, summary.

Each subcommand's arguments come from a parser that tests can build without a subprocess;
errors the user can fix are one line on stderr and exit status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from enet_train import logit_adjustment
from enet_train.arguments import (OneLineErrorParser, class_count, existing_dir,
                                  non_negative_float, positive_int, probability, size_multiple)
from enet_ros.inputs import IMAGE_SUFFIXES
from enet_ros.model_file import DEFAULT_IO, IO_KINDS, ModelFileError, ModelMetadata
from enet_ros.palette import PaletteError, generated_palette, named_palettes, read_palette

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_CAMVID_VAL = REPO_ROOT.parent / "shared" / "datasets" / "camvid" / "val"


class UsageError(ValueError):
    """A request that cannot be met as given; the message says what to change."""


def _info(args: argparse.Namespace) -> int:
    import torch

    from enet_train.model import ENet, count_multiply_adds, count_parameters

    torch.set_num_threads(max(1, torch.get_num_threads()))
    net = ENet(args.classes)
    params = count_parameters(net)
    macs = count_multiply_adds(net, args.height, args.width)
    print(f"ENet, {args.classes} classes")
    print(f"parameters:    {params:,} ({params / 1e6:.2f} M)")
    print(f"multiply-adds: {macs:,} ({macs / 1e9:.2f} G) at {args.width}x{args.height}")
    return 0


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _verification_images(folder: Path | None, count: int, height: int,
                         width: int) -> tuple[np.ndarray, str]:
    """Up to ``count`` RGB frames resized to height x width, and where they came from."""
    import cv2

    if folder is not None:
        files = sorted(p for p in folder.iterdir()
                       if p.suffix.lower() in IMAGE_SUFFIXES)[:count]
        if not files:
            raise UsageError(f"no images in {folder} to verify the export on")
        frames = []
        for f in files:
            bgr = cv2.imread(str(f), cv2.IMREAD_COLOR)
            if bgr is None:
                raise UsageError(f"cannot read verification image {f}")
            frames.append(cv2.resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), (width, height),
                                     interpolation=cv2.INTER_AREA))
        return np.stack(frames), f"{len(frames)} images from {folder}"
    # Smooth synthetic scenes (flat regions and gradients), the closest we have to real frames.
    rng = np.random.default_rng(0)
    coarse = rng.integers(0, 256, (count, height // 32 + 1, width // 32 + 1, 3), dtype=np.uint8)
    frames = np.stack([cv2.resize(c, (width, height), interpolation=cv2.INTER_NEAREST)
                       for c in coarse])
    return frames, f"{count} synthetic frames (no real images found)"


def _validation(train_args: dict, metrics: dict) -> dict:
    """The checkpoint's validation scores, with the split they were measured on and whether
    training saw it: a final run on train+val scores its own training images there."""
    from enet_train.datasets import splits_overlap

    if not metrics:
        return {}
    train_split = train_args.get("train_split", "train")
    held_out = train_args.get("val_sequences")
    if held_out:
        return {**metrics, "split": train_split, "sequences": held_out, "seen_in_training": False}
    val_split = train_args.get("val_split", "val")
    return {**metrics, "split": val_split,
            "seen_in_training": splits_overlap(train_split, val_split)}


# --target: the I/O flavour and opset a family of boards needs (JetPack 4.6: TensorRT 8.2,
# which casts no uint8 and documents opsets up to 13).
TARGETS = {"jetpack4": ("float32", 13)}


def _export(args: argparse.Namespace) -> int:
    from enet_train.checkpoint import load_checkpoint
    from enet_train.export import (OPSET, export_onnx, label_agreement, onnxruntime_labels,
                                   torch_labels)

    io, opset = TARGETS.get(args.target, (args.io or DEFAULT_IO, OPSET))
    if args.target and args.io not in (None, io):
        raise UsageError(f"--target {args.target} writes --io {io}; leave --io out")
    ckpt = load_checkpoint(args.checkpoint)
    names = args.class_names.split(",") if args.class_names else ckpt.class_names
    if names is None:
        raise UsageError(f"{args.checkpoint} records no class names: pass --class-names")
    if len(names) != ckpt.net.num_classes:
        raise UsageError(f"{len(names)} class names for a network with "
                         f"{ckpt.net.num_classes} classes: pass the names it was trained with")
    net, adjustment = ckpt.net, {}
    request = logit_adjustment.requested(args)
    if request is not None:
        weights_file, strength = request
        weights = logit_adjustment.read_class_weights(weights_file, net.num_classes)
        net = logit_adjustment.adjusted_network(net, weights, strength)
        adjustment = {"logit_adjustment": {"strength": strength,
                                           "class_weights": weights.tolist()}}
    dataset = args.dataset or ckpt.args.get("dataset", "unknown")
    palette_spec = args.palette or (dataset if dataset in named_palettes() else None)
    height, width = args.height, args.width
    colours = (read_palette(palette_spec, names) if palette_spec
               else generated_palette(names)).colours
    metadata = ModelMetadata(
        class_names=tuple(names),
        palette=tuple(tuple(int(v) for v in c) for c in colours),
        input_height=height, input_width=width, dataset=dataset,
        training={"train_args": ckpt.args, "commit": ckpt.extra.get("commit", _git_commit()),
                  "epoch": ckpt.extra.get("epoch"),
                  "export_command": shlex.join(["enet-train", *sys.argv[1:]]), **adjustment},
        # the checkpoint's figures are of the scores before an adjustment: none then
        validation={} if adjustment else _validation(ckpt.args, ckpt.extra.get("metrics") or {}),
        io=io,
    )
    fixed = (height, width) if args.fixed_size else None
    print(f"exporting {args.checkpoint} ({len(names)} classes, {dataset}) to {args.out} ...",
          flush=True)
    out = export_onnx(net, args.out, metadata, fixed, args.confidence, opset)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)", flush=True)
    if args.no_verify:
        return 0
    folder = Path(args.verify_images) if args.verify_images else None
    if folder is None and SHARED_CAMVID_VAL.is_dir():
        folder = SHARED_CAMVID_VAL
    images, source = _verification_images(folder, args.verify_count, height, width)
    print(f"verifying ONNX Runtime against torch on {source} ...", flush=True)
    agreement = label_agreement(torch_labels(net, images), onnxruntime_labels(out, images))
    print(f"label agreement, ONNX Runtime vs torch: {agreement * 100:.4f} % "
          f"(required {args.min_agreement * 100:.2f} %)")
    if agreement < args.min_agreement:
        raise UsageError(f"the exported model agrees with torch on only {agreement * 100:.3f} % "
                         f"of pixels; the export is wrong, do not ship {out}")
    return 0


def _check(args: argparse.Namespace) -> int:
    import onnx

    from enet_ros.model_file import open_model_file
    from enet_train.tensorrt_support import check_operators, oldest_tensorrt

    model_file = open_model_file(args.model)
    loaded = onnx.load(str(args.model))
    report = check_operators(loaded)
    size = "dynamic (multiples of 8)" if model_file.fixed_size is None else \
        f"fixed {model_file.fixed_size[0]}x{model_file.fixed_size[1]}"
    print(f"{args.model}: opset {model_file.opset}, {model_file.num_classes} classes, "
          f"input size {size}, I/O {model_file.io.name} ({model_file.io.describe()})")
    version = oldest_tensorrt(loaded)
    if version.oldest:
        print(f"oldest TensorRT that accepts it: {version.oldest} "
              f"({'; '.join(version.reasons)})")
    print("operators:")
    for op, count in report.counts.items():
        mark = "" if op not in {p.split(":")[0] for p in report.problems} else "  <- unsupported"
        print(f"  {op:<16} {count:>4}{mark}")
    if report.tensorrt_ready:
        print("TensorRT: every operator is supported by TensorRT's ONNX parser")
        return 0
    for problem in report.problems:
        print(f"TensorRT: {problem}")
    return 1


def _delegate(module_name: str) -> tuple[Callable[[], argparse.ArgumentParser],
                                         Callable[[argparse.Namespace], int]]:
    import importlib

    module = importlib.import_module(module_name)
    return module.get_args_parser, module.main


def _summary(args: argparse.Namespace) -> int:
    from enet_train.run_summary import LogError, markdown, summarize

    try:
        summaries = [summarize(path, args.last) for path in args.logs]
    except LogError as err:
        raise UsageError(str(err)) from None
    print(markdown(summaries, args.thin))
    return 0


def get_args_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(prog="enet-train", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    info = sub.add_parser("info", help="parameter count and multiply-adds of ENet")
    info.add_argument("--classes", type=class_count, default=12,
                      help="number of classes (default 12)")
    info.add_argument("--height", type=size_multiple, default=360,
                      help="input height for multiply-adds, a multiple of 8")
    info.add_argument("--width", type=size_multiple, default=640,
                      help="input width for multiply-adds, a multiple of 8")
    info.set_defaults(func=_info)

    export = sub.add_parser("export", help="write a TensorRT-ready ONNX model file")
    export.add_argument("checkpoint", type=Path, help="checkpoint written by enet-train train")
    export.add_argument("--out", type=Path, required=True, help="model file to write (.onnx)")
    export.add_argument("--class-names", help="comma-separated class names (default: the "
                                              "checkpoint's)")
    export.add_argument("--dataset", help="data set name recorded in the metadata")
    export.add_argument("--palette", help="palette name or YAML file (default: the data set's)")
    export.add_argument("--height", type=size_multiple, default=360,
                        help="input height the runtime uses by default, multiple of 8 (360)")
    export.add_argument("--width", type=size_multiple, default=480,
                        help="input width the runtime uses by default, multiple of 8 (480)")
    export.add_argument("--fixed-size", action="store_true",
                        help="fix the input size to --height x --width instead of dynamic")
    export.add_argument("--confidence", action=argparse.BooleanOptionalAction, default=True,
                        help="add the 'confidence' output: uint8 round(255 x the winning "
                             "class's probability), int32 with --io float32 (default: on; "
                             "--no-confidence saves its share of each frame)")
    export.add_argument("--verify-images", type=existing_dir,
                        help="folder of images to verify on (default: CamVid val if present)")
    export.add_argument("--verify-count", type=positive_int, default=8, help="images to verify on")
    export.add_argument("--min-agreement", type=probability, default=0.999,
                        help="least share of equal labels, ONNX Runtime vs torch")
    export.add_argument("--no-verify", action="store_true", help="skip the verification")
    export.add_argument("--io", choices=sorted(IO_KINDS),
                        help="dtypes at the graph's edges: uint8 image in and labels out "
                             "(default; TensorRT >= 8.6, ONNX Runtime, OpenVINO) or float32 "
                             "image in, int32 labels out (TensorRT 8.4 and 8.5: JetPack 5)")
    logit_adjustment.add_arguments(export, "")
    export.add_argument("--target", choices=sorted(TARGETS),
                        help="a file for older boards: jetpack4 is float32 I/O at opset 13, "
                             "what TensorRT 8.2 (JetPack 4.6: TX1, Nano, TX2) parses")
    export.set_defaults(func=_export)

    check = sub.add_parser("check", help="list a model file's operators, flag TensorRT gaps")
    check.add_argument("model", type=Path, help="model file (.onnx)")
    check.set_defaults(func=_check)

    summary = sub.add_parser("summary", help="compare runs by their log.csv: last, best and "
                                             "the mean of the last validations")
    summary.add_argument("logs", type=Path, nargs="+", help="log.csv of a stage, one a run")
    summary.add_argument("--last", type=positive_int, default=5,
                         help="validations the mean takes, the latest ones (5)")
    summary.add_argument("--thin", type=non_negative_float, default=25.0,
                         help="name the classes whose mean IoU is under this percentage (25)")
    summary.set_defaults(func=_summary)

    for name, module, text in (("train", "enet_train.train", "train ENet (two stages)"),
                               ("evaluate", "enet_train.evaluate",
                                "evaluate a checkpoint or model file")):
        parent, main = _delegate(module)
        sub.add_parser(name, help=text, parents=[parent(add_help=False)]).set_defaults(
            func=lambda a, main=main: main(a))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from enet_train.checkpoint import CheckpointError
    from enet_train.datasets import DatasetError
    from enet_train.export import ExportError

    args = get_args_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (UsageError, CheckpointError, DatasetError, ExportError, ModelFileError,
            PaletteError, logit_adjustment.WeightsFileError) as err:
        print(f"enet-train {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
