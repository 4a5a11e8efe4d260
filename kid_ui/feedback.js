// After a lesson run: the `feedback` event as a big, friendly card (0-3 stars, which checks passed,
// the coach's few sentences, "new lesson open" / "level up"), updated when the teacher changes the
// grade later; and "My tries": the kid's attempts at the lesson, two of them compared side by side
// (GET /api/attempts, GET /api/attempts/{id}, GET /api/attempts/compare).
import * as api from './api.js';
import { el, openDialog, stars, whenText } from './ui.js';

// No blame, ever: the headline only says how far the kid got.
const HEADLINES = ['Good try — let’s fix it together!', 'You did it!', 'Great drive!', 'Perfect drive!'];

export class FeedbackPanel {
  /** $: id -> element; session(): {token}; lessons: LessonPanel (titles, the selected lesson); hooks.onError(text). */
  constructor($, session, lessons, hooks) {
    this.$ = $;
    this.session = session;
    this.lessons = lessons;
    this.hooks = hooks;
    this.shown = new Map(); // attempt_id -> the latest feedback payload we got for it
    this.last = null; // the latest payload of the selected lesson
    this.closeFeedback = null;
    this.closeAttempts = null;
    this.picked = []; // attempt ids ticked for comparing (at most two, oldest tick drops out)
    $('attempts-btn').addEventListener('click', () => this.openAttempts());
    $('last-feedback-btn').addEventListener('click', () => { if (this.last) this.show(this.last); });
    $('compare-btn').addEventListener('click', () => this.compare());
  }

  /** Another lesson was picked: "Last result" belongs to the lesson it came from. */
  forLesson(lesson) {
    if (this.last && this.last.lesson_id !== lesson?.id) this.last = null;
    this.$('last-feedback-btn').hidden = !this.last;
    this.closeFeedback?.();
  }

  /**
   * A `feedback` event from the server: a new grade (stars and checks at once, coach_pending while the
   * coach model writes), the coach's words for it later (coach_update), or the teacher's override.
   */
  onFeedback(payload) {
    if (!payload?.attempt_id) return;
    const before = this.shown.get(payload.attempt_id);
    if (payload.coach_update) {
      // Only the coach's words are new: keep the celebrations of the first card, and never reopen a
      // card the kid has closed or cover another one.
      payload = { ...payload, unlocked: before?.unlocked || [], level_up: before?.level_up || null };
      this.shown.set(payload.attempt_id, payload);
      if (this.last?.attempt_id === payload.attempt_id) this.last = payload;
      const card = this.$('feedback-card');
      if (this.closeFeedback && card.dataset.attempt === payload.attempt_id) this.show(payload);
      return;
    }
    const teacherChanged = Boolean(before) && (payload.overridden !== before.overridden
      || payload.stars !== before.stars || payload.teacher_comment !== before.teacher_comment);
    this.shown.set(payload.attempt_id, payload);
    if (!this.lessons.current || payload.lesson_id === this.lessons.current.id) {
      this.last = payload;
      this.$('last-feedback-btn').hidden = false;
    }
    this.show(payload, { teacherChanged });
    if (this.closeAttempts) this.loadAttempts();
  }

  show(fb, { teacherChanged = false } = {}) {
    const body = this.$('feedback-body');
    const card = this.$('feedback-card');
    card.dataset.attempt = fb.attempt_id;
    card.dataset.stars = String(fb.stars);
    card.dataset.coach = fb.coach_pending ? 'pending' : 'done';
    card.classList.toggle('passed', Boolean(fb.passed));
    const parts = [];
    if (fb.level_up) {
      parts.push(el('div', 'celebrate level-up', [el('span', 'celebrate-big', 'Level up!'),
        el('span', '', `You are now on level ${fb.level_up}. New blocks are waiting for you!`)]));
    }
    parts.push(el('p', 'feedback-lesson', fb.lesson_title || ''));
    parts.push(stars(fb.stars, { size: 'big' }));
    parts.push(el('h2', 'feedback-headline', HEADLINES[fb.stars] || HEADLINES[0]));
    parts.at(-1).id = 'feedback-title';
    if (fb.overridden) {
      parts.push(el('div', `teacher-note${teacherChanged ? ' fresh' : ''}`, [
        el('strong', '', `Your teacher gave you ${fb.stars} star${fb.stars === 1 ? '' : 's'}`),
        fb.teacher_comment ? el('span', '', `“${fb.teacher_comment}”`) : null,
      ]));
    }
    // The checks, and next to them the picture of where the car drove (filled in when it arrives).
    const grid = el('div', 'feedback-grid', [this.checkList(fb.checks || [])]);
    parts.push(grid);
    this.addPicture(grid, fb.attempt_id);
    const coach = [fb.went_well, fb.tip].filter(Boolean);
    if (!coach.length && fb.text) coach.push(fb.text);
    if (coach.length) {
      parts.push(el('div', 'coach', [
        el('span', 'coach-face', '☺'),
        el('div', 'coach-words', [el('strong', '', 'Coach says'), ...coach.map((t) => el('p', '', t)),
          fb.coach_pending ? el('p', 'coach-thinking', 'The coach is still thinking about your drive…') : null,
          !fb.coach_pending && fb.coach_note ? el('p', 'coach-note', fb.coach_note) : null]),
      ]));
    }
    for (const id of fb.unlocked || []) {
      const next = this.lessons.list.find((l) => l.id === id);
      const go = el('button', 'btn run small', 'Go!');
      go.addEventListener('click', () => { this.closeFeedback?.(); this.lessons.select(id); });
      parts.push(el('div', 'celebrate unlocked', [el('span', '', `New lesson open: ${next?.title || id}`), go]));
    }
    const again = el('button', 'btn run', fb.passed ? 'Drive again' : 'Try again');
    again.dataset.autofocus = '';
    again.addEventListener('click', () => this.closeFeedback?.());
    const tries = el('button', 'btn soft', 'My tries');
    tries.addEventListener('click', () => { this.closeFeedback?.(); this.openAttempts(); });
    parts.push(el('div', 'feedback-actions', [tries, again]));
    body.replaceChildren(...parts);
    if (this.closeFeedback) again.focus();
    if (!this.closeFeedback) this.closeFeedback = openDialog(this.$('feedback-dialog'), () => { this.closeFeedback = null; });
  }

  /** The trajectory overlay of the attempt (GET /api/attempts/{id} names it; served only to this kid). */
  async addPicture(grid, attemptId) {
    let detail;
    try {
      detail = await api.attempt(this.session().token, attemptId);
    } catch {
      return; // the card is complete without the picture
    }
    const url = detail?.images?.overlay;
    if (!url || !grid.isConnected) return;
    const img = el('img');
    img.src = url;
    img.alt = 'Where your car drove';
    grid.append(el('figure', 'drive-picture', [img, el('figcaption', '', 'Where your car drove')]));
    grid.classList.add('with-picture');
  }

  /** Passed checks first get a green tick; the others say "not yet" (optional ones earn bonus stars). */
  checkList(checks) {
    const items = checks.map((c) => {
      const li = el('li', `check ${c.passed ? 'pass' : 'miss'}${c.required ? '' : ' bonus'}`, [
        el('span', 'check-mark', c.passed ? '✓' : '…'),
        el('span', 'check-text', c.kid_text || c.id),
        c.required ? null : el('span', 'check-tag', 'bonus ★'),
      ]);
      li.dataset.check = c.id;
      return li;
    });
    return el('ul', 'checks', items);
  }

  /**
   * After a reload or a reconnect the socket may have missed a `feedback` event: the lesson's latest
   * graded try becomes "Last result", and with show=true (the kid was waiting) its card opens.
   * Returns the payload, or null.
   */
  async restore({ show = false } = {}) {
    const lesson = this.lessons.current;
    if (!lesson) return null;
    const token = this.session().token;
    const rows = (await api.attempts(token, lesson.id)).attempts || [];
    const latest = rows.find((r) => r.status === 'graded');
    if (!latest || this.shown.has(latest.attempt_id)) return null;
    const fb = (await api.attempt(token, latest.attempt_id)).feedback;
    if (!fb) return null;
    if (show) {
      this.onFeedback(fb);
    } else {
      this.shown.set(fb.attempt_id, fb);
      this.last = fb;
      this.$('last-feedback-btn').hidden = false;
    }
    return fb;
  }

  // --- my tries and compare ----------------------------------------------------------------------

  async openAttempts() {
    const lesson = this.lessons.current;
    if (!lesson) return;
    this.$('attempts-title').textContent = `My tries at “${lesson.title}”`;
    this.$('compare-result').hidden = true;
    this.picked = [];
    this.closeAttempts = openDialog(this.$('attempts-dialog'), () => { this.closeAttempts = null; });
    await this.loadAttempts();
  }

  async loadAttempts() {
    const lesson = this.lessons.current;
    if (!lesson) return;
    let rows;
    try {
      rows = (await api.attempts(this.session().token, lesson.id)).attempts || [];
    } catch (err) {
      this.hooks.onError(err.message);
      return;
    }
    this.rows = rows;
    const numbers = new Map([...rows].reverse().map((r, i) => [r.attempt_id, i + 1])); // oldest is try 1
    this.numbers = numbers;
    const list = this.$('attempt-list');
    list.replaceChildren(...rows.map((r) => {
      const graded = r.status === 'graded';
      const box = el('input');
      box.type = 'checkbox';
      box.disabled = !graded;
      box.checked = this.picked.includes(r.attempt_id);
      box.setAttribute('aria-label', `Compare try ${numbers.get(r.attempt_id)}`);
      box.addEventListener('change', () => this.pick(r.attempt_id, box.checked));
      const li = el('li', `attempt-row${graded ? '' : ' pending'}`, [
        el('label', 'attempt-pick', [box, el('span', 'attempt-no', `Try ${numbers.get(r.attempt_id)}`)]),
        graded ? stars(r.stars) : el('span', 'attempt-wait', 'coach is looking…'),
        el('span', 'attempt-summary', r.summary || ''),
        el('span', 'attempt-when', whenText(r.started_at) + (r.overridden ? ' · teacher ✓' : '')),
      ]);
      li.dataset.attempt = r.attempt_id;
      return li;
    }));
    if (!rows.length) list.append(el('li', 'attempt-empty', `No tries yet. ${this.lessons.hooks.tryText || 'Press Run to try it!'}`));
    this.$('attempts-help').textContent = rows.length >= 2 ? 'Tick two tries, then press Compare.' : 'After two tries you can compare them.';
    this.$('compare-btn').disabled = this.picked.length !== 2;
  }

  pick(attemptId, on) {
    this.picked = this.picked.filter((id) => id !== attemptId);
    if (on) this.picked.push(attemptId);
    if (this.picked.length > 2) this.picked.shift();
    for (const box of this.$('attempt-list').querySelectorAll('li[data-attempt] input')) {
      box.checked = this.picked.includes(box.closest('li').dataset.attempt);
    }
    this.$('compare-btn').disabled = this.picked.length !== 2;
  }

  async compare() {
    if (this.picked.length !== 2) return;
    // Older try on the left: the kid reads it as a story, "then I changed this".
    const [a, b] = [...this.picked].sort((x, y) => this.numbers.get(x) - this.numbers.get(y));
    const token = this.session().token;
    let result;
    let details;
    try {
      [result, ...details] = await Promise.all([api.compareAttempts(token, a, b), api.attempt(token, a), api.attempt(token, b)]);
    } catch (err) {
      this.hooks.onError(err.message);
      return;
    }
    const column = (id, detail) => {
      const better = result.better_attempt === id;
      const fb = detail.feedback || {};
      const img = detail.images?.overlay ? el('img', 'compare-overlay') : null;
      if (img) { img.src = detail.images.overlay; img.alt = `Where your car drove in try ${this.numbers.get(id)}`; }
      return el('div', `compare-col${better ? ' better' : ''}`, [
        el('div', 'compare-head', [el('strong', '', `Try ${this.numbers.get(id)}`), better ? el('span', 'better-badge', '♛ better') : null]),
        stars(detail.stars),
        img,
        this.checkList(fb.checks || []),
      ]);
    };
    const out = this.$('compare-result');
    out.replaceChildren(
      el('p', 'compare-text', result.kid_text),
      el('div', 'compare-cols', [column(a, details[0]), column(b, details[1])]),
    );
    out.dataset.better = result.better_attempt || '';
    out.hidden = false;
    out.scrollIntoView({ block: 'nearest' });
  }
}
