"""The ``enet-ros`` command: segment images, videos and bags, benchmark and inspect models.

Every subcommand is a thin wrapper over the library (model_file, engines, segmenter, bag), so
what it does is what the ROS node does. Expected failures (a missing or broken model, bad
input) print one line and exit with status 2; a traceback means a bug.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from enet_ros.engines import ENGINE_KINDS, Engine, EngineError, open_engine
from enet_ros.image_codec import ImageCodecError, decode_image, encode_image
from enet_ros.model_file import ModelFile, ModelFileError, open_model_file
from enet_ros.palette import Palette, PaletteError, load_palette
from enet_ros.segmenter import OUTPUT_RESOLUTIONS, Segmenter, SegmenterError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v"}


class CliError(ValueError):
    """Bad command-line input, reported as one line."""


def _add_model_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, type=Path, help="exported .onnx model file")
    parser.add_argument("--engine", default="auto", choices=ENGINE_KINDS,
                        help="inference back end (default: auto = TensorRT if usable, else "
                             "ONNX Runtime)")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for ONNX Runtime (default: its own choice)")
    parser.add_argument("--fp16", action="store_true", help="half precision on TensorRT")
    parser.add_argument("--palette", default=None,
                        help="camvid, cityscapes, sun or a YAML path (default: the model's)")
    parser.add_argument("--width", type=int, default=None,
                        help="network input width, a multiple of 8 (default: the model's)")
    parser.add_argument("--height", type=int, default=None,
                        help="network input height, a multiple of 8 (default: the model's)")
    parser.add_argument("--output-resolution", default="camera", choices=OUTPUT_RESOLUTIONS,
                        help="labels at the input's size (camera) or the network's")
    parser.add_argument("--alpha", type=float, default=0.5,
                        help="overlay opacity of the class colours, 0 to 1 (default 0.5)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="enet-ros", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    segment = commands.add_parser("segment", help="segment images, folders of images, videos")
    segment.add_argument("inputs", nargs="+", type=Path, metavar="INPUT")
    segment.add_argument("--out", required=True, type=Path, help="output folder")
    _add_model_args(segment)

    bag = commands.add_parser("bag", help="add segmentation topics to a rosbag2 (sqlite3/MCAP)")
    bag.add_argument("src", type=Path, metavar="IN", help="input bag folder")
    bag.add_argument("dst", type=Path, metavar="OUT", help="output bag folder (must not exist)")
    bag.add_argument("--image-topic", required=True,
                     help="sensor_msgs/Image or CompressedImage topic to segment")
    bag.add_argument("--prefix", default="/enet", help="namespace of the added topics")
    _add_model_args(bag)

    bench = commands.add_parser("bench", help="time the model alone and the whole pipeline")
    bench.add_argument("--runs", type=int, default=50, help="timed runs (default 50)")
    _add_model_args(bench)
    bench.set_defaults(width=640, height=360)

    info = commands.add_parser("info", help="what a model file holds")
    info.add_argument("model", type=Path, metavar="MODEL")

    build = commands.add_parser("build-engine",
                                help="build and cache the TensorRT engine of a model file")
    build.add_argument("model", type=Path, metavar="MODEL")
    build.add_argument("--fp16", action="store_true", help="half precision")
    build.add_argument("--cache-dir", type=Path, default=None,
                       help="engine cache folder (default ~/.cache/enet_ros/tensorrt)")
    return parser


def _segmenter(args: argparse.Namespace) -> Segmenter:
    model = open_model_file(args.model)
    engine = open_engine(args.engine, model, threads=args.threads, fp16=args.fp16)
    if (args.width is None) != (args.height is None):
        raise CliError("give both --width and --height, or neither")
    size = (args.height, args.width) if args.width is not None else None
    return Segmenter(engine, load_palette(args.palette, model.metadata), size,
                     args.output_resolution)


def _frames(inputs: list[Path]) -> Iterator[tuple[Path, int, np.ndarray]]:
    """(source, frame index, RGB frame) for every image and video frame of the inputs."""
    for source in _expand(inputs):
        if source.suffix.lower() in IMAGE_SUFFIXES:
            bgr = cv2.imread(str(source), cv2.IMREAD_COLOR)
            if bgr is None:
                raise CliError(f"cannot read image {source}")
            yield source, 0, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            continue
        video = cv2.VideoCapture(str(source))
        if not video.isOpened():
            raise CliError(f"cannot open video {source}")
        index = 0
        while True:
            ok, bgr = video.read()
            if not ok:
                break
            yield source, index, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            index += 1
        video.release()


def _expand(inputs: list[Path]) -> list[Path]:
    """Files to segment: the given images and videos, and the images of given folders."""
    files = []
    for path in inputs:
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        elif not path.is_file():
            raise CliError(f"input {path} does not exist")
        elif path.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES:
            files.append(path)
        else:
            raise CliError(f"input {path}: not an image ({', '.join(sorted(IMAGE_SUFFIXES))}) "
                           f"or a video ({', '.join(sorted(VIDEO_SUFFIXES))})")
    return files


def _frame_count(files: list[Path]) -> int:
    total = 0
    for path in files:
        if path.suffix.lower() in VIDEO_SUFFIXES:
            video = cv2.VideoCapture(str(path))
            total += max(int(video.get(cv2.CAP_PROP_FRAME_COUNT)), 0)
            video.release()
        else:
            total += 1
    return total


def _write_png(path: Path, rgb: np.ndarray) -> None:
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise CliError(f"cannot write {path}")


def _print_summary(frames: int, seconds: float, class_pixels: np.ndarray,
                   palette: Palette) -> None:
    print(f"{frames} frames in {seconds:.2f} s: {frames / max(seconds, 1e-9):.1f} frames/s")
    total = class_pixels.sum()
    for index in np.flatnonzero(class_pixels):
        name = palette.class_names[index] if index < palette.num_classes else f"id {index}"
        print(f"  {name:<16} {100.0 * class_pixels[index] / total:6.2f} %")


def cmd_segment(args: argparse.Namespace) -> int:
    segmenter = _segmenter(args)
    files = _expand(args.inputs)
    args.out.mkdir(parents=True, exist_ok=True)
    class_pixels = np.zeros(256, np.int64)
    frames, seconds = 0, 0.0
    for source, index, rgb in tqdm(_frames(files), total=_frame_count(files), unit="frame"):
        start = time.perf_counter()
        result = segmenter.segment(rgb, overlay_alpha=args.alpha)
        seconds += time.perf_counter() - start
        frames += 1
        class_pixels += np.bincount(result.labels.ravel(), minlength=256)
        is_video = source.suffix.lower() in VIDEO_SUFFIXES
        folder = args.out / source.stem if is_video else args.out
        folder.mkdir(exist_ok=True)
        stem = f"{index:06d}" if is_video else source.stem
        (folder / f"{stem}_labels.png").write_bytes(segmenter.palette.to_indexed_png(result.labels))
        _write_png(folder / f"{stem}_color.png", result.color)
        _write_png(folder / f"{stem}_overlay.png", result.overlay)
    if not frames:
        raise CliError("no images or video frames found in the inputs")
    _print_summary(frames, seconds, class_pixels, segmenter.palette)
    print(f"wrote labels (indexed PNG), colour masks and overlays to {args.out}")
    return 0


def cmd_bag(args: argparse.Namespace) -> int:
    try:  # imported here: rosbags >= 0.10 installs on Python 3.10 and later only
        from enet_ros.bag import BagError, segment_bag
    except ImportError as err:
        raise CliError(f"enet-ros bag needs rosbags >= 0.10, which needs Python 3.10 or later "
                       f"({err}); every other command runs on 3.8") from None
    segmenter = _segmenter(args)
    start = time.perf_counter()
    try:
        summary = segment_bag(args.src, args.dst, args.image_topic, segmenter,
                              overlay_alpha=args.alpha, prefix=args.prefix)
    except BagError as err:
        raise CliError(str(err)) from None
    _print_summary(summary.frames, time.perf_counter() - start, summary.class_pixels,
                   segmenter.palette)
    print(f"copied {summary.messages} messages and added {args.prefix}/labels, /color, "
          f"/overlay to {args.dst}")
    if summary.skipped:
        print(f"skipped {summary.skipped} undecodable frames; first: "
              f"{summary.first_skip_reason}")
    return 0


def _percentiles(samples: list[float]) -> str:
    return f"median {np.median(samples):7.2f} ms   p90 {np.percentile(samples, 90):7.2f} ms"


def cmd_bench(args: argparse.Namespace) -> int:
    if args.runs < 1:
        raise CliError(f"--runs must be at least 1, got {args.runs}")
    segmenter = _segmenter(args)
    engine: Engine = segmenter.engine
    rng = np.random.default_rng(0)
    height, width = args.height, args.width
    bgr = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    network = rng.integers(0, 256, (1, *segmenter.input_size, 3), dtype=np.uint8)
    step, data = width * 3, bgr.tobytes()

    def end_to_end() -> None:
        rgb = decode_image("bgr8", height, width, step, False, data)
        result = segmenter.segment(rgb, overlay_alpha=args.alpha)
        encode_image(result.labels, "mono8")
        encode_image(result.color, "rgb8")
        encode_image(result.overlay, "bgr8")

    timings = {}
    for name, run in (("model only", lambda: engine.infer(network)),
                      ("end to end", end_to_end)):
        run()  # warm-up: first runs allocate and, on GPUs, pick kernels
        samples = []
        for _ in range(args.runs):
            start = time.perf_counter()
            run()
            samples.append((time.perf_counter() - start) * 1e3)
        timings[name] = samples
    print(f"{args.model.name} on {engine.name} ({', '.join(engine.providers)}), network "
          f"{segmenter.input_size[1]}x{segmenter.input_size[0]}, frames {width}x{height} bgr8, "
          f"{args.runs} runs")
    for name, samples in timings.items():
        print(f"  {name:<11} {_percentiles(samples)}")
    print(f"  end to end / model only: "
          f"{np.median(timings['end to end']) / np.median(timings['model only']):.2f}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    model: ModelFile = open_model_file(args.model)
    meta = model.metadata
    size = f"{model.fixed_size[1]}x{model.fixed_size[0]} fixed" if model.fixed_size \
        else "dynamic (multiples of 8)"
    print(f"model file   {model.path} ({model.path.stat().st_size / 1e6:.2f} MB)")
    print(f"sha256       {model.sha256}")
    print(f"ONNX opset   {model.opset}")
    print(f"operators    {', '.join(model.operators)}")
    print(f"input        image uint8 NxHxWx3 RGB, size {size}")
    print(f"outputs      labels uint8 NxHxW{', confidence float32 NxHxW' if model.has_confidence else ''}")
    print(f"trained at   {meta.input_width}x{meta.input_height} on {meta.dataset}")
    print(f"classes      {meta.num_classes}")
    for index, (name, colour) in enumerate(zip(meta.class_names, meta.palette)):
        print(f"  {index:3d} {name:<20} rgb{tuple(colour)}")
    for title, values in (("training", meta.training), ("validation", meta.validation)):
        for key, value in sorted(values.items()):
            print(f"{title:<12} {key}: {value}")
    return 0


def cmd_build_engine(args: argparse.Namespace) -> int:
    from enet_ros.engines import tensorrt_available
    model = open_model_file(args.model)
    if not tensorrt_available():
        raise CliError("build-engine needs TensorRT (tensorrt and cuda-python) and a CUDA GPU")
    from enet_ros.engines.tensorrt_engine import cached_engine
    path = cached_engine(model, args.fp16, args.cache_dir, logging.getLogger("enet_ros"))
    print(f"TensorRT engine: {path}")
    return 0


COMMANDS = {"segment": cmd_segment, "bag": cmd_bag, "bench": cmd_bench, "info": cmd_info,
            "build-engine": cmd_build_engine}
EXPECTED_ERRORS = (CliError, ModelFileError, PaletteError, EngineError, SegmenterError,
                   ImageCodecError, OSError)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return COMMANDS[args.command](args)
    except EXPECTED_ERRORS as err:
        print(f"enet-ros {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
