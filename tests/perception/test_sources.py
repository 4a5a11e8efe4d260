"""Camera sources and the camera loop: an MJPEG IP camera (a real HTTP server on 127.0.0.1 read through
OpenCV's FFmpeg), a video file, pictures pushed from a browser, the simulated camera — and cameras that
disappear mid-way."""

from __future__ import annotations

import http.server
import socketserver
import threading
import time

import cv2
import numpy as np
import pytest

from perception.loop import CameraLoop
from perception.problems import FrameError, SourceError
from perception.sim_camera import Scene
from perception.sources import MAX_PUSHED_BYTES, PushedSource, SimulatedSource, open_source
from perception.tracker import Tracker
from perception_helpers import OVERHEAD, PLAN, random_poses

WAIT_S = 10.0  # generous bound for loopback streams and threads on a busy 2-core machine


@pytest.fixture(scope="module")
def shots():
    """Ten JPEG pictures of four cars from the overhead camera, with the true poses."""
    camera = OVERHEAD.camera(seed=4)
    rng = np.random.default_rng(4)
    out = []
    for _ in range(10):
        truth = random_poses(rng)
        out.append((truth, cv2.imencode(".jpg", camera.render(Scene(PLAN, cars=truth)).image,
                                        [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()))
    return out


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        self.now += 0.033
        return self.now


@pytest.fixture
def mjpeg_server(shots):
    """A phone-app style IP camera: multipart/x-mixed-replace JPEGs over HTTP; the stream ends after the shots."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.end_headers()
            try:
                for _, jpg in shots:
                    self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpg)
                                     + jpg + b"\r\n")
                    self.wfile.flush()
                    time.sleep(0.02)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args):
            pass

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/video.mjpg"
    server.shutdown()
    server.server_close()
    thread.join(WAIT_S)


def test_an_mjpeg_ip_camera_is_tracked_then_its_end_is_a_clear_camera_gone(mjpeg_server, shots):
    source = open_source(mjpeg_server)
    tracker = Tracker(PLAN)
    frames = []
    with pytest.raises(SourceError) as gone:
        while True:
            frame = source.read()
            frames.append((frame, tracker.process(frame.image, frame.t)))
    source.close()
    assert len(frames) == len(shots)
    assert [f.index for f, _ in frames] == list(range(len(shots)))
    assert all(b.t >= a.t for (a, _), (b, _) in zip(frames, frames[1:]))
    for (truth, _), (_, result) in zip(shots, frames):
        for car_id, pose in truth.items():  # the raw fixes: these cars jump about between pictures
            fix = result.cars[car_id].fix
            assert abs(fix.x_cm - pose.x_cm) < 2 and abs(fix.y_cm - pose.y_cm) < 2
    assert gone.value.problem.code == "camera_gone" and mjpeg_server in str(gone.value)
    assert isinstance(gone.value, ConnectionError)


def test_a_camera_that_is_not_there_cannot_be_opened():
    with pytest.raises(SourceError) as err:
        open_source("http://127.0.0.1:9/nothing.mjpg")
    assert err.value.problem.code == "camera_not_opened"
    assert "could not be opened" in str(err.value)


def test_a_recorded_video_file_plays_through_the_same_interface(tmp_path, shots):
    path = tmp_path / "arena.avi"
    first = cv2.imdecode(np.frombuffer(shots[0][1], np.uint8), cv2.IMREAD_COLOR)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (first.shape[1], first.shape[0]))
    for _, jpg in shots:
        writer.write(cv2.imdecode(np.frombuffer(jpg, np.uint8), cv2.IMREAD_COLOR))
    writer.release()
    source = open_source(f"file:{path}", clock=Clock())
    images = []
    with pytest.raises(SourceError):
        while True:
            images.append(source.read().image)
    assert len(images) == len(shots) and images[0].shape == first.shape


@pytest.mark.parametrize("spec, message", [("usb:front", "usb:N"), ("ftp://cam", "camera source must be")])
def test_unknown_camera_names_are_refused_with_the_forms_that_work(spec, message):
    with pytest.raises(ValueError, match=message):
        open_source(spec)


def test_browser_pictures_are_decoded_newest_first_and_bad_bytes_are_refused(shots):
    clock = Clock()
    source = PushedSource(clock=clock)
    first = source.push(shots[0][1])
    second = source.push(shots[1][1])
    assert (first.index, second.index) == (0, 1) and second.t > first.t
    got = source.read(timeout_s=0.1)
    assert got.index == 1  # the newest wins: a slow tracker never works on old pictures
    for bad, detail in ((b"", "not a JPEG"), (b"\xff\xd8garbage", "not a JPEG"), ("text", "not bytes"),
                        (b"\x00" * (MAX_PUSHED_BYTES + 1), "more than")):
        with pytest.raises(FrameError) as err:
            source.push(bad)
        assert err.value.problem.code == "not_a_picture" and detail in str(err.value)
    with pytest.raises(SourceError) as err:  # nothing new since the last read
        source.read(timeout_s=0.05)
    assert err.value.problem.code == "camera_gone" and "browser" in str(err.value)


def test_the_camera_loop_tracks_the_simulated_camera_at_its_rate_and_stops_cleanly():
    rng = np.random.default_rng(8)
    truth = random_poses(rng)
    source = SimulatedSource(OVERHEAD.camera(seed=8), lambda: Scene(PLAN, cars=truth))
    got, done = [], threading.Event()

    def on_result(frame, result):
        got.append(result)
        if len(got) >= 6:
            done.set()

    loop = CameraLoop(source, Tracker(PLAN), on_result, max_fps=60.0)
    loop.start()
    assert done.wait(WAIT_S)
    loop.stop()
    assert not loop.running and loop.failed is None
    last = got[-1]
    assert last.ok and last.latency_s is not None and 0 <= last.latency_s < 1.0
    assert {c: r.motion.state for c, r in last.cars.items()} == {c: "tracked" for c in truth}
    assert source.last_truth == truth


def test_a_browser_camera_that_disappears_mid_setup_ends_the_loop_with_a_message_and_keeps_the_calibration(shots):
    source = PushedSource()
    tracker = Tracker(PLAN)
    results, ended = [], threading.Event()

    def on_result(frame, result):
        results.append((frame, result))
        if frame is None:
            ended.set()

    loop = CameraLoop(source, tracker, on_result, read_timeout_s=0.3)
    loop.start()
    for _, jpg in shots[:3]:
        source.push(jpg)
        deadline = time.monotonic() + WAIT_S
        while len(results) < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
    calibration = tracker.calibration
    assert calibration is not None
    assert ended.wait(WAIT_S)  # no picture within the read timeout: the tab was closed
    frame, last = results[-1]
    assert frame is None and [p.code for p in last.problems] == ["camera_gone"]
    assert last.calibration is calibration and tracker.calibration is calibration
    assert loop.failed is not None
    loop.stop()
