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


def test_refuse_update_judges_range_and_type_which_foxys_rclpy_leaves_through():
    assert params.refuse_update("overlay_alpha", 0.25) is None
    assert params.refuse_update("overlay_alpha", 1) is None
    assert "between" in params.refuse_update("overlay_alpha", 1.5)
    assert "between" in params.refuse_update("overlay_alpha", math.nan)
    assert params.refuse_update("overlay_alpha", "0.3") is not None
    assert params.refuse_update("publish_color", False) is None
    assert params.refuse_update("publish_color", 0) is not None


def test_check_choice_and_parse_providers():
    assert params.check_choice("transport", "compressed") == "compressed"
    with pytest.raises(ValueError, match="raw, compressed"):
        params.check_choice("transport", "theora")
    assert params.parse_providers("") is None
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
    with pytest.raises(ValueError, match="auto, reliable, best_effort"):
        params.camera_reliability("sometimes", ["reliable"])


def test_inference_threads_leave_a_cpu_unless_told(monkeypatch):
    assert params.inference_threads(3) == 3
    for cpus, threads in ((1, 1), (2, 1), (8, 7)):
        monkeypatch.setattr(params.os, "sched_getaffinity", lambda pid, n=cpus: set(range(n)))
        assert params.inference_threads(0) == threads


def test_resolve_model_prefers_the_given_path_then_the_shipped_one():
    """One lookup for the node and the command line: enet_ros.shipped (test_shipped.py)."""
    assert params.resolve_model("/x/y.onnx") == params.Path("/x/y.onnx")
    assert params.resolve_model("", {}) == shipped.default_model({})