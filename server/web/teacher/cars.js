// Cars: one card per car (driver, queue, live safety state, stop and reset buttons) and the
// safety list that records every intervention with the car and the kid's sentence.
import { el, $, fill, toast, clock } from './ui.js';

export const CAR_COLORS = ['#2563eb', '#db2777', '#059669', '#d97706', '#7c3aed', '#0891b2', '#dc2626', '#65a30d'];
const SAFETY_LIST_MAX = 60; // a lesson's worth of interventions; older ones scroll away
const TOAST_REPEAT_MS = 4000; // the same car+reason toasts at most this often (a wall keeps triggering)

export function carColor(carId, cars) {
  const i = cars.findIndex((c) => c.car_id === carId);
  return CAR_COLORS[(i < 0 ? 0 : i) % CAR_COLORS.length];
}

export class Cars {
  /** actions: {stop(carId), reset(carId)} */
  constructor(actions) {
    this.actions = actions;
    this.cars = [];
    this.kidsById = new Map();
    this.telemetry = new Map();
    this.lastToast = new Map();
    this.events = [];
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
      const meta = document.querySelector(`.car[data-car="${CSS.escape(carId)}"] .car-meta`);
      if (meta) meta.textContent = this.metaText(t);
    }
  }

  onSafety(carId, ev) {
    const car = this.cars.find((c) => c.car_id === carId);
    const driver = car ? this.driverName(car) : null;
    const entry = { carId, driver, reason: ev.reason, text: ev.kid_text || ev.reason, detail: ev.detail || '', at: new Date() };
    this.events.unshift(entry);
    this.events.length = Math.min(this.events.length, SAFETY_LIST_MAX);
    this.renderSafety();
    const key = `${carId}:${ev.reason}`;
    const now = Date.now();
    if (now - (this.lastToast.get(key) || 0) > TOAST_REPEAT_MS) {
      this.lastToast.set(key, now);
      toast(`${carId}${driver ? ` · ${driver}` : ''}`, entry.text, ev.reason === 'estop' ? 'error' : 'warn');
    }
  }

  renderSafety() {
    fill($('safety-list'), this.events.map((e) => el('li', { class: e.reason === 'estop' ? 'estop' : '', title: e.detail },
      el('span', { class: 'who' }, e.carId, e.driver ? ` · ${e.driver}` : ''),
      el('span', { class: 'what' }, e.text),
      el('time', {}, clock(e.at)))));
    $('safety-empty').hidden = this.events.length > 0;
  }

  card(car) {
    const t = this.telemetry.get(car.car_id);
    const safety = car.estop ? 'estop' : (t?.safety_state || 'ok');
    const moving = t && Math.abs(t.speed_cm_s || 0) > 1;
    const driver = this.driverName(car);
    const queue = (car.queue || []).map((id) => this.kidsById.get(id)?.name || id);
    const badge = safety === 'estop' ? el('span', { class: 'badge estop' }, 'E-STOP')
      : safety !== 'ok' ? el('span', { class: `badge ${safety}` }, safety)
      : moving ? el('span', { class: 'badge moving' }, 'moving') : el('span', { class: 'badge' }, car.connected === false ? 'offline' : 'ready');
    return el('div', {
      class: `car${safety === 'estop' ? ' estop' : ''}${car.connected === false ? ' offline' : ''}`,
      style: `--car-color: ${carColor(car.car_id, this.cars)}`, dataset: { car: car.car_id, safety },
    },
      el('div', { class: 'car-top' }, el('span', { class: 'car-id' }, car.car_id), badge),
      el('div', { class: 'car-driver' }, driver ? `Driver: ${driver}` : (car.kid_ids?.length ? 'Nobody driving' : 'Not assigned')),
      queue.length ? el('div', { class: 'car-queue' }, `Next: ${queue.join(', ')}`) : null,
      el('div', { class: 'car-meta' }, t ? this.metaText(t) : (car.connected === false ? 'not connected' : 'no telemetry yet')),
      el('div', { class: 'car-actions' },
        el('button', { class: 'btn danger small', onclick: () => this.actions.stop(car.car_id), title: `Stop ${car.car_id} now` }, '■ Stop'),
        el('button', { class: 'btn small', onclick: () => this.actions.reset(car.car_id), title: 'Clear the emergency stop so the car can drive again' }, '↺ Reset')),
    );
  }

  metaText(t) {
    return `x ${t.pose.x_cm.toFixed(0)} · y ${t.pose.y_cm.toFixed(0)} cm · ${Math.abs(t.speed_cm_s).toFixed(0)} cm/s`;
  }

  renderCar(carId) {
    const car = this.cars.find((c) => c.car_id === carId);
    const old = document.querySelector(`.car[data-car="${CSS.escape(carId)}"]`);
    if (car && old) old.replaceWith(this.card(car));
  }

  render() {
    fill($('cars'), this.cars.map((c) => this.card(c)));
    $('car-count').textContent = String(this.cars.length);
  }
}
