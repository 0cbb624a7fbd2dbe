"""What the I/O kind costs: the uint8 and the float32-I/O model file, interleaved, in one run.

Each run is ``engine.infer`` of one 640x360 frame through ``open_engine``, so the float32
file's conversions at the edges (uint8 -> float32 image, int32 -> uint8 labels) are counted,
and so is ``ContractEngine``'s pass-through for the uint8 file; "graph only" runs the
back end alone with the file's own dtypes. Medians in milliseconds, and the float32 / uint8
ratio. Compare files exported from one checkpoint (the labels are then identical).

    PYTHONPATH=. python benchmarks/io_kinds_speed.py [--uint8 M] [--float32 M] [--runs 30]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Callable

import numpy as np

from enet_ros.engines import open_engine
from enet_ros.model_file import open_model_file

MODELS = Path(__file__).resolve().parents[1] / "models"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uint8", type=Path, default=MODELS / "enet_camvid.onnx",
                        help="uint8-I/O model file")
    parser.add_argument("--float32", type=Path, default=MODELS / "enet_camvid_fp32io.onnx",
                        help="float32-I/O model file")
    parser.add_argument("--runs", type=int, default=30, help="timed runs of each")
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime threads")
    args = parser.parse_args()

    frame = np.random.default_rng(0).integers(0, 256, (1, 360, 640, 3), dtype=np.uint8)
    engines = {kind: open_engine("onnxruntime", open_model_file(path), threads=args.threads)
               for kind, path in (("uint8", args.uint8), ("float32", args.float32))}
    runs: dict[str, Callable[[], np.ndarray]] = {}
    for kind, engine in engines.items():
        native = frame.astype(engine.model.io.input_dtype)
        runs[f"{kind} open_engine"] = lambda e=engine: e.infer(frame)
        runs[f"{kind} graph only"] = lambda e=engine, x=native: e.backend.run(x)
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for run in runs.values():
        run()  # warm-up
    names = list(runs)
    for i in range(args.runs):
        # ORT's threads spin after a run and slow the next session's first run: alternate the
        # order so that each measurement follows the other session equally often.
        for name in names if i % 2 else names[::-1]:
            run = runs[name]
            start = time.perf_counter()
            run()
            samples[name].append((time.perf_counter() - start) * 1e3)
    medians = {name: float(np.median(values)) for name, values in samples.items()}
    print(f"640x360, {args.runs} interleaved runs each, ONNX Runtime CPU, {args.threads} threads")
    for name, value in medians.items():
        print(f"  {name:<22} median {value:7.2f} ms")
    for part in ("open_engine", "graph only"):
        print(f"  float32 / uint8 ({part}): "
              f"{medians[f'float32 {part}'] / medians[f'uint8 {part}']:.3f}")


if __name__ == "__main__":
    main()
