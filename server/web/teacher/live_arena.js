// The live arena: every car where its telemetry says it is, labelled with its driver's name.
// Uses the server's shared ArenaView (/arena/arena.js) when it is there; else draws with our canvas.
import { prepare, drawArena, drawCar } from './arena_canvas.js';
import { carColor } from './cars.js';

const FRAME_MS = 50; // redraw at most at telemetry rate (20 Hz); a projector needs no more

export class LiveArena {
  constructor(box) {
    this.box = box;
    this.cars = [];
    this.kids = new Map();
    this.arena = null;
    this.poses = new Map();
    this.alerts = new Map();
    this.view = null;
    this.canvas = document.createElement('canvas');
    this.canvas.setAttribute('aria-label', 'Live arena with every car');
    box.append(this.canvas);
    this.dirty = true;
    this.timer = setInterval(() => this.draw(), FRAME_MS);
    this.tryArenaView();
    new ResizeObserver(() => { this.dirty = true; }).observe(box);
  }

  async tryArenaView() {
    try {
      const mod = await import('/arena/arena.js');
      if (typeof mod.ArenaView !== 'function') return;
      const view = new mod.ArenaView(this.canvas, { labels: true });
      this.view = view;
    } catch {
      this.view = null; // not shipped (yet): our own drawing below does the job
    }
  }

  label(carId) {
    const car = this.cars.find((c) => c.car_id === carId);
    const driver = car?.driver_name || (car?.driver_id && this.kids.get(car.driver_id)?.name);
    return driver ? `${carId} · ${driver}` : carId;
  }

  setCars(cars, kids, arena) {
    this.cars = cars;
    this.kids = new Map(kids.map((k) => [k.kid_id, k]));
    if (arena) this.arena = arena;
    if (this.view?.setArena && arena) this.view.setArena(arena);
    if (this.view?.setLabel) for (const c of cars) this.view.setLabel(c.car_id, this.label(c.car_id));
    this.dirty = true;
  }

  onTelemetry(carId, t) {
    this.poses.set(carId, t.pose);
    this.alerts.set(carId, t.safety_state && t.safety_state !== 'ok');
    if (this.view?.update) this.view.update(carId, t);
    this.dirty = true;
  }

  draw() {
    if (this.view || !this.dirty || !this.box.isConnected || this.box.offsetParent === null) return;
    this.dirty = false;
    const m = prepare(this.canvas, this.arena);
    drawArena(m, this.arena);
    for (const [carId, pose] of this.poses) {
      drawCar(m, pose, { color: carColor(carId, this.cars), label: this.label(carId), alert: this.alerts.get(carId) });
    }
  }
}
