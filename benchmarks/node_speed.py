"""How fast segment_node keeps up with a camera, through real rclpy (a script, not a test).

    python benchmarks/node_speed.py [--model models/enet_camvid.onnx] [--seconds 15]
    python benchmarks/node_speed.py --rate 10 --seconds 3 --repeats 3     # 30 frames at 10 Hz

1. Times the engine alone on this machine (median of engine.infer at the network size, with
   the node's threads and spin setting).
2. Starts segment_node (the installed executable, else ``python -m enet_ros.ros.node``) on a
   private loopback domain and publishes 640x360 bgr8 frames at 30 Hz, each stamped with the
   time it was published, from this process, which also subscribes to enet/labels: what a
   separate subscriber receives, not what the node says it sent.
3. Reports the output rate against min(30, engine rate) (target: within 10 %), the frames
   received (target: all but one), the median latency from publication to labels received
   against the engine time (target: at most engine time + 15 ms), the CPU the node's process
   used (cores), and what the node's diagnostics say (dropped frames, inference time).

Each round runs the node with spin_threads false (its default) and true (--spin-threads picks
one), and a trivial relay node (benchmarks/relay_node.py: same topics, no inference) as the
baseline of what DDS and this machine carry; --repeats rounds alternate them, so load from
other processes weighs on each alike.

The camera publisher here is reliable (as rclpy's and image_transport's defaults are), so the
node's camera_reliability auto (its default) subscribes reliable; --camera-reliability
best_effort measures what sensor-data QoS receives instead, the relay following suit.
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
    parser.add_argument("--engine", default="auto",
                        help="engine parameter of the node (default auto, as the node)")
    parser.add_argument("--providers", default="", help="comma-separated ONNX Runtime providers")
    parser.add_argument("--width", type=int, default=640, help="camera frame width")
    parser.add_argument("--height", type=int, default=360, help="camera frame height")
    parser.add_argument("--rate", type=float, default=30.0, help="camera frame rate (Hz)")
    parser.add_argument("--seconds", type=float, default=15.0, help="measured duration")
    parser.add_argument("--warmup", type=float, default=3.0,
                        help="seconds of frames sent before measuring")
    parser.add_argument("--camera-reliability", default="auto",
                        choices=("auto", "reliable", "best_effort"),
                        help="camera_reliability parameter of the node (default auto: "
                             "reliable, as this benchmark's camera publisher is)")
    parser.add_argument("--large-shm", action="store_true",
                        help="run both processes with config/fastdds_large_images.xml (a "
                             "16 MB Fast DDS shared-memory segment instead of 512 KB)")
    parser.add_argument("--threads", type=int, default=0,
                        help="threads parameter of the node (0: all CPUs but one)")
    parser.add_argument("--spin-threads", default="both", choices=("false", "true", "both"),
                        help="spin_threads parameter of the node; both: run each, alternating")
    parser.add_argument("--no-relay", dest="relay", action="store_false",
                        help="skip the relay-node baseline")
    parser.add_argument("--repeats", type=int, default=1,
                        help="rounds of (relay, node spin_threads false, true), alternating")
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


def engine_time_ms(model: Path, args: argparse.Namespace, spin: bool,
                   repeats: int = 30) -> float:
    """Median time of one engine.infer at the model's network size, on this machine, with
    the engine settings the node gets."""
    from enet_ros.engines import open_engine
    from enet_ros.model_file import open_model_file
    from enet_ros.ros.params import inference_threads, parse_providers

    mf = open_model_file(model)
    engine = open_engine(args.engine, mf, providers=parse_providers(args.providers),
                         threads=inference_threads(args.threads), spin=spin)
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_node_benchmark(args: argparse.Namespace, command: list[str], log_dir: Path) -> dict:
    """Start ``command`` (a node taking --ros-args), publish frames at args.rate for warmup +
    seconds; arrivals of enet/labels, diagnostics, the node's CPU time while measured."""
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
        [*command, "-r", "image:=/camera/image_raw"],
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
        cpu_from = None
        while tick < end:
            if tick >= measure_from and cpu_from is None:
                cpu_from = cpu_seconds(node.pid)
            now_ns = time.time_ns()
            msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(now_ns, 10**9)
            pub.publish(msg)
            if tick >= measure_from:
                sent += 1
            tick += period
            time.sleep(max(0.0, tick - time.monotonic()))
        cpu_used = cpu_seconds(node.pid) - (cpu_from or 0.0)
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
            "node_cores": cpu_used / args.seconds, "node_exit": node.returncode}


def summarise(args: argparse.Namespace, name: str, result: dict,
              engine_ms: float | None) -> dict:
    """The report of one run, and its lines printed."""
    output_rate = result["received"] / result["seconds"]
    latencies = result["latencies_ms"]
    median = statistics.median(latencies) if latencies else float("nan")
    p90 = latencies[int(0.9 * (len(latencies) - 1))] if latencies else float("nan")
    frames_ok = result["received"] >= result["sent"] - 1
    diag = result["diagnostics"]
    report = {"run": name, "frames_sent": result["sent"], "frames_out": result["received"],
              "frames_target_met": frames_ok, "output_hz": round(output_rate, 2),
              "latency_median_ms": round(median, 2), "latency_p90_ms": round(p90, 2),
              "node_cpu_cores": round(result["node_cores"], 2),
              "node_exit_status": result["node_exit"]}
    line = (f"{name:<24} frames {result['received']:3d}/{result['sent']:<3d} "
            f"{'OK' if frames_ok else 'MISSED':<6} {output_rate:5.1f} Hz   latency median "
            f"{median:6.1f} ms (p90 {p90:6.1f})   node CPU {result['node_cores']:.2f} cores")
    if engine_ms is not None:
        expected_rate = min(args.rate, 1000.0 / engine_ms)
        rate_ok = output_rate >= (1 - RATE_TOLERANCE) * expected_rate
        latency_ok = median <= engine_ms + LATENCY_BUDGET_MS
        report.update({
            "engine_ms": round(engine_ms, 2), "expected_hz": round(expected_rate, 2),
            "rate_target_met": rate_ok, "latency_target_ms": round(engine_ms + LATENCY_BUDGET_MS, 2),
            "latency_target_met": latency_ok,
            "node_engine": diag.get("engine"), "node_precision": diag.get("precision"),
            "node_inference_median_ms": diag.get("inference median (ms)"),
            "node_processing_median_ms": diag.get("processing median (ms)"),
            "node_stamp_to_publish_median_ms": diag.get("latency median (ms)"),
            "node_dropped_total": diag.get("frames dropped"),
            "node_lost_before_delivery_total": diag.get("frames lost before delivery"),
            "node_received_total": diag.get("frames received")})
        line += (f"\n{'':<24} engine alone {engine_ms:.1f} ms; in the node: "
                 f"{diag.get('engine')} {diag.get('precision')}, inference "
                 f"{diag.get('inference median (ms)')} ms, lost before delivery "
                 f"{diag.get('frames lost before delivery')}, dropped "
                 f"{diag.get('frames dropped')}; rate {'OK' if rate_ok else 'MISSED'}, latency "
                 f"{'OK' if latency_ok else 'MISSED'} (<= engine + 15 ms)")
    print(line, flush=True)
    return report


def main(argv: list[str] | None = None) -> int:
    args = get_args_parser().parse_args(argv)
    if str(ROOT) not in sys.path:  # run from a checkout: use its enet_ros and enet_train
        sys.path.insert(0, str(ROOT))
    spins = {"false": [False], "true": [True], "both": [False, True]}[args.spin_threads]
    reports = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        model = args.model
        if model is None:
            shipped = ROOT / "models" / "enet_camvid.onnx"
            model = shipped if shipped.is_file() else random_enet(tmp_path)
        engine_ms = {spin: engine_time_ms(model, args, spin) for spin in spins}
        for spin, ms in engine_ms.items():
            print(f"engine alone, spin_threads {str(spin).lower()}: {ms:.1f} ms a frame",
                  flush=True)
        node = [*node_command(), "--ros-args", "-p", f"model:={model}",
                "-p", f"engine:={args.engine}", "-p", f"threads:={args.threads}",
                "-p", f"camera_reliability:={args.camera_reliability}",
                *(["-p", f"providers:={args.providers}"] if args.providers else [])]
        reliability = "best_effort" if args.camera_reliability == "best_effort" else "reliable"
        runs = ([("relay (no inference)", [sys.executable, str(ROOT / "benchmarks" /
                                                                  "relay_node.py"),
                                           "--ros-args", "-p", f"reliability:={reliability}"],
                                          None)] if args.relay else []) + \
            [(f"node spin_threads {str(spin).lower()}",
              [*node, "-p", f"spin_threads:={str(spin).lower()}"], engine_ms[spin])
             for spin in spins]
        for _ in range(args.repeats):
            for name, command, ms in runs:
                reports.append(summarise(args, name, run_node_benchmark(args, command,
                                                                         tmp_path), ms))
    report = {
        "model": str(model), "frame": f"{args.width}x{args.height} bgr8",
        "camera_hz": args.rate, "seconds": args.seconds,
        "camera_reliability": args.camera_reliability,
        "fastdds_profile": os.environ.get("FASTRTPS_DEFAULT_PROFILES_FILE", "default"),
        "threads": args.threads, "runs": reports}
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
