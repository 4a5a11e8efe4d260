// The attempts feed (newest first, live) and one attempt's evidence: program, trajectory over the
// arena, key frames, each check with its measured value, the coach's text, and the grade override.
// Data: GET /api/teacher/attempts (list), GET /api/attempts/{id} (detail), POST .../override.
import { el, $, fill, stars, clock, toast, openDialog } from './ui.js';

const FEED_MAX = 200; // a whole lesson's attempts stay scrollable

const isGraded = (a) => a.status === 'graded';

function num(v) {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(1);
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  return String(v);
}

// Units the checks report in the plural; one of them reads in the singular ("1 block", "1 cone").
const SINGULAR = { blocks: 'block', cones: 'cone', 'steering reversals': 'steering reversal' };

function withUnit(v, unit) {
  if (v === undefined || v === null || v === '') return '—';
  if (!unit) return num(v);
  return `${num(v)} ${Number(v) === 1 && SINGULAR[unit] ? SINGULAR[unit] : unit}`;
}

export class Attempts {
  /**
   * actions: {open(id) -> detail, override(id, stars, comment) -> {feedback}}
   * names: {kid(id) -> name, lesson(id) -> title}
   */
  constructor(actions, names) {
    this.actions = actions;
    this.names = names;
    this.list = [];
    this.known = null; // attempt ids already shown: new ones flash once
    this.openId = null;
    $('attempt-dialog').addEventListener('close', () => { this.openId = null; });
  }

  update(list) {
    this.list = list.slice(0, FEED_MAX);
    this.render();
    if (this.openId && this.detailPending) {
      const a = this.list.find((x) => x.attempt_id === this.openId);
      if (a && isGraded(a)) this.open(this.openId); // it was still being graded when opened
    }
  }

  item(a) {
    const isNew = this.known !== null && !this.known.has(a.attempt_id);
    const result = !isGraded(a) ? el('span', { class: 'pending' }, a.status === 'recording' ? 'driving…' : 'grading…')
      : el('span', { class: `result ${a.passed ? 'pass' : 'fail'}` }, a.passed ? 'passed' : 'not yet');
    return el('li', { class: isNew ? 'new' : '', dataset: { attempt: a.attempt_id, status: a.status } },
      el('button', { onclick: () => this.open(a.attempt_id) },
        el('span', { class: 'who' }, this.names.kid(a.kid_id)),
        isGraded(a) ? stars(a.stars) : el('span'),
        el('span', { class: 'lesson' }, this.names.lesson(a.lesson_id), ' · ', clock(a.ended_at || a.started_at)),
        el('span', {}, result, a.overridden ? el('span', { class: 'overridden', title: 'Grade changed by the teacher' }, ' ✎ teacher') : null)));
  }

  render() {
    fill($('attempt-list'), this.list.map((a) => this.item(a)));
    this.known = new Set(this.list.map((a) => a.attempt_id));
    $('attempts-empty').hidden = this.list.length > 0;
  }

  async open(id) {
    this.openId = id;
    const dialog = $('attempt-dialog');
    if (!dialog.open) {
      fill($('attempt-detail'), [el('p', {}, 'Loading the attempt…')]);
      openDialog(dialog);
    }
    let detail;
    try {
      detail = await this.actions.open(id);
    } catch (e) {
      fill($('attempt-detail'), [el('p', { class: 'form-error' }, e.message)]);
      return;
    }
    if (this.openId !== id) return;
    this.detailPending = !isGraded(detail);
    this.renderDetail(detail);
  }

  checksTable(checks) {
    if (!checks.length) return el('p', { class: 'empty' }, 'No checks yet: the attempt is still being graded.');
    return el('table', { class: 'checks' },
      el('thead', {}, el('tr', {}, el('th', {}, ''), el('th', {}, 'Check'), el('th', {}, 'Measured'), el('th', {}, 'Needed'))),
      el('tbody', {}, checks.map((c) => el('tr', { dataset: { check: c.id || c.kind || '' } },
        el('td', { class: c.passed ? 'ok' : 'no', 'aria-label': c.passed ? 'passed' : 'failed' }, c.passed ? '✓' : '✗'),
        el('td', {}, c.kid_text || c.id || c.kind, c.required === false ? el('span', { class: 'coach-note' }, ' (extra star)') : null),
        el('td', { class: 'measured' }, withUnit(c.measured, c.unit)),
        el('td', {}, withUnit(c.threshold, c.unit))))));
  }

  overrideForm(a) {
    let chosen = a.override?.stars ?? a.stars ?? 0;
    const picker = el('div', { class: 'star-pick', role: 'radiogroup', 'aria-label': 'Stars' },
      [0, 1, 2, 3].map((n) => {
        const input = el('input', { type: 'radio', name: 'override-stars', value: n, checked: n === chosen, 'aria-label': `${n} stars` });
        input.addEventListener('change', () => { chosen = n; paint(); });
        return el('label', { title: `${n} stars`, dataset: { n } }, input, el('span', {}, n === 0 ? '0' : '★'));
      }));
    const paint = () => picker.querySelectorAll('label').forEach((l) => {
      const n = Number(l.dataset.n);
      l.classList.toggle('on', n > 0 && n <= chosen);
      l.classList.toggle('zero', n === 0 && chosen === 0);
    });
    paint();
    const comment = el('textarea', { id: 'override-comment', maxlength: 300,
      placeholder: 'A short note the kid will see, e.g. "So close! The garage line was hard to see."' }, a.override?.comment || '');
    const save = el('button', { class: 'btn primary', type: 'button', id: 'override-save' }, 'Save grade');
    const status = el('p', { class: 'coach-note', role: 'status', id: 'override-status' },
      a.override ? `Changed by the teacher from ${a.override.original_stars ?? a.judge_stars} to ${a.override.stars} ★.` : `The judge gave ${a.judge_stars ?? 0} ★.`);
    save.addEventListener('click', async () => {
      save.disabled = true;
      try {
        const res = await this.actions.override(a.attempt_id, chosen, comment.value.trim());
        status.textContent = `Saved: ${res?.feedback?.stars ?? chosen} ★ — ${this.names.kid(a.kid_id)} sees it now.`;
        toast('Grade saved', `${this.names.kid(a.kid_id)} now sees ${chosen} ★.`, 'ok');
      } catch (e) {
        status.textContent = e.message;
      } finally {
        save.disabled = false;
      }
    });
    return el('section', { class: 'override' }, el('h3', {}, 'Change the grade'),
      el('div', { class: 'row' }, picker, save), comment, status);
  }

  renderDetail(a) {
    const fb = a.feedback || {};
    const checks = fb.checks || a.verdict?.checks || [];
    const coach = fb.text || a.coach?.text || '';
    const source = fb.source || a.coach?.source || '';
    const images = a.images || {};
    const program = a.program_text || (typeof a.program === 'string' ? a.program : a.program ? JSON.stringify(a.program, null, 2) : '');
    fill($('attempt-detail'), [
      el('div', { class: 'detail-head' },
        el('h1', {}, `${this.names.kid(a.kid_id)} · ${this.names.lesson(a.lesson_id)}`),
        el('div', { class: 'detail-result' }, isGraded(a) ? stars(a.stars) : null, ' ',
          el('b', { class: `result ${a.passed ? 'pass' : 'fail'}` }, isGraded(a) ? (a.passed ? 'passed' : 'not yet') : 'grading…'),
          el('div', { class: 'coach-note' }, `${clock(a.started_at)} · ${a.source || ''} · ended: ${(a.end_reason || '').replace(/_/g, ' ')}`))),
      el('div', { class: 'detail-grid' },
        el('section', {}, el('h3', {}, 'Program'), el('pre', { class: 'program', id: 'attempt-program' }, program || '(no program recorded)')),
        el('section', {}, el('h3', {}, 'Trajectory'),
          images.overlay ? el('img', { class: 'trajectory', src: images.overlay, alt: 'The path the car drove, drawn over the arena' })
            : el('p', { class: 'empty' }, isGraded(a) ? 'No trajectory picture for this attempt.' : 'Drawn when grading is done.'))),
      el('section', {}, el('h3', {}, 'Checks'), this.checksTable(checks)),
      el('section', {}, el('h3', {}, 'Coach'),
        coach ? el('blockquote', { class: 'coach', id: 'attempt-coach' }, coach) : el('p', { class: 'empty' }, 'No feedback yet.'),
        source ? el('div', { class: 'coach-note' }, source === 'checks'
          ? 'Written from the checks alone (the vision model was not available).' : `Written by the coach (${source}).`) : null,
        fb.teacher_comment ? el('p', { class: 'overridden' }, `Your note: “${fb.teacher_comment}”`) : null),
      (images.key_frames || []).length ? el('section', {}, el('h3', {}, 'Key frames'),
        el('div', { class: 'frames' }, images.key_frames.map((src, i) => el('figure', {},
          el('img', { src, alt: `Key frame ${i + 1}`, loading: 'lazy' }), el('figcaption', {}, `frame ${i + 1}`))))) : null,
      isGraded(a) ? this.overrideForm(a) : null,
    ]);
  }
}
