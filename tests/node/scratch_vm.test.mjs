// The MIKRO-DOJO Scratch extension in a real, headless scratch-vm, driving simulated cars of a real
// `dojo demo` through the server's Scratch-Link-compatible endpoint (/scratch/ble).
//
// Each kid has their own car and their own VM. The stories run one after the other: scratch-vm's
// extension dispatcher is a process-wide singleton, so two live VMs in one Node process would share
// (and mix up) their extension services. Projects are real project JSON using our blocks, started by
// the green flag.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createRequire } from 'node:module';
import path from 'node:path';

import { startDemo } from './helpers/demo_server.mjs';
import {
  buildProject, changeVar, connectCar, createVm, doSkill, driveFor, flag, greaterThan, ifThen, joinKid, lessThan,
  goTo, loadProject, moveBackward, moveForward, once, recordSays, repeat, reporter, setSpeed, setVar, shutdown, sleep, stopCar,
  teacherSession, turn, varValue, wait, waitFor, whenObstacle,
} from './helpers/scratch_vm.mjs';

const require = createRequire(import.meta.url);

const PROGRAM_TIMEOUT_MS = 60_000; // the longest program here drives ~5 m at level speeds on a busy box
const STOP_PROMPT_MS = 1_000; // the stop sign must bring a moving car to rest within a second
const AT_REST_CM_S = 3; // a crawl no kid can see; the sim's motors ramp down from ~25 cm/s in ~0.7 s
const MAX_COAST_CM = 15; // what a car at level-1 speed may roll after the stop sign
const POSE_TOLERANCE_CM = 12; // a square of arcs closes within the sim's tracking error
const HEADING_TOLERANCE_DEG = 12;

let demo;
let teacher;
const kids = {};

function headingDiff(a, b) {
  return Math.abs(((a - b + 540) % 360) - 180);
}

async function runProject(vm, scripts, variables, { timeoutMs = PROGRAM_TIMEOUT_MS } = {}) {
  await loadProject(vm, buildProject(scripts, { variables: [...variables, 'done'] }));
  vm.greenFlag();
  await waitFor(() => varValue(vm, 'done') == 1, timeoutMs, 'the program to reach its last block'); // eslint-disable-line eqeqeq
}

async function kidVm(kid) {
  const { vm, ext } = await createVm(demo.url, kid.token);
  await connectCar(vm, kid.car_id);
  await waitFor(() => ext._telemetry, 5_000, `telemetry from ${kid.car_id}`);
  return { vm, ext };
}

describe('the MIKRO-DOJO extension in a headless scratch-vm against a real classroom server', () => {
  before(async () => {
    demo = await startDemo({ cars: 4 });
    teacher = await teacherSession(demo.url, demo.teacherPassword);
    // Cars start in a column (y = 30, 75, 120, 165) in the order they connected. Each story needs its
    // own floor: the square climbs from the lowest slot, the obstacle lane (y = 75) is clear of the
    // cones, the donut wants the open middle (highest slot); so the teacher hands out cars by slot.
    const { cars } = await teacher.get('/api/teacher/cars');
    const byY = cars.filter((c) => c.pose).sort((a, b) => a.pose.y_cm - b.pose.y_cm).map((c) => c.car_id);
    assert.equal(byY.length, 4, `four cars with telemetry: ${JSON.stringify(cars)}`);
    for (const [i, name] of ['Ada', 'Ben', 'Cy', 'Dee'].entries()) {
      const kid = await joinKid(demo.url, name);
      await teacher.post(`/api/teacher/cars/${byY[i]}/assign`, { kid_ids: [kid.kid_id] });
      kids[name] = { ...kid, car_id: byY[i] };
    }
  });

  after(async () => {
    if (demo) await demo.stop();
  });

  describe('four kids, four cars', () => {
    test('Ada: the square, reporters in an if, and scratch-vm\'s own BLE class', async (t) => {
      const { vm, ext } = await kidVm(kids.Ada);
      try {
        await t.test('repeat 4 [move forward 30, turn left 90] drives a square back to where it began', async () => {
          let furthest = 0;
          const watch = setInterval(() => {
            const tel = ext._telemetry;
            if (tel && varValue(vm, 'x0')) furthest = Math.max(furthest, Math.hypot(tel.x - varValue(vm, 'x0'), tel.y - varValue(vm, 'y0')));
          }, 50);
          try {
            await runProject(vm, [[
              flag(), moveForward(60), // room on the left for the square's arcs
              setVar('x0', reporter('positionX')), setVar('y0', reporter('positionY')), setVar('h0', reporter('heading')),
              repeat(4, [moveForward(30), turn('left', 90)]),
              wait(0.3),
              setVar('x1', reporter('positionX')), setVar('y1', reporter('positionY')), setVar('h1', reporter('heading')),
              setVar('done', 1),
            ]], ['x0', 'y0', 'h0', 'x1', 'y1', 'h1']);
          } finally {
            clearInterval(watch);
          }
          const [x0, y0, h0, x1, y1, h1] = ['x0', 'y0', 'h0', 'x1', 'y1', 'h1'].map((n) => Number(varValue(vm, n)));
          assert.ok(furthest > 60, `the car drove the square's sides (furthest ${furthest.toFixed(1)} cm from its corner)`);
          assert.ok(Math.hypot(x1 - x0, y1 - y0) < POSE_TOLERANCE_CM,
            `back at the first corner: (${x0}, ${y0}) -> (${x1}, ${y1})`);
          assert.ok(headingDiff(h1, h0) < HEADING_TOLERANCE_DEG, `facing the same way: ${h0} -> ${h1}`);
          const tel = ext._telemetry;
          assert.ok(Math.abs(tel.x - x1) < 2 && Math.abs(tel.y - y1) < 2, 'the reporters are the server telemetry');
        });

        await t.test('reporters work inside if blocks', async () => {
          await runProject(vm, [[
            flag(),
            ifThen(greaterThan(reporter('positionX'), 50), [setVar('seenX', reporter('positionX'))]),
            ifThen(greaterThan(reporter('distance'), 10), [setVar('seesAhead', 1)]), // a number, or Infinity
            ifThen(greaterThan(reporter('heading'), 1000), [setVar('never', 1)]),
            ifThen(lessThan(reporter('positionY'), 0), [setVar('never', 1)]),
            setVar('done', 1),
          ]], ['seenX', 'seesAhead', 'never']);
          const tel = ext._telemetry;
          assert.ok(Math.abs(Number(varValue(vm, 'seenX')) - tel.x) < 1, `car x in an if: ${varValue(vm, 'seenX')} vs ${tel.x}`);
          assert.equal(Number(varValue(vm, 'seesAhead')), 1);
          assert.equal(Number(varValue(vm, 'never')), 0, 'false conditions skip their blocks');
        });
      } finally {
        await shutdown(vm, ext);
      }

      await t.test("scratch-vm's own BLE class connects to /scratch/ble, writes, and gets refusals as notifications", async () => {
        // Not in scratch-vm's package exports: the official hardware extensions import it from src/.
        const BLE = require(path.resolve(path.dirname(require.resolve('scratch-vm')), '../../src/io/ble.js'));
        const vm2 = new (require('scratch-vm'))();
        vm2.configureScratchLinkSocketFactory(() => new ServerLinkSocket(`${demo.url.replace('http', 'ws')}/scratch/ble?token=${kids.Ada.token}`));
        const payloads = [];
        let ble;
        const connected = new Promise((resolve) => {
          vm2.runtime.on('PERIPHERAL_LIST_UPDATE', (list) => { if (list[kids.Ada.car_id]) ble.connectPeripheral(kids.Ada.car_id); });
          ble = new BLE(vm2.runtime, 'mikrodojo', { filters: [{ services: [0xd0d0] }] }, resolve);
        });
        await connected;
        await ble.startNotifications(0xd0d0, 0xd0d2, (b64) => payloads.push(JSON.parse(Buffer.from(b64, 'base64'))));
        const write = (call) => ble.write(0xd0d0, 0xd0d1, Buffer.from(JSON.stringify(call)).toString('base64'), 'base64');
        assert.equal(await write({ block: 'drive_for', args: { speed: 90, seconds: 1 }, ref: 'r1' }) > 0, true);
        assert.equal(await write({ block: 'move_forward', args: { distance: 3 }, ref: 'r2' }) > 0, true);
        const r1 = await waitFor(() => payloads.find((p) => p.type === 'result' && p.ref === 'r1'), 10_000, 'r1');
        const r2 = await waitFor(() => payloads.find((p) => p.type === 'result' && p.ref === 'r2'), 20_000, 'r2');
        assert.equal(r1.status, 'refused');
        assert.match(r1.kid_text, /level/i);
        assert.equal(r2.status, 'done', 'after a refusal the connection is still up and the next block runs');
        assert.ok(ble.isConnected());
        assert.ok(payloads.some((p) => p.type === 'telemetry'), 'telemetry arrives as notifications');
        ble.disconnect();
      });
    });

    test('Ben: when obstacle closer than 120 cm fires once per approach', async () => {
      await teacher.post(`/api/teacher/classes/DEMO/kids/${kids.Ben.kid_id}/level`, { level: 2 });
      const { vm, ext } = await kidVm(kids.Ben);
      try {
        await runProject(vm, [
          [
            flag(), setVar('hits', 0), setSpeed(50),
            moveForward(220), wait(0.3), setVar('afterFirst', reporter('distance')),
            moveBackward(90), wait(0.3), setVar('afterBack', reporter('distance')),
            moveForward(90), wait(0.5),
            setVar('done', 1),
          ],
          [whenObstacle(120), changeVar('hits', 1)],
        ], ['hits', 'afterFirst', 'afterBack']);
        const info = `distance after the first approach ${varValue(vm, 'afterFirst')}, after backing off ${varValue(vm, 'afterBack')}`;
        assert.ok(Number(varValue(vm, 'afterFirst')) < 120 && Number(varValue(vm, 'afterBack')) > 125, info);
        assert.equal(Number(varValue(vm, 'hits')), 2, `two approaches, two hats (${info})`);
      } finally {
        await shutdown(vm, ext);
      }
    });

    test('Cy: the red stop sign stops the car mid-drive within a second; a car taken away and another given, without an alarm', async () => {
      const { vm, ext } = await kidVm(kids.Cy);
      try {
        await loadProject(vm, buildProject([[flag(), moveForward(250), setVar('done', 1)]], { variables: ['done'] }));
        vm.greenFlag();
        await waitFor(() => ext._telemetry.speed > 10, 10_000, 'the car to drive');
        const stoppedAt = Date.now();
        const xAtStop = ext._telemetry.x;
        vm.stopAll(); // the red stop sign
        // A controlled stop: the motors ramp down (no wheel lock), so "at rest" is a crawl below 3 cm/s.
        await waitFor(() => Math.abs(ext._telemetry.speed) < AT_REST_CM_S, STOP_PROMPT_MS,
          'the car to come to rest after the stop sign', 5);
        const restedAfterMs = Date.now() - stoppedAt;
        await sleep(700);
        const x = ext._telemetry.x;
        assert.ok(x - xAtStop < MAX_COAST_CM, `it coasted ${(x - xAtStop).toFixed(1)} cm after the stop sign`);
        assert.ok(Math.abs(ext._telemetry.speed) < 1, `and stays stopped (speed ${ext._telemetry.speed} cm/s)`);
        assert.equal(Number(varValue(vm, 'done')), 0, 'the script was stopped too');
        assert.ok(restedAfterMs < STOP_PROMPT_MS, `at rest after ${restedAfterMs} ms`);

        // The car is given to another kid: Cy hears why (no "lost connection" alarm: the car is fine).
        let alarms = 0;
        vm.on('PERIPHERAL_CONNECTION_LOST_ERROR', () => { alarms += 1; });
        const takenBack = once(vm.runtime, 'MIKRODOJO_CAR', 5_000, 'the car-changed event');
        await teacher.post(`/api/teacher/cars/${kids.Cy.car_id}/assign`, { kid_ids: [kids.Ada.kid_id] });
        const taken = await takenBack;
        assert.equal(taken.carId, null);
        assert.match(taken.kidText, new RegExp(`took ${kids.Cy.car_id} back`));
        await waitFor(() => !vm.getPeripheralIsConnected('mikrodojo'), 5_000, 'Cy to be off the car');
        // Then the teacher gives Cy Ada's old car: the extension (still scanning) connects to it by itself.
        const connected = once(vm, 'PERIPHERAL_CONNECTED', 10_000, 'the new car connected by itself');
        await teacher.post(`/api/teacher/cars/${kids.Ada.car_id}/assign`, { kid_ids: [kids.Cy.kid_id] });
        await connected;
        await waitFor(() => ext._telemetry, 5_000, 'telemetry from the new car');
        await runProject(vm, [[flag(), moveForward(10), setVar('done', 1)]], []);
        assert.equal(ext._telemetry.car, kids.Ada.car_id, 'the blocks drive the new car');
        assert.equal(alarms, 0, 'no "lost connection" alarm for a car the teacher changed');
      } finally {
        await shutdown(vm, ext);
      }
    });

    test('Dee: a refusal, then do skill with the menu of her level', async (t) => {
      const { vm, ext } = await kidVm(kids.Dee);
      try {
        await t.test('a refused block makes the sprite say the kid sentence and the script goes on', async () => {
          const says = recordSays(vm);
          await runProject(vm, [[flag(), driveFor(80, 1), setVar('after', 1), doSkill('donut'), setVar('done', 1)]], ['after']);
          const spoken = says.filter((s) => s.text).map((s) => s.text);
          assert.equal(spoken.length, 2, `two refusals said: ${JSON.stringify(spoken)}`);
          assert.match(spoken[0], /level/i, 'drive_for is for level 2: the sentence says so');
          assert.equal(says[0].target, 'Car', 'the sprite running the script speaks');
          assert.equal(Number(varValue(vm, 'after')), 1, 'the script went on after the refusal');
        });

        await t.test('the do skill menu follows the level the teacher sets, and the skill runs', async () => {
          const catalog1 = await (await fetch(`${demo.url}/api/catalog?level=1`)).json();
          assert.ok(catalog1.skills.every((s) => s.locked));
          assert.ok(ext.skillMenu().every((item) => /level/.test(item.text)), 'level 1: only teasers');
          await teacher.post(`/api/teacher/classes/DEMO/kids/${kids.Dee.kid_id}/level`, { level: 4 });
          const catalog4 = await (await fetch(`${demo.url}/api/catalog?level=4`)).json();
          const open = catalog4.skills.filter((s) => !s.locked).map((s) => s.name);
          await waitFor(() => ext.skillMenu().every((item) => !/level/.test(item.text)), 5_000, 'the menu to update');
          assert.deepEqual(ext.skillMenu().map((item) => item.value), open);

          const says = recordSays(vm);
          const headings = [];
          const watch = setInterval(() => headings.push(ext._telemetry.heading), 50);
          try {
            // To the middle first: a donut needs open floor around its circle, wherever this car's start slot is.
            await runProject(vm, [[flag(), goTo(200, 110), doSkill('donut'), setVar('done', 1)]], []);
          } finally {
            clearInterval(watch);
          }
          assert.deepEqual(says.filter((s) => s.text), [], 'nothing refused or failed');
          const turned = headings.slice(1).reduce((sum, h, i) => sum + headingDiff(h, headings[i]), 0);
          assert.ok(turned > 270, `the donut spun the car (${turned.toFixed(0)} degrees)`);
        });
      } finally {
        await shutdown(vm, ext);
      }
    });
  });

  test('loaded by URL like in TurboWarp, the extension joins with ?class=&name=, its blocks run, a green flag is a graded attempt', async () => {
    const { vm, ext } = await createVm(demo.url, null, { query: '?class=DEMO&name=Zed' });
    try {
      const listed = new Promise((resolve) => vm.on('PERIPHERAL_LIST_UPDATE', resolve));
      vm.scanForPeripheral('mikrodojo'); // the kid clicks the orange dot: join, then discover
      const list = await listed;
      const [carId] = Object.keys(list);
      assert.match(list[carId].name, /^car-\d \(simulated\)$/);
      const connected = once(vm, 'PERIPHERAL_CONNECTED', 5_000, 'connect');
      vm.connectPeripheral('mikrodojo', carId);
      await connected;
      const says = recordSays(vm);
      await runProject(vm, [[flag(), stopCar(), setVar('done', 1)]], []);
      assert.deepEqual(says, [], 'the stop block was done, not refused');

      // A green-flag program is a run; with a lesson picked, it is a graded attempt.
      const token = ext._config.token;
      const api = (p, init = {}) => fetch(`${demo.url}${p}`, {
        ...init, headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      }).then((r) => r.json());
      const picked = await api('/api/lessons/select', { method: 'POST', body: JSON.stringify({ lesson_id: 'l1-wake-up' }) });
      assert.match(JSON.stringify(picked.lesson), /l1-wake-up/, 'the lesson is picked');
      await sleep(500); // the lesson's arena reaches the car, which is put at the start
      await runProject(vm, [[flag(), moveForward(160), setVar('done', 1)]], []);
      const attempt = await waitFor(async () => {
        const { attempts } = await api('/api/attempts');
        return attempts.find((a) => a.lesson_id === 'l1-wake-up' && a.status !== 'recording' && a.status !== 'grading');
      }, 30_000, 'the attempt to be graded');
      assert.equal(attempt.passed, true, `into the garage: ${JSON.stringify(attempt)}`);
    } finally {
      await shutdown(vm, ext);
    }
  });
});

test('in TurboWarp\'s sandbox the extension says it needs to run unsandboxed', async () => {
  const fs = await import('node:fs');
  const source = fs.readFileSync(path.join(path.dirname(new URL(import.meta.url).pathname), '../../scratch_extension/mikrodojo.js'), 'utf8');
  assert.match(source, /^\(function \(Scratch\) \{$/m, 'TurboWarp format: (function (Scratch) { ... })(Scratch);');
  assert.match(source.trimEnd(), /\}\)\(Scratch\);$/);
  const sandboxed = { extensions: { unsandboxed: false, register() { throw new Error('must not register'); } } };
  assert.throws(() => new Function('Scratch', source)(sandboxed), /without the sandbox.*localhost:8000/); // eslint-disable-line no-new-func
});

/** A Scratch Link socket (the interface scratch-vm's BLE class uses) aimed at our server instead of 20111. */
class ServerLinkSocket {
  constructor(url) { this._url = url; }
  setOnOpen(fn) { this._onOpen = fn; }
  setOnClose(fn) { this._onClose = fn; }
  setOnError(fn) { this._onError = fn; }
  setHandleMessage(fn) { this._handleMessage = fn; }
  open() {
    this._ws = new WebSocket(this._url);
    this._ws.onopen = this._onOpen;
    this._ws.onclose = this._onClose;
    this._ws.onerror = this._onError;
    this._ws.onmessage = (e) => this._handleMessage(JSON.parse(e.data));
  }
  close() { this._ws.close(); }
  sendMessage(message) { this._ws.send(JSON.stringify(message)); }
  isOpen() { return this._ws && this._ws.readyState === this._ws.OPEN; }
}
