// The live arena panel: the server's shared ArenaView (/arena/arena.js) fed by the teacher socket,
// every car labelled with its driver's name ("car-1 · Mia") in its one colour (the same as its card,
// its roster dot and the /arena/ page). A car a lesson has put into its own arena is drawn on that
// map: one tile per map in use (the class's arena, "breakfast run", ...), named in its corner.
import { ArenaView, carColor } from '/arena/arena.js';
import { el } from './ui.js';

export class LiveArena {
  constructor(box) {
    this.box = box;
    this.socket = null;
    this.tiles = []; // [{name, carIds, view}]
    this.layout = ''; // the grouping the tiles were built for
    this.groups = [{ name: '', carIds: null }]; // before the board arrives: every car on the class's map
    this.labels = new Map();
  }

  /** (Re)attach to a /teacher socket: telemetry and safety events drive the views. */
  attach(socket) {
    this.socket = socket;
    this.build();
  }

  detach() {
    for (const tile of this.tiles) tile.view.destroy();
    this.tiles = [];
    this.socket = null;
  }

  /** A car's colour: the same everywhere (cards, roster, every arena view). */
  colorOf(carId) {
    return carColor(carId);
  }

  setCars(cars, kids) {
    const names = new Map(kids.map((k) => [k.kid_id, k.name]));
    for (const car of cars) {
      const driver = car.driver_name || names.get(car.driver_id);
      const sharers = (car.kid_ids || []).map((id) => names.get(id)).filter(Boolean);
      // the driver if someone is driving, else who the car belongs to
      const who = driver || (sharers.length === 1 ? sharers[0] : sharers.length ? `${sharers.length} kids` : '');
      this.labels.set(car.car_id, who ? `${car.car_id} · ${who}` : car.car_id);
    }
    const lessonMaps = new Map();
    for (const car of cars.filter((c) => c.in_lesson_arena)) {
      if (!lessonMaps.has(car.arena_name)) lessonMaps.set(car.arena_name, []);
      lessonMaps.get(car.arena_name).push(car.car_id);
    }
    const onClassMap = cars.filter((c) => !c.in_lesson_arena).map((c) => c.car_id);
    this.groups = lessonMaps.size
      ? [...(onClassMap.length ? [{ name: 'class arena', carIds: onClassMap }] : []),
        ...[...lessonMaps].map(([name, carIds]) => ({ name, carIds }))]
      : [{ name: '', carIds: null }]; // every car, also one the board does not know yet
    const layout = JSON.stringify(this.groups);
    if (layout !== this.layout) this.build();
    for (const tile of this.tiles) for (const [carId, text] of this.labels) tile.view.setLabel(carId, text);
  }

  build() {
    for (const tile of this.tiles) tile.view.destroy();
    this.layout = JSON.stringify(this.groups);
    if (!this.socket) return;
    this.box.style.setProperty('--arena-cols', String(this.groups.length <= 2 ? 1 : 2)); // two maps: one above the other
    this.tiles = this.groups.map((group) => {
      const canvas = el('canvas', { 'aria-label': group.name ? `Arena: ${group.name}` : 'Live arena with every car' });
      const tile = el('div', { class: 'arena-tile', dataset: { arena: group.name || 'class' } }, canvas,
        group.name ? el('span', { class: 'arena-tile-name' }, group.name) : null);
      return { ...group, tile, view: new ArenaView(canvas, { socket: this.socket, carIds: group.carIds }) };
    });
    this.box.replaceChildren(...this.tiles.map((t) => t.tile));
    for (const tile of this.tiles) for (const [carId, text] of this.labels) tile.view.setLabel(carId, text);
  }
}
