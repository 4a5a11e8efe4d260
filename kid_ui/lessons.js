// The lesson picker and the lesson card (docs/lessons.md): GET /api/lessons lists every lesson with
// its story, goal, arena, allowed blocks, `locked` (+ a kid sentence why), `passed` and best stars;
// POST /api/lessons/select puts the kid's car into the lesson's arena at its start pose. While a
// lesson is selected every Run is an attempt at it. On a measured home floor each lesson also has
// `floor: {fit, scale, words}` (moved, shrunk, or too big for that floor: docs/setup-wizard.md).
import * as api from './api.js';
import { el, lockIcon, openDialog, stars } from './ui.js';

export class LessonPanel {
  /**
   * $: id -> element; session(): {token, level}; hooks.onSelected(lesson|null) after the server agreed;
   * hooks.onError(text) for a kid sentence when something went wrong; hooks.levelTitle(n) names a level
   * when the app knows it (the catalog gives the kid's own level's title).
   */
  constructor($, session, hooks) {
    this.$ = $;
    this.session = session;
    this.hooks = hooks;
    this.list = [];
    this.current = null; // the selected lesson (an item of GET /api/lessons)
    this.closePicker = null;
    this.hintsShown = 0; // hints are opened one at a time: the kid asks for the next one
    $('hint-btn').addEventListener('click', () => this.nextHint());
    $('lessons-btn').addEventListener('click', () => this.open());
    $('pick-lesson').addEventListener('click', () => this.open());
    $('free-drive-btn').addEventListener('click', () => this.select(null));
  }

  /** Fetch the list again (after a grade, a level change, or a teacher's lock); keeps `current` fresh. */
  async refresh() {
    const { lessons } = await api.lessons(this.session().token);
    this.list = lessons || [];
    const selected = this.list.find((l) => l.selected) || null;
    const changed = (selected?.id || null) !== (this.current?.id || null);
    this.current = selected;
    this.renderCard();
    if (this.closePicker) this.renderPicker(); // open: show fresh stars and locks
    return changed;
  }

  async open() {
    this.renderPicker();
    this.closePicker = openDialog(this.$('lesson-picker'), () => { this.closePicker = null; });
    try {
      await this.refresh();
    } catch (err) {
      this.hooks.onError(err.message);
    }
  }

  async select(lessonId) {
    try {
      await api.selectLesson(this.session().token, lessonId);
    } catch (err) {
      this.hooks.onError(err.message);
      return;
    }
    this.closePicker?.();
    await this.refresh().catch(() => {});
    if (lessonId && !this.current) this.current = this.list.find((l) => l.id === lessonId) || null;
    this.renderCard();
    this.hooks.onSelected(this.current);
  }

  // --- the picker ---------------------------------------------------------------------------

  renderPicker() {
    const body = this.$('picker-body');
    const level = Number(this.session().level) || 1;
    const byLevel = new Map();
    for (const lesson of this.list) {
      if (!byLevel.has(lesson.level)) byLevel.set(lesson.level, []);
      byLevel.get(lesson.level).push(lesson);
    }
    const sections = [];
    // The kid's own level first, then the ones before it (practice), then what is coming.
    const order = [...byLevel.keys()].sort((a, b) => (a === level ? -1 : b === level ? 1 : a - b));
    for (const lv of order) {
      const head = el('h3', 'picker-level', [
        el('span', 'level-pill', `Level ${lv}`),
        el('span', '', this.hooks.levelTitle?.(lv) || ''),
        lv === level ? el('span', 'your-level', 'your level') : null,
      ]);
      const grid = el('div', 'lesson-grid', byLevel.get(lv).sort((a, b) => a.order - b.order).map((l) => this.tile(l)));
      sections.push(el('section', `picker-section${lv > level ? ' later' : ''}`, [head, grid]));
    }
    if (!this.list.length) sections.push(el('p', 'picker-empty', 'Looking for lessons…'));
    body.replaceChildren(...sections);
  }

  tile(lesson) {
    const selected = this.current?.id === lesson.id;
    const button = el('button', `lesson-tile${lesson.locked ? ' locked' : ''}${lesson.passed ? ' passed' : ''}${selected ? ' selected' : ''}`);
    button.type = 'button';
    button.dataset.lesson = lesson.id;
    button.append(
      el('span', 'tile-number', String(lesson.order)),
      el('span', 'tile-title', lesson.title),
      el('span', 'tile-goal', lesson.goal),
    );
    // On a measured home floor (GET /api/lessons' `floor`): how the layout was fitted, or why it cannot be.
    const floor = lesson.floor && lesson.floor.fit !== 'fits' ? lesson.floor : null;
    if (floor && !lesson.locked) button.append(el('span', 'tile-floor', floor.words));
    if (lesson.locked || floor?.fit === 'too_big') {
      button.disabled = true;
      if (floor?.fit === 'too_big') button.classList.add('locked');
      if (lesson.locked) button.append(el('span', 'tile-lock', [lockIcon(), el('span', '', lesson.locked_reason || 'Locked for now.')]));
    } else {
      button.append(el('span', 'tile-foot', [
        stars(lesson.best_stars ?? lesson.stars ?? 0),
        el('span', 'tile-tries', lesson.attempts ? `${lesson.attempts} ${lesson.attempts === 1 ? 'try' : 'tries'}` : 'new!'),
      ]));
      button.addEventListener('click', () => this.select(lesson.id));
    }
    if (selected) button.append(el('span', 'tile-badge', 'now'));
    return button;
  }

  // --- the card next to the arena -------------------------------------------------------------

  renderCard() {
    const $ = this.$;
    const lesson = this.current;
    $('lesson-card').hidden = !lesson;
    $('pick-lesson').hidden = Boolean(lesson);
    if (!lesson) return;
    if ($('lesson-card').dataset.lesson !== lesson.id) {
      this.hintsShown = 0;
      $('lesson-hints').replaceChildren();
    }
    $('lesson-card').dataset.lesson = lesson.id;
    $('lesson-chip').textContent = `Level ${lesson.level} · ${lesson.order}`;
    $('lesson-title').textContent = lesson.title;
    $('lesson-story').textContent = (lesson.story || []).join(' ');
    $('lesson-goal').textContent = lesson.goal;
    const best = lesson.best_stars ?? lesson.stars ?? 0;
    $('lesson-best').replaceChildren(...(lesson.attempts
      ? [el('span', 'best-label', 'Best'), stars(best)]
      : [el('span', 'best-label', this.hooks.tryText || 'Press Run to try it!')]));
    $('attempts-btn').hidden = !lesson.attempts;
    this.renderHintButton();
  }

  renderHintButton() {
    const hints = this.current?.hints || [];
    const btn = this.$('hint-btn');
    btn.hidden = this.hintsShown >= hints.length;
    btn.textContent = this.hintsShown ? 'Another hint?' : 'Need a hint?';
  }

  /** One more hint from the lesson, under the goal. */
  nextHint() {
    const hints = this.current?.hints || [];
    if (this.hintsShown >= hints.length) return;
    this.$('lesson-hints').append(el('li', 'hint', hints[this.hintsShown]));
    this.hintsShown += 1;
    this.renderHintButton();
  }
}
