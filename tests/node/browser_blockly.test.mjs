// The Blockly app in real Chromium against a real `dojo demo` (server + simulated cars): a kid joins,
// drags blocks out of the toolbox with the mouse, runs, sees the running block light up and the car
// move, stops, cannot use a locked block, gets a refusal next to the block that caused it, finds the
// program again after reopening the page, and exports Python that drives the car with the real SDK.
// Screenshots go to artifacts/blockly/ (gitignored).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromiumSkipReason, launchChromium } from './helpers/chromium.mjs';
import { REPO_ROOT, startDemo } from './helpers/demo_server.mjs';
import { pythonPath } from './helpers/blockly_headless.mjs';

const SHOTS = path.join(REPO_ROOT, 'artifacts', 'blockly');
const UI_TIMEOUT_MS = 15_000; // the page on a loaded 2-core machine: seconds, never more than this
const MOVE_TIMEOUT_MS = 30_000; // a 60 cm move at level 1's top speed takes a few seconds
const PYTHON_RUN_TIMEOUT_MS = 60_000; // the exported program: connect, a few moves, exit

const skip = chromiumSkipReason();

async function shot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

/** Where a block of this type sits in the open flyout (screen coordinates of its left edge). */
async function flyoutBlock(page, type) {
  return page.evaluate((t) => {
    const fws = window.dojoApp.state.workspace.getFlyout().getWorkspace();
    const block = fws.getTopBlocks(true).find((b) => b.type === t);
    if (!block) return null;
    const r = block.getSvgRoot().getBoundingClientRect();
    return { x: r.left + 12, y: r.top + r.height / 2, enabled: block.isEnabled() };
  }, type);
}

async function openCategory(page, name) {
  const open = await page.evaluate(() => {
    const ws = window.dojoApp.state.workspace;
    return ws.getFlyout()?.isVisible() ? ws.getToolbox().getSelectedItem()?.getName() : null;
  });
  if (open === name) return; // a second click would close it
  await page.locator('.blocklyToolboxCategory', { hasText: new RegExp(`^${name}$`) }).click();
  await page.waitForFunction(() => window.dojoApp.state.workspace.getFlyout()?.isVisible());
  await page.waitForTimeout(200); // the flyout's blocks settle
}

/** Press on a point, move in steps (Blockly needs a real drag), release on another. */
async function drag(page, from, to) {
  await page.mouse.move(from.x, from.y);
  await page.mouse.down();
  const steps = 12;
  for (let i = 1; i <= steps; i += 1) {
    await page.mouse.move(from.x + ((to.x - from.x) * i) / steps, from.y + ((to.y - from.y) * i) / steps);
  }
  await page.mouse.up();
  await page.waitForTimeout(200);
}

const mainBlocks = (page) => page.evaluate(() =>
  window.dojoApp.state.workspace.getAllBlocks(true).filter((b) => !b.isShadow()).map((b) => ({ id: b.id, type: b.type })));

/** The bottom-left of a placed block: where the next block snaps on. */
const blockBottom = (page, id) => page.evaluate((blockId) => {
  const r = window.dojoApp.state.workspace.getBlockById(blockId).getSvgRoot().getBoundingClientRect();
  return { x: r.left + 12, y: r.bottom + 14 };
}, id);

const pose = (page) => page.evaluate(() => window.dojoApp.state.runner.telemetry?.pose ?? null);
/** Signed heading change in degrees, -180..180 (left is +). */
const turned = (a, b) => ((b.heading_deg - a.heading_deg + 540) % 360) - 180;
const statusState = (page) => page.locator('#status-card').getAttribute('data-state');

function runPython(file, env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(pythonPath(), [file], { cwd: REPO_ROOT, env: { ...process.env, ...env } });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`python timed out:\n${out}`)); }, PYTHON_RUN_TIMEOUT_MS);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, out }); });
  });
}

describe('the Blockly app in Chromium', { skip }, () => {
  let demo;
  let browser;
  let context;
  let page;

  before(async () => {
    demo = await startDemo({ cars: 2 });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1400, height: 860 }, acceptDownloads: true });
    page = await context.newPage();
    page.setDefaultTimeout(UI_TIMEOUT_MS);
    page.on('pageerror', (err) => { console.error('page error:', err.message); });
  });

  after(async () => {
    await browser?.close();
    await demo?.stop();
  });

  test('a kid joins with the class code and a first name and gets the level 1 toolbox', async () => {
    await page.goto(`${demo.url}/blockly/`);
    await page.fill('#class-code', demo.classCode);
    await page.fill('#kid-name-input', 'Mia');
    await shot(page, '01-join');
    await page.click('#join-btn');
    await page.locator('.blocklyToolboxCategory', { hasText: /^Car$/ }).waitFor();
    assert.match(await page.textContent('#level-badge'), /Level 1/);
    await openCategory(page, 'Car');
    await shot(page, '02-toolbox-level1');
    assert.equal((await flyoutBlock(page, 'dojo_move_forward')).enabled, true);
    assert.equal((await flyoutBlock(page, 'dojo_go_to')).enabled, false, 'go to is locked at level 1');
    assert.ok(await page.locator('.blocklyFlyoutLabelText', { hasText: 'unlocks at level 3' }).count() > 0);
  });

  test('a locked block cannot be dragged out of the toolbox', async () => {
    await openCategory(page, 'Car');
    const locked = await flyoutBlock(page, 'dojo_go_to');
    await drag(page, locked, { x: 600, y: 300 });
    assert.deepEqual(await mainBlocks(page), []);
  });

  let forwardId;
  test('blocks dragged with the mouse snap into a program', async () => {
    await openCategory(page, 'Car');
    await drag(page, await flyoutBlock(page, 'dojo_move_forward'), { x: 420, y: 220 });
    let blocks = await mainBlocks(page);
    assert.deepEqual(blocks.map((b) => b.type), ['dojo_move_forward']);
    forwardId = blocks[0].id;
    await openCategory(page, 'Car');
    await drag(page, await flyoutBlock(page, 'dojo_turn'), await blockBottom(page, forwardId));
    blocks = await mainBlocks(page);
    assert.deepEqual(blocks.map((b) => b.type).sort(), ['dojo_move_forward', 'dojo_turn']);
    const connected = await page.evaluate((id) => window.dojoApp.state.workspace.getBlockById(id).getNextBlock()?.type, forwardId);
    assert.equal(connected, 'dojo_turn', 'the turn snapped under the move');
    // Type a longer distance into the move's number, like a kid would.
    const numberBox = await page.evaluate((id) => {
      const r = window.dojoApp.state.workspace.getBlockById(id).getInputTargetBlock('DISTANCE').getSvgRoot().getBoundingClientRect();
      return { x: r.left + r.width / 2, y: r.top + r.height / 2 };
    }, forwardId);
    await page.mouse.click(numberBox.x, numberBox.y);
    await page.keyboard.press('Control+A');
    await page.keyboard.type('60');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate((id) => window.dojoApp.state.workspace.getBlockById(id).getInputTargetBlock('DISTANCE').getFieldValue('NUM'), forwardId), 60);
    // The panel follows Blockly's change events, which fire after the keypress settles: wait for it.
    const expected = /car\.forward\(60\)\ncar\.turn_left\(90\)\n\ncar\.stop\(\)/;
    await page.waitForFunction((source) => new RegExp(source).test(document.querySelector('#python-preview').textContent),
      expected.source, { timeout: 5000 }).catch(() => {});
    assert.match(await page.textContent('#python-preview'), expected, 'the Python panel shows the same program as text');
    await shot(page, '03-program');
  });

  test('Run drives the car, lights up the running block, and ends with "Done"', async () => {
    await page.waitForFunction(() => window.dojoApp.state.runner?.telemetry);
    const start = await pose(page);
    await page.click('#run-btn');
    await page.locator(`[data-id="${forwardId}"].blocklyHighlighted`).waitFor();
    await page.waitForFunction((p) => {
      const now = window.dojoApp.state.runner.telemetry?.pose;
      return now && Math.hypot(now.x_cm - p.x_cm, now.y_cm - p.y_cm) > 5;
    }, start, { timeout: MOVE_TIMEOUT_MS });
    await shot(page, '04-running-highlighted');
    await page.waitForFunction(() => document.querySelector('#status-card').dataset.state === 'finished', null, { timeout: MOVE_TIMEOUT_MS });
    const end = await pose(page);
    assert.ok(Math.hypot(end.x_cm - start.x_cm, end.y_cm - start.y_cm) > 50, `drove forward: ${JSON.stringify({ start, end })}`);
    assert.ok(Math.abs(turned(start, end) - 90) < 5, `and turned left 90 degrees: ${JSON.stringify({ start, end })}`);
    const drawn = await page.evaluate(() => window.dojoApp.state.arena.cars.get(window.dojoApp.state.carId)?.pose);
    assert.ok(Math.hypot(drawn.x_cm - end.x_cm, drawn.y_cm - end.y_cm) < 2, 'the arena panel draws the car where it is');
    assert.equal(await page.locator('.blocklyHighlighted').count(), 0, 'no block stays lit after the run');
    await shot(page, '05-finished');
  });

  test('Stop stops the car at once, in the middle of a move', async () => {
    const start = await pose(page);
    await page.click('#run-btn');
    await page.locator(`[data-id="${forwardId}"].blocklyHighlighted`).waitFor();
    await page.waitForFunction((p) => {
      const now = window.dojoApp.state.runner.telemetry?.pose;
      return now && Math.hypot(now.x_cm - p.x_cm, now.y_cm - p.y_cm) > 3;
    }, start, { timeout: MOVE_TIMEOUT_MS });
    const cruising = Math.abs(await page.evaluate(() => window.dojoApp.state.runner.telemetry.speed_cm_s));
    const pressedAt = Date.now();
    await page.click('#stop-btn');
    await page.waitForFunction((v) => Math.abs(window.dojoApp.state.runner.telemetry?.speed_cm_s ?? 0) < v / 2, cruising, { timeout: 3_000 });
    const halfMs = Date.now() - pressedAt;
    await page.waitForFunction(() => Math.abs(window.dojoApp.state.runner.telemetry?.speed_cm_s ?? 1) < 0.5, null, { timeout: 3_000 });
    const stoppedMs = Date.now() - pressedAt;
    assert.equal(await statusState(page), 'stopped');
    await page.waitForTimeout(600);
    const end = await pose(page);
    const moved = Math.hypot(end.x_cm - start.x_cm, end.y_cm - start.y_cm);
    assert.ok(moved < 50, `stopped well before the 60 cm (moved ${moved.toFixed(1)} cm)`);
    assert.equal(await page.locator('.blocklyHighlighted').count(), 0);
    console.log(`# stop: from ${cruising.toFixed(1)} cm/s, half speed ${halfMs} ms and at rest ${stoppedMs} ms after the click, after ${moved.toFixed(1)} cm of 60`);
    await shot(page, '06-stopped');
  });

  test('a hand-edited file with a locked block is refused, with the kid sentence next to that block', async () => {
    const file = { format: 'mikrodojo-blockly', version: 1, program: { blocks: { languageVersion: 0, blocks: [{
      type: 'dojo_move_forward', id: 'edited-fwd', x: 60, y: 60,
      inputs: { DISTANCE: { shadow: { type: 'math_number', fields: { NUM: 10 } } } },
      next: { block: { type: 'dojo_do_skill', id: 'edited-skill', fields: { SKILL: 'drift' } } },
    }] } } };
    await page.setInputFiles('#upload-input', { name: 'tricks.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(file)) });
    await page.waitForFunction(() => window.dojoApp.state.workspace.getBlockById('edited-skill'));
    const skillText = await page.evaluate(() => window.dojoApp.state.workspace.getBlockById('edited-skill').getField('SKILL').getText());
    assert.equal(skillText, 'drift (locked)', 'the unavailable skill is kept and shown as locked');
    await page.click('#run-btn');
    await page.waitForFunction(() => document.querySelector('#status-card').dataset.state === 'refused');
    assert.equal(await page.textContent('#status-text'), 'The “do skill …” block unlocks at level 3 — keep going!');
    // Blockly opens a bubble after the next render (setBubbleVisible is async): wait for it, briefly.
    await page.waitForFunction(() => window.dojoApp.state.workspace.getBlockById('edited-skill').getIcon('warning')?.bubbleIsVisible(),
      null, { timeout: 2000 }).catch(() => {});
    const warning = await page.evaluate(() => window.dojoApp.state.workspace.getBlockById('edited-skill').getIcon('warning')?.bubbleIsVisible());
    assert.equal(warning, true, 'the warning bubble is open on the block that caused it');
    assert.ok(await page.locator('.blocklyBubble, .blocklyTextBubble').filter({ hasText: 'unlocks at level 3' }).count() > 0);
    await shot(page, '07-refused-next-to-block');
  });

  test('when the teacher moves the kid up, the toolbox follows at once; a skill still out of reach stays in the program, locked', async () => {
    const login = await fetch(`${demo.url}/api/teacher/login`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ password: demo.teacherPassword }),
    });
    assert.equal(login.status, 200);
    const { csrf_token: csrf } = await login.json();
    const cookie = login.headers.get('set-cookie').split(';')[0];
    const kidId = await page.evaluate(() => window.dojoApp.state.session.kid_id);
    const raised = await fetch(`${demo.url}/api/teacher/classes/DEMO/kids/${kidId}/level`, {
      method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf, Cookie: cookie },
      body: JSON.stringify({ level: 3 }),
    });
    assert.equal(raised.status, 200, await raised.text());
    await page.waitForFunction(() => document.querySelector('#level-badge').textContent.startsWith('Level 3'));
    await openCategory(page, 'Car');
    assert.equal((await flyoutBlock(page, 'dojo_go_to')).enabled, true, 'go to unlocked at level 3');
    const skill = await page.evaluate(() => window.dojoApp.state.workspace.getBlockById('edited-skill').getField('SKILL').getText());
    assert.equal(skill, 'drift (locked)', 'drift is a level 4 skill: kept, still locked, never turned into slalom');
    await page.mouse.click(700, 700); // close the flyout
    await page.click('#run-btn');
    await page.waitForFunction(() => document.querySelector('#status-card').dataset.state === 'refused');
    assert.equal(await page.textContent('#status-text'), 'The “drift” skill unlocks at level 4 — keep going!');
    await shot(page, '08-level3-skill-still-locked');
  });

  test('reopening the page brings back the last program', async () => {
    await page.waitForFunction(() => document.querySelector('#save-state').textContent.includes('saved'));
    await page.reload();
    await page.waitForFunction(() => window.dojoApp?.state.workspace?.getBlockById('edited-skill'));
    assert.match(await page.textContent('#status-text'), /Welcome back/);
  });

  test('Export to Python downloads a script that drives the car with the real SDK', async () => {
    // Back to a program this level may run: the forward + turn from the toolbox test.
    const program = { blocks: { languageVersion: 0, blocks: [{
      type: 'dojo_move_forward', id: 'py-fwd', x: 40, y: 40, inputs: { DISTANCE: { shadow: { type: 'math_number', fields: { NUM: 30 } } } },
      next: { block: { type: 'dojo_turn', id: 'py-turn', fields: { DIRECTION: 'right' }, inputs: { DEGREES: { shadow: { type: 'math_number', fields: { NUM: 90 } } } } } },
    }] } };
    await page.setInputFiles('#upload-input', { name: 'square.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(program)) });
    await page.waitForFunction(() => window.dojoApp.state.workspace.getBlockById('py-turn'));
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-btn')]);
    const file = path.join(SHOTS, download.suggestedFilename());
    fs.mkdirSync(SHOTS, { recursive: true });
    await download.saveAs(file);
    const code = fs.readFileSync(file, 'utf8');
    assert.match(download.suggestedFilename(), /^mia_car_program\.py$/);
    assert.ok(code.includes('# Run it with:  python mia_car_program.py'), 'the header names the file it is in');
    assert.ok(code.includes(`car = dojo.connect("${demo.url}", class_code="DEMO", name="Mia")`), code);
    assert.ok(code.includes('car.forward(30)\ncar.turn_right(90)'), code);
    await shot(page, '09-exported');
    const start = await pose(page);
    const { code: exitCode, out } = await runPython(file);
    assert.equal(exitCode, 0, out);
    assert.match(out, /car-\d: move forward 30 cm - done\ncar-\d: turn right 90 degrees - done/, 'it says what the car does');
    await page.waitForTimeout(300); // the last telemetry reaches the page
    const end = await pose(page);
    assert.ok(Math.hypot(end.x_cm - start.x_cm, end.y_cm - start.y_cm) > 25, `the script drove: ${JSON.stringify({ start, end })}`);
    assert.ok(Math.abs(turned(start, end) + 90) < 5, `and turned right 90 degrees: ${JSON.stringify({ start, end })}`);
    await shot(page, '10-after-python');
  });
});
