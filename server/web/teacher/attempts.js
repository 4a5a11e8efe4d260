// The attempts feed (newest first, live) and one attempt's evidence: program, trajectory over the
// arena, key frames, each check with its measured value, the coach's text, and the grade override.
import { el, $, fill, stars, clock, toast } from './ui.js';
import { drawTrajectory } from './trajectory.js';

const FEED_MAX = 200; // a whole lesson's attempts stay scrollable

function kidName(a) { return a.kid_name || a.name || a.kid?.name || a.kid_id || 'someone'; }
function lessonName(a) { return a.lesson_title || a.lesson?.title || a.lesson_id || 'free drive'; }
function effectiveStars(a) { return a.override?.stars ?? a.teacher_stars ?? a.stars ?? 0; }
function isGraded(a) { return a.passed !== undefined && a.passed !== null || a.stars !== undefined && a.stars !== null; }

/** A program snapshot as readable text: Python if the recorder kept it, else one block per line. */
export function programText(program) {
  if (program == null) return '(no program recorded)';
  if (typeof program === 'string') return program;
  if (program.python) return program.python;
  if (program.text) return program.text;
  const lines = [];
  const walk = (blocks, depth) => {
    for (const b of blocks || []) {
      if (!b || typeof b !== 'object') continue;
      const id = b.block || b.block_id || b.type || b.opcode || b.kind || '?';
      const args = b.args || b.fields || b.inputs || {};
      const argText = Object.entries(args).filter(([, v]) => typeof v !== 'object').map(([k, v]) => `${k}=${v}`).join(', ');
      lines.push(`${'    '.repeat(depth)}${id}(${argText})`);
      for (const key of ['body', 'children', 'do', 'substack', 'then', 'else']) if (Array.isArray(b[key])) walk(b[key], depth + 1);
    }
  };
  const list = Array.isArray(program) ? program : program.blocks || program.steps || program.program;
  if (Array.isArray(list)) walk(list, 0);
  return lines.length ? lines.join('\n') : JSON.stringify(program, null, 2);
}

function measuredText(c) {
  const v = c.measured ?? c.value ?? c.measurement;
  if (v === undefined || v === null) return '—';
  const unit = c.unit ? ` ${c.unit}` : '';
  const num = typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(1)) : (typeof v === 'boolean' ? (v ? 'yes' : 'no') : String(v));
  return num + unit;
}

function limitText(c) {
  const l = c.limit ?? c.threshold ?? c.expected ?? c.target;
  if (l === undefined || l === null) return '';
  return typeof l === 'object' ? JSON.stringify(l) : String(l) + (c.unit ? ` ${c.unit}` : '');
}

export class Attempts {
  /** actions: {open(id) -> Promise<detail>, override(id, stars, comment) -> Promise} */
  constructor(actions) {
    this.actions = actions;
    this.items = new Map();
    this.order = [];
    this.known = new Set();
    this.openId = null;
    $('attempt-dialog').addEventListener('close', () => { this.openId = null; });
  }

  reset(list) {
    this.items.clear();
    this.order = [];
    for (const a of list || []) this.upsert(a, { quiet: true });
    this.render();
  }

  upsert(a, { quiet = false } = {}) {
    const id = String(a.id ?? a.attempt_id);
    const before = this.items.get(id);
    this.items.set(id, { ...before, ...a, id });
    if (!before) this.order.unshift(id);
    if (this.order.length > FEED_MAX) this.items.delete(this.order.pop());
    if (quiet) { this.known.add(id); return; }
    this.render();
    if (this.openId === id && isGraded(a) && !isGraded(before || {})) this.open(id);
  }

  item(a) {
    const graded = isGraded(a);
    const isNew = !this.known.has(a.id);
    this.known.add(a.id);
    const result = !graded ? el('span', { class: 'pending' }, 'grading…')
      : el('span', { class: `result ${a.passed ? 'pass' : 'fail'}` }, a.passed ? 'passed' : 'not yet');
    return el('li', { class: isNew ? 'new' : '', dataset: { attempt: a.id } },
      el('button', { onclick: () => this.open(a.id) },
        el('span', { class: 'who' }, kidName(a)),
        graded ? stars(effectiveStars(a)) : el('span'),
        el('span', { class: 'lesson' }, lessonName(a), ' · ', clock(a.ended_at || a.graded_at || a.started_at || a.created_at)),
        el('span', {}, result, a.override ? el('span', { class: 'overridden', title: 'Changed by the teacher' }, ' ✎') : null)));
  }

  render() {
    const list = this.order.map((id) => this.items.get(id)).filter(Boolean);
    fill($('attempt-list'), list.map((a) => this.item(a)));
    $('attempts-empty').hidden = list.length > 0;
  }

  async open(id) {
    this.openId = String(id);
    const dialog = $('attempt-dialog');
    fill($('attempt-detail'), [el('p', {}, 'Loading the attempt…')]);
    if (!dialog.open) dialog.showModal();
    let detail;
    try {
      detail = await this.actions.open(id);
    } catch (e) {
      fill($('attempt-detail'), [el('p', { class: 'form-error' }, e.message)]);
      return;
    }
    if (this.openId !== String(id)) return;
    this.renderDetail({ ...this.items.get(String(id)), ...detail, id: String(id) });
  }

  renderDetail(a) {
    const checks = a.checks || a.results || [];
    const coach = a.coach?.text ?? a.coach_text ?? a.feedback?.text ?? a.feedback ?? '';
    const coachSource = a.coach?.source ?? a.feedback?.source ?? a.coach_source ?? '';
    const frames = a.frames || a.key_frames || [];
    const canvas = el('canvas', { class: 'trajectory', 'aria-label': 'Trajectory over the arena' });
    const overlay = a.overlay_url || a.trajectory_overlay_url;
    const trajectoryView = (a.trajectory?.length || !overlay) ? canvas
      : el('img', { class: 'trajectory', src: overlay, alt: 'Trajectory over the arena' });

    const starInputs = [1, 2, 3].map((n) => n);
    let chosen = effectiveStars(a);
    const picker = el('div', { class: 'star-pick', role: 'radiogroup', 'aria-label': 'Stars' },
      [0, ...starInputs].map((n) => {
        const input = el('input', { type: 'radio', name: 'override-stars', value: n, checked: n === chosen, 'aria-label': `${n} stars` });
        const label = el('label', { title: `${n} stars`, dataset: { n } }, input, el('span', {}, n === 0 ? '⊘' : '★'));
        input.addEventListener('change', () => { chosen = n; paint(); });
        return label;
      }));
    const paint = () => picker.querySelectorAll('label').forEach((l) => l.classList.toggle('on', Number(l.dataset.n) > 0 && Number(l.dataset.n) <= chosen));
    paint();
    const comment = el('textarea', { id: 'override-comment', maxlength: 500, placeholder: 'A short note for the kid, e.g. "Great parking — the box was drawn too small!"' },
      a.override?.comment || '');
    const saveBtn = el('button', { class: 'btn primary', type: 'button', id: 'override-save' }, 'Save grade');
    const status = el('span', { class: 'coach-note', role: 'status' },
      a.override ? `Changed by the teacher: ${a.override.stars} ★${a.override.comment ? ` — “${a.override.comment}”` : ''}` : '');
    saveBtn.addEventListener('click', async () => {
      saveBtn.disabled = true;
      try {
        const res = await this.actions.override(a.id, chosen, comment.value.trim());
        const override = res?.override || { stars: chosen, comment: comment.value.trim() };
        this.upsert({ ...this.items.get(a.id), id: a.id, override });
        status.textContent = `Saved: ${override.stars} ★ — the kid sees it now.`;
        toast('Grade saved', `${kidName(a)} now sees ${override.stars} ★`, 'ok');
      } catch (e) {
        status.textContent = e.message;
      } finally {
        saveBtn.disabled = false;
      }
    });

    fill($('attempt-detail'), [
      el('div', { class: 'detail-head' },
        el('h1', {}, `${kidName(a)} · ${lessonName(a)}`),
        el('div', {}, stars(effectiveStars(a)), ' ',
          el('b', { class: a.passed ? 'result pass' : 'result fail' }, isGraded(a) ? (a.passed ? 'passed' : 'not yet') : 'grading…'))),
      el('div', { class: 'detail-grid' },
        el('section', {}, el('h3', {}, 'Program'), el('pre', { class: 'program', id: 'attempt-program' }, programText(a.program))),
        el('section', {}, el('h3', {}, 'Trajectory'), trajectoryView)),
      el('section', {}, el('h3', {}, 'Checks'),
        checks.length ? el('table', { class: 'checks' },
          el('thead', {}, el('tr', {}, el('th', {}, ''), el('th', {}, 'Check'), el('th', {}, 'Measured'), el('th', {}, 'Needed'))),
          el('tbody', {}, checks.map((c) => el('tr', { dataset: { check: c.id || c.kind || '' } },
            el('td', { class: c.passed ? 'ok' : 'no' }, c.passed ? '✓' : '✗'),
            el('td', {}, c.label || c.text || c.name || c.description || c.id || c.kind),
            el('td', { class: 'measured' }, measuredText(c)),
            el('td', {}, limitText(c))))))
          : el('p', { class: 'empty' }, 'No checks recorded yet.')),
      el('section', {}, el('h3', {}, 'Coach'),
        coach ? el('blockquote', { class: 'coach' }, String(coach)) : el('p', { class: 'empty' }, 'No feedback yet.'),
        coachSource ? el('div', { class: 'coach-note' }, coachSource === 'checks' || coachSource === 'fallback'
          ? 'Written from the checks alone (the vision model was not available).' : `Written by ${coachSource}.`) : null),
      frames.length ? el('section', {}, el('h3', {}, 'Key frames'),
        el('div', { class: 'frames' }, frames.map((f, i) => {
          const src = typeof f === 'string' ? f : f.url || f.src;
          return el('figure', {}, el('img', { src, alt: `Key frame ${i + 1}`, loading: 'lazy' }),
            el('figcaption', {}, typeof f === 'object' && f.t !== undefined ? `${Number(f.t).toFixed(1)} s` : `frame ${i + 1}`));
        }))) : null,
      el('section', { class: 'override' }, el('h3', {}, 'Change the grade'),
        el('div', { class: 'row' }, picker, saveBtn), comment, status),
    ]);
    if (trajectoryView === canvas) requestAnimationFrame(() => drawTrajectory(canvas, a.arena, a.trajectory || []));
  }
}
