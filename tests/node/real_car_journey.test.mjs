// A real car joins the class, the whole way, with fakes only at the edge of the world (the Pi's pins,
// and the car they would move): the teacher clicks "Add a car" in real Chromium and sees the code, its QR
// code and the command; a fresh config from `dojo car init` (gpio, fake pins driving the simulated plant
// that ships in the package); `dojo car pair URL CODE` against the real server; `dojo car car.yaml`; the
// car appears in the console with where its position comes from. Then one kid's Scratch program (headless
// scratch-vm with the served extension) runs on the simulated car and on the gpio car: the same blocks get
// the same final answers. Screenshots go to artifacts/real-car/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDemo, REPO_ROOT } from './helpers/demo_server.mjs';
import { launchChromium, chromiumOrSkip } from './helpers/chromium.mjs';
import {
  buildProject, connectCar, createVm, flag, joinKid, loadProject, moveBackward, moveForward, reporter, setVar,
  shutdown, teacherSession, turn, varValue, waitFor,
} from './helpers/scratch_vm.mjs';

const SHOTS = path.join(REPO_ROOT, 'artifacts', 'real-car');
const PYTHON = fs.existsSync(path.join(REPO_ROOT, '.venv/bin/python')) ? path.join(REPO_ROOT, '.venv/bin/python') : 'python3';
const UI_WAIT_MS = 20_000; // a car process starts (imports, pins, link) in a few seconds on the shared box
const CLI_TIMEOUT_MS = 60_000; // one `dojo car ...` command: a Python start and a local HTTP call
const PROGRAM_TIMEOUT_MS = 60_000; // the program drives ~1 m at level-1 speed
const CAR_STOP_MS = 10_000; // the car program stops its loop and link in well under a second
const TEST_TIMEOUT_MS = 240_000;
const MOVE_TOLERANCE_CM = 10; // how far the two cars' own ideas of the same moves may differ (dead reckoning)

function dojoCar(args, cwd, env) {
  const out = spawnSync(PYTHON, ['-m', 'dojo', 'car', ...args], { cwd, env, encoding: 'utf8', timeout: CLI_TIMEOUT_MS });
  assert.equal(out.status, 0, `dojo car ${args.join(' ')}:\n${out.stdout}\n${out.stderr}`);
  return out.stdout;
}

/** The same program for both cars: it records where the car thinks it is before and after. */
function program() {
  return buildProject([[
    flag(),
    setVar('x0', reporter('positionX')), setVar('y0', reporter('positionY')),
    moveForward(40), turn('left', 45), turn('right', 45), moveBackward(20),
    setVar('x1', reporter('positionX')), setVar('y1', reporter('positionY')),
    setVar('done', 1),
  ]], { variables: ['x0', 'y0', 'x1', 'y1', 'done'] });
}

/** Run the program as `kid` on their car; the final answers from the server's request log, and how far it went. */
async function runOn(url, teacher, kid) {
  const { vm, ext } = await createVm(url, kid.token);
  try {
    await connectCar(vm, kid.car_id);
    await waitFor(() => ext._telemetry, 10_000, `telemetry from ${kid.car_id}`);
    await loadProject(vm, program());
    vm.greenFlag();
    await waitFor(() => varValue(vm, 'done') == 1, PROGRAM_TIMEOUT_MS, `the program on ${kid.car_id}`); // eslint-disable-line eqeqeq
    const [x0, y0, x1, y1] = ['x0', 'y0', 'x1', 'y1'].map((n) => Number(varValue(vm, n)));
    const { requests } = await teacher.get(`/api/teacher/requests?kid_id=${kid.kid_id}`);
    const answers = requests.filter((r) => !['position', 'distance'].includes(r.block)).reverse()
      .map((r) => `${r.block}:${r.status}`);
    return { answers, moved: Math.hypot(x1 - x0, y1 - y0) };
  } finally {
    await shutdown(vm, ext);
  }
}

test('Add a car, pair a gpio car from a fresh config, and drive a kid\'s Scratch program on it', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  if (!chromiumOrSkip(t)) return;
  fs.mkdirSync(SHOTS, { recursive: true });
  const carDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dojo-real-car-'));
  const env = { ...process.env, PYTHONUNBUFFERED: '1', DOJO_CAR_STATE_DIR: carDir };
  const demo = await startDemo({ cars: 1 });
  const browser = await launchChromium();
  let car = null;
  let carLog = '';
  const errors = [];
  try {
    const page = await (await browser.newContext({ viewport: { width: 1366, height: 768 } })).newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${demo.url}/teacher/`);
    await page.fill('#password', demo.teacherPassword);
    await page.click('#login-form button[type=submit]');
    await page.click('#class-list button:has-text("DEMO")');
    await page.waitForSelector('#class-view:not([hidden])');

    let command;
    await t.test('"Add a car" shows the code big, its QR code and the exact command', async () => {
      await page.click('#add-car-btn');
      await page.waitForSelector('#add-car-dialog[open] [data-testid="pair-code"]:not(:empty)');
      const code = (await page.textContent('[data-testid="pair-code"]')).trim();
      assert.match(code, /^[A-HJ-NP-Z2-9]{6}$/);
      command = (await page.textContent('[data-testid="pair-command"]')).trim();
      assert.equal(command, `dojo car pair ${demo.url} ${code}`);
      assert.ok(await page.$('#add-car-dialog .pair-qr-box svg path'), 'the QR code is drawn');
      const size = await page.$eval('[data-testid="pair-code"]', (e) => parseFloat(getComputedStyle(e).fontSize));
      assert.ok(size >= 48, `the code is ${size}px tall`);
      assert.match(await page.textContent('#add-car-dialog'), /only on this computer/); // the demo listens on 127.0.0.1
      await page.screenshot({ path: path.join(SHOTS, '01-add-a-car.png') });
      await page.locator('#add-car-dialog').screenshot({ path: path.join(SHOTS, '01-add-a-car-dialog.png') });
    });

    await t.test('a fresh car config, paired with the code, connects and appears in the console', async () => {
      dojoCar(['init', 'car.yaml', '--yes', '--hardware', 'gpio', '--car-id', 'gpio-1', '--server', 'http://127.0.0.1:9',
        '--pin-factory', 'mock'], carDir, env);
      const [url, code] = command.split(' ').slice(3);
      assert.match(dojoCar(['pair', url, code, 'car.yaml'], carDir, env), /gpio-1 is paired/);
      const config = fs.readFileSync(path.join(carDir, 'car.yaml'), 'utf8');
      assert.match(config, new RegExp(`server_url: ${demo.url.replace(/[.:/]/g, '\\$&')}`));
      assert.doesNotMatch(config, /token: pair-me/);

      car = spawn(PYTHON, ['-m', 'dojo', 'car', 'car.yaml'], { cwd: carDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
      car.stdout.on('data', (c) => { carLog += c; });
      car.stderr.on('data', (c) => { carLog += c; });
      await page.waitForSelector('[data-testid="pair-status"]:has-text("gpio-1 is here")', { timeout: UI_WAIT_MS });
      await page.waitForSelector('.car[data-car="gpio-1"] .car-meta:has-text("speed model")', { timeout: UI_WAIT_MS });
      await page.screenshot({ path: path.join(SHOTS, '02-car-paired.png') });
      await page.click('#add-car-dialog .dialog-close button');
      assert.match(await page.textContent('.car[data-car="gpio-1"] .car-meta'), /±\d+ cm \(speed model\)/);
      await page.screenshot({ path: path.join(SHOTS, '03-car-in-the-console.png') });
      await page.locator('.car[data-car="gpio-1"]').screenshot({ path: path.join(SHOTS, '04-car-card.png') });
      assert.deepEqual(errors, []);
    });

    await t.test('the same Scratch program gets the same final answers on the simulated and on the gpio car', async () => {
      const teacher = await teacherSession(demo.url, demo.teacherPassword);
      const { cars } = await teacher.get('/api/teacher/cars');
      const gpio = cars.find((c) => c.car_id === 'gpio-1');
      assert.deepEqual([gpio.kind, gpio.connected], ['real', true]);
      const sam = await joinKid(demo.url, 'Sam');
      const gia = await joinKid(demo.url, 'Gia');
      await teacher.post('/api/teacher/cars/car-1/assign', { kid_ids: [sam.kid_id] });
      await teacher.post('/api/teacher/cars/gpio-1/assign', { kid_ids: [gia.kid_id] });
      const onSim = await runOn(demo.url, teacher, { ...sam, car_id: 'car-1' });
      const onGpio = await runOn(demo.url, teacher, { ...gia, car_id: 'gpio-1' });
      t.diagnostic(`sim: ${onSim.answers.join(', ')} (moved ${onSim.moved.toFixed(1)} cm); gpio: ${onGpio.answers.join(', ')} (moved ${onGpio.moved.toFixed(1)} cm)`);
      assert.deepEqual(onGpio.answers, onSim.answers);
      assert.deepEqual(onSim.answers, ['move_forward:done', 'turn:done', 'turn:done', 'move_backward:done']);
      assert.ok(Math.abs(onGpio.moved - onSim.moved) < MOVE_TOLERANCE_CM, `${onGpio.moved} vs ${onSim.moved} cm`);
    });
  } finally {
    if (car && car.exitCode === null) {
      const exited = new Promise((r) => car.on('exit', r));
      car.kill('SIGTERM');
      const timer = setTimeout(() => car.kill('SIGKILL'), CAR_STOP_MS);
      await exited;
      clearTimeout(timer);
    }
    if (carLog) fs.writeFileSync(path.join(SHOTS, 'car-output.txt'), carLog);
    await browser.close();
    await demo.stop();
    fs.rmSync(carDir, { recursive: true, force: true });
  }
});
