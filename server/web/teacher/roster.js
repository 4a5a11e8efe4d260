// The roster panel: one row per kid (level, lesson, stars, state, car) and the tools that act on
// several kids at once (whole-class level, share one car with the selected kids).
import { el, $, stars, fill } from './ui.js';

const LEVELS = [1, 2, 3, 4];

function stateBadge(kid) {
  if (kid.state === 'running') return el('span', { class: 'state running' }, 'running');
  if (kid.state === 'waiting') {
    const pos = kid.queue_position ? ` #${kid.queue_position}` : '';
    return el('span', { class: 'state waiting', title: 'Waiting for a turn on the shared car' }, `waiting${pos}`);
  }
  if (kid.connected === false) return el('span', { class: 'state offline' }, 'offline');
  return el('span', { class: 'state idle' }, 'idle');
}

export class Roster {
  /** actions: {setLevel(kidId, level), share(carId, kidIds), assign(carId, kidId), unassign(kidId)} */
  constructor(actions) {
    this.actions = actions;
    this.selected = new Set();
    this.known = new Set(); // kid ids already shown: new ones flash once when they join
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
    $('share-car').addEventListener('change', () => this.renderShareBar());
  }

  update(kids, cars) {
    this.kids = kids;
    this.cars = cars;
    const ids = new Set(kids.map((k) => k.kid_id));
    for (const id of this.selected) if (!ids.has(id)) this.selected.delete(id);
    this.render();
  }

  carSelect(kid) {
    const sel = el('select', { 'aria-label': `Car for ${kid.name}`, dataset: { kid: kid.kid_id } },
      el('option', { value: '' }, '— none —'),
      this.cars.map((car) => el('option', { value: car.car_id, selected: car.car_id === kid.car_id }, car.car_id)));
    sel.addEventListener('change', () => {
      sel.blur(); // done choosing: live updates may redraw the row again
      if (sel.value) this.actions.assign(sel.value, kid.kid_id);
      else this.actions.unassign(kid.kid_id);
    });
    return sel;
  }

  levelSelect(kid) {
    const sel = el('select', { 'aria-label': `Level for ${kid.name}`, dataset: { kid: kid.kid_id } },
      LEVELS.map((n) => el('option', { value: n, selected: n === kid.level }, `Level ${n}`)));
    sel.addEventListener('change', () => { sel.blur(); this.actions.setLevel(kid.kid_id, Number(sel.value)); });
    return sel;
  }

  row(kid) {
    const check = el('input', { type: 'checkbox', checked: this.selected.has(kid.kid_id), 'aria-label': `Select ${kid.name}` });
    check.addEventListener('change', () => {
      if (check.checked) this.selected.add(kid.kid_id); else this.selected.delete(kid.kid_id);
      this.renderShareBar();
    });
    const car = this.cars.find((c) => c.car_id === kid.car_id);
    const shared = car && (car.kid_ids?.length || 0) > 1;
    const lesson = kid.lesson ? (kid.lesson.title || kid.lesson.id) : '—';
    const isNew = !this.known.has(kid.kid_id);
    this.known.add(kid.kid_id);
    return el('tr', { class: isNew ? 'new' : '', dataset: { kid: kid.kid_id, state: kid.state || 'idle' } },
      el('td', { class: 'sel' }, check),
      el('td', {}, el('span', { class: 'kid-name' }, kid.name)),
      el('td', {}, this.levelSelect(kid)),
      el('td', { class: 'lesson-cell' }, lesson,
        kid.lessons_passed ? el('div', {}, `${kid.lessons_passed} lesson${kid.lessons_passed > 1 ? 's' : ''} passed`) : null),
      el('td', {}, stars(Math.min(3, kid.best_stars ?? kid.stars ?? 0)),
        el('span', { class: 'stars' }, el('span', { class: 'n' }, `${kid.stars ?? 0} total`))),
      el('td', { class: 'state-cell' }, stateBadge(kid)),
      el('td', {}, this.carSelect(kid), shared ? el('div', { class: 'shared-tag' }, `shared by ${car.kid_ids.length}`) : null),
    );
  }

  renderShareBar() {
    $('selected-count').textContent = String(this.selected.size);
    const current = $('share-car').value;
    fill($('share-car'), this.cars.map((c) => el('option', { value: c.car_id, selected: c.car_id === current }, c.car_id)));
    $('share-btn').disabled = !this.selected.size || !this.cars.length;
    $('select-all').checked = this.kids.length > 0 && this.selected.size === this.kids.length;
  }

  render() {
    // keep an open <select> alive while the teacher is using it: live updates must not steal the focus
    const focused = document.activeElement;
    if (focused && focused.closest('#roster-body') && focused.tagName === 'SELECT') {
      this.pending = true;
      focused.addEventListener('blur', () => { if (this.pending) { this.pending = false; this.render(); } }, { once: true });
      return;
    }
    fill($('roster-body'), this.kids.map((k) => this.row(k)));
    $('roster-empty').hidden = this.kids.length > 0;
    $('kid-count').textContent = String(this.kids.length);
    this.renderShareBar();
  }
}
