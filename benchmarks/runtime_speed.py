"""How fast the robot runtime is, in one run, with the targets of issue #4.

(a) end to end (decode a 640x360 bgr8 frame, labels, colour mask, overlay, encode) against the
    engine alone: target ratio <= 1.15;
(b) colour mask + overlay at 640x360: target < 3 ms;
(c) the model file in ONNX Runtime on 2 CPU threads against the pipeline a user would write
    (torch.onnx.export of the training network with float NCHW input and torch's own export of
    its unpooling, normalisation and argmax in numpy): target <= 0.6x. torch 2.13's default
    (dynamo) exporter writes MaxUnpool2d as ScatterND and keeps BatchNormalization; its
    TorchScript exporter fails on MaxUnpool2d, so the default is what a user gets.

The network is an untrained ENet (weights do not change the time). Measurements of a pair
are interleaved, so load from other processes hits both sides alike. Needs torch and
enet_train (benchmarks only; the runtime itself never imports them).

    PYTHONPATH=. python benchmarks/runtime_speed.py [--runs 20] [--classes 12]
"""
from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from enet_ros.engines import open_engine
from enet_ros.image_codec import decode_image, encode_image
from enet_ros.model_file import ModelMetadata, open_model_file
from enet_ros.palette import load_palette
from enet_ros.segmenter import Segmenter
from enet_train.export import export_onnx
from enet_train.model import IMAGE_MEAN, IMAGE_STD, ENet

HEIGHT, WIDTH, THREADS = 360, 640, 2


def interleaved(runs: int, **pipelines: Callable[[], object]) -> dict[str, float]:
    """Median milliseconds of each pipeline, run in turn `runs` times after one warm-up."""
    samples: dict[str, list[float]] = {name: [] for name in pipelines}
    for run in pipelines.values():
        run()
    for _ in range(runs):
        for name, run in pipelines.items():
            start = time.perf_counter()
            run()
            samples[name].append((time.perf_counter() - start) * 1e3)
    return {name: float(np.median(values)) for name, values in samples.items()}


def naive_pipeline(net: ENet, folder: Path) -> Callable[[np.ndarray], np.ndarray]:
    """What a user writes first: export the training network as is, normalise and argmax
    in numpy around a float NCHW session."""
    path = folder / "naive.onnx"
    example = torch.zeros(1, 3, HEIGHT, WIDTH)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(net, (example,), input_names=["input"],
                                    output_names=["scores"], verbose=False)
    program.save(str(path))
    options = ort.SessionOptions()
    options.intra_op_num_threads = THREADS
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    mean = np.array(IMAGE_MEAN, np.float32).reshape(1, 3, 1, 1)
    std = np.array(IMAGE_STD, np.float32).reshape(1, 3, 1, 1)

    def run(rgb: np.ndarray) -> np.ndarray:
        x = (rgb.transpose(2, 0, 1)[None].astype(np.float32) / 255.0 - mean) / std
        (scores,) = session.run(None, {"input": x})
        return scores[0].argmax(axis=0).astype(np.uint8)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="timed runs a measurement")
    parser.add_argument("--classes", type=int, default=12, help="ENet output classes")
    args = parser.parse_args()
    torch.manual_seed(0)
    net = ENet(args.classes).eval()
    metadata = ModelMetadata(tuple(f"class{i}" for i in range(args.classes)),
                             tuple((i * 20 % 256, i * 50 % 256, i * 90 % 256)
                                   for i in range(args.classes)), HEIGHT, WIDTH)
    rng = np.random.default_rng(0)
    bgr = rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    data = bgr.tobytes()
    with tempfile.TemporaryDirectory() as tmp:
        model = open_model_file(export_onnx(net, Path(tmp) / "enet.onnx", metadata))
        engine = open_engine("onnxruntime", model, threads=THREADS)
        segmenter = Segmenter(engine, load_palette(None, model.metadata))
        naive = naive_pipeline(net, Path(tmp))
        rgb = decode_image("bgr8", HEIGHT, WIDTH, WIDTH * 3, False, data)
        batch = rgb[None]

        def end_to_end() -> None:
            frame = decode_image("bgr8", HEIGHT, WIDTH, WIDTH * 3, False, data)
            result = segmenter.segment(frame)
            encode_image(result.labels, "mono8")
            encode_image(result.color, "rgb8")
            encode_image(result.overlay, "bgr8")

        labels = engine.infer(batch)[0]
        agreement = float((labels == naive(rgb)).mean())
        palette = segmenter.palette
        paint = interleaved(max(args.runs * 10, 100),
                            paint=lambda: palette.overlay(rgb, palette.colorize(labels), 0.5))
        pipeline = interleaved(args.runs, end_to_end=end_to_end,
                               engine=lambda: engine.infer(batch))
        versus = interleaved(args.runs, model_file=lambda: engine.infer(batch),
                             naive=lambda: naive(rgb))

    print(f"ENet {args.classes} classes, {WIDTH}x{HEIGHT}, onnxruntime {ort.__version__} "
          f"{engine.providers[0]}, {THREADS} threads, {args.runs} runs (medians)")
    ratio_a = pipeline["end_to_end"] / pipeline["engine"]
    print(f"(a) end to end {pipeline['end_to_end']:.1f} ms / engine {pipeline['engine']:.1f} ms"
          f" = {ratio_a:.3f}  (target <= 1.15: {'met' if ratio_a <= 1.15 else 'MISSED'})")
    print(f"(b) colour mask + overlay {paint['paint']:.2f} ms  "
          f"(target < 3 ms: {'met' if paint['paint'] < 3 else 'MISSED'})")
    ratio_c = versus["model_file"] / versus["naive"]
    print(f"(c) model file {versus['model_file']:.1f} ms / naive {versus['naive']:.1f} ms = "
          f"{ratio_c:.3f}  (target <= 0.6: {'met' if ratio_c <= 0.6 else 'MISSED'}); "
          f"label agreement {agreement:.4f}")


if __name__ == "__main__":
    main()
