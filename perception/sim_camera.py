"""A simulated overhead camera: the arena seen from any camera pose, with the truth alongside.

It draws what a webcam over a home or classroom arena sees — the room floor, the arena floor with its
edge tape and zones, the four corner markers, walls, cones, every car as a box with its roof marker at
its real height, anything the user holds up (a ChArUco board) and things in the way (a hand) — and
then spoils it the way a cheap webcam does: lens distortion, uneven light, blur and sensor noise.
The same seed gives the same pictures. Each :class:`SimFrame` carries the true car poses and the true
pixel corners of every marker, so the tracker can be measured against it.

How: planar things are painted back to front on an undistorted canvas a little larger than the picture
(flat shapes as anti-aliased polygons, printed things by warping their texture at about one texel per
pixel, so edges blend like a real sensor's); then one remap applies the lens distortion.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from perception.camera import CameraPose, Intrinsics, PinholeCamera, look_at
from perception.markers import MarkerPlan, aruco_dictionary, marker_image
from robot_runtime.arena import Arena
from robot_runtime.hardware import CarSpec
from robot_runtime.protocol import Pose

NEAR_CM = 1.0  # anything closer to the lens than this is not drawn
WALL_HEIGHT_CM = 10.0  # a skirting board or a row of books: the arena's inner walls
CONE_HEIGHT_PER_RADIUS = 2.5  # a sports cone is about 2.5 times as tall as its base radius
TAPE_CM = 2.0  # the arena's edge: a strip of coloured tape on the floor
PLACEMENT_TRIES = 10_000  # random spots tried before giving up on fitting the cars in
SUBPIXEL_BITS = 4  # polygon vertices to 1/16 px, so edges sit where the geometry says

# BGR colours of the room
ROOM_FLOOR = (92, 108, 122)
ARENA_FLOOR = (196, 202, 206)
TAPE = (40, 40, 150)
WALL_TOP, WALL_SIDE = (70, 80, 90), (55, 62, 70)
CONE = (20, 120, 240)
CAR_BODIES = ((170, 80, 30), (40, 40, 170), (40, 140, 40), (20, 170, 200), (150, 60, 150), (90, 90, 90))
OCCLUDER = (105, 125, 160)  # skin-ish: a hand or an arm
ZONE_TINTS = {"target": (90, 200, 90), "parking": (200, 170, 60), "forbidden": (80, 80, 230), "start": (185, 185, 185)}
ZONE_TINT_ALPHA = 0.35  # zones are coloured paper or tape: the floor still shows through in the picture


@dataclass(frozen=True)
class Imperfections:
    """What makes a real picture worse than a drawing. All zero: a perfect pinhole drawing."""

    blur_sigma_px: float = 0.7  # slight defocus and the sensor's own softness
    noise_sigma: float = 3.0  # sensor noise, grey levels (0-255)
    light: float = 0.35  # uneven light: darkest corner is this fraction dimmer than the brightest spot
    jpeg_quality: int | None = None  # a browser or IP camera sends JPEG; None keeps the raw picture


@dataclass(frozen=True)
class Sheet:
    """Something printed and flat anywhere in space (a ChArUco board held up, a spare marker on the floor).

    `corners_cm` are its world corners for the texture's top-left, top-right, bottom-right, bottom-left.
    """

    texture: np.ndarray  # grayscale or BGR
    corners_cm: np.ndarray  # (4, 3)


@dataclass(frozen=True)
class Occluder:
    """A flat shape floating above the floor that hides what is under it (a hand, a table edge)."""

    polygon_cm: np.ndarray  # (N, 2) world x, y
    z_cm: float = 30.0


@dataclass(frozen=True)
class Scene:
    """What is in the room at one instant."""

    plan: MarkerPlan
    cars: dict[str, Pose] = field(default_factory=dict)  # car id (a roof marker in the plan) -> pose
    spec: CarSpec = CarSpec()
    hidden_corners: frozenset[int] = frozenset()  # corner marker ids that are not on the floor
    sheets: tuple[Sheet, ...] = ()
    occluders: tuple[Occluder, ...] = ()

    @property
    def arena(self) -> Arena:
        return self.plan.arena


@dataclass
class SimFrame:
    image: np.ndarray  # BGR uint8, as a webcam gives it
    truth: dict[str, Pose]  # every car in the scene
    markers_px: dict[int, np.ndarray]  # every marker whose four corners are in the picture: id -> (4, 2) pixels
    hidden: set[int]  # of those, the ones an occluder covers (at least one corner)


def overhead_pose(plan: MarkerPlan, intrinsics: Intrinsics, tilt_deg: float = 0.0, margin_px: float = 12.0) -> CameraPose:
    """The closest camera, looking at the arena's middle from `tilt_deg` off straight down (from the lower
    edge's side), that still sees all four corner markers at least `margin_px` inside the picture."""
    if not 0.0 <= tilt_deg < 80.0:
        raise ValueError(f"tilt must be between 0 and 80 degrees (got {tilt_deg})")
    arena = plan.arena
    target = np.array([arena.width_cm / 2, arena.height_cm / 2, 0.0])
    back = np.array([0.0, -math.sin(math.radians(tilt_deg)), math.cos(math.radians(tilt_deg))])
    corners = np.vstack([_on_floor(sq) for sq in plan.corner_squares().values()])
    w, h = intrinsics.size
    distance = 50.0
    while distance < 5000.0:
        pose = look_at(tuple(target + back * distance), tuple(target))
        cam = PinholeCamera(intrinsics, pose)
        if np.all(cam.depth(corners) > NEAR_CM):
            px = cam.project(corners)
            if np.all((px >= margin_px) & (px <= (w - 1 - margin_px, h - 1 - margin_px))):
                return pose
        distance *= 1.02
    raise ValueError("no camera position sees the whole arena: the arena is too big for this lens")


def _clear_of_obstacles(x: float, y: float, reach: float, arena: Arena) -> bool:
    for c in arena.cones:
        if math.hypot(x - c.x_cm, y - c.y_cm) < reach + c.radius_cm:
            return False
    for w in arena.walls:
        dx, dy = w.x1 - w.x0, w.y1 - w.y0
        t = max(0.0, min(1.0, ((x - w.x0) * dx + (y - w.y0) * dy) / max(dx * dx + dy * dy, 1e-9)))
        if math.hypot(x - w.x0 - t * dx, y - w.y0 - t * dy) < reach + w.thickness_cm / 2:
            return False
    return True


def random_car_poses(plan: MarkerPlan, rng: np.random.Generator, cars: list[str] | None = None,
                     spec: CarSpec = CarSpec()) -> dict[str, Pose]:
    """Cars (default: every car of the plan) anywhere a car can stand in the arena, any heading: never
    overlapping each other, a wall or a cone (circles of half a car's length around each centre keep apart)."""
    arena = plan.arena
    cars = list(plan.roofs) if cars is None else cars
    margin = spec.length_cm / 2
    placed: dict[str, Pose] = {}
    for _ in range(PLACEMENT_TRIES):
        if len(placed) == len(cars):
            return placed
        x, y = rng.uniform(margin, arena.width_cm - margin), rng.uniform(margin, arena.height_cm - margin)
        if not _clear_of_obstacles(x, y, margin, arena):
            continue
        if all(math.hypot(x - p.x_cm, y - p.y_cm) > spec.length_cm + 2 for p in placed.values()):
            placed[cars[len(placed)]] = Pose(x_cm=float(x), y_cm=float(y), heading_deg=float(rng.uniform(-180, 180)))
    raise ValueError(f"{len(cars)} cars do not fit side by side in a {arena.width_cm:g} x {arena.height_cm:g} cm arena")


def held_sheet(texture: np.ndarray, width_cm: float, height_cm: float, centre_cm: tuple[float, float, float],
               tilt_x_deg: float = 0.0, tilt_y_deg: float = 0.0, turn_deg: float = 0.0) -> Sheet:
    """A sheet held face up at `centre_cm`, turned about the vertical, then tipped about its own x and y axes."""
    hx, hy = width_cm / 2, height_cm / 2
    local = np.array([[-hx, hy, 0], [hx, hy, 0], [hx, -hy, 0], [-hx, -hy, 0]], dtype=np.float64)  # texture top -> +y
    rot = cv2.Rodrigues(np.array([0.0, 0.0, math.radians(turn_deg)]))[0] \
        @ cv2.Rodrigues(np.array([math.radians(tilt_x_deg), 0.0, 0.0]))[0] \
        @ cv2.Rodrigues(np.array([0.0, math.radians(tilt_y_deg), 0.0]))[0]
    return Sheet(texture, local @ rot.T + np.array(centre_cm, dtype=np.float64))


def car_box(pose: Pose, spec: CarSpec, height_cm: float) -> np.ndarray:
    """(8, 3) corners of the car's body: four at the floor, then the same four at the roof."""
    h = math.radians(pose.heading_deg)
    c, s = math.cos(h), math.sin(h)
    hl, hw = spec.length_cm / 2, spec.width_cm / 2
    foot = [(pose.x_cm + c * dx - s * dy, pose.y_cm + s * dx + c * dy) for dx, dy in ((hl, hw), (hl, -hw), (-hl, -hw), (-hl, hw))]
    return np.array([(x, y, z) for z in (0.0, height_cm) for x, y in foot])


def roof_marker_corners(pose: Pose, model_points: np.ndarray, height_cm: float) -> np.ndarray:
    """(4, 3) world corners of a roof marker, given its corners in the car's (forward, left) frame."""
    h = math.radians(pose.heading_deg)
    c, s = math.cos(h), math.sin(h)
    f, l = model_points[:, 0], model_points[:, 1]
    return np.column_stack([pose.x_cm + c * f - s * l, pose.y_cm + s * f + c * l, np.full(4, height_cm)])


class SimCamera:
    """Renders scenes as one fixed camera sees them. `seed` fixes the light, the noise and every frame."""

    def __init__(self, intrinsics: Intrinsics, pose: CameraPose, imperfections: Imperfections = Imperfections(),
                 seed: int = 0) -> None:
        self.intrinsics, self.pose, self.imperfections, self.seed = intrinsics, pose, imperfections, seed
        self.camera = PinholeCamera(intrinsics, pose)  # the real lens, for the truth in pixels
        self._frames = 0
        self._setup_canvas()
        rng = np.random.default_rng(seed)
        self._gain = self._light_field(rng)
        self._noise = [rng.normal(0.0, imperfections.noise_sigma, (intrinsics.height, intrinsics.width, 1)).astype(np.float32)
                       for _ in range(3)] if imperfections.noise_sigma > 0 else []

    # --- set-up -------------------------------------------------------------------------------------

    def _setup_canvas(self) -> None:
        """The undistorted canvas and the remap that bends it through the lens."""
        w, h = self.intrinsics.size
        K = self.intrinsics.K
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        px = np.stack([xs.ravel(), ys.ravel()], axis=1).reshape(-1, 1, 2)
        if np.any(self.intrinsics.D != 0):
            norm = cv2.undistortPoints(px, K, self.intrinsics.D).reshape(-1, 2)
        else:
            norm = (px.reshape(-1, 2) - (K[0, 2], K[1, 2])) / (K[0, 0], K[1, 1])
        ideal = norm * (K[0, 0], K[1, 1]) + (K[0, 2], K[1, 2])
        lo = np.floor(ideal.min(axis=0)) - 2
        hi = np.ceil(ideal.max(axis=0)) + 2
        self._offset = -np.minimum(lo, 0.0)
        cw, ch = (np.maximum(hi, (w, h)) + self._offset).astype(int)
        self._canvas_size = (int(cw), int(ch))
        ideal = ideal + self._offset
        self._map_x = ideal[:, 0].reshape(h, w).astype(np.float32)
        self._map_y = ideal[:, 1].reshape(h, w).astype(np.float32)
        Kc = K.copy()
        Kc[0, 2] += self._offset[0]
        Kc[1, 2] += self._offset[1]
        self._Kc, self._R, self._t = Kc, self.pose.R, self.pose.t
        self._centre = self.camera.centre

    def _light_field(self, rng: np.random.Generator) -> np.ndarray | None:
        depth = self.imperfections.light
        if depth <= 0:
            return None
        w, h = self.intrinsics.size
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        u, v = (xs - w / 2) / w, (ys - h / 2) / w
        angle = rng.uniform(0, 2 * math.pi)
        gradient = u * math.cos(angle) + v * math.sin(angle)  # a window on one side
        sx, sy = rng.uniform(-0.4, 0.4, 2)
        spot = np.exp(-((u - sx) ** 2 + (v - sy) ** 2) / 0.08)  # a lamp's bright patch
        vignette = -(u ** 2 + v ** 2)  # lenses darken towards the corners
        field_ = gradient + spot + vignette
        field_ = (field_ - field_.min()) / max(1e-6, float(field_.max() - field_.min()))
        return (1.0 - depth + depth * field_).astype(np.float32)[..., None]

    # --- projection onto the canvas -------------------------------------------------------------------

    def _cam(self, pts: np.ndarray) -> np.ndarray:
        return np.asarray(pts, dtype=np.float64).reshape(-1, 3) @ self._R.T + self._t

    def _to_canvas(self, cam_pts: np.ndarray) -> np.ndarray:
        p = cam_pts @ self._Kc.T
        return p[:, :2] / p[:, 2:3]

    def _polygon(self, img: np.ndarray, pts_world: np.ndarray, colour: tuple[int, int, int]) -> None:
        cam = _clip_near(self._cam(pts_world))
        if len(cam) < 3:
            return
        px = np.round(self._to_canvas(cam) * (1 << SUBPIXEL_BITS)).astype(np.int32)
        cv2.fillPoly(img, [px], colour, cv2.LINE_AA, SUBPIXEL_BITS)

    def _texture(self, img: np.ndarray, texture: np.ndarray, corners_world: np.ndarray) -> None:
        cam = self._cam(corners_world)
        if np.any(cam[:, 2] < NEAR_CM):
            return
        dst = self._to_canvas(cam)
        x0, y0 = np.floor(dst.min(axis=0)).astype(int)
        x1, y1 = np.ceil(dst.max(axis=0)).astype(int) + 1
        x0, y0 = max(x0, 0), max(y0, 0)
        x1, y1 = min(x1, img.shape[1]), min(y1, img.shape[0])
        if x1 <= x0 or y1 <= y0:
            return
        th, tw = texture.shape[:2]
        src = np.float32([[0, 0], [tw, 0], [tw, th], [0, th]]) - 0.5
        H = cv2.getPerspectiveTransform(src, (dst - (x0, y0)).astype(np.float32))
        tex = texture if texture.ndim == 3 else cv2.cvtColor(texture, cv2.COLOR_GRAY2BGR)
        cv2.warpPerspective(tex, H, (x1 - x0, y1 - y0), dst=img[y0:y1, x0:x1], flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_TRANSPARENT)

    def _px_per_cm(self, point_world: np.ndarray) -> float:
        """About how many canvas pixels one centimetre covers at this point (for choosing a texture size)."""
        z = float(self._cam(point_world)[0, 2])
        return self._Kc[0, 0] / max(z, NEAR_CM)

    def _marker(self, img: np.ndarray, dictionary: str, marker_id: int, corners_world: np.ndarray) -> None:
        """A printed marker with a one-cell white quiet zone, its black square exactly on `corners_world`."""
        size_cm = float(np.linalg.norm(corners_world[1] - corners_world[0]))
        cells = _cells(dictionary)
        px_per_cell = int(np.clip(round(self._px_per_cm(corners_world.mean(axis=0)) * size_cm / cells), 1, 32))
        tex = _marker_texture(dictionary, marker_id, px_per_cell)
        centre = corners_world.mean(axis=0)
        grown = centre + (corners_world - centre) * (cells + 2) / cells  # out to the quiet zone's edge
        self._texture(img, tex, grown)

    # --- the scene --------------------------------------------------------------------------------------

    def render(self, scene: Scene, frame_seed: int | None = None) -> SimFrame:
        """One picture of `scene`. With `frame_seed` the picture depends only on (seed, frame_seed)."""
        if frame_seed is None:
            frame_seed = self._frames
        self._frames += 1
        rng = np.random.default_rng((self.seed, frame_seed))
        w, h = self._canvas_size
        img = np.empty((h, w, 3), np.uint8)
        img[:] = ROOM_FLOOR
        arena = scene.arena
        self._floor(img, arena)
        plan = scene.plan
        for mid, sq in plan.corner_squares().items():
            if mid not in scene.hidden_corners:
                self._marker(img, plan.dictionary, mid, _on_floor(sq))
        solids: list[tuple[float, object]] = []
        for wall in arena.walls:
            solids.append((self._distance(((wall.x0 + wall.x1) / 2, (wall.y0 + wall.y1) / 2)), ("wall", wall)))
        for cone in arena.cones:
            solids.append((self._distance((cone.x_cm, cone.y_cm)), ("cone", cone)))
        for i, (car_id, pose) in enumerate(scene.cars.items()):
            solids.append((self._distance((pose.x_cm, pose.y_cm)), ("car", (i, car_id, pose))))
        for _, (kind, thing) in sorted(solids, key=lambda s: -s[0]):
            getattr(self, f"_draw_{kind}")(img, thing, scene)
        for sheet in scene.sheets:
            self._texture(img, sheet.texture, sheet.corners_cm)
        for occ in scene.occluders:
            self._polygon(img, np.column_stack([occ.polygon_cm, np.full(len(occ.polygon_cm), occ.z_cm)]), OCCLUDER)
        image = self._spoil(img, rng)
        markers_px, hidden = self._truth_pixels(scene)
        return SimFrame(image=image, truth=dict(scene.cars), markers_px=markers_px, hidden=hidden)

    def _distance(self, xy: tuple[float, float]) -> float:
        return float(np.hypot(xy[0] - self._centre[0], xy[1] - self._centre[1]))

    def _floor(self, img: np.ndarray, arena: Arena) -> None:
        w, h = arena.width_cm, arena.height_cm
        self._polygon(img, _on_floor(np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float64)), ARENA_FLOOR)
        for z in arena.zones:
            tint = np.array(ZONE_TINTS.get(z.kind, (150, 150, 150)), dtype=np.float64)
            colour = tuple(int(c) for c in ZONE_TINT_ALPHA * tint + (1 - ZONE_TINT_ALPHA) * np.array(ARENA_FLOOR))
            self._polygon(img, _on_floor(np.array([[z.x0, z.y0], [z.x1, z.y0], [z.x1, z.y1], [z.x0, z.y1]])), colour)
        t = TAPE_CM
        for x0, y0, x1, y1 in ((0, 0, w, t), (w - t, 0, w, h), (0, h - t, w, h), (0, 0, t, h)):
            self._polygon(img, _on_floor(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)), TAPE)

    def _box(self, img: np.ndarray, corners: np.ndarray, side: tuple[int, int, int], top: tuple[int, int, int]) -> None:
        """A box from its 8 corners: the floor four, then the same four at the top, in the same order."""
        foot = corners[:4, :2]
        a, b = foot[1] - foot[0], foot[2] - foot[1]
        if a[0] * b[1] - a[1] * b[0] < 0:  # make the footprint counter-clockwise from above
            corners = np.vstack([corners[3::-1], corners[:3:-1]])
        for i in range(4):
            j = (i + 1) % 4
            face = corners[[i, j, j + 4, i + 4]]
            mid = face.mean(axis=0)
            edge = corners[j] - corners[i]
            normal = np.array([edge[1], -edge[0], 0.0])  # outward for a counter-clockwise footprint
            if np.dot(normal, self._centre - mid) > 0:
                shade = 0.75 + 0.25 * abs(normal[0]) / (np.linalg.norm(normal) + 1e-9)
                self._polygon(img, face, tuple(int(c * shade) for c in side))
        if self._centre[2] > corners[4, 2]:
            self._polygon(img, corners[4:], top)

    def _draw_wall(self, img: np.ndarray, wall, scene: Scene) -> None:
        d = np.array([wall.x1 - wall.x0, wall.y1 - wall.y0])
        n = np.array([-d[1], d[0]]) / max(np.linalg.norm(d), 1e-9) * wall.thickness_cm / 2
        a, b = np.array([wall.x0, wall.y0]), np.array([wall.x1, wall.y1])
        foot = np.array([a - n, b - n, b + n, a + n])
        self._box(img, np.vstack([_on_floor(foot), _on_floor(foot, WALL_HEIGHT_CM)]), WALL_SIDE, WALL_TOP)

    def _draw_cone(self, img: np.ndarray, cone, scene: Scene) -> None:
        angles = np.linspace(0, 2 * math.pi, 24, endpoint=False)
        base = np.column_stack([cone.x_cm + cone.radius_cm * np.cos(angles), cone.y_cm + cone.radius_cm * np.sin(angles),
                                np.zeros(24)])
        apex = np.array([[cone.x_cm, cone.y_cm, cone.radius_cm * CONE_HEIGHT_PER_RADIUS]])
        cam = self._cam(np.vstack([base, apex]))
        if np.any(cam[:, 2] < NEAR_CM):
            return
        hull = cv2.convexHull(np.round(self._to_canvas(cam) * (1 << SUBPIXEL_BITS)).astype(np.int32))
        cv2.fillConvexPoly(img, hull, CONE, cv2.LINE_AA, SUBPIXEL_BITS)

    def _draw_car(self, img: np.ndarray, item, scene: Scene) -> None:
        i, car_id, pose = item
        roof = scene.plan.roofs[car_id]
        body = CAR_BODIES[i % len(CAR_BODIES)]
        self._box(img, car_box(pose, scene.spec, roof.height_cm), tuple(int(c * 0.8) for c in body), body)
        self._marker(img, scene.plan.dictionary, roof.marker_id, roof_marker_corners(pose, roof.model_points(), roof.height_cm))

    # --- the camera's own faults ------------------------------------------------------------------------

    def _spoil(self, canvas: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        img = cv2.remap(canvas, self._map_x, self._map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        imp = self.imperfections
        if imp.blur_sigma_px > 0:
            img = cv2.GaussianBlur(img, (0, 0), imp.blur_sigma_px)
        if self._gain is not None or self._noise:
            f = img.astype(np.float32)
            if self._gain is not None:
                f *= self._gain
            if self._noise:
                noise = self._noise[int(rng.integers(len(self._noise)))]
                f += np.roll(noise, (int(rng.integers(noise.shape[0])), int(rng.integers(noise.shape[1]))), axis=(0, 1))
            img = np.clip(f, 0, 255).astype(np.uint8)
        if imp.jpeg_quality is not None:
            ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, imp.jpeg_quality])
            img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        return img

    def _truth_pixels(self, scene: Scene) -> tuple[dict[int, np.ndarray], set[int]]:
        plan = scene.plan
        world: dict[int, np.ndarray] = {mid: _on_floor(sq) for mid, sq in plan.corner_squares().items()
                                        if mid not in scene.hidden_corners}
        for car_id, pose in scene.cars.items():
            roof = plan.roofs[car_id]
            world[roof.marker_id] = roof_marker_corners(pose, roof.model_points(), roof.height_cm)
        w, h = self.intrinsics.size
        occluders = [self.camera.project(np.column_stack([o.polygon_cm, np.full(len(o.polygon_cm), o.z_cm)])).astype(np.float32)
                     for o in scene.occluders]
        out, hidden = {}, set()
        for mid, pts in world.items():
            if np.any(self.camera.depth(pts) < NEAR_CM):
                continue
            px = self.camera.project(pts)
            if np.all((px >= 0) & (px <= (w - 1, h - 1))):
                out[mid] = px
                if any(cv2.pointPolygonTest(o, (float(x), float(y)), False) >= 0 for o in occluders for x, y in px):
                    hidden.add(mid)
        return out, hidden


def _on_floor(xy: np.ndarray, z: float = 0.0) -> np.ndarray:
    return np.column_stack([xy, np.full(len(xy), z)])


def _clip_near(cam: np.ndarray) -> np.ndarray:
    """Cut a convex polygon (camera coordinates) to the part in front of the near plane (Sutherland-Hodgman)."""
    if np.all(cam[:, 2] >= NEAR_CM):
        return cam
    out = []
    for a, b in zip(cam, np.roll(cam, -1, axis=0)):
        a_in, b_in = a[2] >= NEAR_CM, b[2] >= NEAR_CM
        if a_in:
            out.append(a)
        if a_in != b_in:
            out.append(a + (b - a) * (NEAR_CM - a[2]) / (b[2] - a[2]))
    return np.array(out).reshape(-1, 3)


@functools.cache
def _cells(dictionary: str) -> int:
    return aruco_dictionary(dictionary).markerSize + 2


@functools.lru_cache(maxsize=512)
def _marker_texture(dictionary: str, marker_id: int, px_per_cell: int) -> np.ndarray:
    return cv2.cvtColor(marker_image(dictionary, marker_id, px_per_cell), cv2.COLOR_GRAY2BGR)
