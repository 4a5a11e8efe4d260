"""Kid event handlers: the edge trigger behind ``@car.on_obstacle`` and the thread handlers run on."""

from __future__ import annotations

import sys
import threading
import traceback
from typing import Any, Callable

from dojo.errors import DojoError

OBSTACLE_HYSTERESIS_CM = 5.0  # re-arm on_obstacle only once the obstacle is 5 cm beyond the trigger line,
#                               so sensor noise at the threshold never fires a handler twice per approach


class ObstacleWatcher:
    """Edge trigger with hysteresis: fire when distance drops below the threshold, re-arm beyond it + margin."""

    def __init__(self, threshold_cm: float, handler: Callable[[], Any]) -> None:
        self.threshold = threshold_cm
        self.handler = handler
        self.armed = True

    def update(self, distance_cm: float | None) -> bool:
        if distance_cm is None or distance_cm > self.threshold + OBSTACLE_HYSTERESIS_CM:
            self.armed = True
            return False
        if self.armed and distance_cm < self.threshold:
            self.armed = False
            return True
        return False


class HandlerThread:
    """Runs event handlers one at a time, off the socket thread (a handler's move waits for a reply
    that arrives on the socket thread, so running it there would deadlock)."""

    def __init__(self) -> None:
        self._queue: list[Callable[[], Any]] = []
        self._cv = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def submit(self, fn: Callable[[], Any]) -> None:
        with self._cv:
            if self._closed:
                return
            self._queue.append(fn)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="dojo-handlers", daemon=True)
                self._thread.start()
            self._cv.notify()

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._queue and not self._closed:
                    self._cv.wait()
                if self._closed:
                    return
                fn = self._queue.pop(0)
            try:
                fn()
            except DojoError as exc:
                print(f"dojo: {getattr(fn, '__name__', 'handler')}: {exc}", file=sys.stderr)
            except Exception:
                traceback.print_exc()

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()
