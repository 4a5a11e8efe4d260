// Issue 15, defect 5: "turn left 90" is an arc (the car cannot turn on the spot), and near a wall the
// turn becomes a three-point turn. The kid must be told what the car did and why. In real Chromium
// against a real `dojo demo`, in each editor a kid's program drives the car to 50 cm from the arena's
// fence and then turns left 90: the car backs up to get round, and the kid reads the car's sentence
// ("I turned left 90°, but a wall was too close for one curve, so I backed up …") next to the turn
// block and on the status card — Scratch's note beside the block, Blockly's warning bubble on it.
// Each editor gets its own one-car demo, so the cars start at the same place. Screenshots:
// artifacts/tight-turn/ (gitignored).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { chromiumSkipReason, launchChromium } from './helpers/chromium.mjs';
import { REPO_ROOT, startDemo } from './helpers/demo_server.mjs';
import { buildProject, flag, moveForward, turn } from './helpers/scratch_project.mjs';

const ARTIFACTS = path.join(REPO_ROOT, 'artifacts', 'tight-turn');
const EDITOR_READY_MS = 60_000; // 15 MB of scratch-gui parsed on a loaded 2-core box
const UI_MS = 15_000; // a click's visible effect
const DRIVE_MS = 40_000; // ~2.7 m at level 1's top speed, then a three-point turn, through the server
// 50 cm from the fence ahead: less than the ~100 cm a full-lock quarter circle needs (r ~ 51 cm), so the
// car has to back up (the server test puts it 45 cm away; the steering-aware fence lets 60 cm through).
const GAP_TO_FENCE_CM = 50;
// What the car says (robot_runtime/skills/turn.py, tight_turn_text): what it did and why.
const TIGHT_TURN = /^I turned left 90°, but a wall was too close for one curve, so I backed up (once|\d+ times) to get round\. A turn needs about \d+ cm of room\.$/;

async function shot(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
}

/** How far to drive from `pose` (heading 0, towards +x) to stop GAP_TO_FENCE_CM before the fence. */
async function distanceToNearTheWall(demo, carId, pose) {
  const { arena } = await (await fetch(`${demo.url}/api/arena?car=${carId}`)).json();
  assert.ok(Math.abs(pose.heading_deg) < 2, `the car starts facing +x (${JSON.stringify(pose)})`);
  assert.ok(pose.y_cm > 20 && arena.height_cm - pose.y_cm > 70, `room on the left for the turn (${JSON.stringify(pose)})`);
  return Math.round(arena.width_cm - GAP_TO_FENCE_CM - pose.x_cm);
}

/** Signed heading change in degrees, -180..180 (left is +). */
const turned = (a, b) => ((b.heading_deg - a.heading_deg + 540) % 360) - 180;

describe('a turn near a wall: the Scratch editor tells the kid what the car did and why', { skip: chromiumSkipReason() }, () => {
  let demo;
  let browser;
  let page;
  const pageErrors = [];

  before(async () => {
    demo = await startDemo({ cars: 1 });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
    page.on('pageerror', (err) => pageErrors.push(err.message));
  });

  after(async () => {
    if (browser) await browser.close();
    if (demo) await demo.stop();
  });

  test('move forward to 50 cm from the fence, turn left 90: the note beside the turn block says it backed up', async () => {
    await page.goto(`${demo.url}/scratch/?class=DEMO`);
    await page.fill('#kid-name', 'Mia');
    await page.click('#join-button');
    await page.waitForSelector('body[data-ready=true]', { timeout: EDITOR_READY_MS });
    await page.waitForFunction(() => window.vm.getPeripheralIsConnected('mikrodojo'), null, { timeout: UI_MS });
    const carId = (await page.textContent('#car-status')).split(' ')[0];
    await page.waitForFunction((id) => window.arenaView.cars.get(id)?.pose, carId, { timeout: UI_MS });
    const start = await page.evaluate((id) => ({ ...window.arenaView.cars.get(id).pose }), carId);
    const distance = await distanceToNearTheWall(demo, carId, start);

    // The kid's program: when the flag is clicked, move forward, turn left 90.
    const project = buildProject([[flag(), moveForward(distance), turn('left', 90)]]);
    await page.evaluate((json) => window.vm.loadProject(json), JSON.stringify(project));
    await page.waitForFunction(() => window.Blockly.getMainWorkspace().getAllBlocks().some((b) => b.type === 'mikrodojo_turn'),
      null, { timeout: UI_MS });
    await page.click('img[class*="green-flag_green-flag"]');

    // Safety notes come and go while the car drives; the turn's note is the last word. Read the note and
    // the status card together, the moment the turn's sentence is on screen.
    const seen = await (await page.waitForFunction(() => {
      const note = document.getElementById('block-note');
      const text = document.getElementById('block-note-text').textContent;
      if (note.hidden || !text.startsWith('I turned left 90°')) return null;
      const turnBlock = window.Blockly.getMainWorkspace().getAllBlocks().find((b) => b.type === 'mikrodojo_turn');
      const r = note.getBoundingClientRect();
      const b = turnBlock.getSvgRoot().getBoundingClientRect();
      return {
        text, kind: note.dataset.kind, side: note.dataset.side,
        status: document.getElementById('status-text').textContent,
        outlined: turnBlock.getSvgRoot().classList.contains('dojo-noted-note'),
        note: { left: r.left, top: r.top, width: r.width, height: r.height, visible: r.width > 0 && r.height > 0 },
        block: { left: b.left, right: b.right, top: b.top, bottom: b.bottom },
      };
    }, null, { timeout: DRIVE_MS })).jsonValue();
    assert.match(seen.text, TIGHT_TURN, 'what the car did and why');
    assert.equal(seen.kind, 'note');
    assert.equal(seen.status, seen.text, 'the status card says it too');
    assert.ok(seen.note.visible, 'the note is on screen');
    assert.ok(seen.outlined, 'the turn block is outlined in the note\'s colour');
    assert.notEqual(seen.side, 'none', 'the note points at the turn block');
    const blockMiddle = (seen.block.top + seen.block.bottom) / 2;
    assert.ok(seen.note.top <= blockMiddle && blockMiddle <= seen.note.top + seen.note.height + 40,
      `the note is level with the turn block (${JSON.stringify(seen)})`);

    // The car really turned left about 90° (a three-point turn, not a different manoeuvre).
    await page.waitForTimeout(300);
    const end = await page.evaluate((id) => ({ ...window.arenaView.cars.get(id).pose }), carId);
    assert.ok(Math.abs(turned(start, end) - 90) < 6, `turned left 90: ${JSON.stringify(start)} -> ${JSON.stringify(end)}`);
    await page.waitForTimeout(300); // the note's entrance animation
    await shot(page, 'scratch-tight-turn-note');
    assert.deepEqual(pageErrors, []);
  });
});

describe('a turn near a wall: the Blockly app tells the kid what the car did and why', { skip: chromiumSkipReason() }, () => {
  let demo;
  let browser;
  let page;
  const pageErrors = [];

  before(async () => {
    demo = await startDemo({ cars: 1 });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
    page.setDefaultTimeout(UI_MS);
    page.on('pageerror', (err) => pageErrors.push(err.message));
  });

  after(async () => {
    if (browser) await browser.close();
    if (demo) await demo.stop();
  });

  test('move forward to 50 cm from the fence, turn left 90: the turn block\'s bubble and the status card say it backed up', async () => {
    await page.goto(`${demo.url}/blockly/`);
    await page.fill('#class-code', demo.classCode);
    await page.fill('#kid-name-input', 'Ben');
    await page.click('#join-btn');
    await page.locator('.blocklyToolboxCategory', { hasText: /^Car$/ }).waitFor();
    await page.waitForFunction(() => window.dojoApp.state.carId && window.dojoApp.state.runner?.telemetry?.pose);
    const carId = await page.evaluate(() => window.dojoApp.state.carId);
    const start = await page.evaluate(() => ({ ...window.dojoApp.state.runner.telemetry.pose }));
    const distance = await distanceToNearTheWall(demo, carId, start);

    // The kid's program, uploaded as a saved file: move forward, turn left 90.
    const num = (n) => ({ shadow: { type: 'math_number', fields: { NUM: n } } });
    const program = { blocks: { languageVersion: 0, blocks: [{
      type: 'dojo_move_forward', id: 'fwd', x: 60, y: 60, inputs: { DISTANCE: num(distance) },
      next: { block: { type: 'dojo_turn', id: 'turn', fields: { DIRECTION: 'left' }, inputs: { DEGREES: num(90) } } },
    }] } };
    await page.setInputFiles('#upload-input', { name: 'near-the-wall.json', mimeType: 'application/json',
      buffer: Buffer.from(JSON.stringify(program)) });
    await page.waitForFunction(() => window.dojoApp.state.workspace.getBlockById('turn'));
    await page.click('#run-btn');
    await page.waitForFunction(() => document.querySelector('#status-card').dataset.state === 'running');

    // The program ends after the turn; the turn's sentence stays next to its block and on the card.
    await page.waitForFunction(() => !document.body.classList.contains('is-running')
      && window.dojoApp.state.workspace.getBlockById('turn').getIcon('warning')?.bubbleIsVisible(), null, { timeout: DRIVE_MS });
    const bubble = await page.evaluate(() => window.dojoApp.state.workspace.getBlockById('turn').getIcon('warning').getText());
    assert.match(bubble, TIGHT_TURN, 'the bubble on the turn block: what the car did and why');
    assert.equal(await page.evaluate(() => window.dojoApp.state.workspace.getBlockById('fwd').getIcon('warning')), undefined,
      'the move block has no note');
    // The bubble's text is drawn on the page (not only kept in the block), where the kid sees it.
    const drawn = page.locator('.blocklyBubbleCanvas text, .blocklyBubbleCanvas .blocklyText').filter({ hasText: 'a wall was too close' });
    assert.ok(await drawn.count() > 0, 'the bubble is drawn');
    const box = await drawn.first().boundingBox();
    assert.ok(box && box.width > 0 && box.x >= 0 && box.y >= 0 && box.x < 1400 && box.y < 860, `the bubble is on screen (${JSON.stringify(box)})`);
    assert.match(await page.textContent('#status-text'), TIGHT_TURN, 'the status card still says it after the program ended');
    assert.equal(await page.locator('#status-card').getAttribute('data-state'), 'safety');

    const end = await page.evaluate(() => ({ ...window.dojoApp.state.runner.telemetry.pose }));
    assert.ok(Math.abs(turned(start, end) - 90) < 6, `turned left 90: ${JSON.stringify(start)} -> ${JSON.stringify(end)}`);
    await shot(page, 'blockly-tight-turn-note');
    assert.deepEqual(pageErrors, []);
  });
});
