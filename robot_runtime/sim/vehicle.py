"""A 1/10-scale rear-wheel-drive car as a dynamic bicycle model with tyre slip.

Why a dynamic model and not the kinematic one: a donut and a drift are the rear tyres losing grip.
Here they are real: the rear tyre has a friction circle (mu * load) shared between the drive force
and the cornering force, so full throttle at full lock spins the rear out (power oversteer), while at
Level-1 speed (30 % of top speed) the tyres hold and the slip angle stays small.

Units: centimetres, kilograms, seconds, radians inside (forces are kg*cm/s^2 = 0.01 N).
Body frame: x forward, y to the left; yaw counter-clockwise positive.

Below ``KINEMATIC_BELOW_CM_S`` the tyre slip angles are ill-defined (0/0), so the lateral states are
blended into the kinematic bicycle model (rear axle rolls without side slip) — exact at parking speeds.
Pure-Python scalar maths: for one car it is several times faster per step than numpy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from math import cos, sin, sqrt, tan

from robot_runtime.hardware import CarSpec

G_CM_S2 = 981.0  # gravity

MASS_KG = 1.5  # a 1/10 brushed touring car with a 2S pack and a Pi on top
CG_TO_REAR_FRACTION = 0.45  # CG at 45 % of the wheelbase from the rear axle: 55 % of the weight on the driven rear wheels
YAW_INERTIA_KG_CM2 = 250.0  # 0.025 kg m^2 = m (L^2 + W^2) / 12 for a 40 x 20 cm box of 1.5 kg
MU = 0.8  # rubber tyres on a classroom floor (vinyl/parquet): 0.7-1.0
CORNERING_STIFFNESS_PER_LOAD = 8.0  # 1/rad, lateral force per slip angle per load (rubber on a hard floor): full sliding from 17 deg
DRIVE_FORCE_MAX_G = 0.8  # motor at full current pushes 0.8 g: more than the rear tyres hold (0.44 g), so full throttle spins them
ESC_TIME_CONSTANT_S = 0.25  # speed-controlling ESC: 63 % of a speed step in 0.25 s; a 30 % step then stays within rear grip
ESC_BRAKE_TIME_CONSTANT_S = 0.08  # RC ESCs brake much harder than they accelerate: a stop is a stop, not a coast
BRAKE_FORCE_MAX_G = 0.42  # brake strength set just inside the rear tyres' grip (no lock-up), above the fence's 400 cm/s^2
ROLLING_DRAG_PER_S = 0.3  # rolling + drivetrain drag as a linear term (compensated by the ESC's speed control)
STEER_SERVO_RATE_DPS = 450.0  # a standard servo: 0.13 s per 60 deg
KINEMATIC_BELOW_CM_S = 30.0  # below this speed: kinematic model (slip angles are 0/0 near standstill)
DYNAMIC_ABOVE_CM_S = 60.0  # above this speed: dynamic model; linear blend in between
SPIN_UP_RANGE = 0.5  # demand 1x..1.5x the grip: the force turns from "scaled demand" to "spinning wheel"
MIN_WHEEL_SPEED_CM_S = 1.0
REST_SNAP_CM_S = 0.05  # with the throttle at 0, slower than this is standing still  # floor under the longitudinal wheel speed in the slip-angle formula


@dataclass(frozen=True)
class VehicleParams:
    """The physical numbers of one car; defaults are the module constants above."""

    wheelbase_cm: float = 26.0
    max_steer_rad: float = math.radians(27.0)
    top_speed_cm_s: float = 300.0
    mass_kg: float = MASS_KG
    cg_to_rear_fraction: float = CG_TO_REAR_FRACTION
    yaw_inertia: float = YAW_INERTIA_KG_CM2
    mu: float = MU
    cornering_per_load: float = CORNERING_STIFFNESS_PER_LOAD
    drive_force_max_g: float = DRIVE_FORCE_MAX_G
    esc_tau_s: float = ESC_TIME_CONSTANT_S
    esc_brake_tau_s: float = ESC_BRAKE_TIME_CONSTANT_S
    brake_force_max_g: float = BRAKE_FORCE_MAX_G
    drag_per_s: float = ROLLING_DRAG_PER_S
    servo_rate_rad_s: float = math.radians(STEER_SERVO_RATE_DPS)

    @classmethod
    def from_spec(cls, spec: CarSpec, **overrides: float) -> "VehicleParams":
        return cls(
            wheelbase_cm=spec.wheelbase_cm,
            max_steer_rad=math.radians(spec.max_steer_deg),
            top_speed_cm_s=spec.top_speed_cm_s,
            **overrides,
        )


def fiala_lateral_force(tan_alpha: float, stiffness: float, f_max: float) -> float:
    """Brush (Fiala) tyre: linear for small slip, saturating at f_max beyond the sliding angle.

    Returns the force opposing the slip (negative for positive tan_alpha).
    """
    if f_max <= 0.0:
        return 0.0
    t_sl = 3.0 * f_max / stiffness  # tan of the slip angle where the whole contact patch slides
    if tan_alpha >= t_sl:
        return -f_max
    if tan_alpha <= -t_sl:
        return f_max
    a = abs(tan_alpha)
    return -stiffness * tan_alpha * (1.0 - a / t_sl + a * a / (3.0 * t_sl * t_sl))


class BicycleModel:
    """State and integration of one car. ``step`` advances by dt with the given actuator targets."""

    __slots__ = (
        "p", "x", "y", "psi", "vx", "vy", "r", "steer", "_a", "_b", "_fz_f", "_fz_r",
        "_c_f", "_c_r", "_f_drive_max", "_mu_fz_r", "_mu_fz_f", "rear_saturated",
        "_max_steer", "_servo_rate", "_mass", "_top", "_esc_gain", "_brake_gain", "_f_brake_max", "_drag", "_inv_mass", "_inv_inertia",
    )

    def __init__(self, params: VehicleParams) -> None:
        self.p = params
        L = params.wheelbase_cm
        self._b = params.cg_to_rear_fraction * L  # CG to rear axle
        self._a = L - self._b  # CG to front axle
        weight = params.mass_kg * G_CM_S2
        self._fz_f = weight * self._b / L
        self._fz_r = weight * self._a / L
        self._c_f = params.cornering_per_load * self._fz_f
        self._c_r = params.cornering_per_load * self._fz_r
        self._mu_fz_f = params.mu * self._fz_f
        self._mu_fz_r = params.mu * self._fz_r
        self._f_drive_max = params.drive_force_max_g * weight
        # plain floats for the hot loop (attribute chains cost more than the maths here)
        self._max_steer = params.max_steer_rad
        self._servo_rate = params.servo_rate_rad_s
        self._mass = params.mass_kg
        self._top = params.top_speed_cm_s
        self._esc_gain = params.mass_kg / params.esc_tau_s
        self._brake_gain = params.mass_kg / params.esc_brake_tau_s
        self._f_brake_max = params.brake_force_max_g * weight
        self._drag = params.drag_per_s * params.mass_kg
        self._inv_mass = 1.0 / params.mass_kg
        self._inv_inertia = 1.0 / params.yaw_inertia
        self.x = self.y = self.psi = 0.0
        self.vx = self.vy = self.r = 0.0
        self.steer = 0.0  # actual front wheel angle (rad), follows the servo command at the servo's rate
        self.rear_saturated = False  # the rear tyre is beyond its friction circle: wheelspin or lock-up

    def place(self, x: float, y: float, psi: float) -> None:
        self.x, self.y, self.psi = x, y, psi
        self.vx = self.vy = self.r = 0.0
        self.steer = 0.0

    def at_rest(self, throttle: float, steering: float) -> bool:
        """Standing still with nothing to change it: a step would change nothing."""
        return (throttle == 0.0 and self.vx == 0.0 and self.vy == 0.0 and self.r == 0.0
                and self.steer == steering * self._max_steer)

    def step(self, dt: float, throttle: float, steering: float) -> None:
        """Advance dt seconds. throttle, steering in -1..1 (fractions of top speed and max steer)."""
        # steering servo: rate-limited towards the commanded angle
        max_move = self._servo_rate * dt
        d = steering * self._max_steer - self.steer
        if d > max_move:
            d = max_move
        elif d < -max_move:
            d = -max_move
        delta = self.steer = self.steer + d

        vx, vy, r = self.vx, self.vy, self.r
        a, b = self._a, self._b
        v_target = throttle * self._top

        # drive: the ESC pushes towards throttle * top speed (and cancels drag), up to the motor's force
        drag = self._drag * vx
        # slowing down (force against the motion) is braking, which the ESC does harder
        if (v_target - vx) * vx < 0.0:
            f_drive, fmax = self._brake_gain * (v_target - vx) + drag, self._f_brake_max
        else:
            f_drive, fmax = self._esc_gain * (v_target - vx) + drag, self._f_drive_max
        if f_drive > fmax:
            f_drive = fmax
        elif f_drive < -fmax:
            f_drive = -fmax
        vyr, vyf = vy - b * r, vy + a * r
        if vx * vx + (vyr * vyr if vyr * vyr > vyf * vyf else vyf * vyf) < KINEMATIC_BELOW_CM_S * KINEMATIC_BELOW_CM_S:
            self._kinematic_step(dt, delta, v_target, f_drive, drag)  # parking speeds: no tyre slip to compute
            return
        # rear tyre: what the ESC and the cornering would like, limited by the friction circle. Beyond
        # the circle the wheel spins up (or locks) and the force turns towards the slip velocity
        # of that wheel: mostly along the car when it spins hard, so the rear slides out (power oversteer).
        mu_r = self._mu_fz_r
        u_r = abs(vx) if abs(vx) > MIN_WHEEL_SPEED_CM_S else MIN_WHEEL_SPEED_CM_S
        vy_r = vy - b * r
        fy_r = fiala_lateral_force(vy_r / u_r, self._c_r, mu_r)
        demand = sqrt(f_drive * f_drive + fy_r * fy_r)
        if demand <= mu_r:
            fx_r, sat = f_drive, False
        else:
            sat = True
            gx, gy = f_drive / demand, fy_r / demand  # direction of the demand, scaled onto the circle
            lam = (demand / mu_r - 1.0) / SPIN_UP_RANGE
            if lam > 1.0:
                lam = 1.0
            sx, sy = v_target - vx, -vy_r  # opposes the spinning/locked wheel's slip
            sn = sqrt(sx * sx + sy * sy)
            if sn > 1e-9:
                gx += lam * (sx / sn - gx)
                gy += lam * (sy / sn - gy)
            gn = sqrt(gx * gx + gy * gy)
            if gn > 1e-9:
                fx_r, fy_r = mu_r * gx / gn, mu_r * gy / gn
            else:
                fx_r, fy_r = 0.0, 0.0
        self.rear_saturated = sat

        # front tyre slip in the wheel's own frame (works in reverse too)
        cd, sd = cos(delta), sin(delta)
        vyf = vy + a * r
        u_f = vx * cd + vyf * sd
        w_f = vyf * cd - vx * sd
        u_f = abs(u_f) if abs(u_f) > MIN_WHEEL_SPEED_CM_S else MIN_WHEEL_SPEED_CM_S
        fyw_f = fiala_lateral_force(w_f / u_f, self._c_f, self._mu_fz_f)

        inv_m = self._inv_mass
        ax = (fx_r - fyw_f * sd - drag) * inv_m + vy * r
        ay = (fy_r + fyw_f * cd) * inv_m - vx * r
        ar = (a * fyw_f * cd - b * fy_r) * self._inv_inertia
        vx += ax * dt
        vy += ay * dt
        r += ar * dt

        # blend into the kinematic model at low speed (where slip angles are meaningless)
        # (measured at the faster axle, so a sliding tail keeps the dynamic model)
        vyr, vyf = vy - b * r, vy + a * r
        speed = sqrt(vx * vx + (vyr * vyr if vyr * vyr > vyf * vyf else vyf * vyf))
        if speed < DYNAMIC_ABOVE_CM_S:
            w = (speed - KINEMATIC_BELOW_CM_S) / (DYNAMIC_ABOVE_CM_S - KINEMATIC_BELOW_CM_S)
            if w < 0.0:
                w = 0.0
            r_kin = vx * tan(delta) / (a + b)
            vy = w * vy + (1.0 - w) * b * r_kin
            r = w * r + (1.0 - w) * r_kin

        if v_target == 0.0 and vx * vx + vy * vy < REST_SNAP_CM_S * REST_SNAP_CM_S and -1e-3 < r < 1e-3:
            vx = vy = r = 0.0  # rolling resistance holds a nearly stopped car: it comes to rest exactly
        self.vx, self.vy, self.r = vx, vy, r
        psi = self.psi
        c, s = cos(psi), sin(psi)
        self.x += (vx * c - vy * s) * dt
        self.y += (vx * s + vy * c) * dt
        self.psi = psi + r * dt

    def _kinematic_step(self, dt: float, delta: float, v_target: float, f_drive: float, drag: float) -> None:
        """Below KINEMATIC_BELOW_CM_S: the rear axle rolls without side slip; traction still limits the drive."""
        mu_r = self._mu_fz_r
        fx = mu_r if f_drive > mu_r else -mu_r if f_drive < -mu_r else f_drive
        self.rear_saturated = fx != f_drive
        vx = self.vx + (fx - drag) * self._inv_mass * dt
        if v_target == 0.0 and -REST_SNAP_CM_S < vx < REST_SNAP_CM_S:
            vx = 0.0  # rolling resistance holds a nearly stopped car: it comes to rest exactly
        r = vx * tan(delta) / (self._a + self._b)
        vy = self._b * r
        self.vx, self.vy, self.r = vx, vy, r
        psi = self.psi
        c, s = cos(psi), sin(psi)
        self.x += (vx * c - vy * s) * dt
        self.y += (vx * s + vy * c) * dt
        self.psi = psi + r * dt

    @property
    def slip_rad(self) -> float:
        """Slip angle of the rear axle: between the car's axis and the rear axle's velocity.

        Measured at the rear axle (not the centre of mass) because a gripping rear axle never slides
        sideways: the angle is ~0 in any clean turn, whatever the steering, and large only when the
        tail is sliding out (donut, drift). 0 below 5 cm/s, where the angle is noise. Reverse counts
        as along the axis.
        """
        vy_r = self.vy - self._b * self.r
        if self.vx * self.vx + vy_r * vy_r < 25.0:
            return 0.0
        return math.atan2(vy_r, abs(self.vx))
