// The live arena panel: the server's shared ArenaView (/arena/arena.js) fed by the teacher socket,
// with every car labelled with its driver's name ("car-1 · Mia") and the same colour as its card.
import { ArenaView } from '/arena/arena.js';

export class LiveArena {
  constructor(box) {
    this.box = box;
    this.canvas = document.createElement('canvas');
    this.canvas.setAttribute('aria-label', 'Live arena with every car');
    box.append(this.canvas);
    this.view = null;
    this.labels = new Map();
  }

  /** (Re)attach to a /teacher socket: telemetry and safety events drive the view. */
  attach(socket) {
    this.view?.destroy();
    this.view = new ArenaView(this.canvas, { socket });
    for (const [carId, text] of this.labels) this.view.setLabel(carId, text);
  }

  detach() {
    this.view?.destroy();
    this.view = null;
  }

  /** The view's colour for a car, so its card and its shape on the arena match. */
  colorOf(carId) {
    return this.view ? this.view.car(carId).color : null;
  }

  setCars(cars, kids) {
    const names = new Map(kids.map((k) => [k.kid_id, k.name]));
    for (const car of cars) {
      const driver = car.driver_name || names.get(car.driver_id);
      const sharers = (car.kid_ids || []).map((id) => names.get(id)).filter(Boolean);
      // the driver if someone is driving, else who the car belongs to
      const who = driver || (sharers.length === 1 ? sharers[0] : sharers.length ? `${sharers.length} kids` : '');
      const text = who ? `${car.car_id} · ${who}` : car.car_id;
      this.labels.set(car.car_id, text);
      this.view?.setLabel(car.car_id, text);
    }
  }
}
