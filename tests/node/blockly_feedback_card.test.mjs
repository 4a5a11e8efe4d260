// The kid editors' feedback card (kid_ui/feedback.js) on the Blockly app's own page in jsdom: the
// celebrations a browser run of one lesson cannot reach (a level up), the teacher's override arriving
// later, no blame at 0 stars, and server text always shown as text, never parsed as HTML.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { JSDOM } from 'jsdom';
import { REPO_ROOT } from './helpers/demo_server.mjs';

let FeedbackPanel;
let LessonPanel;
let doc;
const $ = (id) => doc.getElementById(id);

before(async () => {
  const html = fs.readFileSync(path.join(REPO_ROOT, 'blockly_app', 'index.html'), 'utf8');
  const dom = new JSDOM(html); // scripts are not run: we drive the modules ourselves
  doc = dom.window.document;
  globalThis.document = doc;
  ({ FeedbackPanel } = await import('../../kid_ui/feedback.js'));
  ({ LessonPanel } = await import('../../kid_ui/lessons.js'));
  const { mountLessonUI } = await import('../../kid_ui/markup.js');
  mountLessonUI(doc.getElementById('lesson-slot'), doc); // as the app does when it starts
});

const LESSONS = [
  { id: 'l1-square-dance', level: 1, order: 3, title: 'Square dance', goal: 'Drive a square.', story: [], locked: false },
  { id: 'l2-stop-at-the-wall', level: 2, order: 1, title: 'Stop at the wall', goal: 'Stop before the wall.', story: [], locked: false },
];

function panels() {
  const session = () => ({ token: 't', level: 1 });
  const errors = [];
  const lessons = new LessonPanel($, session, { onSelected: () => {}, onError: (t) => errors.push(t) });
  lessons.list = LESSONS;
  lessons.current = LESSONS[0];
  const feedback = new FeedbackPanel($, session, lessons, { onError: (t) => errors.push(t) });
  return { lessons, feedback, errors };
}

function payload(extra = {}) {
  return {
    attempt_id: 'a1', run_id: 'r1', lesson_id: 'l1-square-dance', lesson_title: 'Square dance', passed: true, stars: 3,
    judge_stars: 3, checks: [
      { id: 'home', kind: 'reach_zone', required: true, passed: true, kid_text: 'stopped inside home' },
      { id: 'uses_loop', kind: 'uses_loop', required: false, passed: true, kid_text: 'used a repeat loop' },
    ],
    summary: '3 stars!', text: '', went_well: 'Your square was neat.', tip: 'Try a repeat 4 block with 60 cm.',
    source: 'model', overridden: false, teacher_comment: '', unlocked: [], level_up: null, ...extra,
  };
}

test('finishing a level shows "Level up!" and the lesson it opened, by its title', () => {
  const { feedback } = panels();
  feedback.onFeedback(payload({ unlocked: ['l2-stop-at-the-wall'], level_up: 2 }));
  assert.equal($('feedback-dialog').hidden, false, 'the card opens by itself');
  const text = $('feedback-body').textContent;
  assert.match(text, /Level up!/);
  assert.match(text, /You are now on level 2/);
  assert.match(text, /New lesson open: Stop at the wall/);
  assert.equal($('feedback-body').querySelector('.stars-big').dataset.stars, '3');
  assert.equal($('feedback-body').querySelectorAll('.star.on').length, 3);
  assert.equal($('feedback-body').querySelectorAll('.check.pass').length, 2);
  assert.match(text, /bonus ★/, 'the optional check is marked as a bonus');
  assert.equal($('last-feedback-btn').hidden, false, 'the result can be opened again from the lesson card');
});

test("the teacher's override of an attempt already shown updates the same card and marks the note as new", () => {
  const { feedback } = panels();
  feedback.onFeedback(payload({ attempt_id: 'a2', passed: false, stars: 0, judge_stars: 0 }));
  $('feedback-dialog').querySelector('[data-close]').click();
  assert.equal($('feedback-dialog').hidden, true);
  feedback.onFeedback(payload({ attempt_id: 'a2', passed: true, stars: 2, judge_stars: 0, overridden: true, teacher_comment: 'Great idea with the loop!' }));
  assert.equal($('feedback-dialog').hidden, false, 'the card comes back with the teacher’s word');
  const note = $('feedback-body').querySelector('.teacher-note');
  assert.ok(note.classList.contains('fresh'));
  assert.match(note.textContent, /Your teacher gave you 2 stars/);
  assert.match(note.textContent, /“Great idea with the loop!”/);
  assert.equal($('feedback-body').querySelector('.stars-big').dataset.stars, '2');
});

test('0 stars says "Good try" and blames nobody; a check that did not pass gets an orange “…”, not a red cross', () => {
  const { feedback } = panels();
  feedback.onFeedback(payload({ attempt_id: 'a3', passed: false, stars: 0, checks: [
    { id: 'home', kind: 'reach_zone', required: true, passed: false, kid_text: 'stopped 40 cm from home' }] }));
  const text = $('feedback-body').textContent;
  assert.match(text, /Good try — let’s fix it together!/);
  assert.doesNotMatch(text, /\b(fail|failed|wrong|bad)\b/i);
  assert.equal($('feedback-body').querySelector('.check.miss .check-mark').textContent, '…');
  assert.match(text, /Try again/);
});

test('text from the server is shown as text, never parsed as HTML', () => {
  const { feedback } = panels();
  feedback.onFeedback(payload({ attempt_id: 'a4', went_well: '<img src=x onerror=alert(1)>',
    checks: [{ id: 'x', required: true, passed: true, kid_text: '<b>bold</b>' }], teacher_comment: '<script>x</script>', overridden: true }));
  const body = $('feedback-body');
  assert.equal(body.querySelector('img, b, script'), null);
  assert.match(body.textContent, /<img src=x onerror=alert\(1\)>/);
  assert.match(body.textContent, /<b>bold<\/b>/);
});
