"""Train ENet in the paper's two stages, in the shape of torchvision's references/segmentation.

Stage ``encoder`` trains ENet(encoder_only=True) against labels downsampled 8x; stage ``full``
loads that encoder (its 1x1 head dropped) into the whole network and trains it at full
resolution; ``both`` runs one after the other. Each stage writes under ``<output-dir>/<stage>/``:

    last.pth   every epoch: model, optimizer, scheduler, scaler, epoch, best mIoU, args (a dict);
               with --ema-epochs "model" is the weight average, "training_model" the weights
    best.pth   the checkpoint with the best validation mIoU so far
    log.csv  tb/  curves.png  per_class_iou.md/.csv     logs, TensorBoard, pictures, tables

Runs single-process, or under torchrun (``torchrun --nproc_per_node N -m enet_train.train``).
"""
from __future__ import annotations

import argparse
import csv
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import (DataLoader, Dataset, DistributedSampler, RandomSampler,
                              SequentialSampler, Subset)
from tqdm import tqdm

from . import distributed
from .arguments import (OneLineErrorParser, existing_file, non_negative_float, non_negative_int,
                        positive_float, positive_int, probability, size_multiple)
from .checkpoint import CheckpointError, load_checkpoint
from .class_paste import ClassPaste, class_ids
from .class_weights import METHODS, dataset_weights
from .datasets import (DATASETS, IGNORE_INDEX, DatasetError, SegmentationDataset, build_dataset,
                       pad_collate, sequence_counts, splits_overlap)
from .ema import WeightAverage, ema_decay
from .losses import SegmentationLoss
from .metrics import ConfusionMatrix, Scores
from .model import SIZE_MULTIPLE, ENet
from .reports import plot_curves, write_class_tables
from .transforms import evaluation_transforms, training_transforms

STAGES = ("encoder", "full")
# Modules of the encoder: what stage ``full`` takes from a stage ``encoder`` checkpoint.
ENCODER_MODULES = ("initial", "down1", "stage1", "down2", "stage2", "stage3")
# Arguments that change how a run executes, never what it computes: free to differ on resume
# ("command" is the subcommand name the enet-train CLI adds).
RUNTIME_ARGS = frozenset({"resume", "allow_changed_args", "workers", "device", "cache", "threads",
                          "command", "time_limit", "precision", "no_amp", "compile"})
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    parser = OneLineErrorParser(description="Train ENet (encoder, then full network)",
                                     add_help=add_help)
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", type=str, default="camvid", choices=sorted(DATASETS),
                      help="data set layout (see enet_train/datasets)")
    data.add_argument("--data", type=str, required=True, help="root folder of the data set")
    data.add_argument("--train-split", type=str, default="train",
                      help="split to train on; join splits with + (train+val: a final run on "
                           "every labelled image, with the epochs found on val)")
    data.add_argument("--val-split", type=str, default="val", help="split to validate on")
    data.add_argument("--val-sequences", type=str, default=None, metavar="SEQ[,SEQ]|each",
                      help="validate on the frames of these sequences (file name before the "
                           "first underscore) of --train-split and train on the others, so the "
                           "score is on streets never trained on (--val-split is then unused); "
                           "each: leave one sequence out, one run a sequence under "
                           "<output-dir>/<sequence>")
    data.add_argument("--train-size", type=size_multiple, nargs=2, default=[360, 480],
                      metavar=("H", "W"),
                      help="training crop height and width, multiples of 8 (smaller images are "
                           "padded); a crop below native size trains faster at native scale")
    data.add_argument("--train-resize", type=positive_int, nargs=2, default=None,
                      metavar=("H", "W"),
                      help="resize training images to this before scale and crop (default: "
                           "native); pair with --val-size to train and judge below native scale")
    data.add_argument("--val-size", type=positive_int, nargs=2, default=None, metavar=("H", "W"),
                      help="resize validation images to this (default: native resolution)")
    data.add_argument("--cache", action="store_true",
                      help="keep decoded images in RAM after the first epoch "
                           "(best with --workers 0)")
    data.add_argument("--workers", type=non_negative_int, default=2, help="data loading processes")

    stage = parser.add_argument_group("stages")
    stage.add_argument("--stage", type=str, default="both", choices=["encoder", "full", "both"],
                       help="train the encoder (1/8 labels), the full network, or both in turn")
    stage.add_argument("--encoder-checkpoint", type=str, default=None,
                       help="stage-encoder checkpoint whose encoder starts stage full "
                            "(default with --stage both: <output-dir>/encoder/best.pth, or "
                            "last.pth with --val-sequences)")
    stage.add_argument("--init-checkpoint", type=existing_file, default=None,
                       help="stage full: start from this full-network checkpoint's weights (all "
                            "of them) with a fresh optimizer and schedule, to fine-tune a "
                            "trained model, e.g. with --lovasz-weight")
    stage.add_argument("--width", type=positive_int, default=1,
                       help="channel multiplier of the network: 1 is the paper's ENet (what is "
                            "shipped); 2 or more trains a wider teacher for --teacher")
    stage.add_argument("--epochs-encoder", type=positive_int, default=200,
                       help="epochs of stage encoder")
    stage.add_argument("--epochs-full", type=positive_int, default=200, help="epochs of stage full")

    optim = parser.add_argument_group("optimisation")
    optim.add_argument("--batch-size", type=positive_int, default=10,
                       help="images a step per process")
    optim.add_argument("--lr", type=non_negative_float, default=5e-4,
                       help="Adam learning rate (paper: 5e-4)")
    optim.add_argument("--weight-decay", type=non_negative_float, default=2e-4,
                       help="L2 weight decay (paper: 2e-4)")
    optim.add_argument("--lr-schedule", type=str, default="constant",
                       choices=["constant", "poly", "cosine"],
                       help="learning rate over the stage: constant (paper), poly (power 0.9) "
                            "or cosine")
    optim.add_argument("--warmup-epochs", type=non_negative_float, default=0.0,
                       help="linear learning-rate warm-up from 1%% over this many epochs")
    optim.add_argument("--encoder-freeze-epochs", type=non_negative_float, default=0.0,
                       help="stage full: keep the trained encoder's weights fixed (learning rate 0) "
                            "for this many epochs while the new decoder learns to read it")
    optim.add_argument("--class-weights", type=str, default="enet", choices=list(METHODS),
                       help="loss weights from training label frequencies: enet 1/ln(1.02+p), "
                            "median frequency, or none")
    optim.add_argument("--ema-epochs", type=non_negative_float, default=0.0,
                       help="validate, select and save an exponential moving average of the "
                            "weights over about this many epochs (0: the weights as trained)")
    optim.add_argument("--teacher", type=existing_file, default=None,
                       help="stage full: a trained full-network checkpoint (e.g. a --width 2 run) "
                            "whose class distributions the network learns as well as the labels")
    optim.add_argument("--distill-weight", type=non_negative_float, default=1.0,
                       help="weight of the distillation loss with --teacher")
    optim.add_argument("--distill-temperature", type=positive_float, default=1.0,
                       help="softmax temperature of teacher and student in distillation")
    optim.add_argument("--ohem", type=probability, nargs=2, default=None,
                       metavar=("THRESHOLD", "MIN_KEPT"),
                       help="cross-entropy over the hard pixels only: those whose true class "
                            "has a probability below THRESHOLD, and at least the MIN_KEPT share "
                            "of the labelled pixels, hardest first, e.g. 0.7 0.1 (default: "
                            "every pixel, as the paper)")
    optim.add_argument("--lovasz-weight", type=non_negative_float, default=0.0,
                       help="add this times the Lovasz-softmax loss (a surrogate of 1 - IoU per "
                            "class) to the cross-entropy; 0: cross-entropy alone (paper)")

    aug = parser.add_argument_group("augmentation")
    aug.add_argument("--scale", type=positive_float, nargs=2, default=[1.0, 1.0],
                     metavar=("MIN", "MAX"),
                     help="random scale range before cropping, e.g. 0.5 2.0 (default: off)")
    aug.add_argument("--flip", action="store_true", help="random horizontal flips")
    aug.add_argument("--jitter", type=probability, default=0.0,
                     help="colour jitter strength for brightness, contrast, saturation (e.g. 0.3)")
    aug.add_argument("--gamma", type=positive_float, nargs=2, default=None, metavar=("MIN", "MAX"),
                     help="random gamma range, e.g. 0.7 1.5 (default: off)")
    aug.add_argument("--hue", type=non_negative_float, default=0.0, metavar="DEGREES",
                     help="random hue turn up to this many degrees either way (default: off)")
    aug.add_argument("--blur", type=probability, default=0.0, metavar="P",
                     help="probability of a Gaussian blur of sigma 0.2-1.5 px (default: off)")
    aug.add_argument("--noise", type=non_negative_float, default=0.0, metavar="SIGMA",
                     help="Gaussian pixel noise up to this standard deviation, 0..255 units "
                          "(default: off)")
    aug.add_argument("--paste-classes", type=str, default=None, metavar="NAME[,NAME]",
                     help="paste these classes' pixels from another training frame over a frame, "
                          "where they stand in theirs, e.g. Pole,SignSymbol,Pedestrian,Bicyclist "
                          "(default: off)")
    aug.add_argument("--paste-probability", type=probability, default=0.5, metavar="P",
                     help="share of frames given a paste with --paste-classes")

    run = parser.add_argument_group("run")
    run.add_argument("--output-dir", type=str, default="runs/enet",
                     help="where checkpoints and logs go")
    run.add_argument("--resume", type=str, default=None,
                     help="checkpoint (last.pth) to continue from")
    run.add_argument("--allow-changed-args", action="store_true",
                     help="resume even when arguments differ from the checkpoint's")
    run.add_argument("--val-every", type=positive_int, default=1,
                     help="validate every N epochs (and after the last)")
    run.add_argument("--seed", type=int, default=0, help="seed of every random generator")
    run.add_argument("--device", type=str, default="auto", help="auto, cpu, cuda or cuda:N")
    run.add_argument("--precision", type=str, default="auto", choices=PRECISIONS,
                     help="training arithmetic: auto (bf16 autocast on a CPU with native bf16, "
                          "fp16 autocast on CUDA, else fp32); validation is always fp32")
    run.add_argument("--no-amp", action="store_true", help="same as --precision fp32")
    run.add_argument("--time-limit", type=positive_float, default=None, metavar="MINUTES",
                     help="stop cleanly after the epoch that would otherwise overrun this "
                          "wall-clock budget; continue later with --resume <stage>/last.pth")
    run.add_argument("--train-eval-images", type=non_negative_int, default=30,
                     help="score this many training images (evenly spaced, unaugmented) at each "
                          "validation, so a class the network does not even fit shows up; 0: off")
    run.add_argument("--threads", type=non_negative_int, default=0,
                     help="CPU threads for torch (0: torch's default); on a busy or small CPU, "
                          "fewer threads than cores is often faster")
    run.add_argument("--compile", action="store_true",
                     help="train through torch.compile (needs a C++ compiler on a CPU): the "
                          "same steps, after a few minutes of compiling each time a run starts; "
                          "benchmarks/train_step_speed.py times a step both ways on this "
                          "machine")
    return parser


def plain_args(args: argparse.Namespace) -> dict[str, Any]:
    """The arguments as a plain dict that ``weights_only`` loading accepts: lists for tuples, and
    anything else that is not plain data (a CLI's ``func`` callback) left out."""
    plain = (str, int, float, bool, list, tuple, type(None))
    return {k: list(v) if isinstance(v, tuple) else v for k, v in sorted(vars(args).items())
            if isinstance(v, plain)}


def changed_args(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """'name: saved -> current' for each computation-relevant argument that differs.

    An argument the checkpoint predates (added to enet-train after it was written) counts as
    its default, which is what that run computed with, so a long run resumes across upgrades.
    """
    defaults = get_args_parser()
    keys = sorted((saved.keys() | current.keys()) - RUNTIME_ARGS)
    before = {k: saved[k] if k in saved else defaults.get_default(k) for k in keys}
    return [f"--{k.replace('_', '-')}: {before[k]!r} -> {current.get(k)!r}"
            for k in keys if before[k] != current.get(k)]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    torch.manual_seed(seed)


def pick_device(name: str, info: distributed.DistInfo) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and info.distributed:
        return torch.device("cuda", info.local_rank)
    return torch.device(name)


def cpu_has_native_bf16() -> bool:
    """AVX-512 BF16 or AMX: where bf16 autocast trains about twice as fast as float32. Older
    CPUs emulate bf16 and run slower than float32, so ``auto`` must not pick it there."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def resolve_precision(name: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of ``--precision`` on ``device``, or None for float32."""
    if name == "auto":
        if device.type == "cuda":
            name = "fp16"
        else:
            name = "bf16" if cpu_has_native_bf16() else "fp32"
    if name == "fp16" and device.type != "cuda":
        raise ValueError("--precision fp16 needs CUDA; on a CPU use bf16 or fp32")
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[name]


def read_resume_checkpoint(path: str | Path) -> dict[str, Any]:
    """The whole training state of a ``last.pth`` (weights_only, onto the CPU)."""
    if not Path(path).is_file():
        raise CheckpointError(f"--resume {path}: no such checkpoint")
    state = torch.load(path, map_location="cpu", weights_only=True)
    missing = {"model", "optimizer", "scheduler", "scaler", "epoch", "stage", "args"} - set(state)
    if missing:
        raise CheckpointError(f"--resume {path}: not a training checkpoint of enet-train train "
                              f"(lacks {', '.join(sorted(missing))})")
    return state


def load_encoder(model: ENet, path: str | Path) -> None:
    """Copy the encoder of checkpoint ``path`` into ``model``; its 1x1 head is dropped."""
    source = load_checkpoint(path).net
    for name in ENCODER_MODULES:
        getattr(model, name).load_state_dict(getattr(source, name).state_dict())


def load_network(model: ENet, path: str | Path) -> None:
    """Copy every weight the full-network checkpoint ``path`` stores into ``model``."""
    source = load_checkpoint(path).net
    if source.encoder_only:
        raise CheckpointError(f"--init-checkpoint {path} is a stage-encoder checkpoint: pass it "
                              f"as --encoder-checkpoint")
    if source.num_classes != model.num_classes:
        raise CheckpointError(f"--init-checkpoint {path} has {source.num_classes} classes, the "
                              f"data set {model.num_classes}")
    load_used_state(model, used_state(source), path)


def load_teacher(path: str | None, num_classes: int, device: torch.device) -> nn.Module | None:
    """The frozen full network of ``--teacher`` in eval mode (no dropout, running BatchNorm
    statistics), channels-last on ``device``; None without one."""
    if path is None:
        return None
    teacher = load_checkpoint(path).net
    if teacher.encoder_only or teacher.num_classes != num_classes:
        raise CheckpointError(f"--teacher {path}: needs a full network of {num_classes} classes, "
                              f"got {'an encoder' if teacher.encoder_only else 'a network'} of "
                              f"{teacher.num_classes}")
    teacher.requires_grad_(False)
    return teacher.eval().to(device, memory_format=torch.channels_last)


def unused_modules(model: ENet) -> list[str]:
    """Top-level parts of ENet that this mode never runs: the decoder when encoder-only, the
    1x1 encoder head otherwise."""
    if model.encoder_only:
        return [name for name, _ in model.named_children()
                if name not in (*ENCODER_MODULES, "encoder_head")]
    return ["encoder_head"]


def used_state(model: ENet) -> dict[str, torch.Tensor]:
    """The weights of the parts the mode runs: what a checkpoint stores. An encoder checkpoint
    thus has no decoder weights, which is how ``checkpoint.load_checkpoint`` recognises it."""
    unused = set(unused_modules(model))
    return {k: v for k, v in model.state_dict().items() if k.split(".")[0] not in unused}


def load_used_state(model: ENet, state: dict[str, torch.Tensor], path: str | Path) -> None:
    """Load ``used_state`` back; weights of the used parts must all be there."""
    unused = set(unused_modules(model))
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if k.split(".")[0] not in unused]
    if missing or unexpected:
        raise CheckpointError(f"{path}: weights do not fit this stage's network (missing "
                              f"{missing[:3]}, unexpected {unexpected[:3]})")


def freeze_unused(model: ENet) -> None:
    """Stop gradients to the parts the mode never runs: DDP requires every trainable parameter
    to receive a gradient, and Adam's weight decay would otherwise shrink them for nothing."""
    for name in unused_modules(model):
        getattr(model, name).requires_grad_(False)


def place_model(model: ENet, device: torch.device, info: distributed.DistInfo
                ) -> tuple[nn.Module, nn.Module]:
    """(the model, what to call in training): frozen unused part, on ``device``, SyncBatchNorm
    and DDP-wrapped under torchrun. Checkpoints save the first, never the DDP wrapper."""
    freeze_unused(model)
    model.to(device)
    if not info.distributed:
        return model, model
    if device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return model, nn.parallel.DistributedDataParallel(
        model, device_ids=[device.index] if device.type == "cuda" else None)


def class_weight_tensor(args: argparse.Namespace, train_set: SegmentationDataset,
                        info: distributed.DistInfo, device: torch.device) -> torch.Tensor | None:
    """Loss weights of ``--class-weights``: rank 0 counts the labels once (or reads
    ``<output-dir>/class_weights.json``) and hands the weights to the other processes."""
    weights = dataset_weights(
        train_set, args.class_weights, Path(args.output_dir) / "class_weights.json",
        cache_key=f"{args.dataset}:{Path(args.data).resolve()}:{args.train_split}"
                  f"{':without:' + args.val_sequences if args.val_sequences else ''}",
    ) if info.is_main else None
    weights = distributed.broadcast_from_main(weights)
    return None if weights is None else torch.tensor(weights, dtype=torch.float32, device=device)


def lr_factor(step: int, total_steps: int, warmup_steps: int, schedule: str) -> float:
    """Multiplier of the base learning rate at optimizer step ``step`` (0-based)."""
    if step < warmup_steps:
        return 0.01 + 0.99 * step / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    if schedule == "poly":
        return (1 - min(progress, 1.0)) ** 0.9
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    return 1.0


def build_optimizer(args: argparse.Namespace, model: ENet, stage: str, steps_per_epoch: int
                    ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """Adam and its per-step schedule. With ``--encoder-freeze-epochs`` in stage full the
    encoder is a parameter group of its own whose rate stays 0 for that long: a new, random
    decoder otherwise sends the trained encoder large, meaningless updates and it forgets
    what it knew of thin classes before the decoder can use it."""
    epochs = args.epochs_encoder if stage == "encoder" else args.epochs_full
    total, warmup = epochs * steps_per_epoch, round(args.warmup_epochs * steps_per_epoch)
    freeze = round(args.encoder_freeze_epochs * steps_per_epoch) if stage == "full" else 0

    def factor(step: int) -> float:
        return lr_factor(step, total, warmup, args.lr_schedule)

    def encoder_factor(step: int) -> float:
        return 0.0 if step < freeze else factor(step)

    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if freeze:
        encoder = [p for n, p in trainable if n.split(".")[0] in ENCODER_MODULES]
        rest = [p for n, p in trainable if n.split(".")[0] not in ENCODER_MODULES]
        groups, factors = [{"params": encoder}, {"params": rest}], [encoder_factor, factor]
    else:
        groups, factors = [{"params": [p for _, p in trainable]}], [factor]
    optimizer = torch.optim.Adam(groups, lr=args.lr, weight_decay=args.weight_decay)
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factors)


def rng_state(sampler_generator: torch.Generator | None) -> dict[str, Any]:
    """Every random generator training draws from, as plain data a checkpoint can hold, so
    that a resumed run continues with the very crops, flips and dropout masks it would have."""
    version, mt_state, gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    state: dict[str, Any] = {
        "python": [version, list(mt_state), gauss],
        "numpy": [np_name, torch.from_numpy(np_keys.astype(np.int64)), np_pos, np_has_gauss,
                  np_gauss],
        "torch": torch.get_rng_state(),
    }
    if sampler_generator is not None:
        state["sampler"] = sampler_generator.get_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any], sampler_generator: torch.Generator | None) -> None:
    """Undo ``rng_state``."""
    version, mt_state, gauss = state["python"]
    random.setstate((version, tuple(mt_state), gauss))
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = state["numpy"]
    np.random.set_state((np_name, np_keys.numpy().astype(np.uint32), np_pos, np_has_gauss,
                         np_gauss))
    torch.set_rng_state(state["torch"])
    if sampler_generator is not None and "sampler" in state:
        sampler_generator.set_state(state["sampler"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class StageLogs:
    """CSV, TensorBoard, curves and per-class tables of one stage; rank 0 only writes them.

    Each validated epoch logs every class's IoU on the validation split and on a subset of the
    training images, so a class stuck at zero shows in the curves while training runs."""

    FIELDS = ("epoch", "lr", "train_loss", "val_miou", "val_mean_class_accuracy",
              "val_global_accuracy", "train_miou", "seconds")

    def __init__(self, folder: Path, enabled: bool, class_names: tuple[str, ...]) -> None:
        self.folder, self.enabled, self.class_names = folder, enabled, class_names
        self.fields = (*self.FIELDS, *(f"{split}_iou_{name}" for split in ("val", "train")
                                        for name in class_names))
        self.writer = None
        if enabled:
            from torch.utils.tensorboard import SummaryWriter
            self.writer = SummaryWriter(str(folder / "tb"))

    def epoch(self, row: dict[str, Any], history: list[dict[str, Any]]) -> None:
        if not self.enabled:
            return
        flat = dict(row)
        for split in ("val", "train"):
            for name, iou in zip(self.class_names, row.get(f"{split}_class_iou") or ()):
                flat[f"{split}_iou_{name}"] = iou
        log = self.folder / "log.csv"
        new = not log.exists()
        with log.open("a", newline="") as f:
            writer = csv.DictWriter(f, self.fields, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow({k: flat.get(k) for k in self.fields})
        for key in self.fields[1:]:
            if key != "seconds" and flat.get(key) is not None:
                self.writer.add_scalar(key, flat[key], row["epoch"])
        self.writer.flush()
        plot_curves(history, self.folder / "curves.png", self.class_names)

    def validation(self, class_names: tuple[str, ...], scores: Scores) -> None:
        if self.enabled:
            write_class_tables(self.folder / "per_class_iou", class_names, scores)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _loader(args: argparse.Namespace, dataset: Dataset, info: distributed.DistInfo,
            training: bool) -> DataLoader:
    if info.distributed:
        sampler = DistributedSampler(dataset, shuffle=training, seed=args.seed)
    elif training:
        sampler = RandomSampler(dataset, generator=torch.Generator().manual_seed(args.seed))
    else:
        sampler = SequentialSampler(dataset)
    return DataLoader(dataset, args.batch_size, sampler=sampler, drop_last=training,
                      collate_fn=None if training else pad_collate, num_workers=args.workers,
                      pin_memory=torch.cuda.is_available(), persistent_workers=args.workers > 0)


def data_parts(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """``build_dataset`` arguments of the training and the validation frames: the two splits,
    or with ``--val-sequences`` one split cut by sequence (held-out frames never trained on)."""
    if not args.val_sequences:
        return {"split": args.train_split}, {"split": args.val_split}
    held_out = args.val_sequences.split(",")
    return ({"split": args.train_split, "sequences": held_out, "exclude": True},
            {"split": args.train_split, "sequences": held_out})


def describe_frames(dataset: SegmentationDataset) -> str:
    """'367 frames (0001TP 62, 0016E5 305)': which recordings a number was measured on."""
    counts = ", ".join(f"{name} {count}" for name, count in sequence_counts(dataset).items())
    return f"{len(dataset)} frames ({counts})"


def make_loaders(args: argparse.Namespace, stage: str, info: distributed.DistInfo
                 ) -> tuple[SegmentationDataset, DataLoader, DataLoader, DataLoader | None]:
    """Training data set; loaders for training, validation, and the unaugmented training
    subset scored beside validation (None with ``--train-eval-images 0``)."""
    height, width = args.train_size
    train_tf = training_transforms(height, width, args.train_resize, tuple(args.scale), args.flip,
                                   args.jitter, SIZE_MULTIPLE if stage == "encoder" else 1,
                                   args.gamma, args.hue, args.blur, args.noise)
    train_part, val_part = data_parts(args)
    train_set = build_dataset(args.dataset, args.data, transforms=train_tf, cache=args.cache,
                              **train_part)
    val_set = build_dataset(args.dataset, args.data, cache=args.cache,
                            transforms=evaluation_transforms(args.val_size), **val_part)
    if info.is_main:
        print(f"training on {describe_frames(train_set)}; validating on "
              f"{describe_frames(val_set)}", flush=True)
    trained_on: Dataset = train_set
    if args.paste_classes:
        trained_on = ClassPaste(train_set, class_ids(args.paste_classes, train_set.class_names),
                                args.paste_probability)
    train_loader = _loader(args, trained_on, info, training=True)
    if len(train_loader) == 0:
        raise DatasetError(f"{args.train_split} split has {len(train_set)} images, fewer than one "
                         f"batch of {args.batch_size} per process: lower --batch-size")
    fit_loader = None
    if args.train_eval_images > 0:
        fit_set = build_dataset(args.dataset, args.data, transforms=evaluation_transforms(
            args.val_size), cache=args.cache, **train_part)
        count = min(args.train_eval_images, len(fit_set))
        indices = np.linspace(0, len(fit_set) - 1, count).round().astype(int).tolist()
        fit_loader = _loader(args, Subset(fit_set, indices), info, training=False)
    return train_set, train_loader, _loader(args, val_set, info, training=False), fit_loader


def train_one_epoch(model: nn.Module, criterion: nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: torch.optim.lr_scheduler.LRScheduler, scaler: torch.amp.GradScaler,
                    loader: DataLoader, device: torch.device, autocast: torch.dtype | None,
                    description: str, show: bool, average: WeightAverage | None = None,
                    teacher: nn.Module | None = None) -> float:
    """One pass over the training data; the mean loss over all processes' batches. ``average``
    follows the weights after every step; ``teacher`` (in eval mode) gives the logits the
    distillation term of ``criterion`` compares with.

    ``autocast`` is the reduced precision of the forward pass (None: float32); images go in
    channels-last, which the CPU's oneDNN convolutions and CUDA's tensor cores both prefer."""
    model.train()
    total, count = 0.0, 0
    bar = tqdm(loader, desc=description, disable=not show, leave=False, dynamic_ncols=True)
    for images, labels in bar:
        images = images.to(device, non_blocking=True, memory_format=torch.channels_last)
        labels = labels.to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=autocast, enabled=autocast is not None):
            with torch.no_grad():
                taught = None if teacher is None else teacher(images)
            loss = criterion(model(images).float(), labels, taught)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        if average is not None:
            average.update(model)
        total, count = total + loss.item(), count + 1
        bar.set_postfix(loss=f"{loss.item():.3f}", lr=f"{scheduler.get_last_lr()[-1]:.2e}")
    total, count = distributed.reduce_sum([total, count], device)
    return total / count


@torch.no_grad()
def validate(model: nn.Module, loader: DataLoader, device: torch.device, num_classes: int,
             show: bool, description: str = "validate") -> ConfusionMatrix:
    """The confusion matrix over ``loader``, summed over processes, in float32 always (the
    figures must not depend on the training precision).

    Scores smaller than the labels (the encoder's 1/8 output) are upsampled bilinearly, so both
    stages are judged against the same full-resolution labels.
    """
    model.eval()
    matrix = ConfusionMatrix(num_classes, IGNORE_INDEX)
    for images, labels in tqdm(loader, desc=description, disable=not show, leave=False):
        images = images.to(device, non_blocking=True, memory_format=torch.channels_last)
        labels = labels.to(device, non_blocking=True)
        scores = model(images)
        if scores.shape[-2:] != labels.shape[-2:]:
            scores = F.interpolate(scores.float(), size=labels.shape[-2:], mode="bilinear",
                                   align_corners=False)
        matrix.update(labels, scores.argmax(1))
    matrix.reduce_from_all_processes()
    return matrix


def _percent_list(values: np.ndarray) -> list[float | None]:
    return [None if np.isnan(v) else round(100 * float(v), 2) for v in values]


def initial_weights(model: ENet, args: argparse.Namespace, stage: str,
                    encoder_checkpoint: str | None, is_main: bool) -> None:
    """Where a stage not resumed starts: stage full from a whole trained network
    (``--init-checkpoint``), else from a stage-encoder checkpoint's encoder, else from scratch."""
    if stage != "full":
        return
    if args.init_checkpoint:
        load_network(model, args.init_checkpoint)
    elif encoder_checkpoint:
        load_encoder(model, encoder_checkpoint)
    elif is_main:
        print("stage full without --encoder-checkpoint: training the whole network from scratch")


class StageRun:
    """Everything one stage trains with, built once: data, network, loss, optimiser, schedule,
    weight average, teacher; ``restore`` puts a ``last.pth`` back into all of it at once."""

    def __init__(self, args: argparse.Namespace, stage: str, info: distributed.DistInfo,
                 encoder_checkpoint: str | None, resuming: bool) -> None:
        self.args, self.stage, self.info = args, stage, info
        self.device = pick_device(args.device, info)
        self.autocast = resolve_precision("fp32" if args.no_amp else args.precision, self.device)
        self.train_set, self.train_loader, self.val_loader, self.fit_loader = \
            make_loaders(args, stage, info)
        self.num_classes = self.train_set.num_classes
        model = ENet(self.num_classes, encoder_only=stage == "encoder", width=args.width)
        if not resuming:  # (the weight average below starts from these)
            initial_weights(model, args, stage, encoder_checkpoint, info.is_main)
        self.model, self.net = place_model(model.to(memory_format=torch.channels_last),
                                           self.device, info)
        # only the training steps are compiled: validation runs rarely, at other sizes
        self.trained = torch.compile(self.net) if args.compile else self.net
        self.criterion = SegmentationLoss(
            class_weight_tensor(args, self.train_set, info, self.device), IGNORE_INDEX,
            args.lovasz_weight, args.distill_weight, args.distill_temperature,
            tuple(args.ohem) if args.ohem else None)
        self.teacher = load_teacher(args.teacher, self.num_classes, self.device) \
            if stage == "full" else None
        self.epochs = args.epochs_encoder if stage == "encoder" else args.epochs_full
        self.optimizer, self.scheduler = build_optimizer(args, self.model, stage,
                                                         len(self.train_loader))
        self.average = None if not args.ema_epochs else WeightAverage(
            self.model, ema_decay(args.ema_epochs, len(self.train_loader)))
        # what is validated, selected and saved as "model" (what export and evaluate read)
        self.kept = self.model if self.average is None else self.average.module
        self.scored = self.net if self.average is None else self.kept
        self.scaler = torch.amp.GradScaler(self.device.type,
                                           enabled=self.autocast == torch.float16)
        self.sampler_generator = getattr(self.train_loader.sampler, "generator", None)
        self.start, self.best, self.history = 0, -1.0, []

    def restore(self, resume: dict[str, Any]) -> None:
        """Continue exactly where ``resume`` (a last.pth) stopped: weights, weight average,
        optimiser, schedule, scaler, epoch, best score, history and every random generator."""
        path = self.args.resume
        load_used_state(self.model, resume.get("training_model", resume["model"]), path)
        if self.average is not None:  # "model" is the average when the run kept one
            load_used_state(self.average.module, resume["model"], path)
            self.average.updates = resume.get("ema_updates", 0)
        self.optimizer.load_state_dict(resume["optimizer"])
        self.scheduler.load_state_dict(resume["scheduler"])
        self.scaler.load_state_dict(resume["scaler"])
        self.start, self.best = resume["epoch"], resume["best_miou"]
        self.history = list(resume["history"])
        if "rng" in resume:
            set_rng_state(resume["rng"], self.sampler_generator)

    def train_epoch(self, epoch: int) -> float:
        if isinstance(self.train_loader.sampler, DistributedSampler):
            self.train_loader.sampler.set_epoch(epoch)
        return train_one_epoch(self.trained, self.criterion, self.optimizer, self.scheduler,
                               self.scaler, self.train_loader, self.device, self.autocast,
                               f"{self.stage} {epoch + 1}/{self.epochs}", self.info.is_main,
                               self.average, self.teacher)

    def score(self, row: dict[str, Any]) -> Scores:
        """Validate (and score the training subset), adding the figures to ``row``."""
        show = self.info.is_main
        scores = validate(self.scored, self.val_loader, self.device, self.num_classes,
                          show).compute()
        row.update(val_miou=scores.mean_iou, val_mean_class_accuracy=scores.mean_class_accuracy,
                   val_global_accuracy=scores.global_accuracy,
                   val_class_iou=_percent_list(scores.iou))
        if self.fit_loader is not None:
            fit = validate(self.scored, self.fit_loader, self.device, self.num_classes, show,
                           "score training subset").compute()
            row.update(train_miou=fit.mean_iou, train_class_iou=_percent_list(fit.iou))
        return scores

    def checkpoint(self, epoch: int, metrics: dict[str, Any] | None) -> dict[str, Any]:
        state = {"model": used_state(self.kept), "optimizer": self.optimizer.state_dict(),
                 "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict(),
                 "epoch": epoch, "best_miou": self.best, "stage": self.stage,
                 "class_names": list(self.train_set.class_names), "history": self.history,
                 "metrics": metrics, "args": plain_args(self.args),
                 "rng": rng_state(self.sampler_generator)}
        if self.average is not None:
            state.update(training_model=used_state(self.model), ema_updates=self.average.updates)
        return state


def run_stage(args: argparse.Namespace, stage: str, info: distributed.DistInfo,
              resume: dict[str, Any] | None = None, encoder_checkpoint: str | None = None,
              deadline: float | None = None) -> tuple[nn.Module, bool]:
    """Train one stage, checkpointing each epoch: (the model, whether it reached its last
    epoch); it stops early when the next epoch would pass ``deadline`` (time.monotonic()).

    Stage full starts from ``encoder_checkpoint``'s encoder when given (unless resuming).
    """
    seed_everything(args.seed + info.rank)
    folder = Path(args.output_dir) / stage
    if info.is_main:
        folder.mkdir(parents=True, exist_ok=True)
    run = StageRun(args, stage, info, encoder_checkpoint, resuming=resume is not None)
    if resume is not None:
        run.restore(resume)
    epochs, names = run.epochs, run.train_set.class_names
    if info.is_main:
        precision = "float32" if run.autocast is None else f"{run.autocast} autocast"
        compiled = ", compiled" if args.compile else ""
        print(f"stage {stage}: {run.device}, {precision}, channels-last{compiled}, "
              f"epochs {run.start + 1}..{epochs}", flush=True)
    logs = StageLogs(folder, info.is_main, names)
    for epoch in range(run.start, epochs):
        began = time.perf_counter()
        loss = run.train_epoch(epoch)
        row: dict[str, Any] = {"epoch": epoch + 1, "lr": run.scheduler.get_last_lr()[-1],
                               "train_loss": loss}
        scores = None
        if (epoch + 1) % args.val_every == 0 or epoch + 1 == epochs:
            scores = run.score(row)
        row["seconds"] = round(time.perf_counter() - began, 2)
        run.history.append(row)
        improved = scores is not None and scores.mean_iou > run.best
        run.best = max(run.best, scores.mean_iou) if scores is not None else run.best
        if info.is_main:
            state = run.checkpoint(epoch + 1, None if scores is None else scores.as_dict(names))
            torch.save(state, folder / "last.pth")
            if improved:
                torch.save(state, folder / "best.pth")
            logs.epoch(row, run.history)
            if scores is not None:
                logs.validation(names, scores)
            miou = "" if scores is None else \
                f", val mIoU {100 * scores.mean_iou:.1f}% (best {100 * run.best:.1f}%)"
            if row.get("train_miou") is not None:
                miou += f", training subset mIoU {100 * row['train_miou']:.1f}%"
            print(f"{stage} epoch {epoch + 1}/{epochs}: loss {loss:.4f}{miou}, {row['seconds']} s",
                  flush=True)
        out_of_time = deadline is not None and time.monotonic() + row["seconds"] > deadline
        if distributed.broadcast_from_main(out_of_time) and epoch + 1 < epochs:
            if info.is_main:
                print(f"time limit: stopped after {stage} epoch {epoch + 1}/{epochs}; continue "
                      f"with --resume {folder / 'last.pth'}", flush=True)
            logs.close()
            return run.model, False
    logs.close()
    return run.model, True


def main(args: argparse.Namespace) -> int:
    """Run the requested stages: 0 on success (also when ``--time-limit`` stopped it early),
    2 with a message for what the user can fix (missing data, a bad checkpoint, a resume whose
    arguments differ)."""
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        return _run(args)
    except (DatasetError, CheckpointError) as err:
        print(f"enet-train train: error: {err}", file=sys.stderr)
        return 2


def run_folds(args: argparse.Namespace) -> int:
    """Leave one sequence out: a whole run a sequence of ``--train-split``, validated on that
    sequence and trained on the others, under ``<output-dir>/<sequence>``. Each fold is an
    ordinary run, continued on its own with ``--val-sequences SEQ --output-dir DIR/SEQ
    --resume ...``."""
    if args.resume:
        print("--resume continues one fold: pass its sequence to --val-sequences and its folder "
              "to --output-dir", file=sys.stderr)
        return 2
    sequences = list(sequence_counts(build_dataset(args.dataset, args.data, args.train_split)))
    if len(sequences) < 2:
        print(f"--val-sequences each: {args.train_split} holds one sequence "
              f"({', '.join(sequences)}), nothing to hold out", file=sys.stderr)
        return 2
    deadline = None if args.time_limit is None else time.monotonic() + 60 * args.time_limit
    for sequence in sequences:
        remaining = None if deadline is None else (deadline - time.monotonic()) / 60
        if remaining is not None and remaining <= 0:
            print(f"time limit: fold {sequence} not started", flush=True)
            break
        print(f"fold {sequence}: validating on it, training on the other sequences", flush=True)
        fold = argparse.Namespace(**{**vars(args), "val_sequences": sequence,
                                     "output_dir": str(Path(args.output_dir) / sequence),
                                     "time_limit": remaining})
        status = _run(fold)
        if status:
            return status
    return 0


def handed_to_full(args: argparse.Namespace) -> str:
    """The encoder checkpoint that ``--stage both`` starts stage full from: the best on val, or
    with ``--val-sequences`` the last, since the held-out sequence only measures (a choice made
    on it would flatter the fold's score)."""
    return "last.pth" if args.val_sequences else "best.pth"


def argument_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with a combination of arguments that each parsed, in one line; None when
    nothing is. Checked before any data is read."""
    for name in ("scale", "gamma"):
        low_high = getattr(args, name)
        if low_high and low_high[0] > low_high[1]:
            return f"--{name} {low_high[0]} {low_high[1]}: MIN must not exceed MAX"
    if args.val_sequences is not None and not all(args.val_sequences.split(",")):
        return f"--val-sequences {args.val_sequences!r}: give sequence names separated by commas"
    if args.encoder_checkpoint and args.stage != "both" and \
            not Path(args.encoder_checkpoint).is_file():
        return f"--encoder-checkpoint {args.encoder_checkpoint}: no such file"
    if args.teacher and args.stage == "encoder":
        return "--teacher teaches stage full: use it with --stage full or both"
    return None


def _run(args: argparse.Namespace) -> int:
    problem = argument_problem(args)
    if problem:
        print(f"enet-train train: error: {problem}", file=sys.stderr)
        return 2
    deadline = None if args.time_limit is None else time.monotonic() + 60 * args.time_limit
    resume = read_resume_checkpoint(args.resume) if args.resume else None
    if resume is not None:
        differences = changed_args(resume["args"], plain_args(args))
        if differences and not args.allow_changed_args:
            print(f"--resume {args.resume} was trained with other arguments:\n  "
                  + "\n  ".join(differences)
                  + "\nrun again with those values, or pass --allow-changed-args", file=sys.stderr)
            return 2
    if args.init_checkpoint and (args.stage != "full" or args.encoder_checkpoint):
        print("--init-checkpoint starts stage full from a whole trained network: use it with "
              "--stage full and without --encoder-checkpoint", file=sys.stderr)
        return 2
    if args.val_sequences == "each":
        return run_folds(args)
    if not args.val_sequences and splits_overlap(args.train_split, args.val_split):
        print(f"note: --val-split {args.val_split} is inside --train-split {args.train_split}: "
              f"its scores show the fit, not accuracy on unseen images, and best.pth is chosen "
              f"on seen images (for a final run, take last.pth after the epochs found on val)",
              file=sys.stderr)
    stages = list(STAGES) if args.stage == "both" else [args.stage]
    if resume is not None:
        stages = stages[stages.index(resume["stage"]):] if resume["stage"] in stages else []
        if not stages:
            print(f"--resume {args.resume} is a stage {resume['stage']!r} checkpoint, "
                  f"but --stage is {args.stage}", file=sys.stderr)
            return 2
    try:
        resolve_precision(args.precision, pick_device(args.device, distributed.DistInfo()))
    except ValueError as err:
        print(f"enet-train train: error: {err}", file=sys.stderr)
        return 2
    info = distributed.init_distributed(pick_device(args.device, distributed.DistInfo()))
    try:
        for stage in stages:
            encoder = args.encoder_checkpoint
            if stage == "full" and args.stage == "both" and not encoder:
                encoder = str(Path(args.output_dir) / "encoder" / handed_to_full(args))
            stage_resume = resume if resume is not None and resume["stage"] == stage else None
            if not run_stage(args, stage, info, stage_resume, encoder, deadline)[1]:
                break
    finally:
        distributed.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main(get_args_parser().parse_args()))
