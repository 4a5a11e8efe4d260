// The lessons panel: for the whole class, each lesson follows the kids' progress (automatic), or the
// teacher opens it for everyone, or locks it for everyone.
import { el, $, fill } from './ui.js';

const MODES = [
  ['auto', 'Automatic'],
  ['open', 'Open for all'],
  ['locked', 'Locked for all'],
];

export class Lessons {
  /** actions: {setMode(lessonId, mode)} */
  constructor(actions) {
    this.actions = actions;
  }

  render(lessons) {
    fill($('lesson-list'), lessons.map((l) => {
      const mode = l.mode || (l.locked ? 'locked' : 'auto');
      const select = el('select', { 'aria-label': `${l.title || l.id}: who may do it`, dataset: { lesson: l.id } },
        MODES.map(([value, text]) => el('option', { value, selected: value === mode }, text)));
      select.addEventListener('change', () => this.actions.setMode(l.id, select.value));
      return el('li', { class: `mode-${mode}`, dataset: { lesson: l.id, mode } },
        el('span', { class: 'lesson-name' },
          l.level ? el('span', { class: 'lvl' }, `L${l.level}`) : null,
          el('span', { class: 'title' }, l.title || l.id),
          l.passed_by ? el('span', { class: 'passed-by' }, `${l.passed_by} passed`) : null),
        select);
    }));
    if (!lessons.length) $('lesson-list').append(el('li', { class: 'empty' }, 'No lessons loaded.'));
  }
}
