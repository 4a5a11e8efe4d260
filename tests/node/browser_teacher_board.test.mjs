// The teacher console on a school projector's 1366x768 with a class of 30, in real Chromium against a
// real `dojo demo` (4 simulated cars): one screen (the page never scrolls; the roster scrolls inside its
// panel, never sideways), "connecting…" and never "offline" after the login, the roster's live state
// (running, e-stopped, car lost), STOP ALL then one "Resume all", one colour per car on every page, a
// car in a lesson's arena drawn on that lesson's map, and a question before a car is taken from a kid.
// Screenshots: artifacts/teacher-board/ (gitignored).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { io } from 'socket.io-client';

import { chromiumSkipReason, launchChromium } from './helpers/chromium.mjs';
import { joinKid } from './helpers/classroom_http.mjs';
import { REPO_ROOT, startDemo } from './helpers/demo_server.mjs';

const SHOTS = path.join(REPO_ROOT, 'artifacts', 'teacher-board');
const UI_MS = 10_000; // live updates arrive in ~100 ms; 10 s means they are not coming
const BLOCK_MS = 30_000; // a block waits for its car
const WIDTH = 1366;
const HEIGHT = 768;
const NAMES = ['Ada', 'Ben', 'Cy', 'Dee', 'Eli', 'Fay', 'Gus', 'Hana', 'Ivo', 'Jo', 'Kai', 'Lea', 'Mia', 'Ned', 'Ola',
  'Pia', 'Quin', 'Rui', 'Sam', 'Tia', 'Uma', 'Vic', 'Wen', 'Xia', 'Yuki', 'Zoe', 'Alma', 'Bo', 'Cleo', 'Dario'];

let demo;
let browser;
let page;
const kids = {};
const sockets = [];
const errors = [];

async function shot(name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

function kidSocket(kid) {
  const socket = io(`${demo.url}/kid`, { auth: { token: kid.token }, transports: ['websocket'], reconnection: false });
  sockets.push(socket);
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

const row = (name) => `#roster-body tr[data-kid="${kids[name].kid_id}"]`;

describe('the teacher console at 1366x768 with a class of 30', { skip: chromiumSkipReason() }, () => {
  before(async () => {
    demo = await startDemo({ cars: 4 });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: WIDTH, height: HEIGHT } });
    page.on('pageerror', (e) => errors.push(e.message));
    // Every word the live dot ever shows, from the first paint on.
    await page.addInitScript(() => {
      window.liveWords = [];
      document.addEventListener('DOMContentLoaded', () => {
        const dot = document.getElementById('live-dot');
        window.liveWords.push(dot.textContent);
        new MutationObserver(() => window.liveWords.push(dot.textContent)).observe(dot, { childList: true, characterData: true, subtree: true });
      });
    });
    for (const name of NAMES) kids[name] = await joinKid(demo.url, name);
    // Half the class has an editor open; every car has kids (the demo shares cars as kids join).
    for (const name of NAMES.slice(0, 15)) kids[name].socket = await kidSocket(kids[name]);
  });

  after(async () => {
    for (const s of sockets) s.disconnect();
    if (browser) await browser.close();
    if (demo) await demo.stop();
  });

  test('one screen: roster, arena, car cards and the last attempts; only the roster scrolls, inside', async () => {
    await page.goto(`${demo.url}/teacher/`);
    await page.fill('#password', demo.teacherPassword);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#classes-view:not([hidden])');
    await page.click('#class-list button:has-text("DEMO")');
    await page.waitForSelector(`${row('Dario')}`, { timeout: UI_MS });
    await page.waitForSelector('#live-dot[data-state="on"]', { timeout: UI_MS });
    const words = await page.evaluate(() => window.liveWords);
    assert.ok(!words.includes('offline'), `the live dot said: ${words.join(' → ')}`);
    await page.waitForFunction(() => document.querySelectorAll('#cars .car').length === 4, null, { timeout: UI_MS });
    const layout = await page.evaluate(() => {
      const box = (sel) => document.querySelector(sel).getBoundingClientRect().toJSON();
      const scroller = document.getElementById('roster-scroll');
      return {
        pageHeight: document.documentElement.scrollHeight, pageWidth: document.documentElement.scrollWidth,
        rosterScrolls: scroller.scrollHeight > scroller.clientHeight, rosterSideways: scroller.scrollWidth > scroller.clientWidth,
        rows: document.querySelectorAll('#roster-body tr').length,
        panels: ['.roster-panel', '.arena-panel', '#cars', '.attempts-panel', '.safety-panel', '.lessons-panel', '#stop-all'].map((s) => [s, box(s)]),
      };
    });
    assert.equal(layout.rows, 30);
    assert.ok(layout.pageHeight <= HEIGHT, `the page is ${layout.pageHeight} px tall`);
    assert.ok(layout.pageWidth <= WIDTH, `the page is ${layout.pageWidth} px wide`);
    assert.ok(layout.rosterScrolls, 'the roster scrolls inside its panel');
    assert.ok(!layout.rosterSideways, 'the roster has no sideways scrollbar');
    for (const [sel, r] of layout.panels) {
      assert.ok(r.top >= 0 && r.bottom <= HEIGHT && r.right <= WIDTH && r.height > 20, `${sel} on screen: ${JSON.stringify(r)}`);
    }
    await shot('1-class-of-30');
  });

  test('one colour per car: its card, its roster dot, the console arena and the /arena/ page', async () => {
    const colours = await page.evaluate(async () => {
      const { carColor } = await import('/arena/arena.js');
      const card = getComputedStyle(document.querySelector('.car[data-car="car-2"]')).getPropertyValue('--car-color').trim();
      return { card, expected: carColor('car-2') };
    });
    assert.equal(colours.card, colours.expected);
    const kidOnCar2 = NAMES.find((n) => kids[n].car_id === 'car-2');
    const dot = await page.$eval(`${row(kidOnCar2)} .car-dot`, (e) => e.style.getPropertyValue('--car-color'));
    assert.equal(dot, colours.expected);
    const arenaPage = await browser.newPage({ viewport: { width: 900, height: 700 }, storageState: await page.context().storageState() });
    try {
      await arenaPage.goto(`${demo.url}/arena/`);
      await arenaPage.waitForFunction(() => window.arenaView.cars.get('car-2')?.pose, null, { timeout: UI_MS });
      assert.equal(await arenaPage.evaluate(() => window.arenaView.cars.get('car-2').color), colours.expected);
    } finally {
      await arenaPage.close();
    }
  });

  test('running, then STOP ALL: e-stopped in the roster; one "Resume all" lets every car drive again', async () => {
    const driver = NAMES.find((n) => kids[n].socket && kids[n].car_id === 'car-1');
    const drive = kids[driver].socket.timeout(BLOCK_MS).emitWithAck('block', { block: 'move_forward', args: { distance: 120 } });
    await page.waitForSelector(`${row(driver)}[data-state="running"]`, { timeout: UI_MS });
    await page.click('#stop-all');
    assert.equal((await drive).status, 'cancelled');
    await page.waitForSelector(`${row(driver)} .state.estop`, { timeout: UI_MS });
    assert.equal(await page.textContent(`${row(driver)} .state`), 'e-stopped');
    await page.waitForSelector('#resume-all:not([hidden])');
    assert.equal(await page.textContent('#resume-all'), '↺ Resume all (4)');
    await shot('2-stop-all-e-stopped');
    await page.click('#resume-all');
    await page.waitForSelector('#resume-all', { state: 'hidden', timeout: UI_MS });
    await page.waitForFunction(() => document.querySelectorAll('#cars .car[data-safety="estop"]').length === 0, null, { timeout: UI_MS });
    const again = await kids[driver].socket.timeout(BLOCK_MS).emitWithAck('block', { block: 'move_backward', args: { distance: 5 } });
    assert.equal(again.status, 'done', JSON.stringify(again));
  });

  test('a car in a lesson is drawn on the lesson\'s map, the others on the class arena', async () => {
    const kid = NAMES.find((n) => kids[n].car_id === 'car-3');
    const picked = await fetch(`${demo.url}/api/lessons/select`, {
      method: 'POST', body: JSON.stringify({ lesson_id: 'l1-wake-up' }),
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${kids[kid].token}` },
    });
    assert.equal(picked.status, 200);
    await page.waitForSelector('.arena-tile[data-arena="breakfast run"]', { timeout: UI_MS });
    const tiles = await page.$$eval('.arena-tile', (els) => els.map((e) => e.dataset.arena));
    assert.deepEqual(tiles, ['class arena', 'breakfast run']);
    await page.waitForFunction(() => {
      const views = [...document.querySelectorAll('.arena-tile')];
      return views.length === 2; // the views are built; their cars come with the next telemetry
    });
    await page.waitForTimeout(600);
    await shot('3-lesson-arena-tile');
  });

  test('a car that goes away shows "car lost" for its kids', async () => {
    demo.killCar('car-4');
    const onCar4 = NAMES.find((n) => kids[n].car_id === 'car-4');
    await page.waitForSelector(`${row(onCar4)} .state.lost`, { timeout: UI_MS });
    assert.equal(await page.textContent(`${row(onCar4)} .state`), 'car lost');
  });

  test('taking a car from a kid asks first; Cancel keeps it', async () => {
    const kid = NAMES.find((n) => kids[n].car_id === 'car-1');
    await page.selectOption(`${row(kid)} select[aria-label^="Car"]`, '');
    await page.waitForSelector('#confirm-dialog[open]', { timeout: UI_MS });
    assert.match(await page.textContent('#confirm-text'), new RegExp(`^Take car-1 from ${kid}\\?`));
    await shot('4-asks-before-taking-a-car');
    await page.click('#confirm-no');
    await page.waitForFunction((sel) => document.querySelector(sel).value === 'car-1', `${row(kid)} select[aria-label^="Car"]`,
      { timeout: UI_MS });
    assert.deepEqual(errors, []);
  });

  test('a second device with a live car\'s token is refused, listed under Safety and marked on the car\'s card', async () => {
    const impostor = io(`${demo.url}/car`, { auth: { car_id: 'car-1', token: demo.carToken('car-1'), kind: 'sim' },
      transports: ['websocket'], reconnection: false });
    sockets.push(impostor);
    const refusal = await new Promise((resolve, reject) => {
      impostor.once('connect_error', (err) => resolve(err.data));
      impostor.once('connect', () => reject(new Error('the impostor got in')));
    });
    assert.equal(refusal.rule, 'car_in_use');
    const alert = '.car[data-car="car-1"] .car-alert:not([hidden])';
    await page.waitForSelector(alert, { timeout: UI_MS });
    assert.match(await page.textContent(alert), /second device tried to connect as car-1.*refused/);
    assert.match(await page.textContent('#safety-list'), /Another device tried to connect as car-1/);
    assert.doesNotMatch(await page.getAttribute('.car[data-car="car-1"]', 'class'), /offline/); // the car stays on
    await shot('5-second-car-refused');
    assert.deepEqual(errors, []);
  });

  test('removing a kid asks first; then the row goes and their editor is closed', async () => {
    const name = NAMES[14]; // has an editor open
    const { socket } = kids[name];
    const removed = new Promise((resolve) => socket.once('removed', resolve));
    const closed = new Promise((resolve) => socket.once('disconnect', resolve));
    await page.click(`${row(name)} .remove-kid`);
    await page.waitForSelector('#confirm-dialog[open]', { timeout: UI_MS });
    assert.match(await page.textContent('#confirm-text'), new RegExp(`^Remove ${name} from the class\\?`));
    await page.click('#confirm-yes');
    await page.waitForSelector(row(name), { state: 'detached', timeout: UI_MS });
    assert.match((await removed).kid_text, /took you out/);
    await closed;
    assert.deepEqual(errors, []);
  });
});
