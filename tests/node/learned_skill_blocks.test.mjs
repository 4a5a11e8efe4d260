// A skill the class taught, as a block in Scratch and Blockly against a real `dojo demo`:
// `dojo skills train` + `promote` (small budget: 10 expert demos, 1500 steps, 20 evaluation starts)
// write it into the server's data directory while two kids are already connected; the Scratch
// extension's skill menu and the Blockly kid's socket hear about it (no reload), the server sends it to
// the cars (hash-checked), and `do skill [mia_park]` from a headless scratch-vm and from the Blockly
// app's generator + runner parks each kid's simulated car in the garage box (oracle: the box rectangle).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { io } from 'socket.io-client';

import { ProgramRunner } from '../../blockly_app/src/runner.js';
import { REPO_ROOT, startDemo } from './helpers/demo_server.mjs';
import { Blockly, dojo, pythonPath, stackOf, workspaceFrom } from './helpers/blockly_headless.mjs';
import {
  buildProject, connectCar, createVm, doSkill, flag, joinKid, loadProject, reporter, setVar, shutdown, teacherSession,
  varValue, waitFor,
} from './helpers/scratch_vm.mjs';

const BOX = { x0: 285, y0: 103, x1: 355, y1: 147 }; // the garage box (learning/tricks.py GARAGE)
const TRAIN_TIMEOUT_MS = 300_000; // demos + training + 20 evaluation starts on a busy 2-core machine
const DEPLOY_MS = 30_000; // the server looks every 2 s; a car installs in well under a second
const RUN_MS = 60_000;
const REST_SPEED_CM_S = 0.5;
const inBox = (x, y) => x >= BOX.x0 && x <= BOX.x1 && y >= BOX.y0 && y <= BOX.y1;

function dojoSkills(dataDir, ...args) {
  return new Promise((resolve, reject) => {
    const child = spawn(pythonPath(), ['-m', 'dojo', 'skills', '--data-dir', dataDir, ...args], { cwd: REPO_ROOT });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`dojo skills ${args[0]} timed out:\n${out}`)); }, TRAIN_TIMEOUT_MS);
    child.on('exit', (code) => { clearTimeout(timer); code === 0 ? resolve(out) : reject(new Error(`dojo skills ${args.join(' ')}: exit ${code}\n${out}`)); });
  });
}

function connectKid(url, token) {
  return new Promise((resolve, reject) => {
    const socket = io(`${url}/kid`, { auth: { token }, transports: ['websocket'], reconnection: false });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

describe('a taught skill is a block in Scratch and Blockly', () => {
  let demo; let teacher; let mia; let ben; let scratch; let benSocket;
  const skillsEvents = [];
  const benTelemetry = [];

  before(async () => {
    demo = await startDemo({ cars: 2 });
    teacher = await teacherSession(demo.url, demo.teacherPassword);
    mia = await joinKid(demo.url, 'Mia');
    ben = await joinKid(demo.url, 'Ben');
    assert.notEqual(mia.car_id, ben.car_id);
    for (const kid of [mia, ben]) await teacher.post(`/api/teacher/classes/DEMO/kids/${kid.kid_id}/level`, { level: 3 });
    scratch = await createVm(demo.url, mia.token);
    await connectCar(scratch.vm, mia.car_id);
    benSocket = await connectKid(demo.url, ben.token);
    benSocket.on('skills', (p) => skillsEvents.push(p));
    benSocket.on('telemetry', (t) => benTelemetry.push(t));
    await waitFor(() => scratch.ext.skillMenu().some((s) => s.value === 'slalom'), 10_000, 'the level-3 skill menu');
    assert.ok(!scratch.ext.skillMenu().some((s) => s.value === 'mia_park'));
    const serverData = path.join(demo.dataDir, 'server');
    await dojoSkills(serverData, 'train', 'mia_park', '--trick', 'park', '--steps', '1500', '--taught-by', 'Mia');
    const promoted = await dojoSkills(serverData, 'promote', 'mia_park', '--episodes', '20');
    assert.match(promoted, /promoted/);
  });

  after(async () => {
    if (scratch) await shutdown(scratch.vm, scratch.ext);
    benSocket?.close();
    await demo?.stop();
  });

  test('the menus hear about the new skill and the server sends it to both cars', async () => {
    await waitFor(() => scratch.ext.skillMenu().some((s) => s.value === 'mia_park'), DEPLOY_MS, 'mia_park in Scratch\'s menu');
    await waitFor(() => skillsEvents.length > 0, DEPLOY_MS, 'a skills event on the Blockly kid\'s socket');
    const catalog = await (await fetch(`${demo.url}/api/catalog?level=3`)).json();
    assert.ok(catalog.skills.some((s) => s.name === 'mia_park' && s.learned && !s.locked));
    await waitFor(async () => {
      const cars = (await teacher.get('/api/teacher/skills')).skills.find((s) => s.name === 'mia_park')?.cars || {};
      return cars[mia.car_id]?.ok && cars[ben.car_id]?.ok;
    }, DEPLOY_MS, 'both cars to install mia_park');
  });

  test('Scratch: "do skill [mia_park]" parks Mia\'s car in the box', async () => {
    await teacher.post(`/api/teacher/skills/mia_park/try-on/${mia.car_id}`, {});
    const project = buildProject([[flag(), doSkill('mia_park'), setVar('x', reporter('positionX')),
      setVar('y', reporter('positionY')), setVar('done', 1)]], { variables: ['x', 'y', 'done'] });
    await loadProject(scratch.vm, project);
    scratch.vm.greenFlag();
    await waitFor(() => Number(varValue(scratch.vm, 'done')) === 1, RUN_MS, 'the Scratch program to finish');
    const x = Number(varValue(scratch.vm, 'x')); const y = Number(varValue(scratch.vm, 'y'));
    console.log(`# scratch: mia_park ended at (${x}, ${y})`);
    assert.ok(inBox(x, y), `Mia's car at (${x}, ${y}) is in the box`);
  });

  test('Blockly: the do-skill block with mia_park parks Ben\'s car in the box', async () => {
    await teacher.post(`/api/teacher/skills/mia_park/try-on/${ben.car_id}`, {});
    const ws = workspaceFrom([stackOf({ type: 'dojo_do_skill', fields: { SKILL: 'mia_park' } })]);
    assert.equal(ws.getAllBlocks(false).find((b) => b.type === 'dojo_do_skill').getFieldValue('SKILL'), 'mia_park');
    const program = Blockly.serialization.workspaces.save(ws);
    const runner = new ProgramRunner(benSocket, {});
    const result = await runner.run(program, dojo.programCode(ws));
    assert.equal(result.status, 'finished', JSON.stringify(result));
    const seen = benTelemetry.length;
    await waitFor(() => benTelemetry.length > seen + 3 && benTelemetry.slice(-4).every((t) => Math.abs(t.speed_cm_s) < REST_SPEED_CM_S),
      10_000, 'Ben\'s car at rest');
    const { x_cm: x, y_cm: y } = benTelemetry.at(-1).pose;
    console.log(`# blockly: mia_park ended at (${x.toFixed(1)}, ${y.toFixed(1)})`);
    assert.ok(inBox(x, y), `Ben's car at (${x}, ${y}) is in the box`);
  });
});
