// Runs lesson programs as one kid in one front end, for tests/server/lessons/test_same_verdict.py:
//
//   node tests/node/helpers/front_end_runner.mjs scratch|blockly <server url> <kid token> <car id>
//   node tests/node/helpers/front_end_runner.mjs export <server url> <class code> <kid name>
//
// Then one JSON line per lesson on stdin: {"lesson_id": ..., "program": <the Blockly JSON of the reference>}.
// For each, the kid picks the lesson (POST /api/lessons/select), the front end runs the program the way
// it runs a kid's - Scratch: the same program as a Scratch project on the green flag, in a headless
// scratch-vm with the served extension (over /scratch/ble); Blockly: headless Blockly's JavaScript and
// the app's ProgramRunner (over the /kid socket) - and once the attempt is graded (the `feedback` event)
// one JSON line goes out: {"lesson_id", "stars", "passed", "checks": {id: passed}}. "ready" comes first.
// `export`: the Blockly app's "Export to Python" of each program instead: {"lesson_id", "python": ...}.
import readline from 'node:readline';
import { io } from 'socket.io-client';

const [mode, url, token, carId] = process.argv.slice(2);
const FEEDBACK_TIMEOUT_MS = 60_000; // a graded attempt: the run, the car settling, the judge
const CONNECT_TIMEOUT_MS = 5_000; // loopback socket.io handshake
const PROGRAM_TIMEOUT_MS = 60_000; // the longest reference program, blocks answered by a fast car

const say = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);

async function selectLesson(lessonId) {
  const res = await fetch(`${url}/api/lessons/select`, {
    method: 'POST', body: JSON.stringify({ lesson_id: lessonId }),
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
  });
  if (!res.ok) throw new Error(`select ${lessonId}: ${res.status} ${await res.text()}`);
}

function kidSocket() {
  const socket = io(`${url}/kid`, { auth: { token }, transports: ['websocket'], reconnection: false });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no /kid connection')), CONNECT_TIMEOUT_MS);
    socket.once('connect', () => { clearTimeout(timer); resolve(socket); });
    socket.once('connect_error', reject);
  });
}

function feedbackFor(socket, lessonId) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no feedback for ${lessonId}`)), FEEDBACK_TIMEOUT_MS);
    const on = (fb) => {
      if (fb.lesson_id !== lessonId || fb.coach_update) return; // the grade itself, not the coach's later words
      clearTimeout(timer);
      socket.off('feedback', on);
      resolve(fb);
    };
    socket.on('feedback', on);
  });
}

/** Blockly: the app's own way to run a program (its JavaScript generator and runner.js). */
async function blocklyFrontEnd(socket) {
  const { Blockly, dojo } = await import('./blockly_headless.mjs');
  const { ProgramRunner } = await import('../../../blockly_app/src/runner.js');
  Object.assign(dojo.skills, { available: dojo.skills.all }); // the kid's level has every skill these lessons use
  const runner = new ProgramRunner(socket, {});
  return async (lessonId, program) => {
    const ws = new Blockly.Workspace();
    Blockly.serialization.workspaces.load(program, ws);
    const result = await runner.run(Blockly.serialization.workspaces.save(ws), dojo.programCode(ws), { lessonId });
    if (result.status !== 'finished') throw new Error(`${lessonId}: the Blockly run ended ${JSON.stringify(result)}`);
  };
}

/** Scratch: the same program as a kid's Scratch project, run on the green flag by the served extension. */
async function scratchFrontEnd() {
  const vmHelpers = await import('./scratch_vm.mjs');
  const { vm } = await vmHelpers.createVm(url, token);
  await vmHelpers.connectCar(vm, carId);
  return async (lessonId, program) => {
    await vmHelpers.loadProject(vm, vmHelpers.buildProject(vmHelpers.scriptsFromBlockly(program)));
    const ended = vmHelpers.once(vm.runtime, 'PROJECT_RUN_STOP', PROGRAM_TIMEOUT_MS, `${lessonId} to finish`);
    vm.greenFlag();
    await ended;
  };
}

if (mode === 'export') {
  const { Blockly, dojo } = await import('./blockly_headless.mjs');
  const [, , className, kidName] = process.argv.slice(2);
  say('ready');
  for await (const line of readline.createInterface({ input: process.stdin })) {
    const { lesson_id: lessonId, program } = JSON.parse(line);
    const ws = new Blockly.Workspace();
    Blockly.serialization.workspaces.load(program, ws);
    say({ lesson_id: lessonId, python: dojo.exportPython(ws, { server: url, classCode: className, name: kidName }, lessonId) });
  }
  process.exit(0);
}

const socket = await kidSocket();
const run = mode === 'scratch' ? await scratchFrontEnd() : await blocklyFrontEnd(socket);
say('ready');
for await (const line of readline.createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const { lesson_id: lessonId, program } = JSON.parse(line);
  try {
    await selectLesson(lessonId);
    const graded = feedbackFor(socket, lessonId);
    await run(lessonId, program);
    const fb = await graded;
    say({ lesson_id: lessonId, stars: fb.stars, passed: fb.passed, checks: Object.fromEntries(fb.checks.map((c) => [c.id, c.passed])),
      said: fb.checks.map((c) => c.kid_text) });
  } catch (err) {
    say({ lesson_id: lessonId, error: String(err && err.stack || err) });
  }
}
socket.disconnect();
process.exit(0);
