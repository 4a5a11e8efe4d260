// Teacher accounts in real Chromium against a real `dojo demo` (issue 14): accounts made with the real
// `dojo teacher add` on the demo's database switch the console to accounts mode; it asks for a username,
// each teacher sees only their own class, and "Log out everywhere" ends the other browser's login too.
// (Single-password mode, today's classroom, is browser_teacher.test.mjs.) Screenshots: artifacts/teacher/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startDemo, REPO_ROOT } from './helpers/demo_server.mjs';
import { launchChromium, chromiumOrSkip } from './helpers/chromium.mjs';

const SHOTS = path.join(REPO_ROOT, 'artifacts', 'teacher');
const UI_WAIT_MS = 10_000; // the page answers in milliseconds; 10 s means it is not coming
const CLI_TIMEOUT_MS = 60_000; // a fresh Python process importing the server on a busy machine
const TEST_TIMEOUT_MS = 150_000;
const PASSWORDS = { ana: 'ana-pass-1234', bob: 'bob-pass-1234' };

function python() {
  const venv = path.join(REPO_ROOT, '.venv', 'bin', 'python');
  return fs.existsSync(venv) ? venv : 'python3';
}

// `dojo demo --data-dir D` keeps the server's data in D/server: what `dojo teacher --data-dir` names
function dojoTeacher(dataDir, args, input = '') {
  return execFileSync(python(), ['-m', 'dojo', 'teacher', '--data-dir', dataDir, ...args],
    { cwd: REPO_ROOT, input, encoding: 'utf8', timeout: CLI_TIMEOUT_MS });
}

async function logIn(page, url, username, password) {
  await page.goto(`${url}/teacher/`);
  await page.waitForSelector('#username-row:not([hidden])', { timeout: UI_WAIT_MS });
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.click('#login-form button[type=submit]');
}

async function createClass(page, name) {
  await page.waitForSelector('#classes-view:not([hidden])', { timeout: UI_WAIT_MS });
  await page.fill('#class-name', name);
  await page.click('#create-class-form button[type=submit]');
  await page.waitForSelector('#code-dialog[open]');
  const code = (await page.textContent('#huge-code')).trim();
  await page.click('#code-dialog');
  return code;
}

function pageGet(page, apiPath) {
  return page.evaluate(async (p) => {
    const res = await fetch(p, { credentials: 'same-origin' });
    return { status: res.status, body: await res.json() };
  }, apiPath);
}

test('teachers log in with a username and see only their own class', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  if (!chromiumOrSkip(t)) return;
  fs.mkdirSync(SHOTS, { recursive: true });
  const demo = await startDemo({ cars: 1 });
  const browser = await launchChromium();
  const errors = [];
  try {
    for (const name of ['ana', 'bob']) {
      assert.match(dojoTeacher(path.join(demo.dataDir, 'server'), ['add', name], `${PASSWORDS[name]}\n`), new RegExp(`added teacher '${name}'`));
    }
    const contexts = await Promise.all([0, 1, 2].map(() => browser.newContext({ viewport: { width: 1440, height: 960 } })));
    const [ana, bob, anaTablet] = await Promise.all(contexts.map((c) => c.newPage()));
    for (const page of [ana, bob, anaTablet]) page.on('pageerror', (e) => errors.push(e.message));

    let anaCode, bobCode;
    await t.test('the console asks for a username; a wrong password is refused', async () => {
      await logIn(ana, demo.url, 'ana', 'not-the-password');
      await ana.waitForSelector('#login-error:has-text("username or password is not right")');
      await ana.fill('#password', PASSWORDS.ana);
      await ana.screenshot({ path: path.join(SHOTS, '20-accounts-login.png') });
      await ana.click('#login-form button[type=submit]');
      anaCode = await createClass(ana, 'Ana Robotics');
      assert.equal((await ana.textContent('#who')).trim(), 'ana');
    });

    await t.test('each teacher sees only their own class', async () => {
      await logIn(bob, demo.url, 'bob', PASSWORDS.bob);
      bobCode = await createClass(bob, 'Bob Robotics');
      const anaClasses = (await pageGet(ana, '/api/teacher/classes')).body.classes.map((c) => c.code);
      const bobClasses = (await pageGet(bob, '/api/teacher/classes')).body.classes.map((c) => c.code);
      assert.deepEqual(anaClasses, [anaCode]); // not bob's, not the demo's class (nobody's: an admin's)
      assert.deepEqual(bobClasses, [bobCode]);
      const options = await ana.$$eval('#class-picker option', (os) => os.map((o) => o.value));
      assert.ok(!options.includes(bobCode) && !options.includes('DEMO'), `ana's class picker: ${options}`);
      assert.equal((await pageGet(ana, `/api/teacher/classes/${bobCode}/board`)).status, 404);
      assert.equal((await pageGet(ana, '/api/teacher/cars')).body.cars.length, 0); // the demo's car is nobody's
      await ana.screenshot({ path: path.join(SHOTS, '21-accounts-own-class.png') });
    });

    await t.test('the set-up wizard and the Skills page ask for the username too', async () => {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const page = await context.newPage();
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${demo.url}/setup/`);
      await page.waitForSelector('#login:not([hidden]) #username:not([hidden])', { timeout: UI_WAIT_MS });
      await page.fill('#username', 'bob');
      await page.fill('#password', PASSWORDS.bob);
      await page.click('#login-form button');
      await page.waitForSelector('#wizard:not([hidden])', { timeout: UI_WAIT_MS });
      await page.screenshot({ path: path.join(SHOTS, '22-accounts-setup-wizard.png') });
      await context.clearCookies();
      await page.goto(`${demo.url}/skills/`);
      await page.waitForSelector('#login:not([hidden]) #username:not([hidden])', { timeout: UI_WAIT_MS });
      await page.fill('#username', 'bob');
      await page.fill('#password', PASSWORDS.bob);
      await page.click('#login-form button');
      await page.waitForSelector('#main:not([hidden])', { timeout: UI_WAIT_MS });
      await context.close();
    });

    await t.test('log out everywhere ends the login on the other browser too', async () => {
      await logIn(anaTablet, demo.url, 'ana', PASSWORDS.ana);
      await anaTablet.waitForSelector('#class-view:not([hidden]), #classes-view:not([hidden])', { timeout: UI_WAIT_MS });
      await ana.click('#logout-all-btn');
      await ana.waitForSelector('#login-error:has-text("logged out everywhere")', { timeout: UI_WAIT_MS });
      assert.equal((await pageGet(anaTablet, '/api/teacher/me')).status, 401);
      await anaTablet.reload();
      await anaTablet.waitForSelector('#login-view:not([hidden])', { timeout: UI_WAIT_MS });
      assert.equal((await pageGet(bob, '/api/teacher/me')).status, 200); // bob's login is his own
    });
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    await demo.stop();
  }
});
