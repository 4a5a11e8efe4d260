"""Where a real car is, without a simulator: dead reckoning, its uncertainty, and external fixes.

    est = PoseEstimator(spec, x, y, heading, t0, model=SpeedModel(...), cm_per_tick=0.6)
    est.predict(t, throttle, steering, ticks=None)   # every tick: what was sent (and the encoder count)
    est.fuse(x, y, heading, t_seen, sigma_cm)          # an overhead-camera pose, whenever one arrives
    est.x, est.y, est.heading_deg, est.speed_cm_s, est.uncertainty_cm, est.source

Speed comes from the wheel encoder when there is one (signed ticks from a quadrature encoder, or a
single channel whose direction is the sign of what was sent), otherwise from the calibrated speed
model: the ESC's first-order response to the effective throttle while driving, and the measured
stopping deceleration at neutral (the same numbers the fence plans with). Heading comes from the
kinematic bicycle model: yaw rate = v * tan(steer) / wheelbase.

Uncertainty is a one-sigma radius in cm that only grows while dead reckoning: a fraction of every
centimetre driven along the path (8% with the speed model, 2% with an encoder), plus the sideways error
a heading error makes over the distance driven. An external pose (the arena camera) is blended in by
the ratio of the two uncertainties (a scalar Kalman update), against where the car was when the frame
was taken (poses arrive late), and the motion since then is kept. The fence adds the uncertainty to
its margins, so a car that has dead-reckoned a long way keeps further from walls.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from robot_runtime.hardware import CarSpec

SPEED_MODEL_DRIFT = 0.08  # the speed model is off by ~8% of the distance (battery sag, floor grip, slope)
ENCODER_DRIFT = 0.02  # an encoder by ~2% (tyre squash, wheel spin on a hard start)
STEER_GAIN_ERROR = 0.02  # the real turn differs from the commanded one by ~2% (servo play, tyre scrub)
HEADING_DRIFT_DEG_PER_M = 0.5  # a trimmed car still wanders ~0.5 degree per metre on a straight line
PLACEMENT_SIGMA_CM = 3.0  # a car put on its start mark by hand
PLACEMENT_HEADING_DEG = 1.0  # and lined up with the mark's arrow by eye
HISTORY_S = 1.5  # camera poses older than this are refused: the overhead tracker's latency is ~0.1-0.3 s
CAMERA_FRESH_S = 0.5  # the pose is reported as "camera" this long after a fix, then as dead reckoning again
ENCODER_SPEED_WINDOW_S = 0.1  # encoder speed over 0.1 s: 5 ticks at 50 Hz, smooth enough, still prompt


@dataclass(frozen=True)
class SpeedModel:
    """How the car's speed follows the throttle without an encoder (from `dojo car calibrate`)."""

    top_speed_cm_s: float = 300.0  # speed at throttle 1 (the ESC dead band is compensated in the pulse map)
    response_s: float = 0.25  # first-order time constant while driving (the simulator's ESC: 0.25 s)
    stop_decel_cm_s2: float = 400.0  # deceleration at neutral: HardLimits.brake_decel_cm_s2 (measured)


class PoseEstimator:
    def __init__(self, spec: CarSpec, x_cm: float, y_cm: float, heading_deg: float, t: float, *,
                 model: SpeedModel | None = None, cm_per_tick: float | None = None,
                 signed_ticks: bool = False) -> None:
        self.spec = spec
        self.model = model or SpeedModel(top_speed_cm_s=spec.top_speed_cm_s)
        self.cm_per_tick = cm_per_tick
        self.signed_ticks = signed_ticks
        self._tan_max = math.tan(math.radians(spec.max_steer_deg))
        self.fixes = 0
        self.refused_fixes = 0
        self.reset(x_cm, y_cm, heading_deg, t)

    @property
    def uses_encoder(self) -> bool:
        return self.cm_per_tick is not None

    def reset(self, x_cm: float, y_cm: float, heading_deg: float, t: float,
              sigma_cm: float = PLACEMENT_SIGMA_CM) -> None:
        """The car was put here by hand (a lesson's start mark)."""
        self.x, self.y, self.psi = float(x_cm), float(y_cm), math.radians(heading_deg)
        self.t = t
        self.speed_cm_s = 0.0
        self.yaw_rate_dps = 0.0
        self._sigma_along = sigma_cm / math.sqrt(2.0)
        self._sigma_cross = sigma_cm / math.sqrt(2.0)
        self._sigma_psi = math.radians(PLACEMENT_HEADING_DEG)
        self._ticks: int | None = None
        self._tick_hist: deque[tuple[float, float]] = deque()  # (t, odometer cm) for the encoder speed
        self._odo_cm = 0.0
        self._hist: deque[tuple[float, float, float, float, float]] = deque()  # (t, x, y, psi, odo)
        self._last_fix_t = -math.inf
        self._dir = 1.0

    # --- results ---------------------------------------------------------------------------------

    @property
    def heading_deg(self) -> float:
        return math.degrees(math.atan2(math.sin(self.psi), math.cos(self.psi)))

    @property
    def uncertainty_cm(self) -> float:
        return math.hypot(self._sigma_along, self._sigma_cross)

    @property
    def odometer_cm(self) -> float:
        """Distance driven (unsigned) since the last reset."""
        return self._odo_cm

    def source(self, now: float) -> str:
        if now - self._last_fix_t <= CAMERA_FRESH_S:
            return "camera"
        return "encoder" if self.uses_encoder else "speed_model"

    # --- dead reckoning --------------------------------------------------------------------------

    def predict(self, t: float, throttle: float, steering: float, ticks: int | None = None) -> None:
        """Move the estimate to time t; throttle/steering are the fractions in force since the last call."""
        dt = t - self.t
        if not dt > 0.0:
            return
        self.t = t
        if throttle != 0.0:
            self._dir = math.copysign(1.0, throttle)
        if self.cm_per_tick is not None and ticks is not None:
            ds = self._encoder_step(t, ticks)
        else:
            ds = self._model_step(dt, throttle)
        k = math.tan(max(-1.0, min(1.0, steering)) * math.radians(self.spec.max_steer_deg)) / self.spec.wheelbase_cm
        dpsi = ds * k
        mid = self.psi + dpsi / 2.0
        self.x += ds * math.cos(mid)
        self.y += ds * math.sin(mid)
        self.psi += dpsi
        self.yaw_rate_dps = math.degrees(dpsi / dt)
        dist = abs(ds)
        self._odo_cm += dist
        drift = ENCODER_DRIFT if self.uses_encoder else SPEED_MODEL_DRIFT
        self._sigma_psi += abs(dpsi) * STEER_GAIN_ERROR + math.radians(HEADING_DRIFT_DEG_PER_M) * dist / 100.0
        self._sigma_along += drift * dist
        self._sigma_cross += dist * math.sin(min(self._sigma_psi, math.pi / 2))
        self._hist.append((t, self.x, self.y, self.psi, self.uncertainty_cm))
        while self._hist and self._hist[0][0] < t - HISTORY_S:
            self._hist.popleft()

    def _model_step(self, dt: float, throttle: float) -> float:
        m = self.model
        v, target = self.speed_cm_s, throttle * m.top_speed_cm_s
        if abs(target) < abs(v) and (target == 0.0 or math.copysign(1.0, target) != math.copysign(1.0, v)):
            step = m.stop_decel_cm_s2 * dt  # slowing at neutral (or against the motion): the measured decel
            v_new = v - math.copysign(min(abs(v), step), v)
        else:
            v_new = target + (v - target) * math.exp(-dt / m.response_s)
        self.speed_cm_s = v_new
        return (v + v_new) / 2.0 * dt

    def _encoder_step(self, t: float, ticks: int) -> float:
        prev, self._ticks = self._ticks, ticks
        if prev is None:
            self._tick_hist.append((t, 0.0))
            return 0.0
        d = (ticks - prev) * self.cm_per_tick
        ds = d if self.signed_ticks else abs(d) * self._dir
        pos = self._tick_hist[-1][1] + ds if self._tick_hist else ds
        self._tick_hist.append((t, pos))
        while len(self._tick_hist) > 2 and self._tick_hist[1][0] <= t - ENCODER_SPEED_WINDOW_S:
            self._tick_hist.popleft()
        t0, p0 = self._tick_hist[0]
        self.speed_cm_s = (pos - p0) / (t - t0) if t > t0 else 0.0
        return ds

    # --- external poses --------------------------------------------------------------------------

    def fuse(self, x_cm: float, y_cm: float, heading_deg: float | None, t_seen: float, sigma_cm: float) -> bool:
        """Blend in a pose seen at `t_seen` with one-sigma `sigma_cm`; False if it is too old or not finite."""
        vals = (x_cm, y_cm, t_seen, sigma_cm) + (() if heading_deg is None else (heading_deg,))
        if not all(math.isfinite(v) for v in vals) or sigma_cm <= 0.0 or t_seen < self.t - HISTORY_S or t_seen > self.t + 1.0:
            self.refused_fixes += 1
            return False
        then = self._state_at(t_seen)
        x0, y0, psi0, sig0 = then
        grown = max(0.0, self.uncertainty_cm - sig0)  # uncertainty added by the motion since the frame
        k = sig0 * sig0 / (sig0 * sig0 + sigma_cm * sigma_cm)
        self.x += k * (x_cm - x0)
        self.y += k * (y_cm - y0)
        if heading_deg is not None:
            d_psi = math.atan2(math.sin(math.radians(heading_deg) - psi0), math.cos(math.radians(heading_deg) - psi0))
            self.psi += k * d_psi
            self._sigma_psi = math.sqrt(1.0 - k) * self._sigma_psi
        sig_new = math.sqrt(sig0 * sig0 * sigma_cm * sigma_cm / (sig0 * sig0 + sigma_cm * sigma_cm)) + grown
        self._sigma_along = self._sigma_cross = sig_new / math.sqrt(2.0)
        self._hist.clear()
        self._hist.append((self.t, self.x, self.y, self.psi, self.uncertainty_cm))
        self._last_fix_t = self.t
        self.fixes += 1
        return True

    def _state_at(self, t: float) -> tuple[float, float, float, float]:
        """(x, y, psi, sigma) of the estimate at time t (the newest one not after t)."""
        best = (self.x, self.y, self.psi, self.uncertainty_cm)
        for ht, hx, hy, hpsi, hsig in reversed(self._hist):
            if ht <= t:
                # the motion between then and now is kept: the innovation is measured against then
                return hx, hy, hpsi, hsig
            best = (hx, hy, hpsi, hsig)
        return best
