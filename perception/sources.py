"""Where pictures come from, behind one small interface: ``read() -> Frame`` and ``close()``.

- :class:`VideoSource` — a USB webcam (``usb:0``), an IP camera or phone app (``http://...`` MJPEG,
  ``rtsp://...``) or a video file, through cv2.VideoCapture (FFmpeg for URLs).
- :class:`PushedSource` — pictures pushed in as JPEG/PNG bytes, e.g. the parent's laptop webcam, sent
  by the setup page over its socket. Nothing to install.
- :class:`SimulatedSource` — the simulated overhead camera, drawing whatever scene a callback returns.

``read`` waits at most its timeout for a new picture; a camera that cannot be opened or stops sending
raises :class:`SourceError` (a ConnectionError) with a plain-words problem. Timestamps come from the
injected monotonic clock when the picture arrives.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from perception import problems
from perception.problems import FrameError, SourceError
from perception.sim_camera import Scene, SimCamera

READ_TIMEOUT_S = 2.0  # a webcam sends every 33-100 ms; 2 s without a picture is an unplugged cable
OPEN_TIMEOUT_S = 5.0  # an IP camera on the home network answers within a second or two
MAX_FAILED_READS = 3  # one dropped USB frame happens; three in a row is a camera that went away
MAX_PUSHED_BYTES = 4 * 1024 * 1024  # a 1920x1080 JPEG is ~0.3-1 MB; anything bigger is not a webcam frame
MAX_PUSHED_SIDE = 4096  # pixels; bigger pictures would only slow the tracker down


@dataclass(frozen=True)
class Frame:
    image: np.ndarray  # BGR uint8
    t: float  # monotonic seconds when it arrived
    index: int  # counts up from 0 per source


class FrameSource(Protocol):
    name: str

    def read(self, timeout_s: float = READ_TIMEOUT_S) -> Frame:
        """The next picture; raises SourceError when the camera is gone."""

    def close(self) -> None:
        """Release the camera."""


class VideoSource:
    """A cv2.VideoCapture: USB index, URL (MJPEG over HTTP, RTSP) or file."""

    def __init__(self, target: int | str, name: str | None = None, size: tuple[int, int] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name or (f"usb:{target}" if isinstance(target, int) else str(target))
        self._clock = clock
        self._index = 0
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(OPEN_TIMEOUT_S * 1000),
                  cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(READ_TIMEOUT_S * 1000)]
        backend = cv2.CAP_ANY if isinstance(target, int) else cv2.CAP_FFMPEG
        try:
            self._cap = cv2.VideoCapture(target, backend, params)
        except cv2.error as exc:
            raise SourceError(problems.camera_not_opened(self.name, str(exc).strip().splitlines()[-1])) from None
        if not self._cap.isOpened():
            raise SourceError(problems.camera_not_opened(self.name))
        if size is not None:
            self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, size[0])
            self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, size[1])

    def read(self, timeout_s: float = READ_TIMEOUT_S) -> Frame:
        # VideoCapture has its own read timeout (set when opening); timeout_s is honoured through it.
        for _ in range(MAX_FAILED_READS):
            ok, image = self._cap.read()
            if ok and image is not None:
                frame = Frame(image, self._clock(), self._index)
                self._index += 1
                return frame
        raise SourceError(problems.camera_gone(self.name, f"{MAX_FAILED_READS} reads in a row failed"))

    def close(self) -> None:
        self._cap.release()


def decode_picture(data: bytes) -> np.ndarray:
    """JPEG/PNG bytes -> BGR picture; raises FrameError naming the rule."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise FrameError(problems.not_a_picture(f"got {type(data).__name__}, not bytes"))
    if len(data) > MAX_PUSHED_BYTES:
        raise FrameError(problems.not_a_picture(f"{len(data)} bytes, more than {MAX_PUSHED_BYTES}"))
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if len(data) else None
    if image is None:
        raise FrameError(problems.not_a_picture("the bytes are not a JPEG or PNG picture"))
    if max(image.shape[:2]) > MAX_PUSHED_SIDE:
        raise FrameError(problems.not_a_picture(f"{image.shape[1]}x{image.shape[0]} pixels, more than {MAX_PUSHED_SIDE}"))
    return image


class PushedSource:
    """Pictures that arrive from outside (the browser's camera): `push` them, `read` waits for the next."""

    def __init__(self, name: str = "browser", clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self._clock = clock
        self._cond = threading.Condition()
        self._latest: Frame | None = None
        self._taken = -1  # index of the last frame read
        self._closed = False

    def push(self, data: bytes) -> Frame:
        """Decode and keep a picture (the newest wins); raises FrameError, keeping the previous one."""
        image = decode_picture(data)
        with self._cond:
            index = 0 if self._latest is None else self._latest.index + 1
            self._latest = Frame(image, self._clock(), index)
            self._cond.notify_all()
            return self._latest

    def read(self, timeout_s: float = READ_TIMEOUT_S) -> Frame:
        with self._cond:
            fresh = lambda: self._closed or (self._latest is not None and self._latest.index > self._taken)  # noqa: E731
            if not self._cond.wait_for(fresh, timeout_s) or self._closed:
                raise SourceError(problems.camera_gone(self.name, f"no picture for {timeout_s:g} s"))
            assert self._latest is not None
            self._taken = self._latest.index
            return self._latest

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class SimulatedSource:
    """The simulated overhead camera, drawing `scene()` each time a picture is read."""

    def __init__(self, camera: SimCamera, scene: Callable[[], Scene], name: str = "sim",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.camera = camera
        self._scene = scene
        self._clock = clock
        self._index = 0
        self.last_truth: dict = {}  # the true poses of the last picture, for tests and the demo's overlay

    def read(self, timeout_s: float = READ_TIMEOUT_S) -> Frame:
        sim = self.camera.render(self._scene(), frame_seed=self._index)
        self.last_truth = sim.truth
        frame = Frame(sim.image, self._clock(), self._index)
        self._index += 1
        return frame

    def close(self) -> None:
        pass


def open_source(spec: str, clock: Callable[[], float] = time.monotonic, size: tuple[int, int] | None = None) -> FrameSource:
    """A source from its name in an arena file or on the command line.

    ``usb:N`` (or just ``N``) a USB camera; ``http://``/``https://``/``rtsp://`` an IP camera; ``browser``
    pictures pushed by the setup page; ``file:PATH`` a video file. The simulated camera needs a scene,
    so it is built directly (SimulatedSource).
    """
    s = spec.strip()
    if s.startswith("usb:") or s.isdigit():
        index = s.removeprefix("usb:")
        if not index.isdigit():
            raise ValueError(f"a USB camera is usb:N with N a number like 0 (got {spec!r})")
        return VideoSource(int(index), size=size, clock=clock)
    if s.startswith(("http://", "https://", "rtsp://")):
        return VideoSource(s, clock=clock)
    if s.startswith("file:"):
        return VideoSource(s.removeprefix("file:"), clock=clock)
    if s == "browser":
        return PushedSource(clock=clock)
    raise ValueError(f"camera source must be usb:N, an http:// or rtsp:// URL, file:PATH or browser (got {spec!r})")
