"""The node's pure helpers, tested directly: no rclpy, no model, milliseconds each."""
from __future__ import annotations

import math
import sys
import threading
import time

import numpy as np
import pytest

from enet_ros import shipped
from enet_ros.ros import camera_info as ci
from enet_ros.ros import params
from enet_ros.ros.frame_slot import LatestSlot
from enet_ros.ros.stats import (ERROR, OK, WARN, LatencyWindow, NodeStats, RateMeter,
                                SequenceGaps)


# -- LatestSlot ------------------------------------------------------------------------------

def wait_until_blocked(thread: threading.Thread, timeout: float = 5.0) -> None:
    """Until ``thread`` sleeps in a threading.Condition's wait (what it does, not a delay)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame = sys._current_frames().get(thread.ident)
        if frame is not None and frame.f_code is threading.Condition.wait.__code__:
            return
        time.sleep(0.001)
    raise AssertionError(f"{thread.name} never waited")


def test_slot_newest_wins_and_counts_replaced_items():
    slot: LatestSlot[int] = LatestSlot()
    assert slot.put(1) is False
    assert slot.put(2) is True
    assert slot.put(3) is True
    assert slot.take(timeout=0) == 3
    assert slot.take(timeout=0) is None
    assert slot.dropped == 2
    assert slot.put(4) is False  # the slot was empty again: nothing dropped
    assert slot.dropped == 2


def test_slot_take_waits_for_a_put_from_another_thread():
    slot: LatestSlot[str] = LatestSlot()
    threading.Timer(0.05, slot.put, args=("frame",)).start()
    began = time.monotonic()
    assert slot.take(timeout=2.0) == "frame"
    assert time.monotonic() - began < 1.0


def test_slot_close_wakes_a_waiting_consumer_and_refuses_items():
    slot: LatestSlot[int] = LatestSlot()
    assert slot.closed is False
    got: list[object] = []
    consumer = threading.Thread(target=lambda: got.append(slot.take(timeout=5.0)))
    consumer.start()
    wait_until_blocked(consumer)
    slot.close()
    consumer.join(timeout=1.0)
    assert not consumer.is_alive() and got == [None]
    assert slot.put(1) is False and slot.take(timeout=0) is None and slot.closed is True


def test_slot_under_a_fast_producer_loses_no_count():
    """Every item is either taken or counted as dropped, whatever the interleaving."""
    slot: LatestSlot[int] = LatestSlot()
    taken: list[int] = []
    done = threading.Event()

    def consume() -> None:
        while not done.is_set():
            item = slot.take(timeout=0.01)
            if item is not None:
                taken.append(item)
                time.sleep(0.001)

    consumer = threading.Thread(target=consume)
    consumer.start()
    for i in range(2000):
        slot.put(i)
    done.set()  # what the consumer has not taken is the leftover, counted below
    consumer.join(timeout=5.0)
    leftover = slot.take(timeout=0)
    total = len(taken) + slot.dropped + (leftover is not None)
    assert total == 2000
    assert taken == sorted(taken) and slot.dropped > 0


# -- stats -----------------------------------------------------------------------------------

class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_rate_meter_measures_events_per_second_and_forgets_old_ones():
    clock = FakeClock()
    meter = RateMeter(window_s=2.0, clock=clock)
    assert meter.rate() == 0.0
    for _ in range(21):          # 20 intervals of 50 ms: 20 Hz
        meter.tick()
        clock.now += 0.05
    assert meter.rate() == pytest.approx(20.0)
    clock.now += 5.0
    assert meter.rate() == 0.0
    with pytest.raises(ValueError):
        RateMeter(window_s=0)


def test_sequence_gaps_count_frames_that_never_arrived():
    gaps = SequenceGaps()
    assert [gaps.see(n) for n in (1, 2, 5, 6, 10)] == [0, 0, 2, 0, 3]
    assert gaps.see(3) == 0 and gaps.see(4) == 0     # a new publisher starts over
    assert gaps.see(None) == 0 and gaps.see(0) == 0  # middleware without sequence numbers
    assert gaps.see(4 + SequenceGaps.MAX_GAP + 1) == 0


def test_latency_window_keeps_the_last_values():
    window = LatencyWindow(size=3)
    assert window.median() is None and window.maximum() is None
    for value in (9.0, 0.1, 0.2, 0.3, float("nan")):
        window.add(value)
    assert window.median() == pytest.approx(0.2)
    assert window.maximum() == pytest.approx(0.3)


def test_summary_levels_follow_new_failures_and_rejections():
    stats = NodeStats()
    level, message, _ = stats.summary(0, "onnxruntime", ["CPUExecutionProvider"])
    assert level == WARN and "no frames" in message
    stats.count("received", 3)
    stats.count("inferred", 2)
    stats.count("rejected")
    level, _, values = stats.summary(5, "onnxruntime", ["CPUExecutionProvider"])
    table = dict(values)
    assert level == WARN
    assert table["frames received"] == "3" and table["frames dropped"] == "5"
    assert table["frames rejected"] == "1" and table["frames inferred"] == "2"
    assert table["engine"] == "onnxruntime" and table["providers"] == "CPUExecutionProvider"
    level, _, _ = stats.summary(5, "onnxruntime", [])
    assert level == OK  # nothing new went wrong since the last summary
    stats.count("failed")
    assert stats.summary(5, "onnxruntime", [])[0] == ERROR


# -- camera_info -----------------------------------------------------------------------------

K = (500.0, 0.0, 320.0, 0.0, 510.0, 240.0, 0.0, 0.0, 1.0)
P = (505.0, 0.0, 321.0, -25.0, 0.0, 515.0, 241.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def _project(k_or_p: tuple[float, ...], point: tuple[float, float, float]) -> tuple[float, float]:
    cols = 4 if len(k_or_p) == 12 else 3
    m = np.array(k_or_p).reshape(3, cols)
    x = m @ np.array([*point, 1.0][:cols])
    return x[0] / x[2], x[1] / x[2]


def test_scale_halves_k_and_p_and_sets_the_size():
    out = ci.scale_to(ci.Intrinsics(640, 480, K, P), 320, 240)
    assert (out.width, out.height) == (320, 240)
    assert out.k == pytest.approx((250.0, 0.0, 160.0, 0.0, 255.0, 120.0, 0.0, 0.0, 1.0))
    assert out.p == pytest.approx((252.5, 0.0, 160.5, -12.5, 0.0, 257.5, 120.5, 0.0,
                                   0.0, 0.0, 1.0, 0.0))


def test_scale_anisotropic_maps_points_like_resizing_the_image():
    info = ci.Intrinsics(640, 480, K, P)
    out = ci.scale_to(info, 480, 360 // 2)  # x by 0.75, y by 0.375
    for point in ((0.3, -0.2, 2.0), (-1.0, 0.5, 4.0)):
        u, v = _project(info.p, point)
        u2, v2 = _project(out.p, point)
        assert (u2, v2) == pytest.approx((u * 0.75, v * 0.375))


def test_roi_and_binning_are_folded_in_and_reset():
    """A 2x-binned 200x100 crop at (100, 60) of a 640x480 sensor, resized to 50x25."""
    info = ci.Intrinsics(640, 480, K, P, binning_x=2, binning_y=2, roi_x_offset=100,
                         roi_y_offset=60, roi_width=400, roi_height=200, roi_do_rectify=True)
    out = ci.scale_to(info, 50, 25)
    assert (out.binning_x, out.binning_y, out.roi_width, out.roi_x_offset) == (0, 0, 0, 0)
    assert not out.roi_do_rectify
    point = (0.1, 0.05, 1.5)
    u, v = _project(P, point)                      # full-sensor pixel
    expected = ((u - 100) / 2 * 50 / 200, (v - 60) / 2 * 25 / 100)
    assert _project(out.p, point) == pytest.approx(expected)
    assert _project(out.k, point) == pytest.approx(
        (((_project(K, point)[0] - 100) / 2) / 4, ((_project(K, point)[1] - 60) / 2) / 4))


def test_binning_one_and_zero_agree():
    a = ci.scale_to(ci.Intrinsics(640, 480, K, P, binning_x=1, binning_y=1), 64, 48)
    b = ci.scale_to(ci.Intrinsics(640, 480, K, P), 64, 48)
    assert a == b


def test_uncalibrated_or_bad_sizes_are_refused():
    with pytest.raises(ValueError):
        ci.scale_to(ci.Intrinsics(0, 0, K, P), 64, 48)
    with pytest.raises(ValueError):
        ci.scale_to(ci.Intrinsics(640, 480, K, P), 0, 48)
    with pytest.raises(ValueError):
        ci.Intrinsics(640, 480, K[:4], P)


# -- params ----------------------------------------------------------------------------------

def test_every_parameter_has_a_description_and_typed_default():
    assert len(params.PARAM_NAMES) == len(params.PARAMS)
    for p in params.PARAMS:
        assert len(p.description) > 20, p.name
        assert isinstance(p.default, (bool, int, float, str))
        if p.float_range:
            assert isinstance(p.default, float) and p.float_range[0] <= p.default <= p.float_range[1]
        if p.int_range:
            lo, hi, step = p.int_range
            assert isinstance(p.default, int) and lo <= p.default <= hi and (p.default - lo) % step == 0
        if p.choices:
            assert p.default in p.choices
    assert not params.spec("overlay_alpha").read_only
    for name in ("model", "engine", "providers", "input_width", "input_height",
                 "output_resolution", "palette", "transport"):
        assert params.spec(name).read_only, name


def test_only_the_outputs_and_overlay_alpha_change_at_run_time():
    changeable = {p.name for p in params.PARAMS if not p.read_only}
    assert changeable == {"overlay_alpha", "publish_labels", "publish_color", "publish_overlay",
                          "publish_mask", "publish_confidence", "publish_camera_info"}
    for p in params.PARAMS:  # and their descriptions say so, the others' do not
        assert ("Changeable at run time." in p.description) == (not p.read_only), p.name


def test_a_spec_is_read_only_and_unlimited_by_default():
    p = params.ParamSpec("x", 0, "a parameter")
    assert (p.read_only, p.int_range, p.float_range, p.choices, p.constraints) == \
        (True, None, None, None, "")
    with pytest.raises(AttributeError):  # frozen
        p.read_only = False


def test_constraints_name_a_step_above_1():
    assert params.ParamSpec("x", 0, "a parameter", int_range=(0, 10, 2)).constraints == \
        "0 to 10, a multiple of 2"


@pytest.mark.parametrize("name, constraints", [
    ("engine", "one of: auto, onnxruntime, openvino, tensorrt"),
    ("output_resolution", "one of: camera, network"),
    ("transport", "one of: raw, compressed"),
    ("camera_reliability", "one of: auto, reliable, best_effort"),
    ("threads", "0 to 256"),
    ("input_width", "0 to 8192, a multiple of 8"),
    ("points_stride", "1 to 64"),
    ("overlay_alpha", "0.0 to 1.0"),
    ("diagnostics_period", "0.1 to 60.0"),
    ("model", ""),
])
def test_constraints_describe_the_limits(name, constraints):
    assert params.spec(name).constraints == constraints


def test_spec_of_an_unknown_parameter_is_a_key_error():
    with pytest.raises(KeyError, match="'nonsense'"):
        params.spec("nonsense")


@pytest.mark.parametrize("name, value, refusal", [
    ("overlay_alpha", 0.25, None),
    ("overlay_alpha", 0.0, None),
    ("overlay_alpha", 1, None),  # an integer is a number
    ("overlay_alpha", 1.5, "overlay_alpha must be between 0.0 and 1.0, got 1.5"),
    ("overlay_alpha", -0.5, "overlay_alpha must be between 0.0 and 1.0, got -0.5"),
    ("overlay_alpha", math.nan, "overlay_alpha must be between 0.0 and 1.0, got nan"),
    ("overlay_alpha", math.inf, "overlay_alpha must be between 0.0 and 1.0, got inf"),
    ("overlay_alpha", "0.3", "overlay_alpha must be a number"),
    ("overlay_alpha", True, "overlay_alpha must be a number"),  # a bool is no number here
    ("diagnostics_period", 0.1, None),
    ("diagnostics_period", 60.0, None),
    ("diagnostics_period", 0.05, "diagnostics_period must be between 0.1 and 60.0, got 0.05"),
    ("diagnostics_period", 61, "diagnostics_period must be between 0.1 and 60.0, got 61"),
    ("publish_color", False, None),
    ("publish_color", True, None),
    ("publish_color", 0, "publish_color must be true or false"),
    ("publish_labels", "true", "publish_labels must be true or false"),
    ("threads", "many", None),  # neither a bool nor a float range: rclpy's to judge
])
def test_refuse_update_judges_range_and_type_which_foxys_rclpy_leaves_through(name, value,
                                                                                refusal):
    assert params.refuse_update(name, value) == refusal


@pytest.mark.parametrize("name", ["engine", "precision", "output_resolution", "transport",
                                  "camera_reliability"])
def test_check_choice_takes_each_choice(name):
    for choice in params.spec(name).choices:
        assert params.check_choice(name, choice) == choice


def test_check_choice_and_parse_providers():
    with pytest.raises(ValueError) as raised:
        params.check_choice("transport", "theora")
    assert str(raised.value) == "parameter transport='theora' is not one of raw, compressed"
    with pytest.raises(ValueError) as raised:  # a parameter without choices takes none
        params.check_choice("model", "m.onnx")
    assert str(raised.value) == "parameter model='m.onnx' is not one of "
    assert params.parse_providers("") is None
    assert params.parse_providers(" , ") is None
    assert params.parse_providers(" CUDAExecutionProvider, CPUExecutionProvider ,") == [
        "CUDAExecutionProvider", "CPUExecutionProvider"]


@pytest.mark.parametrize("setting, publishers, wanted", [
    ("auto", [], None),                                   # no camera yet: keep what it has
    ("auto", ["reliable"], "reliable"),
    ("auto", ["reliable", "reliable"], "reliable"),
    ("auto", ["reliable", "best_effort"], "best_effort"),  # reliable would miss the second
    ("auto", ["best_effort"], "best_effort"),
    ("auto", ["system_default"], "best_effort"),
    ("reliable", ["best_effort"], "reliable"),            # asked for: even if nothing matches
    ("best_effort", ["reliable"], "best_effort"),
    ("best_effort", [], "best_effort"),
])
def test_camera_reliability_matches_every_publisher(setting, publishers, wanted):
    assert params.camera_reliability(setting, publishers) == wanted


def test_camera_reliability_refuses_unknown_settings():
    with pytest.raises(ValueError) as raised:
        params.camera_reliability("sometimes", ["reliable"])
    assert str(raised.value) == \
        "parameter camera_reliability='sometimes' is not one of auto, reliable, best_effort"


def test_inference_threads_leave_a_cpu_unless_told(monkeypatch):
    assert params.inference_threads(3) == 3
    asked = []
    for cpus, threads in ((1, 1), (2, 1), (8, 7)):
        monkeypatch.setattr(params.os, "sched_getaffinity",
                            lambda pid, n=cpus: asked.append(pid) or set(range(n)))
        assert params.inference_threads(0) == threads
    assert asked == [0, 0, 0]  # the CPUs this process may use (pid 0: the caller)


@pytest.mark.parametrize("cpus, threads", [(4, 3), (1, 1), (None, 1)])
def test_inference_threads_without_affinity_count_the_cpus(monkeypatch, cpus, threads):
    """Where os has no sched_getaffinity (macOS, Windows): os.cpu_count, None when unknown."""
    monkeypatch.delattr(params.os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(params.os, "cpu_count", lambda: cpus)
    assert params.inference_threads(0) == threads


def test_resolve_model_prefers_the_given_path_then_the_shipped_one():
    """One lookup for the node and the command line: enet_ros.shipped (test_shipped.py)."""
    assert params.resolve_model("/x/y.onnx") == params.Path("/x/y.onnx")
    assert params.resolve_model("", {}) == shipped.default_model({})
    assert params.resolve_model("~/m.onnx") == params.Path.home() / "m.onnx"


def test_resolve_model_without_a_shipped_one_says_how_to_give_one(monkeypatch):
    def missing(environ=None):
        raise FileNotFoundError("the shipped models/enet_camvid.onnx was not found; searched /x")

    monkeypatch.setattr(params.shipped, "default_model", missing)
    with pytest.raises(FileNotFoundError) as raised:
        params.resolve_model("", {})
    assert str(raised.value) == (
        "no model given and the shipped models/enet_camvid.onnx was not found; searched /x; "
        "set the 'model' parameter (--ros-args -p model:=/path/to/model.onnx)")
    assert raised.value.__suppress_context__

