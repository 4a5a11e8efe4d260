// Lessons in the Blockly app, in real Chromium against a real `dojo demo` (server + a simulated car):
// a kid joins, picks a level-1 lesson (locked ones say why), reads its story and goal, sees the
// lesson's arena with the car at its start, gets a toolbox of just the lesson's blocks, opens the
// reference solution, runs it (an attempt), and a few seconds after the car stops sees the feedback
// card: stars, the checks that passed, the coach's words, the next lesson opening. A second try
// (the known-wrong solution) gets its own card; the teacher's later override updates it; the two
// tries are compared. The coach is a small local HTTP app speaking Ollama's /api/chat (the edge of
// the world: a real model is not part of a test) and records what it was sent.
// Screenshots go to artifacts/blockly/ (gitignored).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromiumSkipReason, launchChromium } from './helpers/chromium.mjs';
import { REPO_ROOT, startDemo } from './helpers/demo_server.mjs';

const SHOTS = path.join(REPO_ROOT, 'artifacts', 'blockly');
const LESSON = 'l1-wake-up';
const LESSON_DIR = path.join(REPO_ROOT, 'lessons', 'level-1');
const UI_TIMEOUT_MS = 15_000; // the page on a loaded 2-core machine: seconds, never more than this
// Run (180 cm at level 1's top speed) + settling (<= 3 s) + judge, frames, overlay and the coach.
const FEEDBACK_TIMEOUT_MS = 40_000;
const START_POSE_CM = 5; // the simulated car is put exactly at the start; telemetry shows it within a tick

const skip = chromiumSkipReason();

async function shot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

/**
 * A stand-in for Ollama on 127.0.0.1: /api/tags and /api/chat, answering the coach's JSON schema with
 * kind words that point at the program. It reads the judge's verdict, the checks and the program from
 * the prompt, as a model would, and records what it was sent (`received`) and what it said (`answers`).
 */
async function startFakeOllama() {
  const received = [];
  const answers = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const reply = (obj) => { res.writeHead(200, { 'Content-Type': 'application/json' }); res.end(JSON.stringify(obj)); };
      if (req.url === '/api/tags') return reply({ models: [{ name: 'qwen2.5vl:3b', model: 'qwen2.5vl:3b' }] });
      if (req.url !== '/api/chat') { res.writeHead(404); return res.end(); }
      const chat = JSON.parse(body);
      received.push(chat);
      const user = chat.messages.find((m) => m.role === 'user')?.content || '';
      const passed = /Judge: PASSED/.test(user);
      const good = /^- \S+: PASSED \(([^;]+);/m.exec(user)?.[1] || 'drove';
      const forward = /move forward (\d+) cm/.exec(user)?.[1]; // the program as the coach reads it
      const answer = {
        went_well: `Well done: your car ${good}.`,
        tip: passed ? 'Can you do it again with one block fewer, or a rounder number?'
          : `Your move forward block says ${forward} cm — try a bigger number.`,
        goal_reached: passed,
      };
      answers.push(answer);
      return reply({ model: chat.model, created_at: new Date().toISOString(), done: true, done_reason: 'stop',
        message: { role: 'assistant', content: JSON.stringify(answer) } });
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}`, received, answers, close: () => new Promise((r) => server.close(r)) };
}

const carPose = (page) => page.evaluate(() => window.dojoApp.state.runner?.telemetry?.pose ?? null);

/** The feedback card of one attempt, once it is on screen: {attempt, stars, passedChecks, text}. */
async function waitForFeedback(page, notAttempt = null) {
  await page.waitForFunction((old) => {
    const card = document.querySelector('#feedback-card');
    return !document.querySelector('#feedback-dialog').hidden && card.dataset.attempt && card.dataset.attempt !== old
      && card.dataset.coach !== 'pending'; // the stars come at once, the coach's words follow
  }, notAttempt, { timeout: FEEDBACK_TIMEOUT_MS });
  return page.evaluate(() => ({
    attempt: document.querySelector('#feedback-card').dataset.attempt,
    stars: Number(document.querySelector('#feedback-body .stars-big').dataset.stars),
    passedChecks: [...document.querySelectorAll('#feedback-body .check.pass')].map((li) => li.dataset.check),
    missedChecks: [...document.querySelectorAll('#feedback-body .check.miss')].map((li) => li.dataset.check),
    text: document.querySelector('#feedback-body').innerText,
  }));
}

/** Screenshots after the stars have popped in (CSS animations finished). */
async function settledShot(page, name) {
  await page.waitForFunction(() => document.getAnimations().every((a) => a.playState !== 'running' || a.effect?.getTiming().iterations === Infinity));
  await shot(page, name);
}

async function loadProgramFile(page, file, someBlockId) {
  const text = fs.readFileSync(path.join(LESSON_DIR, file));
  await page.setInputFiles('#upload-input', { name: file, mimeType: 'application/json', buffer: text });
  await page.waitForFunction((id) => window.dojoApp.state.workspace.getBlockById(id), someBlockId);
}

describe('lessons in the Blockly app, in Chromium', { skip }, () => {
  let demo;
  let coach;
  let browser;
  let page;
  const timings = {};

  before(async () => {
    coach = await startFakeOllama();
    demo = await startDemo({ cars: 1, env: { DOJO_OLLAMA_HOST: coach.url, DOJO_COACH_TIMEOUT_S: '10' } });
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(UI_TIMEOUT_MS);
    page.on('pageerror', (err) => { console.error('page error:', err.message); });
  });

  after(async () => {
    await browser?.close();
    await demo?.stop();
    await coach?.close();
    if (Object.keys(timings).length) console.log(`# feedback card shown after the program ended (judge + frames + overlay + coach): ${JSON.stringify(timings)}`);
  });

  test('the lesson picker offers the level-1 lessons; locked ones say why', async () => {
    await page.goto(`${demo.url}/blockly/`);
    await page.fill('#class-code', demo.classCode);
    await page.fill('#kid-name-input', 'Ada');
    await page.click('#join-btn');
    await page.click('#pick-lesson');
    await page.locator(`.lesson-tile[data-lesson="${LESSON}"]`).waitFor();
    const tiles = await page.$$eval('.lesson-tile', (els) => els.map((e) => ({
      id: e.dataset.lesson, locked: e.disabled, text: e.innerText })));
    const first = tiles.find((t) => t.id === LESSON);
    assert.equal(first.locked, false, 'the first lesson of level 1 is open');
    assert.match(first.text, /Wake up, car!/);
    const corner = tiles.find((t) => t.id === 'l1-around-the-corner');
    assert.equal(corner.locked, true);
    assert.match(corner.text, /Pass “Wake up, car!” to open this one\./);
    const level2 = tiles.find((t) => t.id.startsWith('l2-'));
    assert.match(level2.text, /unlocks at level 2/);
    assert.equal(tiles[0].id.startsWith('l1-'), true, "the kid's own level comes first");
    await shot(page, 'lessons-01-picker');
  });

  test('picking a lesson shows its story and goal, its arena with the car at the start, and only its blocks', async () => {
    await page.click(`.lesson-tile[data-lesson="${LESSON}"]`);
    await page.locator('#lesson-card:not([hidden])').waitFor();
    assert.equal(await page.isHidden('#lesson-picker'), true);
    assert.equal(await page.textContent('#lesson-title'), 'Wake up, car!');
    assert.match(await page.textContent('#lesson-story'), /Breakfast waits in the green garage\./);
    assert.equal(await page.textContent('#lesson-goal'), 'Drive straight into the green garage.');
    // The arena panel draws the lesson's arena (the garage zone) and the car at the start pose.
    await page.waitForFunction(() => window.dojoApp.state.arena?.arena?.zones?.some((z) => z.name === 'garage'));
    await page.waitForFunction((tol) => {
      const p = window.dojoApp.state.arena.cars.get(window.dojoApp.state.carId)?.pose;
      return p && Math.hypot(p.x_cm - 50, p.y_cm - 100) < tol && Math.abs(p.heading_deg) < 2;
    }, START_POSE_CM);
    // The toolbox holds just the lesson's car blocks (no teasers of later levels during a lesson).
    await page.locator('.blocklyToolboxCategory', { hasText: /^Car$/ }).click();
    await page.waitForFunction(() => window.dojoApp.state.workspace.getFlyout()?.isVisible());
    const types = await page.evaluate(() => window.dojoApp.state.workspace.getFlyout().getWorkspace().getTopBlocks(true).map((b) => b.type));
    assert.deepEqual([...types].sort(), ['dojo_move_backward', 'dojo_move_forward', 'dojo_stop', 'dojo_turn']);
    await page.mouse.click(700, 600); // close the flyout
    // Hints come one at a time, when the kid asks.
    await page.click('#hint-btn');
    assert.deepEqual(await page.$$eval('#lesson-hints li', (els) => els.map((e) => e.textContent)),
      ['The white dot in the middle of your car must stop inside the garage.']);
    await shot(page, 'lessons-02-lesson-selected');
  });

  let firstAttempt;
  test("running the lesson's reference solution is an attempt: stars, passed checks and the coach's words", async () => {
    await loadProgramFile(page, `${LESSON}.blockly.json`, 'b1');
    await page.click('#run-btn');
    await page.waitForFunction(() => document.querySelector('#status-card').dataset.state === 'grading', null, { timeout: FEEDBACK_TIMEOUT_MS });
    const stoppedAt = Date.now(); // the program's last move is done: the car has stopped
    await shot(page, 'lessons-03-grading');
    const fb = await waitForFeedback(page);
    timings.first_try_ms = Date.now() - stoppedAt;
    firstAttempt = fb.attempt;
    assert.ok(fb.stars >= 1, `the reference solution passes: ${JSON.stringify(fb)}`);
    assert.ok(fb.passedChecks.includes('reach_zone'), `reach_zone passed: ${JSON.stringify(fb)}`);
    assert.ok(fb.passedChecks.includes('touch_no_wall'));
    assert.match(fb.text, /stopped inside the garage/, 'the check says it in kid words');
    assert.match(fb.text, /Coach says/);
    assert.ok(fb.text.includes(coach.answers[0].went_well) && fb.text.includes(coach.answers[0].tip),
      `the coach's sentences are shown: ${JSON.stringify(coach.answers[0])}`);
    assert.match(fb.text, /New lesson open: Around the corner/, 'passing opens the next lesson');
    // Next to the checks: the picture of where the car drove (the attempt's overlay, for this kid only).
    await page.waitForFunction(() => {
      const img = document.querySelector('#feedback-body .drive-picture img');
      return img && img.complete && img.naturalWidth > 0;
    });
    const pose = await carPose(page);
    assert.ok(pose.x_cm > 200 && pose.x_cm < 280, `the car is in the garage: ${JSON.stringify(pose)}`);
    // The coach was sent the frames and the output schema.
    assert.equal(coach.received.length, 1);
    assert.ok(coach.received[0].messages.at(-1).images.length >= 2, 'key frames and the overlay were sent');
    assert.ok(coach.received[0].format?.properties?.goal_reached, 'the Feedback JSON schema was sent');
    await settledShot(page, 'lessons-04-feedback-passed');
    await page.click('#feedback-dialog [data-close]');
    assert.match(await page.textContent('#lesson-best'), /Best/);
  });

  let secondAttempt;
  test('a second try (the known-wrong solution) gets its own card, without blame', async () => {
    await loadProgramFile(page, `${LESSON}.wrong.blockly.json`, 'b3');
    await page.click('#run-btn');
    await page.waitForFunction(() => document.querySelector('#status-card').dataset.state === 'grading', null, { timeout: FEEDBACK_TIMEOUT_MS });
    const stoppedAt = Date.now();
    const fb = await waitForFeedback(page, firstAttempt);
    timings.second_try_ms = Date.now() - stoppedAt;
    secondAttempt = fb.attempt;
    assert.equal(fb.stars, 0);
    assert.ok(fb.missedChecks.includes('reach_zone'), JSON.stringify(fb));
    assert.match(fb.text, /Good try — let’s fix it together!/);
    assert.match(fb.text, /Your move forward block says 60 cm — try a bigger number\./, 'the tip points at the program');
    assert.match(fb.text, /Try again/);
    await settledShot(page, 'lessons-05-feedback-missed');
  });

  test("the teacher's later override (stars + comment) updates the kid's card", async () => {
    const login = await fetch(`${demo.url}/api/teacher/login`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ password: demo.teacherPassword }),
    });
    const { csrf_token: csrf } = await login.json();
    const cookie = login.headers.get('set-cookie').split(';')[0];
    const resp = await fetch(`${demo.url}/api/teacher/attempts/${secondAttempt}/override`, {
      method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf, Cookie: cookie },
      body: JSON.stringify({ stars: 1, comment: 'Lovely straight line! Now make it longer.' }),
    });
    assert.equal(resp.status, 200, await resp.text());
    await page.waitForFunction(() => document.querySelector('#feedback-body .teacher-note'));
    const text = await page.textContent('#feedback-body');
    assert.match(text, /Your teacher gave you 1 star/);
    assert.match(text, /Lovely straight line! Now make it longer\./);
    assert.equal(await page.getAttribute('#feedback-body .stars-big', 'data-stars'), '1');
    await settledShot(page, 'lessons-06-teacher-override');
    await page.click('#feedback-dialog [data-close]');
  });

  test('"My tries" lists both attempts and compares them: which was better and why', async () => {
    await page.click('#attempts-btn');
    await page.locator(`#attempt-list li[data-attempt="${secondAttempt}"]`).waitFor();
    assert.equal(await page.locator('#attempt-list li[data-attempt]').count(), 2);
    await page.check(`#attempt-list li[data-attempt="${firstAttempt}"] input`);
    await page.check(`#attempt-list li[data-attempt="${secondAttempt}"] input`);
    await page.click('#compare-btn');
    await page.locator('#compare-result:not([hidden])').waitFor();
    const text = await page.textContent('.compare-text');
    assert.match(text, /^Your earlier attempt was better: it got \d stars? instead of 1 — it stopped inside the garage\.$/);
    assert.equal(await page.getAttribute('#compare-result', 'data-better'), firstAttempt);
    assert.match(await page.textContent('.compare-col.better'), /Try 1/);
    // Each try shows where the car drove (the trajectory overlay, served to this kid with the token).
    await page.waitForFunction(() => [...document.querySelectorAll('.compare-overlay')].every((img) => img.complete && img.naturalWidth > 0)
      && document.querySelectorAll('.compare-overlay').length === 2);
    await shot(page, 'lessons-07-compare');
  });

  test('reopening the page keeps the lesson and its last result', async () => {
    await page.click('#attempts-dialog [data-close]');
    await page.reload();
    await page.waitForFunction(() => document.querySelector('#lesson-title')?.textContent === 'Wake up, car!'
      && !document.querySelector('#lesson-card').hidden);
    await page.locator('#last-feedback-btn:not([hidden])').waitFor();
    await page.click('#last-feedback-btn');
    await page.waitForFunction((id) => !document.querySelector('#feedback-dialog').hidden
      && document.querySelector('#feedback-card').dataset.attempt === id, secondAttempt);
    assert.match(await page.textContent('#feedback-body'), /Lovely straight line!/, "the teacher's word is kept");
    await page.click('#feedback-dialog [data-close]');
  });

  test('the next lesson opens from the list, with its own arena and the car at its start', async () => {
    await page.click('#lessons-btn');
    const corner = page.locator('.lesson-tile[data-lesson="l1-around-the-corner"]');
    await corner.waitFor();
    assert.equal(await corner.isDisabled(), false, 'passing "Wake up, car!" opened it');
    assert.match(await page.textContent(`.lesson-tile[data-lesson="${LESSON}"]`), /2 tries/);
    await corner.click();
    await page.waitForFunction(() => document.querySelector('#lesson-title').textContent === 'Around the corner');
    await page.waitForFunction(() => window.dojoApp.state.arena?.arena?.zones?.some((z) => z.name === 'pond'));
    await page.waitForFunction((tol) => {
      const p = window.dojoApp.state.arena.cars.get(window.dojoApp.state.carId)?.pose;
      return p && Math.hypot(p.x_cm - 50, p.y_cm - 50) < tol;
    }, START_POSE_CM);
    assert.equal(await page.isHidden('#last-feedback-btn'), true, "the last lesson's result is not offered here");
    await shot(page, 'lessons-08-next-lesson');
  });

  test('passing the last lesson of level 1 celebrates a level up, and the toolbox grows', async () => {
    await loadProgramFile(page, 'l1-around-the-corner.blockly.json', 'b5');
    await page.click('#run-btn');
    const corner = await waitForFeedback(page, secondAttempt);
    assert.ok(corner.stars >= 1, JSON.stringify(corner));
    assert.match(corner.text, /New lesson open: Square dance/, JSON.stringify(corner));
    await page.click('#feedback-body .celebrate.unlocked button'); // "Go!" straight to the new lesson
    await page.waitForFunction(() => document.querySelector('#lesson-title').textContent === 'Square dance');
    await page.waitForFunction(() => window.dojoApp.state.arena?.arena?.zones?.some((z) => z.name === 'tree'));
    await loadProgramFile(page, 'l1-square-dance.blockly.json', 'l17');
    await page.click('#run-btn');
    const square = await waitForFeedback(page, corner.attempt);
    assert.ok(square.passedChecks.includes('uses_loop'), JSON.stringify(square));
    assert.ok(square.stars >= 1, `the reference solution passes: ${JSON.stringify(square)}`);
    assert.match(square.text, /Level up!/);
    assert.match(square.text, /You are now on level 2/);
    await page.waitForFunction(() => document.querySelector('#level-badge').textContent.startsWith('Level 2'));
    await settledShot(page, 'lessons-09-level-up');
    await page.click('#feedback-dialog [data-close]');
  });

  test('"Free driving" goes back to the whole toolbox of the new level', async () => {
    await page.click('#lessons-btn');
    await page.click('#free-drive-btn');
    await page.locator('#pick-lesson:not([hidden])').waitFor();
    assert.equal(await page.isHidden('#lesson-card'), true);
    await page.locator('.blocklyToolboxCategory', { hasText: /^Car$/ }).click();
    await page.waitForFunction(() => window.dojoApp.state.workspace.getFlyout()?.isVisible());
    const types = await page.evaluate(() => window.dojoApp.state.workspace.getFlyout().getWorkspace().getTopBlocks(true).map((b) => b.type));
    assert.ok(types.includes('dojo_set_speed'), 'level 2 blocks are in the toolbox');
    assert.ok(types.includes('dojo_go_to'), 'free driving shows the level toolbox again, with the locked teasers');
  });

  test('a block the lesson does without is marked, and a run with it is refused with a sentence next to it', async () => {
    await page.mouse.click(700, 600); // close the flyout
    await page.click('#pick-lesson');
    await page.click('.lesson-tile[data-lesson="l2-stop-at-the-wall"]');
    await page.waitForFunction(() => document.querySelector('#lesson-title').textContent === 'Stop at the wall');
    const program = { blocks: { languageVersion: 0, blocks: [{
      type: 'dojo_move_forward', id: 'wall-fwd', x: 40, y: 40, inputs: { DISTANCE: { shadow: { type: 'math_number', fields: { NUM: 20 } } } },
    }, { type: 'dojo_when_obstacle', id: 'wall-hat', x: 40, y: 160, fields: { DISTANCE: 20 },
      next: { block: { type: 'dojo_stop', id: 'wall-stop' } } }] } };
    await page.setInputFiles('#upload-input', { name: 'hat.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(program)) });
    await page.waitForFunction(() => window.dojoApp.state.workspace.getBlockById('wall-hat'));
    const warning = await page.evaluate(() => window.dojoApp.state.workspace.getBlockById('wall-hat').getIcon('warning')?.getText());
    assert.equal(warning, '“Stop at the wall” is done without this block.');
    assert.equal(await page.evaluate(() => window.dojoApp.state.workspace.getBlockById('wall-fwd').getIcon('warning')), undefined,
      'a block the lesson allows has no warning');
    await page.click('#run-btn');
    await page.waitForFunction(() => document.querySelector('#status-card').dataset.state === 'refused');
    assert.match(await page.textContent('#status-text'), /^“Stop at the wall” is done without: .+\. Take them out and try again!$/);
    // the bubble opens on the block the lesson does without (Blockly opens it after its next render)
    await page.waitForFunction(() => window.dojoApp.state.workspace.getBlockById('wall-hat').getIcon('warning')?.bubbleIsVisible(),
      null, { timeout: UI_TIMEOUT_MS });
    await shot(page, 'lessons-10-lesson-block-refused');
  });
});
