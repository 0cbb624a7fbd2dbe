"""The ``enet-ros`` command: segment images, videos and bags, benchmark and inspect models.

Every subcommand is a thin wrapper over the library (model_file, engines, segmenter, bag), so
what it does is what the ROS node does. Every argument is checked as it is parsed
(enet_ros.arguments), before a model is opened. Expected failures (a bad value, a missing or
broken model, bad input) print one line and exit with status 2; a traceback means a bug.
"""
import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
from tqdm import tqdm

from enet_ros.arguments import (OneLineErrorParser, depth_slop, existing_dir, existing_file,
                                existing_path, new_path, output_dir, palette_spec,
                                points_max_range, points_stride, positive_float, positive_int,
                                probability, size_multiple)
from enet_ros.engines import ENGINE_KINDS, PRECISIONS, Engine, EngineError, open_engine
from enet_ros.image_codec import ImageCodecError, decode_image, encode_image
from enet_ros.inputs import (BagError, Frame, InputError, Unreadable, count_frames, expand_inputs,
                             is_bag, read_frames)
from enet_ros.model_file import ModelFile, ModelFileError, open_model_file
from enet_ros.palette import Palette, PaletteError, load_palette
from enet_ros.ros.params import spec
from enet_ros.segmenter import OUTPUT_RESOLUTIONS, Segmenter, SegmenterError
from enet_ros.shipped import DEFAULT_MODEL, default_model, sample_frames


class CliError(ValueError):
    """Bad command-line input, reported as one line."""


# enet-ros bag's options that are the node's enet/points parameters, by the parameter's name
BAG_POINTS_OPTIONS = ("depth_slop", "points_classes", "points_stride", "points_max_range")


def _add_model_args(parser: argparse.ArgumentParser, several_engines: bool = False) -> None:
    parser.add_argument("--model", type=existing_file, default=None,
                        help=f"exported .onnx model file (default: the shipped {DEFAULT_MODEL})")
    parser.add_argument("--engine", default=None if several_engines else "auto",
                        choices=ENGINE_KINDS, action="append" if several_engines else "store",
                        help="inference back end (default: auto = TensorRT if usable, else "
                             "ONNX Runtime with a GPU, else OpenVINO if installed, else ONNX "
                             "Runtime)" + ("; repeat it to compare engines, interleaved"
                                           if several_engines else ""))
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="CPU threads for ONNX Runtime and OpenVINO (default: their own "
                             "choice)")
    parser.add_argument("--no-spin", dest="spin", action="store_false",
                        help="let CPU inference threads sleep between runs, as the ROS node "
                             "does by default")
    parser.add_argument("--fp16", action="store_true", help="half precision on TensorRT")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS,
                        help="OpenVINO inference precision (default auto: bf16 where the CPU "
                             "has it)")
    parser.add_argument("--device", default=None,
                        help="OpenVINO device: CPU (default), GPU or GPU.N")
    parser.add_argument("--palette", type=palette_spec, default=None,
                        help="camvid, cityscapes, sun or a YAML path (default: the model's)")
    parser.add_argument("--width", type=size_multiple, default=None,
                        help="network input width, a multiple of 8; give --height too "
                             "(default: the model's training size)")
    parser.add_argument("--height", type=size_multiple, default=None,
                        help="network input height, a multiple of 8; give --width too "
                             "(default: the model's training size)")
    parser.add_argument("--output-resolution", default="camera", choices=OUTPUT_RESOLUTIONS,
                        help="labels at the input's size (camera) or the network's")
    parser.add_argument("--alpha", type=probability, default=0.5,
                        help="overlay opacity of the class colours, 0 to 1 (default 0.5)")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(prog="enet-ros", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command")
    commands.required = True  # (the keyword came with Python 3.7)

    segment = commands.add_parser("segment", help="segment images, folders of images, videos")
    segment.add_argument("inputs", nargs="+", type=existing_path, metavar="INPUT",
                         help="images, videos, folders of images")
    segment.add_argument("--out", required=True, type=output_dir, help="output folder")
    segment.add_argument("--confidence", action="store_true",
                         help="also write <name>_confidence.png: 8-bit grey, 255 x the top "
                              "class's probability (model files with a confidence output)")
    _add_model_args(segment)

    bag = commands.add_parser("bag", help="add segmentation topics to a rosbag2 (sqlite3/MCAP)")
    bag.add_argument("src", type=existing_dir, metavar="IN", help="input bag folder")
    bag.add_argument("dst", type=new_path, metavar="OUT",
                     help="output bag folder (must not exist)")
    bag.add_argument("--image-topic", required=True,
                     help="sensor_msgs/Image or CompressedImage topic to segment")
    bag.add_argument("--prefix", default="/enet", help="namespace of the added topics")
    bag.add_argument("--depth-topic", default=None,
                     help="a depth image registered to the image topic (16UC1 mm or 32FC1 m, "
                          "e.g. /camera/aligned_depth_to_color/image_raw): also add "
                          "<prefix>/points, the labelled cloud the node publishes on "
                          "enet/points (default: none)")
    bag.add_argument("--camera-info-topic", default=None,
                     help="CameraInfo of the colour camera, for the points (default: "
                          "camera_info beside --image-topic, e.g. /camera/color/camera_info)")
    # the node's enet/points parameters: its defaults, limits and descriptions
    for name, kind in zip(BAG_POINTS_OPTIONS, (depth_slop, None, points_stride, points_max_range)):
        param = spec(name)
        limits = f"{param.constraints}; " if param.constraints else ""
        bag.add_argument(f"--{name.replace('_', '-')}", type=kind, default=param.default,
                         help=f"{param.description} ({limits}default {param.default!r})")
    _add_model_args(bag)

    bench = commands.add_parser("bench", help="time the model alone and the whole pipeline, "
                                             "on frames of the network input size")
    bench.add_argument("--runs", type=positive_int, default=50, help="timed runs (default 50)")
    bench.add_argument("--json", action="store_true",
                       help="print one JSON object a line per engine instead of the table")
    _add_model_args(bench, several_engines=True)

    info = commands.add_parser("info", help="what a model file holds")
    info.add_argument("model", type=existing_file, metavar="MODEL", nargs="?", default=None,
                      help=f"model file (default: the shipped {DEFAULT_MODEL})")

    demo = commands.add_parser(
        "demo", help="run segment_node on frames played as a ROS 2 camera, write what it "
                     "publishes (needs rclpy: pip install '.[ros]')")
    demo.add_argument("input", type=existing_path, nargs="?", default=None, metavar="INPUT",
                      help="image, folder of images, video or rosbag2 (default: the shipped "
                           "sample frames); looped to fill --seconds")
    demo.add_argument("--out", type=output_dir, default="demo_out",
                      help="folder for overlay.webm, contact_sheet.png and the node's log "
                           "(default demo_out)")
    demo.add_argument("--seconds", type=positive_float, default=10.0,
                      help="how long the camera plays (default 10)")
    demo.add_argument("--rate", type=positive_float, default=10.0,
                      help="camera frame rate in Hz (default 10)")
    demo.add_argument("--image-topic", default=None,
                      help="a bag's image topic to play (default: its first image topic)")
    demo.add_argument("--model", type=existing_file, default=None,
                      help=f"model file for the node (default: the shipped {DEFAULT_MODEL})")

    build = commands.add_parser("build-engine",
                                help="build and cache the TensorRT engine of a model file")
    build.add_argument("model", type=existing_file, metavar="MODEL", nargs="?", default=None,
                       help=f"model file (default: the shipped {DEFAULT_MODEL})")
    build.add_argument("--fp16", action="store_true", help="half precision")
    build.add_argument("--cache-dir", type=output_dir, default=None,
                       help="engine cache folder (default ~/.cache/enet_ros/tensorrt)")
    return parser


def _model_path(args: argparse.Namespace) -> Path:
    """--model (or MODEL) when given, else the shipped model of the installed package."""
    return args.model if args.model is not None else default_model()


def _check_combinations(args: argparse.Namespace) -> None:
    """Options each fine alone but not together, refused before any work (the values
    themselves were checked as they were parsed: enet_ros.arguments)."""
    if (getattr(args, "width", None) is None) != (getattr(args, "height", None) is None):
        raise CliError("give both --width and --height, or neither")
    if args.command == "bag" and args.depth_topic is None:
        given = [f"--{name.replace('_', '-')}" for name in BAG_POINTS_OPTIONS
                 if getattr(args, name) != spec(name).default] + (
            ["--camera-info-topic"] if args.camera_info_topic is not None else [])
        if given:
            raise CliError(f"{', '.join(given)}: no points without --depth-topic")


def _segmenter(args: argparse.Namespace, engine_kind: "str | None" = None) -> Segmenter:
    model = open_model_file(_model_path(args))
    engine = open_engine(engine_kind or args.engine, model, threads=args.threads,
                         fp16=args.fp16, precision=args.precision, device=args.device,
                         spin=args.spin)
    size = (args.height, args.width) if args.width is not None else None
    return Segmenter(engine, load_palette(args.palette, model.metadata), size,
                     args.output_resolution)


def _write_png(path: Path, rgb: np.ndarray) -> None:
    _write_image(path, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def _write_image(path: Path, image: np.ndarray) -> None:
    """``image`` as it is: 8-bit grey, or BGR."""
    if not cv2.imwrite(str(path), image):
        raise CliError(f"cannot write {path}")


def _print_summary(frames: int, seconds: float, class_pixels: np.ndarray,
                   palette: Palette) -> None:
    print(f"{frames} frames in {seconds:.2f} s: {frames / max(seconds, 1e-9):.1f} frames/s")
    total = class_pixels.sum()
    for index in np.flatnonzero(class_pixels):
        name = palette.class_names[index] if index < palette.num_classes else f"id {index}"
        print(f"  {name:<16} {100.0 * class_pixels[index] / total:6.2f} %")


def _skip(unreadable: Unreadable) -> None:
    tqdm.write(f"enet-ros segment: skipped {unreadable.source}: {unreadable.reason}",
               file=sys.stderr)


def cmd_segment(args: argparse.Namespace) -> int:
    files = expand_inputs(args.inputs)
    segmenter = _segmenter(args)
    if args.confidence and not segmenter.has_confidence:
        raise CliError(f"{segmenter.engine.model.path.name} has no confidence output: "
                       f"re-export it with `enet-train export` (adds it by default)")
    class_pixels = np.zeros(256, np.int64)
    frames, seconds, skipped = 0, 0.0, 0
    for item in tqdm(read_frames(files), total=count_frames(files), unit="frame"):
        if isinstance(item, Unreadable):
            _skip(item)
            skipped += 1
            continue
        start = time.perf_counter()
        result = segmenter.segment(item.rgb, overlay_alpha=args.alpha,
                                   confidence=args.confidence)
        seconds += time.perf_counter() - start
        frames += 1
        class_pixels += np.bincount(result.labels.ravel(), minlength=256)
        folder, stem = _output_name(args.out, item)
        folder.mkdir(parents=True, exist_ok=True)  # only now: a failed run leaves no folder
        (folder / f"{stem}_labels.png").write_bytes(segmenter.palette.to_indexed_png(result.labels))
        _write_png(folder / f"{stem}_color.png", result.color)
        _write_png(folder / f"{stem}_overlay.png", result.overlay)
        if args.confidence:
            _write_image(folder / f"{stem}_confidence.png", result.confidence)
    if not frames:
        raise CliError(f"none of the {skipped} input files could be read" if skipped
                       else "no images or video frames found in the inputs")
    _print_summary(frames, seconds, class_pixels, segmenter.palette)
    print(f"wrote labels (indexed PNG), colour masks, overlays"
          f"{' and confidence' if args.confidence else ''} to {args.out}")
    if skipped:
        print(f"enet-ros segment: {skipped} of {len(files)} input files could not be read "
              f"(listed above) and were skipped", file=sys.stderr)
        return 1
    return 0


def _output_name(out: Path, frame: Frame) -> "tuple[Path, str]":
    """Folder and file stem of a frame's outputs: out/<image stem>, out/<video>/<index>."""
    if frame.from_video:
        return out / frame.source.stem, f"{frame.index:06d}"
    return out, frame.source.stem


def _bag_module() -> ModuleType:
    """enet_ros.bag, imported on use: rosbags >= 0.10 installs on Python 3.10 and later only."""
    if sys.version_info < (3, 10):
        raise CliError("bags need rosbags >= 0.10, which needs Python 3.10 or later; every "
                       "other input runs on 3.6")
    try:
        from enet_ros import bag
    except ImportError as err:
        raise CliError(f"bags need rosbags >= 0.10: pip install 'rosbags>=0.10' ({err})") \
            from None
    return bag


def cmd_bag(args: argparse.Namespace) -> int:
    segment_bag = _bag_module().segment_bag
    segmenter = _segmenter(args)
    start = time.perf_counter()
    summary = segment_bag(args.src, args.dst, args.image_topic, segmenter,
                          overlay_alpha=args.alpha, prefix=args.prefix,
                          depth_topic=args.depth_topic,
                          camera_info_topic=args.camera_info_topic,
                          **{name: getattr(args, name) for name in BAG_POINTS_OPTIONS})
    _print_summary(summary.frames, time.perf_counter() - start, summary.class_pixels,
                   segmenter.palette)
    points = ", /points" if args.depth_topic else ""
    print(f"copied {summary.messages} messages and added {args.prefix}/labels, /color, "
          f"/overlay{points} to {args.dst}")
    if summary.skipped:
        print(f"skipped {summary.skipped} undecodable frames; first: "
              f"{summary.first_skip_reason}")
    if args.depth_topic:
        print(f"{args.prefix}/points for {summary.points} of {summary.frames} frames")
        for reason, frames in summary.points_skipped.items():
            if frames:
                print(f"  {reason}: {frames} frame{'s' * (frames != 1)}, first: "
                      f"{summary.points_first_problem[reason]}")
    return 0


def _percentiles(samples: "list[float]") -> str:
    return f"median {np.median(samples):7.2f} ms   p90 {np.percentile(samples, 90):7.2f} ms"


def _bench_runs(segmenter: Segmenter, height: int, width: int,
                alpha: float) -> "dict[str, Callable[[], object]]":
    """The two things bench times: the engine alone at the network size, and a camera frame
    (bgr8 bytes, height x width) decoded, segmented, painted and encoded."""
    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, (height, width, 3), dtype=np.uint8).tobytes()
    network = rng.integers(0, 256, (1, *segmenter.input_size, 3), dtype=np.uint8)

    def end_to_end() -> None:
        rgb = decode_image("bgr8", height, width, width * 3, False, data)
        result = segmenter.segment(rgb, overlay_alpha=alpha)
        encode_image(result.labels, "mono8")
        encode_image(result.color, "rgb8")
        encode_image(result.overlay, "bgr8")

    return {"model only": lambda: segmenter.engine.infer(network), "end to end": end_to_end}


def cmd_bench(args: argparse.Namespace) -> int:
    segmenters = [_segmenter(args, kind) for kind in args.engine or ["auto"]]
    runs = [_bench_runs(s, *s.input_size, args.alpha) for s in segmenters]
    for timed in runs:  # warm-up: first runs allocate and, on GPUs, pick kernels
        for run in timed.values():
            run()
    # Interleaved: each round times every engine in turn, so load from other processes
    # weighs on all of them alike and their ratio holds on a busy machine. With several
    # engines each timed run follows an untimed one of the same engine: the previous engine's
    # idle threads (ONNX Runtime's spin for milliseconds after a run) would otherwise land
    # on the next engine's clock.
    timings: "list[dict[str, list[float]]]" = [{name: [] for name in timed} for timed in runs]
    for _ in range(args.runs):
        for timed, samples in zip(runs, timings):
            for name, run in timed.items():
                if len(runs) > 1:
                    run()
                start = time.perf_counter()
                run()
                samples[name].append((time.perf_counter() - start) * 1e3)
    for segmenter, samples in zip(segmenters, timings):
        engine: Engine = segmenter.engine
        model_ms, total_ms = (float(np.median(samples[k])) for k in ("model only", "end to end"))
        if args.json:
            print(json.dumps({
                "model": str(_model_path(args)), "engine": engine.name, "precision": engine.precision,
                "providers": list(engine.providers), "width": segmenter.input_size[1],
                "height": segmenter.input_size[0], "network_width": segmenter.input_size[1],
                "network_height": segmenter.input_size[0], "runs": args.runs,
                "engine_median_ms": round(model_ms, 4),
                "engine_p90_ms": round(float(np.percentile(samples["model only"], 90)), 4),
                "pipeline_median_ms": round(total_ms, 4),
                "pipeline_p90_ms": round(float(np.percentile(samples["end to end"], 90)), 4),
                "engine_vs_first": round(model_ms / float(np.median(
                    timings[0]["model only"])), 3)}))
            continue
        print(f"{_model_path(args).name} on {engine.name} ({', '.join(engine.providers)}, "
              f"{engine.precision}), network {segmenter.input_size[1]}x"
              f"{segmenter.input_size[0]}, frames of that size in bgr8, "
              f"{args.runs} runs")
        for name, values in samples.items():
            print(f"  {name:<11} {_percentiles(values)}")
        print(f"  end to end / model only: {total_ms / model_ms:.2f}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    model: ModelFile = open_model_file(_model_path(args))
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


def _demo_frames(source: "Path | None", image_topic: "str | None"
                 ) -> "Callable[[], Iterator[tuple[object, np.ndarray]]]":
    """(key, RGB) frames of the demo's input, each unreadable one reported once on stderr;
    read once here so that a bad input fails before the node starts."""
    if source is not None and is_bag(source):
        def items() -> "Iterator[Frame | Unreadable]":
            return _bag_module().bag_frames(source, image_topic)
    else:
        files = expand_inputs([source]) if source is not None else sample_frames()

        def items() -> "Iterator[Frame | Unreadable]":
            return read_frames(files)
    reported: "set[str]" = set()

    def frames() -> "Iterator[tuple[object, np.ndarray]]":
        for item in items():
            if isinstance(item, Frame):
                yield (item.source, item.index), item.rgb
            elif str(item) not in reported:
                reported.add(str(item))
                print(f"enet-ros demo: skipped {item.source}: {item.reason}", file=sys.stderr)
    if next(frames(), None) is None:
        raise CliError(f"{source or 'the shipped samples'}: no readable frame to play")
    return frames


# What the demo's mask shows, of the classes the model has: where a vehicle may drive.
DEMO_MASK_CLASSES = ("Road", "Sidewalk")


def cmd_demo(args: argparse.Namespace) -> int:
    if sys.version_info < (3, 8):
        raise CliError("demo needs Python 3.8 or later (its player uses newer library calls); "
                       "segment, bench, info and the node run on 3.6")
    try:
        from enet_ros.ros.demo import DemoError, run_demo
    except ImportError as err:
        raise CliError(f"demo needs ROS 2's Python packages ({err.name} is missing): "
                       f"pip install '.[ros]', or source a ROS 2 installation") from None
    model = open_model_file(_model_path(args))
    frames = _demo_frames(args.input, args.image_topic)
    try:
        drivable = tuple(c for c in DEMO_MASK_CLASSES if c in model.metadata.class_names)
        result = run_demo(frames, model.path, Palette.from_metadata(model.metadata), args.out,
                          args.seconds, args.rate, drivable, model.has_confidence)
    except DemoError as err:
        raise CliError(str(err)) from None
    print(result.summary())
    print(f"wrote {result.video} and {result.sheet}; segment_node's log: {result.node_log}")
    if result.node_status != 0:
        print(f"enet-ros demo: segment_node exited with status {result.node_status}",
              file=sys.stderr)
    return 0 if result.overlays and result.node_status == 0 else 1


def cmd_build_engine(args: argparse.Namespace) -> int:
    from enet_ros.engines import tensorrt_available
    model = open_model_file(_model_path(args))
    if not tensorrt_available():
        raise CliError("build-engine needs TensorRT (tensorrt and cuda-python) and a CUDA GPU")
    from enet_ros.engines.tensorrt_engine import cached_engine
    path = cached_engine(model, args.fp16, args.cache_dir, logging.getLogger("enet_ros"))
    print(f"TensorRT engine: {path}")
    return 0


COMMANDS = {"segment": cmd_segment, "bag": cmd_bag, "bench": cmd_bench, "info": cmd_info,
            "build-engine": cmd_build_engine, "demo": cmd_demo}
EXPECTED_ERRORS = (CliError, ModelFileError, PaletteError, EngineError, SegmenterError,
                   ImageCodecError, BagError, InputError, OSError)


def main(argv: "list[str] | None" = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        _check_combinations(args)
        return COMMANDS[args.command](args)
    except EXPECTED_ERRORS as err:
        print(f"enet-ros {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
