// A `dojo server` restarts under a kid's Scratch (a rolling restart): the extension gets `server_moving`,
// keeps trying quietly, and connects to the same car again once a server answers — no "lost connection"
// alarm — and the kid's next block drives the car. Real processes: `dojo server` (SIGTERM drains it:
// server/ops/drain.py), a simulated car, the extension as the server serves it in a headless scratch-vm.
// Behind a balancer another process answers at once (tests/server/ops/test_nginx.py); here the same
// port comes back after a restart, the slower case.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';

import { REPO_ROOT } from './helpers/demo_server.mjs';
import {
  buildProject, connectCar, createVm, flag, joinKid, loadProject, moveForward, setVar, shutdown, varValue, waitFor,
} from './helpers/scratch_vm.mjs';

const START_TIMEOUT_MS = 60_000; // importing the server or a car on the shared 2-core box
const EXIT_TIMEOUT_MS = 20_000; // the drain's bound (5 s here) plus closing
const BACK_TIMEOUT_MS = 30_000; // the extension's own retry window after server_moving
const CAR_TOKEN = 'car-token-0123456789abcdef';

const children = new Set();
after(() => {
  for (const child of children) {
    try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
  }
});

function python() {
  const venv = path.join(REPO_ROOT, '.venv', 'bin', 'python');
  return fs.existsSync(venv) ? venv : 'python3';
}

async function freePort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

function start(args, env = {}) {
  const child = spawn(python(), args, {
    cwd: REPO_ROOT, env: { ...process.env, PYTHONUNBUFFERED: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  children.add(child);
  child.log = '';
  child.stdout.on('data', (c) => { child.log += c; });
  child.stderr.on('data', (c) => { child.log += c; });
  child.exited = new Promise((resolve) => child.on('exit', (code) => { children.delete(child); resolve(code); }));
  return child;
}

async function health(url) {
  try {
    const res = await fetch(`${url}/api/health`);
    return res.ok ? await res.json() : null;
  } catch { return null; }
}

test('a restarting server sends Scratch to the same car again, with no lost-connection alarm', { timeout: 180_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dojo-moving-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const config = path.join(dir, 'server.json');
  fs.writeFileSync(config, JSON.stringify({
    data_dir: path.join(dir, 'data'), default_class_code: 'DEMO', teacher_password: 'teach-1234',
    car_tokens: { 'car-1': CAR_TOKEN }, ops: { drain_timeout_s: 5 },
  }));
  const server = () => start(['-m', 'dojo', 'server', '--config', config, '--port', String(port)]);
  let first = server();
  const car = start(['-m', 'dojo', 'car', '--sim', '--name', 'car-1', '--server', url], { DOJO_CAR_TOKEN: CAR_TOKEN });
  let vm; let ext;
  try {
    await waitFor(async () => (await health(url))?.cars_connected === 1, START_TIMEOUT_MS, 'car-1 connected');
    const kid = await joinKid(url, 'Mia');
    ({ vm, ext } = await createVm(url, kid.token));
    await connectCar(vm, 'car-1');
    const alarms = [];
    vm.on('PERIPHERAL_CONNECTION_LOST_ERROR', (e) => alarms.push(e));
    vm.on('PERIPHERAL_REQUEST_ERROR', (e) => alarms.push(e));

    first.kill('SIGTERM');
    assert.equal(await first.exited, 0, first.log.slice(-3000));
    assert.match(first.log, /drained in/);
    await waitFor(() => !ext.isConnected(), 5_000, 'the extension saw its socket close');
    const second = server(); // the same port, the same data: a restart
    first = second;
    await waitFor(() => ext.isConnected(), BACK_TIMEOUT_MS, 'the extension connected to car-1 again by itself');
    assert.deepEqual(alarms, [], 'no lost-connection alarm for a server that moves');

    await loadProject(vm, buildProject([[flag(), moveForward(10), setVar('done', 1)]], { variables: ['done'] }));
    vm.greenFlag();
    await waitFor(() => varValue(vm, 'done') == 1, 60_000, 'the block after the restart ran'); // eslint-disable-line eqeqeq
  } finally {
    if (vm) await shutdown(vm, ext);
    for (const child of [first, car]) {
      if (child.exitCode === null) child.kill('SIGTERM');
    }
    await Promise.race([Promise.all([first.exited, car.exited]), new Promise((r) => setTimeout(r, EXIT_TIMEOUT_MS))]);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
