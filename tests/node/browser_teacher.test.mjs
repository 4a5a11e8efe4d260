// The teacher console in real Chromium against a real `dojo demo` (server + simulated car processes),
// with scripted kids on real socket.io connections: log in, create a class, watch two kids join, share
// a car and watch the turns, STOP ALL (latency measured by the server), set a level so a refused block
// goes through, override a grade, download the CSV. Screenshots go to artifacts/teacher/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { io } from 'socket.io-client';
import { startDemo, REPO_ROOT } from './helpers/demo_server.mjs';
import { launchChromium, chromiumOrSkip } from './helpers/chromium.mjs';

const SHOTS = path.join(REPO_ROOT, 'artifacts', 'teacher');
const ESTOP_BUDGET_MS = 50; // the promise: every car's throttle is zero within 50 ms of the click reaching the server
const UI_WAIT_MS = 10_000; // live updates arrive in ~100 ms; 10 s means they are not coming
const BLOCK_TIMEOUT_MS = 30_000; // a block waits for the car to finish; the longest move here takes a few seconds
const CONNECT_TIMEOUT_MS = 5_000; // socket.io handshake on loopback
const TEST_TIMEOUT_MS = 150_000; // the whole story, on a busy 2-core machine

// --- scripted kids ---------------------------------------------------------------------------

async function joinKid(url, classCode, name) {
  const res = await fetch(`${url}/api/join`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ class_code: classCode, name }),
  });
  if (res.status !== 200) throw new Error(`join as ${name}: HTTP ${res.status} ${await res.text()}`);
  const kid = await res.json();
  const socket = io(`${url}/kid`, { auth: { token: kid.token }, transports: ['websocket'], reconnection: false });
  kid.telemetry = null;
  kid.feedback = [];
  kid.levels = [];
  socket.on('telemetry', (t) => { kid.telemetry = t; });
  socket.on('feedback', (f) => kid.feedback.push(f));
  socket.on('level', (l) => kid.levels.push(l));
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} could not connect to /kid`)), CONNECT_TIMEOUT_MS);
    socket.on('connect', () => { clearTimeout(timer); resolve(); });
    socket.on('connect_error', (e) => { clearTimeout(timer); reject(e); });
  });
  kid.socket = socket;
  kid.block = (block, args = {}) => socket.timeout(BLOCK_TIMEOUT_MS).emitWithAck('block', { block, args });
  return kid;
}

async function until(what, predicate, timeoutMs = UI_WAIT_MS, pollMs = 20) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** RFC 4180: quoted fields may hold commas, doubled quotes and line breaks. */
function parseCsv(text) {
  const rows = [[]];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { field += '"'; i += 1; } else if (ch === '"') quoted = false; else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') { rows.at(-1).push(field); field = ''; } else if (ch === '\r' && text[i + 1] === '\n') {
      rows.at(-1).push(field); field = ''; rows.push([]); i += 1;
    } else field += ch;
  }
  if (field || rows.at(-1).length) rows.at(-1).push(field);
  return rows.filter((r) => r.length);
}

// --- the teacher's page ----------------------------------------------------------------------

async function shot(page, name, { fullPage = true } = {}) {
  if (fullPage) await page.evaluate(() => window.scrollTo(0, 0)); // else the sticky top bar lands mid-picture
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage });
}

/** A teacher API call from inside the page: the session cookie and CSRF token are the page's own. */
function teacherGet(page, apiPath) {
  return page.evaluate(async (p) => {
    const res = await fetch(p, { credentials: 'same-origin' });
    return { status: res.status, body: await res.json() };
  }, apiPath);
}

const row = (kid) => `#roster-body tr[data-kid="${kid.kid_id}"]`;

test('a teacher runs a class from the console', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  if (!chromiumOrSkip(t)) return;
  fs.mkdirSync(SHOTS, { recursive: true });
  const demo = await startDemo({ cars: 2 });
  const browser = await launchChromium();
  const kids = [];
  const errors = [];
  try {
    const context = await browser.newContext({ viewport: { width: 1440, height: 960 }, acceptDownloads: true });
    const page = await context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${demo.url}/teacher/`);

    await t.test('log in with the password', async () => {
      await page.waitForSelector('#login-view:not([hidden])');
      await page.fill('#password', 'not-the-password');
      await page.click('#login-form button[type=submit]');
      await page.waitForSelector('#login-error:has-text("not right")');
      await page.fill('#password', demo.teacherPassword);
      await shot(page, '01-login');
      await page.click('#login-form button[type=submit]');
      await page.waitForSelector('#classes-view:not([hidden])');
    });

    let code;
    await t.test('create a class: the code is shown big', async () => {
      await page.fill('#class-name', 'Robotics Club');
      await page.click('#create-class-form button[type=submit]');
      await page.waitForSelector('#code-dialog[open]');
      code = (await page.textContent('#huge-code')).trim();
      assert.match(code, /^[A-Z2-9]{5}$/);
      const size = await page.$eval('#huge-code', (e) => parseFloat(getComputedStyle(e).fontSize));
      assert.ok(size >= 100, `the code for the board is ${size}px tall`);
      await shot(page, '02-class-code', { fullPage: false });
      await page.click('#code-dialog');
      assert.equal((await page.textContent('#join-code')).trim(), code);
      await page.waitForSelector('#live-dot[data-state="on"]');
    });

    let mia, leo, ana;
    await t.test('two kids join and appear live', async () => {
      mia = await joinKid(demo.url, code, 'Mia');
      leo = await joinKid(demo.url, code, 'Leo');
      kids.push(mia, leo);
      await page.waitForSelector(row(mia), { timeout: UI_WAIT_MS });
      await page.waitForSelector(row(leo), { timeout: UI_WAIT_MS });
      assert.equal(await page.textContent('#kid-count'), '2');
      assert.match(await page.textContent(`${row(mia)} .kid-name`), /Mia/);
      await shot(page, '03-two-kids');
      // a reload keeps the session (cookie + CSRF token from /api/teacher/me) and the class
      await page.reload();
      await page.waitForSelector(row(leo));
      assert.equal((await page.textContent('#join-code')).trim(), code);
      await page.waitForSelector('#live-dot[data-state="on"]');
    });

    await t.test('share one car between the two kids: they take turns', async () => {
      await page.check(`${row(mia)} td.sel input`);
      await page.check(`${row(leo)} td.sel input`);
      await page.selectOption('#share-car', 'car-1');
      await page.click('#share-btn');
      await until('car-1 shared by Mia and Leo', async () => {
        const { body } = await teacherGet(page, `/api/teacher/classes/${code}/board`);
        const car = body.cars.find((c) => c.car_id === 'car-1');
        return car && car.kid_ids.join() === [mia.kid_id, leo.kid_id].join();
      });
      await page.waitForSelector(`${row(leo)} .shared-tag`);
      // Mia drives first; Leo's block waits for his turn, and the console shows it
      const first = mia.block('move_forward', { distance: 40 });
      await page.waitForSelector(`${row(mia)}[data-state="running"]`, { timeout: UI_WAIT_MS });
      const second = leo.block('move_forward', { distance: 15 });
      await page.waitForSelector(`${row(leo)}[data-state="waiting"]`, { timeout: UI_WAIT_MS });
      assert.match(await page.textContent(`${row(leo)} .state`), /waiting #1/);
      await page.waitForSelector('.car[data-car="car-1"] .car-queue:has-text("Leo")');
      await shot(page, '04-shared-car-queue');
      // Mia's move ends, Leo's turn starts
      await page.waitForSelector(`${row(leo)}[data-state="running"]`, { timeout: BLOCK_TIMEOUT_MS });
      assert.equal((await first).status, 'done');
      assert.equal(await page.getAttribute(row(mia), 'data-state'), 'idle');
      assert.match(await page.textContent('.car[data-car="car-1"] .car-driver'), /Leo/);
      assert.equal((await second).status, 'done');
      await page.waitForSelector(`${row(leo)}[data-state="idle"]`, { timeout: UI_WAIT_MS });
    });

    await t.test('STOP ALL halts every car within 50 ms of the click reaching the server', async () => {
      ana = await joinKid(demo.url, code, 'Ana'); // the least busy car is car-2: now both cars have a driver
      kids.push(ana);
      assert.equal(ana.car_id, 'car-2');
      await page.waitForSelector(row(ana));
      const moves = [mia.block('move_forward', { distance: 120 }), ana.block('move_forward', { distance: 120 })];
      await until('both cars driving', () => [mia, ana].every((k) => k.telemetry && Math.abs(k.telemetry.speed_cm_s) > 5));
      await page.click('#stop-all');
      const replies = await Promise.all(moves);
      for (const r of replies) assert.equal(r.status, 'cancelled', JSON.stringify(r));
      const record = await until('the server to confirm every car stopped', async () => {
        const { body } = await teacherGet(page, '/api/teacher/estop/latency');
        const latest = body.stops[0];
        return latest && latest.all_confirmed ? latest : null;
      });
      // the evidence first, so a failure leaves the numbers behind
      fs.writeFileSync(path.join(SHOTS, 'estop-latency.json'), JSON.stringify(record, null, 2));
      t.diagnostic(`STOP ALL: ${record.cars.map((c) => `${c.car_id} latched ${c.latched_ms} ms, throttle 0 at ${c.zero_throttle_ms} ms`).join('; ')}`);
      assert.match(record.source, /^http POST \/api\/teacher\/estop$/);
      assert.deepEqual(record.cars.map((c) => c.car_id).sort(), ['car-1', 'car-2']);
      for (const car of record.cars) {
        assert.ok(car.same_clock, `${car.car_id} runs on this machine, so its clock is comparable`);
        assert.ok(car.zero_throttle_ms >= 0 && car.zero_throttle_ms <= ESTOP_BUDGET_MS,
          `${car.car_id}: throttle zero ${car.zero_throttle_ms} ms after the click reached the server: ${JSON.stringify(car)}`);
      }
      // and the cars really stand still
      await until('both cars standing still', () => [mia, ana].every((k) => Math.abs(k.telemetry.speed_cm_s) < 1));
      await page.waitForSelector('.car[data-car="car-1"][data-safety="estop"]');
      await page.waitForSelector('.car[data-car="car-2"][data-safety="estop"]');
      await page.waitForSelector('#safety-list li.estop');
      await shot(page, '05-stop-all');
    });

    await t.test('each car is reset and stopped on its own; Ctrl+E stops everything again', async () => {
      for (const carId of ['car-1', 'car-2']) {
        await page.click(`.car[data-car="${carId}"] button:has-text("Reset")`);
        await page.waitForSelector(`.car[data-car="${carId}"]:not([data-safety="estop"])`, { timeout: UI_WAIT_MS });
      }
      assert.equal((await ana.block('move_forward', { distance: 5 })).status, 'done');
      // one car's own Stop: that car's drive ends at once, the other car keeps going
      const long = mia.block('move_backward', { distance: 80 }); // back into open floor: nothing else stops it
      const other = ana.block('move_forward', { distance: 20 });
      await until('car-1 driving', () => Math.abs(mia.telemetry?.speed_cm_s || 0) > 5);
      await page.click('.car[data-car="car-1"] button:has-text("Stop")');
      assert.equal((await long).status, 'cancelled');
      assert.equal((await other).status, 'done', 'car-2 was not stopped');
      const before = (await teacherGet(page, '/api/teacher/estop/latency')).body.stops.length;
      await page.keyboard.press('Control+e');
      await until('a second emergency stop', async () => (await teacherGet(page, '/api/teacher/estop/latency')).body.stops.length > before);
      await page.waitForSelector('.car[data-car="car-2"][data-safety="estop"]');
      await page.click('.car[data-car="car-1"] button:has-text("Reset")');
      await page.click('.car[data-car="car-2"] button:has-text("Reset")');
      await page.waitForSelector('.car[data-car="car-1"]:not([data-safety="estop"])');
      await page.waitForSelector('.car[data-car="car-2"]:not([data-safety="estop"])');
    });

    await t.test("setting a level lets a kid's refused block through", async () => {
      const refused = await leo.block('drive_for', { speed: 40, seconds: 1 });
      assert.equal(refused.status, 'refused', JSON.stringify(refused));
      await page.selectOption(`${row(leo)} select[aria-label^="Level"]`, '2');
      await until("Leo's level 2 on the server", () => leo.levels.some((l) => l.level === 2));
      await page.waitForFunction((sel) => document.querySelector(sel)?.value === '2', `${row(leo)} select[aria-label^="Level"]`,
        { timeout: UI_WAIT_MS });
      const through = await leo.block('drive_for', { speed: 40, seconds: 1 });
      assert.equal(through.status, 'done', JSON.stringify(through));
      await shot(page, '06-level-set');
    });

    await t.test('an attempt appears graded; the teacher overrides the stars and the kid receives it', async () => {
      // Mia picks the first lesson and runs the known-wrong program: too short to reach the garage
      const program = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'lessons/level-1/l1-wake-up.wrong.blockly.json'), 'utf8'));
      const pick = await fetch(`${demo.url}/api/lessons/select`, {
        method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${mia.token}` },
        body: JSON.stringify({ lesson_id: 'l1-wake-up' }),
      });
      if (pick.status !== 200) throw new Error(`select lesson: HTTP ${pick.status} ${await pick.text()}`);
      const started = await mia.socket.timeout(BLOCK_TIMEOUT_MS).emitWithAck('run_start', { source: 'blockly', program, lesson_id: 'l1-wake-up' });
      assert.equal(started.status, 'ok', JSON.stringify(started));
      await page.waitForSelector(`${row(mia)} .lesson-cell:has-text("Wake up")`, { timeout: UI_WAIT_MS });
      const move = await mia.socket.timeout(BLOCK_TIMEOUT_MS).emitWithAck('block', { block: 'move_forward', args: { distance: 60 }, run_id: started.run_id });
      assert.equal(move.status, 'done', JSON.stringify(move));
      await mia.socket.timeout(BLOCK_TIMEOUT_MS).emitWithAck('run_end', { run_id: started.run_id, reason: 'finished' });
      // graded in the background (judge, frames, overlay; the coach falls back to the checks without Ollama)
      const item = '#attempt-list li[data-status="graded"]';
      await page.waitForSelector(item, { timeout: BLOCK_TIMEOUT_MS });
      await until('Mia to get her feedback', () => mia.feedback.length > 0, BLOCK_TIMEOUT_MS);
      assert.equal(mia.feedback[0].overridden, false);
      await page.click(`${item} button`);
      await page.waitForSelector('#attempt-dialog[open] .checks');
      const reach = await page.textContent('#attempt-dialog .checks tr[data-check="reach_zone"]');
      assert.match(reach, /✗/, 'the short program does not reach the garage');
      const measured = await page.$$eval('#attempt-dialog .checks td.measured', (tds) => tds.map((td) => td.textContent));
      assert.ok(measured.some((m) => /\d/.test(m)), `checks show measured values: ${measured}`);
      // l1-wake-up allows one block: "Needed: 1 block", never "1 blocks" (issue 15, polish)
      const maxBlocks = await page.$$eval('#attempt-dialog .checks tr[data-check="max_blocks"] td', (tds) => tds.map((td) => td.textContent));
      assert.equal(maxBlocks.at(-1), '1 block', `the one-block check's "Needed" reads in the singular: ${maxBlocks}`);
      assert.match(await page.textContent('#attempt-program'), /\S/);
      assert.ok((await page.textContent('#attempt-coach')).length > 10, 'the coach wrote something');
      assert.ok(await page.$('#attempt-dialog img.trajectory'), 'the trajectory is drawn over the arena');
      await shot(page, '07-attempt-detail', { fullPage: false }); // a dialog: what the teacher sees
      // STOP ALL stays clickable over an open dialog (dialogs are never modal)
      assert.ok(await page.$eval('#stop-all', (b) => {
        const r = b.getBoundingClientRect();
        return document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2)?.closest('#stop-all') === b;
      }), 'STOP ALL is on top while the attempt is open');
      await page.click('.star-pick label[data-n="2"]');
      await page.fill('#override-comment', 'So close! Try a longer move next time.');
      await page.click('#override-save');
      await page.waitForSelector('#override-status:has-text("Saved")');
      const fb = await until('Mia to receive the new grade', () => mia.feedback.find((f) => f.overridden), UI_WAIT_MS);
      assert.equal(fb.stars, 2);
      assert.equal(fb.teacher_comment, 'So close! Try a longer move next time.');
      await shot(page, '08-grade-overridden', { fullPage: false });
      await page.click('#attempt-dialog .dialog-close button');
      await page.waitForSelector('#attempt-list .overridden', { timeout: UI_WAIT_MS });
    });

    await t.test('download the class progress as CSV', async () => {
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#csv-link')]);
      const file = path.join(SHOTS, 'progress.csv');
      await download.saveAs(file);
      const text = fs.readFileSync(file, 'utf8');
      assert.ok(text.startsWith('\uFEFF'), 'a byte order mark, so spreadsheets read the names as UTF-8');
      const [header, ...rows] = parseCsv(text.slice(1));
      assert.deepEqual(header.slice(0, 3), ['kid', 'level', 'lessons passed']);
      assert.equal(header.at(-1), 'last attempt');
      assert.ok(header.includes('stars: Wake up, car!'), header.join(' | '));
      const byName = Object.fromEntries(rows.map((r) => [r[0], r]));
      assert.deepEqual(Object.keys(byName).sort(), ['Ana', 'Leo', 'Mia']);
      assert.equal(byName.Leo[1], '2', "Leo's new level");
      assert.equal(byName.Mia[header.indexOf('stars: Wake up, car!')], '2', 'the overridden grade counts');
      assert.equal(byName.Mia[2], '1', 'with 2 stars the lesson counts as passed');
      assert.match(byName.Mia.at(-1), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/, 'last attempt time');
    });

    await t.test('lock a lesson for the class, open one above the level, then set the whole class level', async () => {
      const kidLessons = async (kid) => {
        const res = await fetch(`${demo.url}/api/lessons`, { headers: { Authorization: `Bearer ${kid.token}` } });
        return Object.fromEntries((await res.json()).lessons.map((l) => [l.id, l]));
      };
      assert.equal((await kidLessons(ana))['l1-wake-up'].locked, false);
      assert.equal((await kidLessons(ana))['l2-speed-run'].locked, true, 'a level 2 lesson is locked at level 1');
      await page.selectOption('#lesson-list select[data-lesson="l1-wake-up"]', 'locked');
      await page.waitForSelector('#lesson-list li[data-lesson="l1-wake-up"][data-mode="locked"]');
      await page.selectOption('#lesson-list select[data-lesson="l2-speed-run"]', 'open');
      await page.waitForSelector('#lesson-list li[data-lesson="l2-speed-run"][data-mode="open"]');
      const locked = await kidLessons(ana);
      assert.equal(locked['l1-wake-up'].locked, true, 'the teacher locked it for the class');
      assert.equal(locked['l2-speed-run'].locked, false, 'the teacher opened it for the class');
      await page.selectOption('#lesson-list select[data-lesson="l1-wake-up"]', 'auto');
      await page.waitForSelector('#lesson-list li[data-lesson="l1-wake-up"][data-mode="auto"]');
      assert.equal((await kidLessons(ana))['l1-wake-up'].locked, false, 'automatic again: follows the level');

      await page.selectOption('#class-level', '3');
      for (const kid of [mia, leo, ana]) {
        await page.waitForFunction((sel) => document.querySelector(sel)?.value === '3', `${row(kid)} select[aria-label^="Level"]`,
          { timeout: UI_WAIT_MS });
      }
      const goTo = await ana.block('go_to', { x: 120, y: 60 });
      assert.equal(goTo.status, 'done', `level 3 opens "go to": ${JSON.stringify(goTo)}`);
    });

    await t.test("a safety intervention shows up at once, with the car, its driver and the kid's sentence", async () => {
      await page.click('#safety-clear');
      // Ana's car (level 3 now) turns towards the arena's edge and drives at it: the car's fence steps in
      const driving = (async () => {
        await ana.block('turn', { direction: 'right', degrees: 90 });
        await ana.block('move_forward', { distance: 100 });
      })();
      // the toast and the list entry come while the car is still at it
      await page.waitForSelector('.toast:has-text("car-2 · Ana")', { timeout: BLOCK_TIMEOUT_MS });
      const item = await page.waitForSelector('#safety-list li:not(.estop)');
      assert.match(await item.textContent(), /car-2 · Ana.*I (slowed down|stopped)/);
      await shot(page, '09-safety');
      await driving;
    });

    await t.test("one kid's car menu moves that kid to another car", async () => {
      // Ana is not driving now: nothing is taken from anyone, so the console does not need to ask
      await page.waitForSelector(`${row(ana)}[data-state="idle"]`, { timeout: UI_WAIT_MS });
      await page.selectOption(`${row(ana)} select[aria-label^="Car"]`, 'car-1');
      const board = await until('Ana on car-1', async () => {
        const { body } = await teacherGet(page, `/api/teacher/classes/${code}/board`);
        return body.cars.find((c) => c.car_id === 'car-1').kid_ids.includes(ana.kid_id) ? body : null;
      });
      assert.deepEqual(board.cars.find((c) => c.car_id === 'car-1').kid_ids, [mia.kid_id, leo.kid_id, ana.kid_id]);
      assert.deepEqual(board.cars.find((c) => c.car_id === 'car-2').kid_ids, []);
      await page.waitForSelector(`${row(ana)} .shared-tag[title="shared by 3"]`);
    });

    await shot(page, '10-console');
    assert.deepEqual(errors, [], 'the page threw no errors');
  } finally {
    for (const kid of kids) kid.socket?.disconnect();
    await browser.close();
    await demo.stop();
  }
});
