"""What the confidence output costs a frame: the shipped model with it and without it.

With ``--model`` twice, both files are timed in the same interleaved run, e.g. the files
before and after a change of their label and confidence nodes (labels by ArgMax and confidence
by Softmax, against both from one ReduceMax: ``enet_train.export.FirstMaximum``).
"without" is the same file with the confidence output and every node only it needs removed
(the labels' graph is untouched), so the two differ by the confidence computation alone. Per
engine, interleaved in one run: the engine with the labels only, with labels and confidence,
and the node's whole per-frame path (pipeline.run: decode, segment, encode) with labels only
and with labels plus the mono8 confidence image (resized to the camera like the labels).
Medians in milliseconds of a 640x360 bgr8 frame at the model's 480x360 network size.

    PYTHONPATH=. python benchmarks/confidence_cost.py [--model M [--model M2]] [--runs 30]
        [--threads 1]
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import onnx

from benchmarks.runtime_speed import interleaved
from enet_ros.engines import open_engine
from enet_ros.image_codec import encode_image
from enet_ros.model_file import CONFIDENCE_NAME, LABELS_NAME, open_model_file
from enet_ros.palette import load_palette
from enet_ros.ros import pipeline
from enet_ros.segmenter import Segmenter

MODELS = Path(__file__).resolve().parents[1] / "models"


def without_confidence(path: Path, out: Path) -> Path:
    """``path`` with the confidence output and the nodes only it reads removed."""
    model = onnx.load(str(path))
    graph = model.graph
    needed, keep = {LABELS_NAME}, []
    for node in reversed(graph.node):  # nodes are topologically sorted
        if any(name in needed for name in node.output):
            keep.append(node)
            needed.update(node.input)
    del graph.node[:]
    graph.node.extend(reversed(keep))
    outputs = [o for o in graph.output if o.name != CONFIDENCE_NAME]
    del graph.output[:]
    graph.output.extend(outputs)
    onnx.checker.check_model(model)
    onnx.save(model, str(out))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, action="append",
                        help="model file, twice to compare two (default: the shipped one)")
    parser.add_argument("--runs", type=int, default=30, help="timed runs of each")
    parser.add_argument("--threads", type=int, default=1, help="inference threads")
    parser.add_argument("--engine", action="append", choices=("onnxruntime", "openvino"),
                        help="engines to time (default: both)")
    args = parser.parse_args()
    paths = args.model or [MODELS / "enet_camvid.onnx"]
    rng = np.random.default_rng(0)
    bgr = rng.integers(0, 256, (360, 640, 3), dtype=np.uint8)
    step, data = encode_image(bgr, "bgr8")
    frame = pipeline.RawFrame("bgr8", 360, 640, step, False, data)
    network = np.ascontiguousarray(bgr[:, 80:560][np.newaxis])  # 480x360: the network size
    with tempfile.TemporaryDirectory() as folder:
        files = {}
        for index, path in enumerate(paths):
            with_conf = open_model_file(path)
            if not with_conf.has_confidence:
                raise SystemExit(f"{path} has no confidence output")
            tag = f" {path.name}" if len(paths) > 1 else ""
            plain = without_confidence(path, Path(folder) / f"plain{index}.onnx")
            files[tag] = (open_model_file(plain), with_conf)
        for kind in args.engine or ("onnxruntime", "openvino"):
            runs, labels = {}, []
            for tag, (plain, with_conf) in files.items():
                for name, model in (("labels only", plain), ("with confidence", with_conf)):
                    engine = open_engine(kind, model, threads=args.threads, spin=False)
                    segmenter = Segmenter(engine, load_palette(None, model.metadata))
                    runs[f"engine,{tag} file {name}"] = \
                        lambda e=engine: e.infer_with_confidence(network)
                    runs[f"node path,{tag} file {name}, labels"] = lambda s=segmenter: \
                        pipeline.run(s, frame, pipeline.Wanted(True, False, False), 0.5)
                    labels.append(engine.infer_with_confidence(network)[0])
                runs[f"node path,{tag} file with confidence, labels + confidence"] = \
                    lambda s=segmenter: pipeline.run(
                        s, frame, pipeline.Wanted(True, False, False, confidence=True), 0.5)
            same = all(np.array_equal(labels[0], other) for other in labels[1:])
            medians = interleaved(args.runs, **runs)
            print(f"{kind} ({engine.precision}, {args.threads} thread(s)), 640x360 bgr8 frame, "
                  f"480x360 network, {args.runs} interleaved runs; labels identical: {same}")
            width = max(map(len, medians))
            for name, value in medians.items():
                print(f"  {name:<{width}} median {value:7.2f} ms")


if __name__ == "__main__":
    main()
