// Same program, same pose: a Blockly program run the app's way (the JavaScript generator + runner.js
// over a real socket.io `/kid` connection) and the same program exported to Python and run with the
// real SDK (`.venv/bin/python program.py`) end at the same pose, against one `dojo demo`.
//
// The server has no "put this car back" call for kids or teachers yet, so the two runs use two
// simulated cars that start with the same heading (start slots differ only by a translation); the poses
// are compared in each car's own start frame (what the program did), within 1 cm and 2 degrees.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { io } from 'socket.io-client';
import { ProgramRunner } from '../../blockly_app/src/runner.js';
import { NUMBER_INPUTS, FIELD_RANGES } from '../../blockly_app/src/blocks.js';
import { REPO_ROOT, startDemo } from './helpers/demo_server.mjs';
import { Blockly, dojo, num, pythonPath, stackOf, workspaceFrom } from './helpers/blockly_headless.mjs';

const CONNECT_TIMEOUT_MS = 5_000; // loopback handshake
const RUN_TIMEOUT_MS = 60_000; // the program below takes ~10 s of driving at level 1's speed
const REST_SPEED_CM_S = 0.5; // below this the simulated car is standing still
const REST_SAMPLES = 4; // 4 telemetry messages at rest (200 ms at 20 Hz): the car has settled
const POSE_TOLERANCE_CM = 1;
const SLOW_PCT = 20; // the event test drives slowly: reaction time + braking stay short, so any arena has room
const HEADING_TOLERANCE_DEG = 2;

// side = 20; repeat 2 { forward side; side += 15 }; turn left 90 -- a loop, a variable, a turn, and few
// moves: each move's end lands on a 50 Hz control tick (~0.4 cm at level 1's speed), so a long program
// would add up timing jitter that says nothing about the two front ends.
const VARIABLES = [{ name: 'side', id: 'side' }];
const PROGRAM_TOPS = [stackOf(
  { type: 'variables_set', fields: { VAR: { id: 'side' } }, inputs: { VALUE: { block: { type: 'math_number', fields: { NUM: 20 } } } } },
  { type: 'controls_repeat_ext', inputs: { TIMES: num(2), DO: { block: stackOf(
    { type: 'dojo_move_forward', inputs: { DISTANCE: { shadow: { type: 'math_number', fields: { NUM: 10 } },
      block: { type: 'variables_get', fields: { VAR: { id: 'side' } } } } } },
    { type: 'math_change', fields: { VAR: { id: 'side' } }, inputs: { DELTA: num(15) } },
  ) } } },
  { type: 'dojo_turn', fields: { DIRECTION: 'left' }, inputs: { DEGREES: num(90) } },
)];

async function join(url, name) {
  // rejoin: Ben comes back in the last test as the Ben whose exported program ran before ("yes, that is me")
  const resp = await fetch(`${url}/api/join`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ class_code: 'DEMO', name, rejoin: true }),
  });
  assert.equal(resp.status, 200, await resp.clone().text());
  return resp.json();
}

function connectKid(url, token) {
  return new Promise((resolve, reject) => {
    const socket = io(`${url}/kid`, { auth: { token }, transports: ['websocket'], reconnection: false, timeout: CONNECT_TIMEOUT_MS });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (err) => reject(err));
  });
}

/** Follows a kid's car telemetry; resolves poses when the car has come to rest. */
class PoseWatch {
  constructor(socket) {
    this.latest = null;
    this.restCount = 0;
    this.waiters = [];
    socket.on('telemetry', (t) => {
      this.latest = t;
      this.restCount = Math.abs(t.speed_cm_s) < REST_SPEED_CM_S ? this.restCount + 1 : 0;
      for (const w of [...this.waiters]) w();
    });
  }

  /** The pose once the car stood still for REST_SAMPLES telemetry messages. */
  atRest(timeoutMs = RUN_TIMEOUT_MS) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the car did not come to rest within ${timeoutMs} ms`)), timeoutMs);
      const check = () => {
        if (this.latest && this.restCount >= REST_SAMPLES) {
          clearTimeout(timer);
          this.waiters = this.waiters.filter((w) => w !== check);
          resolve({ ...this.latest.pose });
        }
      };
      this.waiters.push(check);
      check();
    });
  }
}

/** The end pose seen from the start pose (x forward, y to the left, heading change), in cm/degrees. */
function relative(start, end) {
  const a = (start.heading_deg * Math.PI) / 180;
  const dx = end.x_cm - start.x_cm;
  const dy = end.y_cm - start.y_cm;
  return {
    forward: dx * Math.cos(a) + dy * Math.sin(a),
    left: -dx * Math.sin(a) + dy * Math.cos(a),
    turned: ((end.heading_deg - start.heading_deg + 540) % 360) - 180,
  };
}

function runPython(file) {
  return new Promise((resolve, reject) => {
    const child = spawn(pythonPath(), [file], { cwd: REPO_ROOT });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`python timed out:\n${out}`)); }, RUN_TIMEOUT_MS);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, out }); });
  });
}

describe('same program, same pose: the app\'s run and the exported Python', () => {
  let demo;
  const sockets = [];

  before(async () => { demo = await startDemo({ cars: 2 }); });
  after(async () => {
    for (const s of sockets) s.close();
    await demo?.stop();
  });

  test('the live server\'s /api/catalog has the ranges and defaults the Blockly blocks use', async () => {
    const catalog = await (await fetch(`${demo.url}/api/catalog?level=4`)).json();
    for (const b of catalog.blocks) {
      const ranges = { ...(NUMBER_INPUTS[b.blockly_type] || {}), ...(FIELD_RANGES[b.blockly_type] || {}) };
      for (const p of b.params.filter((x) => x.kind === 'number')) {
        const r = Object.values(ranges).find((x) => x.param === p.name);
        assert.deepEqual([r?.min, r?.max, r?.default], [p.min, p.max, p.default], `${b.blockly_type}.${p.name}`);
      }
      assert.ok(Blockly.Blocks[b.blockly_type], `${b.blockly_type} is a registered Blockly block`);
    }
  });

  test('both runs end at the same pose within 1 cm and 2 degrees', async () => {
    const ws = workspaceFrom(PROGRAM_TOPS, VARIABLES);
    const program = Blockly.serialization.workspaces.save(ws);
    const code = dojo.programCode(ws);

    // 1. The app's way: JavaScript generator + runner over /kid.
    const ada = await join(demo.url, 'Ada');
    const adaSocket = await connectKid(demo.url, ada.token);
    sockets.push(adaSocket);
    const adaPoses = new PoseWatch(adaSocket);
    const runner = new ProgramRunner(adaSocket, {});
    const adaStart = await adaPoses.atRest();
    const result = await runner.run(program, code);
    assert.equal(result.status, 'finished', JSON.stringify(result));
    const adaEnd = await adaPoses.atRest();

    // 2. The exported Python, run with the real SDK as another kid on the other car.
    const ben = await join(demo.url, 'Ben');
    assert.notEqual(ben.car_id, ada.car_id, 'two cars, so both runs start from a fresh start pose');
    const benSocket = await connectKid(demo.url, ben.token);
    sockets.push(benSocket);
    const benPoses = new PoseWatch(benSocket);
    const benStart = await benPoses.atRest();
    assert.ok(Math.abs(relative(adaStart, benStart).turned) < 0.5, 'both cars start with the same heading');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dojo-export-'));
    const file = path.join(dir, 'program.py');
    fs.writeFileSync(file, dojo.exportPython(ws, { server: demo.url, classCode: 'DEMO', name: 'Ben', car: ben.car_id }));
    const { code: exitCode, out } = await runPython(file);
    fs.rmSync(dir, { recursive: true, force: true });
    assert.equal(exitCode, 0, out);
    const benEnd = await benPoses.atRest();

    const fromApp = relative(adaStart, adaEnd);
    const fromPython = relative(benStart, benEnd);
    const cm = Math.hypot(fromApp.forward - fromPython.forward, fromApp.left - fromPython.left);
    const deg = Math.abs(fromApp.turned - fromPython.turned);
    console.log(`# same pose: app ${JSON.stringify(fromApp)} python ${JSON.stringify(fromPython)}: ${cm.toFixed(2)} cm, ${deg.toFixed(2)} deg apart`);
    assert.ok(Math.hypot(fromApp.forward, fromApp.left) > 30, 'the program really drove');
    assert.ok(cm <= POSE_TOLERANCE_CM, `positions ${cm.toFixed(2)} cm apart`);
    assert.ok(deg <= HEADING_TOLERANCE_DEG, `headings ${deg.toFixed(2)} degrees apart`);
  });

  test('"when obstacle closer than" runs its blocks once, next to the program, and its stop ends the run', async () => {
    // Ben's car (the Python run above) ends in front of Ada's, with only the wall ahead of it. Sensor
    // events come at level 2: the teacher moves Ben up.
    const login = await fetch(`${demo.url}/api/teacher/login`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ password: demo.teacherPassword }),
    });
    const { csrf_token: csrf } = await login.json();
    const cookie = login.headers.get('set-cookie').split(';')[0];
    const ben = await join(demo.url, 'Ben');
    const raised = await fetch(`${demo.url}/api/teacher/classes/DEMO/kids/${ben.kid_id}/level`, {
      method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf, Cookie: cookie },
      body: JSON.stringify({ level: 2 }),
    });
    assert.equal(raised.status, 200, await raised.text());
    const socket = await connectKid(demo.url, ben.token);
    sockets.push(socket);
    const poses = new PoseWatch(socket);
    await poses.atRest();
    const ahead = poses.latest.distance_cm;
    assert.ok(ahead !== null && ahead > 90, `the car needs room ahead for this test (sensor: ${ahead} cm)`);
    const threshold = Math.round(ahead - 15); // drive ~15 cm, then the event fires

    const ws = workspaceFrom([
      { type: 'dojo_when_obstacle', id: 'hat', fields: { DISTANCE: threshold }, inputs: { DO: { block: { type: 'dojo_stop', id: 'hat-stop' } } } },
      stackOf(
        { type: 'dojo_set_speed', id: 'slow', inputs: { SPEED: num(SLOW_PCT) } },
        { type: 'dojo_move_forward', id: 'far', inputs: { DISTANCE: num(Math.min(500, Math.round(ahead + 50))) } },
      ),
    ]);
    const lit = [];
    const runner = new ProgramRunner(socket, { onHighlight: (id) => { if (id) lit.push(id); } });
    const result = await runner.run(Blockly.serialization.workspaces.save(ws), dojo.programCode(ws));
    const end = await poses.atRest();
    const left = poses.latest.distance_cm;
    console.log(`# obstacle event: threshold ${threshold} cm, stopped with ${left} cm ahead; run ${result.status}`);
    assert.equal(result.status, 'stopped', JSON.stringify(result));
    assert.deepEqual(lit.filter((id) => id === 'hat-stop'), ['hat-stop'], 'the event ran its stop block exactly once');
    assert.ok(lit.indexOf('far') < lit.indexOf('hat-stop'), 'the move was running when the event fired');
    // Past the line by the reaction time (20 Hz telemetry, one round trip) plus braking, never into the wall.
    assert.ok(left < threshold && left > 15, `stopped inside the line, clear of the wall (${left} cm ahead)`);
    assert.ok(end, 'the car is at rest');

    // The same program exported to Python: the event's car.stop() ends it quietly, as in the app.
    const again = Math.round(left - 15);
    assert.ok(again > 25, `room for the Python run (${left} cm ahead)`);
    ws.getBlockById('hat').setFieldValue(again, 'DISTANCE');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dojo-export-'));
    const file = path.join(dir, 'program.py');
    const py = dojo.exportPython(ws, { server: demo.url, classCode: 'DEMO', name: 'Ben' });
    fs.writeFileSync(file, py);
    const { code: exitCode, out } = await runPython(file);
    fs.rmSync(dir, { recursive: true, force: true });
    assert.equal(exitCode, 0, `${out}\n${py}`);
    assert.match(out, /The car was stopped\./);
    await poses.atRest();
    const leftPy = poses.latest.distance_cm;
    console.log(`# obstacle event in Python: threshold ${again} cm, stopped with ${leftPy} cm ahead`);
    assert.ok(leftPy < again && leftPy > 10, `stopped inside the line, clear of the wall (${leftPy} cm ahead)`);
  });
});
