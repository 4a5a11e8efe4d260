// The live arena view: walls, cones, zones and every car (name, heading, trail) from telemetry, with
// safety interventions flashed on the car together with the car's kid-readable reason.
//
//   import { ArenaView } from "/arena/arena.js";
//   const view = new ArenaView(canvas, { socket, carId: "car-1" });   // socket: a socket.io client
//   const lesson = new ArenaView(canvas, { socket, carIds: ["car-2", "car-3"] });  // a few cars, on their map
//
// The socket may be a /kid socket (telemetry of the kid's car) or a /teacher socket (every car).
// Arena coordinates: centimetres from the lower-left corner, heading in degrees, counter-clockwise.

const TRAIL_POINTS = 300; // ~15 s of driving at 20 Hz: enough to see the last figure
const FLASH_MS = 2500; // long enough to read a short sentence
const STALE_MS = 2000; // a car silent this long is drawn faded (link lost or car off)
const CAR_LENGTH_CM = 40;
const CAR_WIDTH_CM = 20;
const ZONE_COLORS = {
  target: ["rgba(46, 160, 67, 0.18)", "#2ea043"],
  forbidden: ["rgba(218, 54, 51, 0.18)", "#da3633"],
  parking: ["rgba(56, 139, 253, 0.15)", "#388bfd"],
  start: ["rgba(140, 140, 140, 0.12)", "#8c8c8c"],
};
const CAR_COLORS = ["#e36209", "#6f42c1", "#1f883d", "#0969da", "#bf3989", "#9a6700", "#0a7b83", "#8250df"];
const CENTRE_DOT_PX = 3.5; // the car's middle: what "reach a zone" measures (curriculum/checks.py)

/** One colour per car, the same on every page: car-1 is always the first colour, car-2 the second... */
export function carColor(carId) {
  const m = /(\d+)$/.exec(String(carId));
  const n = m ? Number(m[1]) - 1 : [...String(carId)].reduce((h, ch) => (h * 31 + ch.charCodeAt(0)) >>> 0, 7);
  return CAR_COLORS[((n % CAR_COLORS.length) + CAR_COLORS.length) % CAR_COLORS.length];
}

export class ArenaView {
  constructor(canvas, { socket = null, carId = null, carIds = null, arenaUrl = "/api/arena", fetchFn = null } = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.socket = socket;
    this.carId = carId;
    // Only these cars (all on one map, which the first one's /api/arena answer gives); null: every car.
    this.carIds = carIds ? new Set(carIds) : carId ? new Set([carId]) : null;
    this.mapCar = carId || (carIds && carIds[0]) || null;
    this.arenaUrl = arenaUrl;
    this.fetch = fetchFn || ((url) => fetch(url, { credentials: "same-origin" }));
    this.arena = null;
    this.cars = new Map(); // car_id -> {pose, trail, state, flash, seen, color, speed}
    this.labels = new Map(); // car_id -> text drawn instead of the id (the teacher console: "car-1 · Mia")
    this.seenEvents = new Set();
    this.dirty = true;
    this._handlers = [];
    this._frame = null;
    if (socket) {
      this._on("telemetry", (t) => this.onTelemetry(t));
      // a client watching several cars (the teacher) gets a tick's samples as one event
      this._on("telemetry_batch", (list) => { if (Array.isArray(list)) list.forEach((t) => this.onTelemetry(t)); });
      this._on("safety", (e) => this.onSafety(e.car_id, e));
      this._on("arena", (a) => { if (!this.carIds || this.carIds.has(a.car_id)) this.load(); });
    }
    // A canvas that changes size (a window resize, a tile layout) is drawn again at its new size.
    this._resize = typeof ResizeObserver === "function" ? new ResizeObserver(() => { this.dirty = true; }) : null;
    this._resize?.observe(canvas);
    this.load();
    this._loop();
  }

  _on(event, fn) {
    this.socket.on(event, fn);
    this._handlers.push([event, fn]);
  }

  async load() {
    const url = this.mapCar ? `${this.arenaUrl}?car=${encodeURIComponent(this.mapCar)}` : this.arenaUrl;
    try {
      const resp = await this.fetch(url);
      if (!resp.ok) throw new Error(`GET ${url}: HTTP ${resp.status}`);
      this.setArena((await resp.json()).arena);
    } catch (err) {
      this.error = String(err);
      this.dirty = true;
    }
  }

  setArena(arena) {
    this.arena = arena;
    this.dirty = true;
  }

  car(carId) {
    if (!this.cars.has(carId)) {
      this.cars.set(carId, { pose: null, trail: [], state: "ok", flash: null, seen: 0, color: carColor(carId), speed: 0 });
    }
    return this.cars.get(carId);
  }

  onTelemetry(t) {
    if (!t || !t.pose || (this.carIds && !this.carIds.has(t.car_id))) return;
    const car = this.car(t.car_id);
    car.pose = t.pose;
    car.state = t.safety_state || "ok";
    car.speed = t.speed_cm_s || 0;
    car.seen = performance.now();
    const last = car.trail[car.trail.length - 1];
    if (!last || Math.hypot(last.x_cm - t.pose.x_cm, last.y_cm - t.pose.y_cm) > 0.5) {
      car.trail.push({ x_cm: t.pose.x_cm, y_cm: t.pose.y_cm });
      if (car.trail.length > TRAIL_POINTS) car.trail.shift();
    }
    for (const e of t.safety_events || []) this.onSafety(t.car_id, e);
    this.dirty = true;
  }

  onSafety(carId, event) {
    if (!carId || !event || (this.carIds && !this.carIds.has(carId))) return;
    const key = `${carId}|${event.t}|${event.reason}`;
    if (this.seenEvents.has(key)) return; // the same event may come in telemetry and as "safety"
    this.seenEvents.add(key);
    if (this.seenEvents.size > 500) this.seenEvents = new Set([...this.seenEvents].slice(-200));
    this.car(carId).flash = { text: event.kid_text || event.reason, reason: event.reason, until: performance.now() + FLASH_MS };
    this.dirty = true;
  }

  setLabel(carId, text) {
    if (text) this.labels.set(carId, text); else this.labels.delete(carId);
    this.dirty = true;
  }

  clearTrails() {
    for (const car of this.cars.values()) car.trail = [];
    this.dirty = true;
  }

  destroy() {
    this._resize?.disconnect();
    if (this._frame) cancelAnimationFrame(this._frame);
    this._frame = null;
    if (this.socket) for (const [event, fn] of this._handlers) this.socket.off(event, fn);
    this._handlers = [];
  }

  _loop() {
    const tick = () => {
      const now = performance.now();
      const flashing = [...this.cars.values()].some((c) => c.flash && c.flash.until > now);
      if (this.dirty || flashing) {
        this.draw(now);
        this.dirty = false;
      }
      this._frame = requestAnimationFrame(tick);
    };
    this._frame = requestAnimationFrame(tick);
  }

  // --- drawing -----------------------------------------------------------------------------------

  _fit() {
    const c = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const w = c.clientWidth || c.width;
    const h = c.clientHeight || c.height;
    if (c.width !== Math.round(w * ratio) || c.height !== Math.round(h * ratio)) {
      c.width = Math.round(w * ratio);
      c.height = Math.round(h * ratio);
    }
    const a = this.arena;
    const pad = 12 * ratio;
    const scale = Math.min((c.width - 2 * pad) / a.width_cm, (c.height - 2 * pad) / a.height_cm);
    const ox = (c.width - a.width_cm * scale) / 2;
    const oy = (c.height + a.height_cm * scale) / 2;
    this.ratio = ratio;
    this.scale = scale;
    this.toPx = (x, y) => [ox + x * scale, oy - y * scale]; // flip y: arena origin is lower-left
  }

  draw(now = performance.now()) {
    const ctx = this.ctx;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    if (!this.arena) {
      ctx.fillStyle = "#57606a";
      ctx.font = "14px sans-serif";
      ctx.fillText(this.error || "loading the arena…", 12, 24);
      return;
    }
    this._fit();
    this._drawFloor();
    for (const z of this.arena.zones || []) this._drawZone(z);
    for (const w of this.arena.walls || []) this._drawWall(w);
    for (const c of this.arena.cones || []) this._drawCone(c);
    for (const [carId, car] of this.cars) this._drawTrail(car);
    for (const [carId, car] of this.cars) this._drawCar(carId, car, now);
  }

  _drawFloor() {
    const ctx = this.ctx;
    const [x0, y0] = this.toPx(0, this.arena.height_cm);
    const w = this.arena.width_cm * this.scale;
    const h = this.arena.height_cm * this.scale;
    ctx.fillStyle = "#f6f8fa";
    ctx.fillRect(x0, y0, w, h);
    ctx.strokeStyle = "#d0d7de";
    ctx.lineWidth = 1;
    for (let x = 50; x < this.arena.width_cm; x += 50) this._line(x, 0, x, this.arena.height_cm);
    for (let y = 50; y < this.arena.height_cm; y += 50) this._line(0, y, this.arena.width_cm, y);
    ctx.strokeStyle = "#24292f";
    ctx.lineWidth = 3 * this.ratio;
    ctx.strokeRect(x0, y0, w, h);
  }

  _line(xa, ya, xb, yb) {
    const [ax, ay] = this.toPx(xa, ya);
    const [bx, by] = this.toPx(xb, yb);
    this.ctx.beginPath();
    this.ctx.moveTo(ax, ay);
    this.ctx.lineTo(bx, by);
    this.ctx.stroke();
  }

  _drawZone(z) {
    const ctx = this.ctx;
    const [fill, stroke] = ZONE_COLORS[z.kind] || ZONE_COLORS.target;
    const [x0, y0] = this.toPx(z.x0, z.y1);
    const w = (z.x1 - z.x0) * this.scale;
    const h = (z.y1 - z.y0) * this.scale;
    ctx.fillStyle = fill;
    ctx.fillRect(x0, y0, w, h);
    ctx.strokeStyle = stroke;
    ctx.lineWidth = 1.5 * this.ratio;
    ctx.setLineDash(z.kind === "forbidden" ? [6 * this.ratio, 4 * this.ratio] : []);
    ctx.strokeRect(x0, y0, w, h);
    ctx.setLineDash([]);
    ctx.fillStyle = stroke;
    ctx.font = `${11 * this.ratio}px sans-serif`;
    const lock = z.min_level ? ` (level ${z.min_level})` : "";
    ctx.fillText(`${z.name}${lock}`, x0 + 4 * this.ratio, y0 + 13 * this.ratio);
  }

  _drawWall(w) {
    const ctx = this.ctx;
    ctx.strokeStyle = "#24292f";
    ctx.lineCap = "round";
    ctx.lineWidth = Math.max(2, (w.thickness_cm || 2) * this.scale);
    this._line(w.x0, w.y0, w.x1, w.y1);
  }

  _drawCone(c) {
    const ctx = this.ctx;
    const [x, y] = this.toPx(c.x_cm, c.y_cm);
    ctx.fillStyle = "#fb8500";
    ctx.strokeStyle = "#9a3412";
    ctx.lineWidth = this.ratio;
    ctx.beginPath();
    ctx.arc(x, y, Math.max(3 * this.ratio, (c.radius_cm || 4) * this.scale), 0, 2 * Math.PI);
    ctx.fill();
    ctx.stroke();
  }

  _drawTrail(car) {
    if (car.trail.length < 2) return;
    const ctx = this.ctx;
    ctx.strokeStyle = car.color;
    ctx.globalAlpha = 0.45;
    ctx.lineWidth = 2 * this.ratio;
    ctx.beginPath();
    car.trail.forEach((p, i) => {
      const [x, y] = this.toPx(p.x_cm, p.y_cm);
      if (i === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    });
    ctx.stroke();
    ctx.globalAlpha = 1;
  }

  _drawCar(carId, car, now) {
    if (!car.pose) return;
    const ctx = this.ctx;
    const [x, y] = this.toPx(car.pose.x_cm, car.pose.y_cm);
    const stale = now - car.seen > STALE_MS;
    const stopped = car.state === "estop" || car.state === "watchdog";
    ctx.save();
    ctx.globalAlpha = stale ? 0.35 : 1;
    ctx.translate(x, y);
    ctx.rotate((-car.pose.heading_deg * Math.PI) / 180); // canvas y points down: counter-clockwise is negative
    const l = CAR_LENGTH_CM * this.scale;
    const w = CAR_WIDTH_CM * this.scale;
    ctx.fillStyle = stopped ? "#cf222e" : car.color;
    ctx.strokeStyle = "#1f2328";
    ctx.lineWidth = this.ratio;
    ctx.fillRect(-l / 2, -w / 2, l, w);
    ctx.strokeRect(-l / 2, -w / 2, l, w);
    ctx.fillStyle = "#ffffff"; // the nose shows the heading
    ctx.beginPath();
    ctx.moveTo(l / 2, 0);
    ctx.lineTo(l / 2 - Math.min(l / 3, w), -w / 3);
    ctx.lineTo(l / 2 - Math.min(l / 3, w), w / 3);
    ctx.closePath();
    ctx.fill();
    ctx.fillStyle = "#1f2328"; // the middle dot, as on the graded picture: "inside" means this dot is inside
    ctx.beginPath();
    ctx.arc(0, 0, (CENTRE_DOT_PX + 1) * this.ratio, 0, 2 * Math.PI);
    ctx.fill();
    ctx.fillStyle = "#ffffff";
    ctx.beginPath();
    ctx.arc(0, 0, CENTRE_DOT_PX * this.ratio, 0, 2 * Math.PI);
    ctx.fill();
    ctx.restore();

    const flashing = car.flash && car.flash.until > now;
    if (flashing) {
      const pulse = 0.5 + 0.5 * Math.sin(now / 90);
      ctx.strokeStyle = `rgba(207, 34, 46, ${0.4 + 0.6 * pulse})`;
      ctx.lineWidth = 3 * this.ratio;
      ctx.beginPath();
      ctx.arc(x, y, Math.max(l, w) * 0.8, 0, 2 * Math.PI);
      ctx.stroke();
    }
    ctx.fillStyle = "#1f2328";
    ctx.font = `bold ${12 * this.ratio}px sans-serif`;
    ctx.textAlign = "center";
    const name = this.labels.get(carId) || carId;
    const label = stopped ? `${name} ■ ${car.state === "estop" ? "STOP" : "no link"}` : name;
    ctx.fillText(label, x, y - Math.max(l, w) * 0.6 - 6 * this.ratio);
    if (flashing) {
      const below = y + Math.max(l, w) * 0.6 + 8 * this.ratio;
      const fits = below + 22 * this.ratio < this.canvas.height;
      this._bubble(x, fits ? below : y - Math.max(l, w) * 0.6 - 40 * this.ratio, car.flash.text);
    }
    ctx.textAlign = "start";
  }

  _bubble(x, y, text) {
    const ctx = this.ctx;
    ctx.font = `${12 * this.ratio}px sans-serif`;
    const width = ctx.measureText(text).width + 12 * this.ratio;
    const height = 20 * this.ratio;
    const left = Math.min(Math.max(2, x - width / 2), this.canvas.width - width - 2);
    ctx.fillStyle = "rgba(255, 235, 233, 0.95)";
    ctx.strokeStyle = "#cf222e";
    ctx.lineWidth = this.ratio;
    ctx.fillRect(left, y, width, height);
    ctx.strokeRect(left, y, width, height);
    ctx.fillStyle = "#82071e";
    ctx.textAlign = "start";
    ctx.fillText(text, left + 6 * this.ratio, y + 14 * this.ratio);
  }
}
