// The drive page in real Chromium against a real `dojo demo` (one simulated car), driven with the
// keyboard like a kid: join, pick "Park in the box", Start, hold the up arrow, let go, Stop. The drive
// is recorded as an episode on the server (the kid's stick and the applied command apart), and the car
// obeyed level 1: never more than 30 % throttle or 30 % of its 300 cm/s top speed.
// Then Teach: the kid's good drives (stood in for by the scripted expert's nudged demonstrations, filed
// as this kid's drives: a test cannot park with a keyboard reliably) become a skill: the progress bar fills, the
// loss plot draws, the evaluated trajectories appear on the arena and the page shows the new block.
// Screenshots: artifacts/drive/ (gitignored).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { chromiumSkipReason, launchChromium } from './helpers/chromium.mjs';
import { REPO_ROOT, startDemo } from './helpers/demo_server.mjs';
import { pythonPath } from './helpers/blockly_headless.mjs';

const SHOTS = path.join(REPO_ROOT, 'artifacts', 'drive');
const UI_MS = 15_000;
const TEACH_MS = 300_000; // training + 20 evaluation starts on a busy 2-core machine
const LEVEL1_MAX = 0.30;
const TOP_SPEED_CM_S = 300;
const SPEED_MARGIN_CM_S = 6;

async function shot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

function python(code) {
  return new Promise((resolve, reject) => {
    const child = spawn(pythonPath(), ['-c', code], { cwd: REPO_ROOT });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('exit', (c) => (c === 0 ? resolve(out) : reject(new Error(out))));
  });
}

const drivesDir = (demo, kidId) => path.join(demo.dataDir, 'server', 'learning', 'drives', kidId, 'park');

describe('the drive page with the keyboard', { skip: chromiumSkipReason() }, () => {
  let demo; let browser; let page;

  before(async () => {
    demo = await startDemo({ cars: 1 });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  });

  after(async () => {
    if (browser) await browser.close();
    if (demo) await demo.stop();
  });

  test('a level-1 kid drives the park trick with the arrow keys: the car obeys the level, the drive is recorded', async () => {
    await page.goto(`${demo.url}/drive/`);
    await page.fill('#class-code', 'DEMO');
    await page.fill('#kid-name', 'Mia');
    await page.click('#join-form button');
    await page.waitForSelector('#main:not([hidden])', { timeout: UI_MS });
    await page.waitForSelector('#tricks [data-trick="park"][aria-checked="true"]', { timeout: UI_MS });
    assert.equal(await page.inputValue('#skill-name'), 'mia_park');
    assert.ok(await page.isDisabled('#teach'), 'nothing to teach from yet');
    await page.click('#start');
    await page.waitForFunction(() => window.dojoDrive.driving && window.dojoDrive.states.length > 0, null, { timeout: UI_MS });
    const drive = await page.evaluate(() => window.dojoDrive.drive);
    assert.deepEqual([drive.trick, drive.level, drive.max_speed_pct], ['park', 1, 30]);
    await shot(page, '1-start');
    await page.keyboard.down('ArrowUp'); // a kid holding the key for a moment (not long enough to reach the box)
    await page.waitForTimeout(700);
    await page.keyboard.down('ArrowLeft');
    await page.waitForTimeout(300);
    await page.keyboard.up('ArrowLeft');
    await page.keyboard.up('ArrowUp');
    await shot(page, '2-driving');
    assert.ok(await page.evaluate(() => window.dojoDrive.states.some((s) => s.throttle > 0.2)), 'the up arrow drove the car');
    await page.waitForFunction(() => {
      const s = window.dojoDrive.states;
      return !window.dojoDrive.driving || (s.length > 3 && s.slice(-3).every((x) => x.throttle === 0));
    }, null, { timeout: UI_MS }); // letting go of the keys lets go of the car
    if (await page.evaluate(() => window.dojoDrive.driving)) await page.click('#stop');
    await page.waitForFunction(() => window.dojoDrive.lastEnded, null, { timeout: UI_MS });
    const { ended, states } = await page.evaluate(() => ({ ended: window.dojoDrive.lastEnded, states: window.dojoDrive.states }));
    assert.ok(['stopped', 'timeout'].includes(ended.outcome), ended.outcome); // timeout: a very slow machine took 20 s
    assert.equal(ended.number, 1);
    assert.ok(ended.frames >= 20, `${ended.frames} frames`);
    assert.match(await page.textContent('#drives'), /You drove it 1 time; 0 went all the way/);
    assert.ok(Math.max(...states.map((s) => s.throttle)) <= LEVEL1_MAX + 1e-9);
    assert.ok(Math.max(...states.map((s) => s.speed_cm_s)) <= LEVEL1_MAX * TOP_SPEED_CM_S + SPEED_MARGIN_CM_S);
    assert.ok(states.some((s) => s.steering > 0.2), 'the left arrow steered left');

    const session = await page.evaluate(() => JSON.parse(localStorage.getItem('mikrodojo.blockly.session')));
    const file = path.join(drivesDir(demo, session.kid_id), 'drive-001.json');
    const episode = JSON.parse(fs.readFileSync(file, 'utf8'));
    assert.equal(episode.source, 'kid:Mia');
    assert.equal(episode.outcome, ended.outcome);
    assert.equal(episode.actions.length, episode.observations.length);
    assert.ok(Math.max(...episode.actions.map((a) => a[0])) <= LEVEL1_MAX + 1e-9, 'applied throttle within level 1');
    assert.ok(Math.abs(Math.max(...episode.requests.map((r) => r[0])) - LEVEL1_MAX) < 1e-9, 'the full stick, at level 1\'s speed');
    await shot(page, '3-recorded');
  });

  test('Teach: progress bar, loss plot, the car tries on its own, and the new block', async () => {
    const session = await page.evaluate(() => JSON.parse(localStorage.getItem('mikrodojo.blockly.session')));
    await python(`
from learning.drives import DriveLog
from learning.rollout import rollout
from learning.tricks import get_trick
log = DriveLog(${JSON.stringify(path.join(demo.dataDir, 'server', 'learning'))})
eps = [e for e in rollout(get_trick("park"), range(2_100_000, 2_100_016), expert=True, record=True, nudge=0.3) if e.success][:10]
assert len(eps) == 10, len(eps)
for e in eps:  # filed as Mia's drives; their source stays "expert", so training imitates its clean commands
    log.add(${JSON.stringify(session.kid_id)}, e)
`);
    await page.reload();
    await page.waitForSelector('#main:not([hidden])', { timeout: UI_MS });
    await page.waitForFunction(() => /11 times; 10 went all the way/.test(document.getElementById('drives').textContent), null, { timeout: UI_MS });
    await page.click('#teach');
    await page.waitForFunction(() => window.dojoDrive.job?.phase === 'training' && window.dojoDrive.job.losses.length > 2, null, { timeout: TEACH_MS });
    await shot(page, '4-learning');
    await page.waitForFunction(() => window.dojoDrive.job?.done, null, { timeout: TEACH_MS });
    const job = await page.evaluate(() => window.dojoDrive.job);
    assert.equal(job.phase, 'done', JSON.stringify(job).slice(0, 500));
    assert.ok(job.losses.length > 2 && job.losses.at(-1)[1] < job.losses[0][1], 'the loss went down');
    assert.equal(job.eval.episodes, 20);
    assert.ok(job.eval.paths.length > 0 && job.eval.paths[0].path.length > 2, 'evaluated trajectories to draw');
    assert.ok(job.decision.promote, job.decision.reason);
    assert.equal(await page.evaluate(() => document.getElementById('progress-bar').style.width), '100%');
    assert.equal(await page.textContent('.block-chip'), 'do skill [mia_park]');
    assert.match(await page.textContent('#teach-result'), /on its own.*\(it opens at level 3\)/);
    const lossPixels = await page.evaluate(() => {
      const c = document.getElementById('loss');
      return c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some((v, i) => i % 4 === 3 && v > 0);
    });
    assert.ok(lossPixels, 'the loss plot drew');
    await shot(page, '5-taught');
    const catalog = await (await fetch(`${demo.url}/api/catalog?level=3`)).json();
    assert.ok(catalog.skills.some((s) => s.name === 'mia_park' && s.learned));
  });

  test('the teacher\'s Skills page: who taught it, how good each version is, where it runs', async () => {
    const teacher = await browser.newPage({ viewport: { width: 1366, height: 900 } });
    await teacher.goto(`${demo.url}/skills/`);
    await teacher.fill('#password', demo.teacherPassword);
    await teacher.click('#login-form button');
    await teacher.waitForSelector('#skills tr[data-skill="mia_park"]', { timeout: UI_MS });
    const cells = await teacher.$$eval('#skills tr[data-skill="mia_park"] td', (tds) => tds.map((td) => td.textContent));
    assert.deepEqual(cells.slice(0, 5), ['mia_park', 'park', 'Mia', '3', 'v001']);
    await teacher.waitForFunction(() => /car-1: v001/.test(document.querySelector('#skills tr[data-skill="mia_park"]').textContent),
      null, { timeout: UI_MS }); // the car has it
    await teacher.click('#skills tr[data-skill="mia_park"]');
    await teacher.waitForSelector('#versions tr[data-version="v001"]', { timeout: UI_MS });
    assert.match(await teacher.textContent('#versions tr[data-version="v001"]'), /v001 \[current\] \[factory\].*100% of 20/);
    assert.ok(await teacher.isDisabled('#rollback'), 'nothing to roll back to yet');
    const drawn = await teacher.evaluate(() => ['success-plot', 'trajectories'].map((id) => {
      const c = document.getElementById(id);
      return c.getContext('2d').getImageData(0, 0, c.width, c.height).data.filter((v, i) => i % 4 === 3 && v > 0).length;
    }));
    assert.ok(drawn[0] > 100 && drawn[1] > 100, `plots drew ${drawn}`);
    await shot(teacher, '6-teacher-skills');
    await teacher.close();
  });
});
