"""How fast segment_node keeps up with a camera, through real rclpy (a script, not a test).

    python benchmarks/node_speed.py [--model models/enet_camvid.onnx] [--seconds 15]

1. Times the engine alone on this machine (median of engine.infer at the network size).
2. Starts segment_node (the installed executable, else ``python -m enet_ros.ros.node``) on a
   private loopback domain and publishes 640x360 bgr8 frames at 30 Hz, each stamped with the
   time it was published; subscribes to enet/labels.
3. Reports the output rate against min(30, engine rate) (target: within 10 %) and the median
   latency from publication to labels received against the engine time (target: at most
   engine time + 15 ms), plus what the node's diagnostics say (dropped frames).

--reliable makes the node's camera subscription reliable (through its qos_overrides parameter);
--large-shm runs both processes with fastdds_large_images.xml: a 640x360 bgr8 frame (691 KB)
is larger than Fast DDS's default 512 KB shared-memory segment and otherwise goes over UDP.

Without --model it uses the shipped models/enet_camvid.onnx; if that is absent it exports an
untrained ENet (enet_train, needs torch) at CamVid's 360x480: speed does not depend on weights.
"""
from __future__ import annotations

import argparse
import array
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LATENCY_BUDGET_MS = 15.0
RATE_TOLERANCE = 0.10


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None,
                        help="model file (.onnx); default: the shipped one, else a random ENet")
    parser.add_argument("--engine", default="onnxruntime", help="engine parameter of the node")
    parser.add_argument("--providers", default="", help="comma-separated ONNX Runtime providers")
    parser.add_argument("--width", type=int, default=640, help="camera frame width")
    parser.add_argument("--height", type=int, default=360, help="camera frame height")
    parser.add_argument("--rate", type=float, default=30.0, help="camera frame rate (Hz)")
    parser.add_argument("--seconds", type=float, default=15.0, help="measured duration")
    parser.add_argument("--warmup", type=float, default=3.0,
                        help="seconds of frames sent before measuring")
    parser.add_argument("--reliable", action="store_true",
                        help="override the node's camera subscription to reliable (through "
                             "its qos_overrides parameter) instead of sensor-data best effort")
    parser.add_argument("--large-shm", action="store_true",
                        help="run both processes with config/fastdds_large_images.xml (a "
                             "16 MB Fast DDS shared-memory segment instead of 512 KB)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    return parser


def random_enet(folder: Path) -> Path:
    """An untrained 12-class ENet model file at CamVid's 360x480 (timing needs no training)."""
    from enet_ros.model_file import ModelMetadata
    from enet_train.export import export_onnx
    from enet_train.model import ENet

    names = tuple(f"class{i}" for i in range(12))
    colours = tuple((i * 20, 255 - i * 20, (i * 50) % 256) for i in range(12))
    metadata = ModelMetadata(names, colours, 360, 480, dataset="random (benchmark only)")
    print("no model given or shipped: exporting an untrained ENet for timing ...", flush=True)
    return export_onnx(ENet(12).eval(), folder / "enet_random.onnx", metadata)


def engine_time_ms(model: Path, engine_kind: str, providers: str, repeats: int = 30) -> float:
    """Median time of one engine.infer at the model's network size, on this machine."""
    from enet_ros.engines import open_engine
    from enet_ros.model_file import open_model_file
    from enet_ros.ros.params import parse_providers

    mf = open_model_file(model)
    engine = open_engine(engine_kind, mf, providers=parse_providers(providers))
    try:
        h, w = engine.input_size or (mf.metadata.input_height, mf.metadata.input_width)
        batch = np.random.default_rng(0).integers(0, 256, (1, h, w, 3), dtype=np.uint8)
        for _ in range(5):
            engine.infer(batch)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            engine.infer(batch)
            times.append((time.perf_counter() - start) * 1e3)
        return statistics.median(times)
    finally:
        engine.close()


def node_command() -> list[str]:
    installed = Path(sys.executable).parent / "segment_node"
    return [str(installed)] if installed.is_file() else [sys.executable, "-m",
                                                         "enet_ros.ros.node"]


def run_node_benchmark(args: argparse.Namespace, model: Path, log_dir: Path) -> dict:
    """Publish frames at args.rate for warmup + seconds; arrivals of enet/labels, diagnostics."""
    domain = random.randrange(1, 200)
    if args.large_shm:  # before rclpy.init here, and inherited by the node
        os.environ["FASTRTPS_DEFAULT_PROFILES_FILE"] = str(ROOT / "config" /
                                                           "fastdds_large_images.xml")
    env = {**os.environ, "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
           "ROS_DOMAIN_ID": str(domain), "ROS_LOG_DIR": str(log_dir)}
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image

    log = (log_dir / "node.log").open("w")
    node = subprocess.Popen(
        [*node_command(), "--ros-args", "-p", f"model:={model}", "-p", f"engine:={args.engine}",
         *(["-p", f"providers:={args.providers}"] if args.providers else []),
         *(["-p", "qos_overrides./camera/image_raw.subscription.reliability:=reliable"]
           if args.reliable else []),
         "-r", "image:=/camera/image_raw"],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    context = Context()
    rclpy.init(context=context, domain_id=domain)
    probe = rclpy.create_node("node_speed", context=context)
    arrivals: list[tuple[int, int]] = []      # (received ns, stamp ns)
    diagnostics: list[dict[str, str]] = []

    def on_labels(msg: Image) -> None:
        arrivals.append((time.time_ns(), msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec))

    def on_diagnostics(msg: DiagnosticArray) -> None:
        for status in msg.status:
            if "enet_segment" in status.name:
                diagnostics.append({kv.key: kv.value for kv in status.values})

    qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
    pub = probe.create_publisher(Image, "/camera/image_raw", qos)
    probe.create_subscription(Image, "/enet/labels", on_labels, qos)
    probe.create_subscription(DiagnosticArray, "/diagnostics", on_diagnostics, 10)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(probe)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        deadline = time.monotonic() + 60
        while pub.get_subscription_count() == 0 or probe.count_publishers("/enet/labels") == 0:
            if node.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"segment_node did not come up:\n"
                                 f"{(log_dir / 'node.log').read_text()}")
            time.sleep(0.1)
        rgb = np.random.default_rng(0).integers(0, 256, (args.height, args.width, 3), np.uint8)
        msg = Image(height=args.height, width=args.width, encoding="bgr8", step=args.width * 3)
        msg.data = array.array("B", rgb.tobytes())
        period = 1.0 / args.rate
        start = time.monotonic()
        measure_from = start + args.warmup
        end = measure_from + args.seconds
        sent = 0
        tick = start
        while tick < end:
            now_ns = time.time_ns()
            msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(now_ns, 10**9)
            pub.publish(msg)
            if tick >= measure_from:
                sent += 1
            tick += period
            time.sleep(max(0.0, tick - time.monotonic()))
        time.sleep(1.0)
    finally:
        node.send_signal(signal.SIGINT)
        node.wait(timeout=20)
        executor.shutdown(timeout_sec=1.0)
        probe.destroy_node()
        rclpy.try_shutdown(context=context)
        log.close()
    offset_ns = time.time_ns() - int(time.monotonic() * 1e9)  # monotonic -> wall clock
    lo, hi = int(measure_from * 1e9) + offset_ns, int(end * 1e9) + offset_ns
    measured = [(r, s) for r, s in arrivals if lo <= s < hi]
    latencies = sorted((r - s) / 1e6 for r, s in measured)
    return {"sent": sent, "received": len(measured), "seconds": args.seconds,
            "latencies_ms": latencies, "diagnostics": diagnostics[-1] if diagnostics else {},
            "node_exit": node.returncode}


def main(argv: list[str] | None = None) -> int:
    args = get_args_parser().parse_args(argv)
    if str(ROOT) not in sys.path:  # run from a checkout: use its enet_ros and enet_train
        sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        model = args.model
        if model is None:
            shipped = ROOT / "models" / "enet_camvid.onnx"
            model = shipped if shipped.is_file() else random_enet(tmp_path)
        engine_ms = engine_time_ms(model, args.engine, args.providers)
        engine_rate = 1000.0 / engine_ms
        print(f"engine alone: {engine_ms:.1f} ms a frame ({engine_rate:.1f} Hz)", flush=True)
        result = run_node_benchmark(args, model, tmp_path)
    expected_rate = min(args.rate, engine_rate)
    output_rate = result["received"] / result["seconds"]
    latencies = result["latencies_ms"]
    median = statistics.median(latencies) if latencies else float("nan")
    p90 = latencies[int(0.9 * (len(latencies) - 1))] if latencies else float("nan")
    rate_ok = output_rate >= (1 - RATE_TOLERANCE) * expected_rate
    latency_ok = median <= engine_ms + LATENCY_BUDGET_MS
    diag = result["diagnostics"]
    report = {
        "model": str(model), "frame": f"{args.width}x{args.height} bgr8", "camera_hz": args.rate,
        "camera_subscription": "reliable" if args.reliable else "best effort (sensor data)",
        "fastdds_profile": os.environ.get("FASTRTPS_DEFAULT_PROFILES_FILE", "default"),
        "engine_ms": round(engine_ms, 2), "engine_hz": round(engine_rate, 2),
        "output_hz": round(output_rate, 2), "expected_hz": round(expected_rate, 2),
        "rate_target_met": rate_ok,
        "latency_median_ms": round(median, 2), "latency_p90_ms": round(p90, 2),
        "latency_target_ms": round(engine_ms + LATENCY_BUDGET_MS, 2),
        "latency_target_met": latency_ok,
        "frames_sent": result["sent"], "frames_out": result["received"],
        "node_inference_median_ms": diag.get("inference median (ms)"),
        "node_processing_median_ms": diag.get("processing median (ms)"),
        "node_stamp_to_publish_median_ms": diag.get("latency median (ms)"),
        "node_dropped_total": diag.get("frames dropped"),
        "node_lost_before_delivery_total": diag.get("frames lost before delivery"),
        "node_received_total": diag.get("frames received"),
        "node_exit_status": result["node_exit"],
    }
    print(f"output rate   {output_rate:6.1f} Hz   target >= {(1 - RATE_TOLERANCE) * expected_rate:.1f}"
          f" (min({args.rate:g}, engine {engine_rate:.1f}) - 10 %)   {'OK' if rate_ok else 'MISSED'}")
    print(f"latency       {median:6.1f} ms   median (p90 {p90:.1f}), target <= "
          f"{engine_ms + LATENCY_BUDGET_MS:.1f} (engine + 15)   {'OK' if latency_ok else 'MISSED'}")
    print(f"in the node (its diagnostics, medians): inference {diag.get('inference median (ms)')}"
          f" ms, decode+segment+encode {diag.get('processing median (ms)')} ms, stamp to "
          f"publication {diag.get('latency median (ms)')} ms")
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
