// Start a real `dojo demo` (server + simulated car processes) for Node and browser tests.
//
//   import { startDemo } from './helpers/demo_server.mjs';
//   const demo = await startDemo({ cars: 2 });      // free port, fresh data dir, known teacher password
//   ... fetch(`${demo.url}/api/health`) ... socket.io-client to `${demo.url}/kid` ...
//   await demo.stop();                              // SIGTERM, waits until every process is gone
//
// The demo prints `MIKRO-DOJO READY http://127.0.0.1:PORT` once the server listens and the cars are
// connected; we wait for that line, never for a fixed sleep.
import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const CLASS_CODE = 'DEMO';

// Server + N car processes each import python-socketio/pydantic: ~2-5 s on the shared 2-core box.
export const READY_TIMEOUT_MS = 60_000;
// The demo stops cars, reaps its subprocesses and closes the DB in well under a second; 15 s is a hang.
export const STOP_TIMEOUT_MS = 15_000;
const READY_RE = /MIKRO-DOJO READY (http:\/\/\S+)/;

function pythonPath() {
  const venv = path.join(REPO_ROOT, '.venv', 'bin', 'python');
  return fs.existsSync(venv) ? venv : 'python3';
}

const running = new Set();
process.on('exit', () => {
  // Last resort if a test forgot stop(): take the whole process group (server + cars) down.
  for (const child of running) {
    try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
  }
});

/**
 * Start `python -m dojo demo` on a free port with a fresh data dir.
 * Returns {url, classCode, teacherPassword, dataDir, output(), stop()}.
 */
export async function startDemo({ cars = 4, port = 0, teacherPassword, extraArgs = [], env = {} } = {}) {
  const password = teacherPassword || `test-${crypto.randomBytes(6).toString('hex')}`;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dojo-demo-'));
  const args = ['-m', 'dojo', 'demo', '--port', String(port), '--cars', String(cars),
    '--data-dir', dataDir, '--teacher-password', password, '--no-open', ...extraArgs];
  const child = spawn(pythonPath(), args, {
    cwd: REPO_ROOT,
    env: { ...process.env, PYTHONUNBUFFERED: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // own process group; its car processes die with it (the demo sets PR_SET_PDEATHSIG)
  });
  running.add(child);
  let log = '';
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => {
    running.delete(child);
    resolve({ code, signal });
  }));

  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      fail(new Error(`dojo demo was not READY within ${READY_TIMEOUT_MS} ms; output:\n${log.slice(-4000)}`));
    }, READY_TIMEOUT_MS);
    function fail(err) {
      clearTimeout(timer);
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
      reject(err);
    }
    const onData = (chunk) => {
      log += chunk.toString();
      const m = READY_RE.exec(log);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk) => { log += chunk.toString(); });
    exited.then(({ code, signal }) => fail(new Error(
      `dojo demo exited (code ${code}, signal ${signal}) before READY; output:\n${log.slice(-4000)}`)));
  });

  let stopping = null;
  async function stop() {
    if (stopping) return stopping;
    stopping = (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        let timer;
        const timeout = new Promise((r) => { timer = setTimeout(() => r('timeout'), STOP_TIMEOUT_MS); });
        const outcome = await Promise.race([exited, timeout]);
        clearTimeout(timer); // a pending timer would keep the test process alive for 15 s
        if (outcome === 'timeout') {
          try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
          await exited;
          throw new Error(`dojo demo did not stop within ${STOP_TIMEOUT_MS} ms after SIGTERM; killed. Output:\n${log.slice(-4000)}`);
        }
      }
      fs.rmSync(dataDir, { recursive: true, force: true });
      return exited;
    })();
    return stopping;
  }

  function carPid(carId) {
    const children = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(child.pid)], { encoding: 'utf8' });
    const line = children.split('\n').find((l) => l.includes(`--name ${carId} `));
    if (!line) throw new Error(`no car process ${carId} under the demo (pid ${child.pid}):\n${children}`);
    return Number(line.trim().split(/\s+/)[0]);
  }

  /** Switch one simulated car off the hard way (its process killed): what a flat battery looks like. */
  function killCar(carId) {
    process.kill(carPid(carId), 'SIGKILL');
  }

  /** The car's pairing token, read from its process's environment (only its owner can: not from `ps`). */
  function carToken(carId) {
    const env = fs.readFileSync(`/proc/${carPid(carId)}/environ`, 'utf8').split('\0');
    const entry = env.find((e) => e.startsWith('DOJO_CAR_TOKEN='));
    if (!entry) throw new Error(`${carId} has no DOJO_CAR_TOKEN in its environment`);
    return entry.slice('DOJO_CAR_TOKEN='.length);
  }

  return { url, classCode: CLASS_CODE, teacherPassword: password, dataDir, output: () => log, stop, killCar, carToken };
}
