// The live arena view (/arena/ and its ArenaView module) in real Chromium against a real `dojo demo`:
// a kid's embedded view follows their car (trail, pixels at the car's pose), a safety intervention
// flashes with the car's kid text, and the teacher's view shows every car.
// Screenshots go to artifacts/arena/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { io } from 'socket.io-client';
import { startDemo, REPO_ROOT } from './helpers/demo_server.mjs';
import { launchChromium, chromiumOrSkip } from './helpers/chromium.mjs';

const SHOTS = path.join(REPO_ROOT, 'artifacts', 'arena');
const UI_WAIT_MS = 10_000; // telemetry arrives at 20 Hz; 10 s means it is not coming
const BLOCK_TIMEOUT_MS = 30_000; // a block waits until the car has finished
const TEST_TIMEOUT_MS = 120_000;

async function until(what, predicate, timeoutMs = UI_WAIT_MS, pollMs = 50) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

async function join(url, name) {
  const res = await fetch(`${url}/api/join`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ class_code: 'DEMO', name }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  return res.json();
}

test('arena view follows the kid\'s car, flashes safety stops and shows every car to the teacher',
  { timeout: TEST_TIMEOUT_MS }, async (t) => {
    if (!chromiumOrSkip(t)) return;
    fs.mkdirSync(SHOTS, { recursive: true });
    const demo = await startDemo({ cars: 2 });
    const browser = await launchChromium();
    const errors = [];
    try {
      const kid = await join(demo.url, 'Ada');
      assert.ok(kid.car_id, 'the kid got a car');
      const page = await browser.newPage({ viewport: { width: 800, height: 600 } });
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(`${demo.url}/arena/?car=${kid.car_id}&token=${encodeURIComponent(kid.token)}&embed=1`);
      await until('the kid\'s car drawn', () => page.evaluate((car) => {
        const c = window.arenaView && window.arenaView.cars.get(car);
        return Boolean(c && c.pose && window.arenaView.arena);
      }, kid.car_id));
      assert.equal(await page.evaluate(() => window.arenaView.cars.size), 1, 'a kid sees only their car');
      assert.equal(await page.isVisible('header'), false, 'embed=1 hides the header');

      const socket = io(`${demo.url}/kid`, { auth: { token: kid.token }, transports: ['websocket'], reconnection: false });
      await new Promise((resolve, reject) => { socket.on('connect', resolve); socket.on('connect_error', reject); });
      const done = await socket.timeout(BLOCK_TIMEOUT_MS).emitWithAck('block', { block: 'move_forward', args: { distance: 40 } });
      assert.equal(done.status, 'done', JSON.stringify(done));
      const trail = await until('a trail of the drive', () => page.evaluate((car) => {
        const c = window.arenaView.cars.get(car);
        return c.trail.length > 5 && c.trail.length;
      }, kid.car_id));
      assert.ok(trail > 5);
      // the canvas really has the car where telemetry says it is (not the floor colour)
      const pixel = await page.evaluate((car) => {
        const v = window.arenaView;
        v.draw();
        const p = v.cars.get(car).pose;
        const [x, y] = v.toPx(p.x_cm, p.y_cm);
        return Array.from(v.ctx.getImageData(Math.round(x), Math.round(y), 1, 1).data);
      }, kid.car_id);
      assert.notDeepEqual(pixel.slice(0, 3), [246, 248, 250], `car pixel ${pixel}`);
      await page.screenshot({ path: path.join(SHOTS, 'kid-embed.png') });

      // drive at the arena's edge: the car's fence stops it and the view shows the reason
      const blocked = await socket.timeout(BLOCK_TIMEOUT_MS).emitWithAck('block', { block: 'move_forward', args: { distance: 500 } });
      assert.notEqual(blocked.status, 'refused', JSON.stringify(blocked));
      const flash = await until('a safety flash on the car', () => page.evaluate((car) => {
        const f = window.arenaView.cars.get(car).flash;
        return f && f.text;
      }, kid.car_id));
      assert.match(flash, /\w/);
      await page.screenshot({ path: path.join(SHOTS, 'kid-safety-flash.png') });
      socket.close();

      // the teacher's page (same browser context: the login cookie is the session)
      const teacher = await browser.newPage({ viewport: { width: 1000, height: 700 } });
      teacher.on('pageerror', (e) => errors.push(String(e)));
      await teacher.goto(`${demo.url}/arena/`);
      const refusal = await until('the not-logged-in hint', () => teacher.textContent('#status').then((s) => /log in/.test(s) && s));
      assert.match(refusal, /teacher/);
      const login = await teacher.evaluate(async (pw) => (await fetch('/api/teacher/login', {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ password: pw }),
      })).status, demo.teacherPassword);
      assert.equal(login, 200);
      await teacher.goto(`${demo.url}/arena/`);
      await until('both cars on the teacher\'s view', () => teacher.evaluate(
        () => window.arenaView && [...window.arenaView.cars.values()].filter((c) => c.pose).length === 2));
      await teacher.screenshot({ path: path.join(SHOTS, 'teacher-all-cars.png') });
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      await demo.stop();
    }
  });
