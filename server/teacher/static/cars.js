// Cars: one card per car (driver, queue, live safety state, stop and reset buttons) and the
// safety list that records every intervention with the car and the kid's sentence.
import { el, $, fill, toast, clock } from './ui.js';

const SAFETY_LIST_MAX = 60; // a lesson's worth of interventions; older ones scroll away
const TOAST_REPEAT_MS = 4000; // the same car+reason toasts at most this often (a wall keeps triggering)
const REPEAT_WINDOW_MS = 30_000; // the same intervention again within this is counted on its row, not listed again
// where a car's position comes from (telemetry pose_source; a car of protocol 1 does not say)
const POSE_SOURCE_WORDS = { sim: 'simulator', camera: 'camera', encoder: 'wheel encoder', speed_model: 'speed model' };

export class Cars {
  /** actions: {stop(carId), reset(carId)}; colorOf(carId): the car's colour on the arena */
  constructor(actions, colorOf = () => null) {
    this.actions = actions;
    this.colorOf = colorOf;
    this.cars = [];
    this.kidsById = new Map();
    this.telemetry = new Map();
    this.lastToast = new Map();
    this.events = [];
    this.cards = new Map(); // car_id -> its card element (kept across updates)
    this.refused = new Map(); // car_id -> {at, address, count}: second connections refused for this car
    $('safety-clear').addEventListener('click', () => { this.events = []; this.renderSafety(); });
  }

  update(cars, kids) {
    this.cars = cars;
    this.kidsById = new Map(kids.map((k) => [k.kid_id, k]));
    this.render();
  }

  driverName(car) {
    if (car.driver_name) return car.driver_name;
    const kid = car.driver_id && this.kidsById.get(car.driver_id);
    return kid ? kid.name : null;
  }

  onTelemetry(carId, t) {
    const before = this.telemetry.get(carId);
    this.telemetry.set(carId, t);
    const moving = (x) => Boolean(x) && Math.abs(x.speed_cm_s || 0) > 1;
    if (!before || before.safety_state !== t.safety_state || moving(before) !== moving(t)) this.renderCar(carId);
    else {
      const node = this.cards.get(carId);
      if (node) node.parts.meta.textContent = this.metaText(t);
    }
  }

  onSafety(carId, ev) {
    const car = this.cars.find((c) => c.car_id === carId);
    const driver = car ? this.driverName(car) : null;
    const text = ev.kid_text || ev.reason;
    const now = new Date();
    // a latched stop or a wall keeps reporting: the same car and reason again is one row (latest words, counted)
    const same = this.events.find((e) => e.carId === carId && e.reason === ev.reason && now - e.at < REPEAT_WINDOW_MS);
    if (same) {
      Object.assign(same, { count: same.count + 1, at: now, text, detail: ev.detail || '', driver: driver || same.driver });
      this.events.splice(this.events.indexOf(same), 1);
      this.events.unshift(same);
    } else {
      this.events.unshift({ carId, driver, reason: ev.reason, text, detail: ev.detail || '', at: now, count: 1 });
      this.events.length = Math.min(this.events.length, SAFETY_LIST_MAX);
    }
    this.renderSafety();
    // an emergency stop has its own big toast (STOP ALL); everything else pops up once per car and reason
    const key = `${carId}:${ev.reason}`;
    if (ev.reason !== 'estop' && Date.now() - (this.lastToast.get(key) || 0) > TOAST_REPEAT_MS) {
      this.lastToast.set(key, Date.now());
      toast(`${carId}${driver ? ` · ${driver}` : ''}`, text, 'warn');
    }
  }

  /** A second connection with this car's token was refused (server/cars/hub.py): a row in the list, a toast,
   * and a warning on the car's card that stays until the console is reloaded. */
  onRefused(carId, msg) {
    this.refused.set(carId, { at: new Date(), address: msg.address || '', count: (this.refused.get(carId)?.count || 0) + 1 });
    this.onSafety(carId, { reason: msg.rule || 'car_in_use', kid_text: msg.kid_text, detail: msg.message || '' });
    this.renderCar(carId);
  }

  renderSafety() {
    fill($('safety-list'), this.events.map((e) => el('li', { class: e.reason === 'estop' ? 'estop' : '', title: e.detail },
      el('span', { class: 'who' }, e.carId, e.driver ? ` · ${e.driver}` : ''),
      el('span', { class: 'what' }, e.text, e.count > 1 ? el('span', { class: 'count' }, ` ×${e.count}`) : null),
      el('time', {}, clock(e.at)))));
    $('safety-empty').hidden = this.events.length > 0;
  }

  /** A car's card is built once and then updated in place: a Stop click never lands on a vanished button. */
  card(carId) {
    if (this.cards.has(carId)) return this.cards.get(carId);
    const parts = {
      id: el('span', { class: 'car-id' }, carId),
      badge: el('span', { class: 'badge' }),
      driver: el('div', { class: 'car-driver' }),
      queue: el('div', { class: 'car-queue' }),
      meta: el('div', { class: 'car-meta', title: 'Where the car is, and how it knows: ± how far off it may be' }),
      alert: el('div', { class: 'car-alert', role: 'status', hidden: true }),
    };
    const node = el('div', { class: 'car', dataset: { car: carId } },
      el('div', { class: 'car-top' }, parts.id, parts.badge), parts.driver, parts.queue, parts.meta, parts.alert,
      el('div', { class: 'car-actions' },
        el('button', { class: 'btn danger small', onclick: () => this.actions.stop(carId), title: `Stop ${carId} now` }, '■ Stop'),
        el('button', { class: 'btn small', onclick: () => this.actions.reset(carId), title: 'Clear the emergency stop so the car can drive again' }, '↺ Reset')));
    node.parts = parts;
    this.cards.set(carId, node);
    return node;
  }

  paint(car) {
    const node = this.card(car.car_id);
    const { badge, driver, queue, meta } = node.parts;
    const t = this.telemetry.get(car.car_id);
    const safety = car.estop ? 'estop' : (t?.safety_state || 'ok');
    const moving = t && Math.abs(t.speed_cm_s || 0) > 1;
    const name = this.driverName(car);
    const waiting = (car.queue || []).map((id) => this.kidsById.get(id)?.name || id);
    const [badgeClass, badgeText] = safety === 'estop' ? ['estop', 'E-STOP'] : safety !== 'ok' ? [safety, safety]
      : moving ? ['moving', 'moving'] : ['', car.connected === false ? 'offline' : 'ready'];
    badge.className = `badge ${badgeClass}`.trim();
    badge.textContent = badgeText;
    node.className = `car${safety === 'estop' ? ' estop' : ''}${car.connected === false ? ' offline' : ''}`;
    node.dataset.safety = safety;
    const color = this.colorOf(car.car_id);
    if (color) node.style.setProperty('--car-color', color);
    driver.textContent = name ? `Driver: ${name}` : (car.kid_ids?.length ? 'Nobody driving' : 'Not assigned');
    queue.textContent = waiting.length ? `Next: ${waiting.join(', ')}` : '';
    queue.hidden = !waiting.length;
    meta.textContent = t ? this.metaText(t) : (car.connected === false ? 'not connected' : 'no telemetry yet');
    // the live event, or the board's record of it (a console opened later, or a socket event that was lost)
    const known = car.refused && { at: new Date(car.refused.t * 1000), address: car.refused.address || '', count: car.refused.count };
    const refused = this.refused.get(car.car_id) || known;
    node.parts.alert.hidden = !refused;
    if (refused) {
      node.parts.alert.textContent = `⚠ A second device tried to connect as ${car.car_id}${refused.count > 1 ? ` (${refused.count}×)` : ''}`
        + ` at ${clock(refused.at)}${refused.address ? ` from ${refused.address}` : ''}: refused. Pair the car again if that was not you.`;
    }
  }

  metaText(t) {
    const where = `x ${t.pose.x_cm.toFixed(0)} · y ${t.pose.y_cm.toFixed(0)} cm · ${Math.abs(t.speed_cm_s).toFixed(0)} cm/s`;
    const source = POSE_SOURCE_WORDS[t.pose_source];
    if (!source || t.pose_source === 'sim') return source ? `${where} · ${source}` : where;
    return `${where} · ±${Math.round(t.pose_uncertainty_cm ?? 0)} cm (${source})`; // how far off it may be, and why
  }

  renderCar(carId) {
    const car = this.cars.find((c) => c.car_id === carId);
    if (car) this.paint(car);
  }

  render() {
    for (const car of this.cars) this.paint(car);
    const wanted = this.cars.map((c) => this.card(c.car_id));
    const box = $('cars');
    if (wanted.length !== box.children.length || wanted.some((node, i) => box.children[i] !== node)) fill(box, wanted);
    $('car-count').textContent = String(this.cars.length);
  }
}
