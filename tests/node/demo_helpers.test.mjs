// The shared Node helpers do what every front-end test relies on: a real demo classroom and Chromium.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startDemo } from './helpers/demo_server.mjs';
import { chromiumOrSkip, launchChromium } from './helpers/chromium.mjs';

test('startDemo starts a classroom with its cars connected and stop() leaves no process behind', async () => {
  const demo = await startDemo({ cars: 1 });
  let stopped = false;
  try {
    assert.match(demo.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(demo.classCode, 'DEMO');
    const health = await (await fetch(`${demo.url}/api/health`)).json();
    assert.equal(health.cars_connected, 1);
    const login = await fetch(`${demo.url}/api/teacher/login`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ password: demo.teacherPassword }),
    });
    assert.equal(login.status, 200, 'the printed teacher password logs in');
    await login.json();
    const { code } = await demo.stop();
    stopped = true;
    assert.equal(code, 0, `dojo demo exits cleanly on SIGTERM; output:\n${demo.output().slice(-2000)}`);
    await assert.rejects(fetch(`${demo.url}/api/health`), 'nothing listens after stop()');
  } finally {
    if (!stopped) await demo.stop();
  }
});

test('launchChromium opens a page of the demo classroom', async (t) => {
  if (!chromiumOrSkip(t)) return;
  const demo = await startDemo({ cars: 0 });
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    const response = await page.goto(`${demo.url}/api/health`);
    assert.equal(response.status(), 200);
    assert.match(await page.textContent('body'), /"ok": true/);
  } finally {
    await browser.close();
    await demo.stop();
  }
});
