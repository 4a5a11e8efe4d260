// The car takes the stage's column: the live arena lies exactly over Scratch's stage (where the cat is)
// and the car panel (the kid, the lesson card, the status, room for "Tell the car") over the sprite pane
// under it. scratch-gui lays its stage out from the window, so we follow its boxes as they move (stage
// size buttons, window resizes). "Scratch stage" hides the column for sprites and costumes;
// "Back to my car" brings it back.
import { ArenaView } from '/arena/arena.js';

const PLACE_EVERY_MS = 500; // a cheap check in case scratch-gui moved its stage without a resize

const STAGE = '[class*="stage-wrapper_stage-canvas-wrapper"]';
const SPRITE_PANE = '[class*="target-pane_target-pane"]';

export class CarColumn {
  /** $: id -> element; socket: the kid's /kid socket.io connection */
  constructor($, socket) {
    this.$ = $;
    this.socket = socket;
    this.carId = null;
    this.view = null;
    this.shown = true;
    $('stage-toggle').addEventListener('click', () => this.show(false));
    $('back-to-car').addEventListener('click', () => this.show(true));
    socket.on('telemetry', (t) => this.readout(t));
    window.addEventListener('resize', () => this.place());
    setInterval(() => this.place(), PLACE_EVERY_MS);
  }

  /** Follow this car (the kid's; it changes when the teacher reassigns). */
  follow(carId) {
    if (carId === this.carId && this.view) return;
    this.carId = carId || null;
    this.view?.destroy();
    this.view = new ArenaView(this.$('arena'), { socket: this.socket, carId: this.carId });
    window.arenaView = this.view; // for the browser tests and curious teachers
    for (const id of ['read-x', 'read-y', 'read-heading', 'read-distance']) this.$(id).textContent = '–';
  }

  readout(t) {
    if (!t || !t.pose || t.car_id !== this.carId) return;
    const $ = this.$;
    $('read-x').textContent = `${Math.round(t.pose.x_cm)} cm`;
    $('read-y').textContent = `${Math.round(t.pose.y_cm)} cm`;
    $('read-heading').textContent = `${Math.round(t.pose.heading_deg)}°`;
    $('read-distance').textContent = t.distance_cm == null ? 'nothing' : `${Math.round(t.distance_cm)} cm`;
  }

  show(on) {
    this.shown = on;
    this.$('car-column').hidden = !on;
    this.$('back-to-car').hidden = on;
    this.place();
  }

  /** Lay the column over the stage and the sprite pane, wherever scratch-gui has put them now. */
  place() {
    const stage = document.querySelector(STAGE);
    const pane = document.querySelector(SPRITE_PANE);
    if (!stage) return;
    const s = stage.getBoundingClientRect();
    const bottom = pane ? pane.getBoundingClientRect().bottom : window.innerHeight;
    const column = this.$('car-column');
    Object.assign(column.style, { left: `${s.left}px`, top: `${s.top}px`, width: `${s.width}px`, height: `${bottom - s.top}px` });
    this.$('arena-box').style.height = `${s.height}px`;
    const back = this.$('back-to-car');
    Object.assign(back.style, { left: `${s.left + 8}px`, top: `${s.top + 8}px` });
    if (this.view) this.view.dirty = true;
  }
}
