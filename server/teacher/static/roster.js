// The roster panel: one row per kid (level, lesson, stars, state, car) and the tools that act on
// several kids at once (share one car with the selected kids). Rows are built once per kid and
// updated in place, so live updates never swallow a click or close a menu the teacher has open.
import { el, $, stars, fill } from './ui.js';

const LEVELS = [1, 2, 3, 4];

/** What the kid is doing now, their car included: an e-stopped or lost car is why nothing moves. */
function stateBadge(kid, car) {
  if (kid.state === 'running') return el('span', { class: 'state running' }, 'running');
  if (kid.state === 'waiting') {
    const pos = kid.queue_position ? ` #${kid.queue_position}` : '';
    return el('span', { class: 'state waiting', title: 'Waiting for a turn on the shared car' }, `waiting${pos}`);
  }
  if (car?.estop) return el('span', { class: 'state estop', title: `${car.car_id} is stopped until you press Reset or Resume all` }, 'e-stopped');
  if (car && car.connected === false) return el('span', { class: 'state lost', title: `${car.car_id} is off or lost its connection` }, 'car lost');
  if (kid.connected === false) return el('span', { class: 'state offline' }, 'offline');
  return el('span', { class: 'state idle' }, 'idle');
}

export class Roster {
  /** actions: {setLevel(kidId, level), share(carId, kidIds), assign(carId, kidId), unassign(kidId), remove(kidId)};
   * colorOf(carId): the car's one colour (its dot in the row) */
  constructor(actions, colorOf = () => null) {
    this.actions = actions;
    this.colorOf = colorOf;
    this.selected = new Set();
    this.rows = new Map(); // kid_id -> {tr, cells...}
    this.kids = [];
    this.cars = [];
    $('select-all').addEventListener('change', (e) => {
      this.selected = e.target.checked ? new Set(this.kids.map((k) => k.kid_id)) : new Set();
      this.render();
    });
    $('share-btn').addEventListener('click', () => {
      const carId = $('share-car').value;
      // turn order = roster order, so the queue is predictable for the kids
      const kidIds = this.kids.map((k) => k.kid_id).filter((id) => this.selected.has(id));
      if (carId && kidIds.length) this.actions.share(carId, kidIds);
    });
  }

  update(kids, cars) {
    this.kids = kids;
    this.cars = cars;
    const ids = new Set(kids.map((k) => k.kid_id));
    for (const id of this.selected) if (!ids.has(id)) this.selected.delete(id);
    this.render();
  }

  row(kid) {
    if (this.rows.has(kid.kid_id)) return this.rows.get(kid.kid_id);
    const id = kid.kid_id;
    const r = {
      check: el('input', { type: 'checkbox', 'aria-label': `Select ${kid.name}` }),
      level: el('select', { 'aria-label': `Level for ${kid.name}`, dataset: { kid: id } },
        LEVELS.map((n) => el('option', { value: n }, String(n)))),
      car: el('select', { 'aria-label': `Car for ${kid.name}`, dataset: { kid: id } }),
      lesson: el('td', { class: 'lesson-cell' }),
      stars: el('td', {}),
      state: el('td', { class: 'state-cell' }),
      shared: el('span', { class: 'shared-tag' }),
      dot: el('span', { class: 'car-dot', 'aria-hidden': 'true' }),
      carIds: '',
      remove: el('button', { class: 'btn ghost small remove-kid', type: 'button', title: `Remove ${kid.name} from the class`,
        'aria-label': `Remove ${kid.name} from the class`, dataset: { kid: id } }, '✕'),
    };
    r.remove.addEventListener('click', () => this.actions.remove(id));
    r.check.addEventListener('change', () => {
      if (r.check.checked) this.selected.add(id); else this.selected.delete(id);
      this.renderShareBar();
    });
    r.level.addEventListener('change', () => { r.level.blur(); this.actions.setLevel(id, Number(r.level.value)); });
    r.car.addEventListener('change', () => {
      r.car.blur();
      if (r.car.value) this.actions.assign(r.car.value, id); else this.actions.unassign(id);
    });
    r.tr = el('tr', { class: this.rendered ? 'new' : '', dataset: { kid: id } }, // flash kids who join, not the first list
      el('td', { class: 'sel' }, r.check),
      el('td', {}, el('div', { class: 'name-cell' }, el('span', { class: 'kid-name' }, kid.name), r.remove)),
      el('td', {}, r.level), r.lesson, r.stars, r.state, el('td', {}, el('div', { class: 'car-cell' }, r.dot, r.car, r.shared)));
    setTimeout(() => r.tr.classList.remove('new'), 2000); // the arrival flash plays once
    this.rows.set(id, r);
    return r;
  }

  paint(kid) {
    const r = this.row(kid);
    r.tr.dataset.state = kid.state || 'idle';
    r.check.checked = this.selected.has(kid.kid_id);
    if (document.activeElement !== r.level) r.level.value = String(kid.level);
    const carIds = this.cars.map((c) => c.car_id).join();
    if (carIds !== r.carIds) { // the car list changed: rebuild the menu
      r.carIds = carIds;
      fill(r.car, [el('option', { value: '' }, '— none —'), ...this.cars.map((c) => el('option', { value: c.car_id }, c.car_id))]);
    }
    if (document.activeElement !== r.car) r.car.value = kid.car_id || '';
    const car = this.cars.find((c) => c.car_id === kid.car_id);
    r.dot.style.setProperty('--car-color', kid.car_id ? this.colorOf(kid.car_id) : 'transparent');
    const sharers = car?.kid_ids?.length || 0;
    r.shared.textContent = sharers > 1 ? `×${sharers}` : ''; // one line per kid: 30 kids fit
    r.shared.title = sharers > 1 ? `shared by ${sharers}` : '';
    r.shared.hidden = sharers <= 1;
    const passed = kid.lessons_passed ? ` · ${kid.lessons_passed} passed` : '';
    r.lesson.textContent = `${kid.lesson ? (kid.lesson.title || kid.lesson.id) : '—'}${passed}`; // one line: 30 kids fit
    r.lesson.title = r.lesson.textContent;
    fill(r.stars, [stars(Math.min(3, kid.best_stars ?? 0))]);
    r.stars.title = `${kid.stars ?? 0} stars in all`;
    fill(r.state, [stateBadge(kid, car)]);
    return r.tr;
  }

  renderShareBar() {
    $('selected-count').textContent = String(this.selected.size);
    const current = $('share-car').value;
    const ids = this.cars.map((c) => c.car_id).join();
    if ($('share-car').dataset.cars !== ids) {
      $('share-car').dataset.cars = ids;
      fill($('share-car'), this.cars.map((c) => el('option', { value: c.car_id }, c.car_id)));
      if (current) $('share-car').value = current;
    }
    $('share-btn').disabled = !this.selected.size || !this.cars.length;
    $('select-all').checked = this.kids.length > 0 && this.selected.size === this.kids.length;
  }

  render() {
    const wanted = this.kids.map((k) => this.paint(k));
    const body = $('roster-body');
    if (wanted.length !== body.children.length || wanted.some((tr, i) => body.children[i] !== tr)) fill(body, wanted);
    const ids = new Set(this.kids.map((k) => k.kid_id));
    for (const id of [...this.rows.keys()]) if (!ids.has(id)) this.rows.delete(id);
    $('roster-empty').hidden = this.kids.length > 0;
    this.rendered = true;
    $('kid-count').textContent = String(this.kids.length);
    this.renderShareBar();
  }
}
