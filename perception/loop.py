"""The camera loop: read a source, track each picture, hand the result on — in its own thread.

The server (asyncio) starts one per arena camera and gets every (frame, result) through `on_result`,
called from the loop's thread (hand it to the event loop with ``loop.call_soon_threadsafe``). A camera
that goes away ends the loop with one last result naming the problem; nothing raises into the server.
`step()` runs one iteration in the caller's thread (tests, a one-off preview).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from perception.problems import SourceError
from perception.sources import READ_TIMEOUT_S, Frame, FrameSource
from perception.tracker import Tracker, TrackResult

log = logging.getLogger(__name__)

MAX_FPS = 30.0  # webcams deliver 30 fps; the simulated camera is held to the same rate
STOP_TIMEOUT_S = 3.0  # one blocked camera read (READ_TIMEOUT_S = 2 s) plus slack

OnResult = Callable[[Frame | None, TrackResult], None]


class CameraLoop:
    def __init__(self, source: FrameSource, tracker: Tracker, on_result: OnResult, max_fps: float = MAX_FPS,
                 read_timeout_s: float = READ_TIMEOUT_S, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.source, self.tracker = source, tracker
        self._read_timeout_s = read_timeout_s
        self._on_result = on_result
        self._period = 1.0 / max_fps
        self._clock, self._sleep = clock, sleep
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.latest: tuple[Frame | None, TrackResult] | None = None
        self.failed: SourceError | None = None

    def step(self) -> TrackResult:
        """Read one picture and track it. Raises SourceError when the camera is gone."""
        frame = self.source.read(self._read_timeout_s)
        result = self.tracker.process(frame.image, frame.t)
        result.latency_s = self._clock() - frame.t
        self.latest = (frame, result)
        self._on_result(frame, result)
        return result

    def _run(self) -> None:
        next_at = self._clock()
        while not self._stop.is_set():
            try:
                self.step()
            except SourceError as exc:
                if self._stop.is_set():  # closed by stop(): not a failure
                    return
                self.failed = exc
                gone = TrackResult(t=self._clock(), calibration=self.tracker.calibration, problems=[exc.problem])
                self.latest = (None, gone)
                self._on_result(None, gone)
                log.warning("camera loop ends: %s", exc)
                return
            except Exception:  # a bug must not kill the server's thread silently
                log.exception("camera loop: tracking a picture failed")
            next_at += self._period
            wait = next_at - self._clock()
            if wait > 0:
                self._sleep(wait)
            else:
                next_at = self._clock()  # running late: do not try to catch up with a burst

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the camera loop is already running")
        self._thread = threading.Thread(target=self._run, name=f"camera-{self.source.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.source.close()
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_S)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
