// A kid's first hour in the Scratch editor, in real Chromium (Debian's, via playwright-core) at a school
// laptop's 1366x768, against a real `dojo demo`: the car connects by itself and the arena takes the
// stage; locked blocks are grey with their unlock level, and clicking one shows why, big, next to it;
// Lessons (the menu bar's Tutorials) opens the picker; the kid reads the story, goal and hints, builds
// the program by dragging blocks and typing numbers, tries the number the old hint led to (a miss, with
// the next hint), then what the hints say (three stars); a reload says "welcome back" with the project
// and the lesson still there; and when the teacher gives the kid another car mid-session, the editor
// says so and drives the new car. Screenshots: artifacts/scratch-lessons/ (gitignored).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { chromiumSkipReason, launchChromium } from './helpers/chromium.mjs';
import { teacherSession } from './helpers/classroom_http.mjs';
import { REPO_ROOT, startDemo } from './helpers/demo_server.mjs';

const ARTIFACTS = path.join(REPO_ROOT, 'artifacts', 'scratch-lessons');
const EDITOR_READY_MS = 60_000; // 15 MB of scratch-gui parsed on a loaded 2-core box
const UI_MS = 10_000; // a click's visible effect
const GRADED_MS = 40_000; // a 2 m drive at level-1 speed, the car settling, then the judge (no Ollama: checks only)
const MOVE_MS = 20_000; // a short move on the new car, through the server

let demo;
let browser;
let page;
const pageErrors = [];

async function shot(name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
}

/** A block's label in the palette (scratch-blocks writes spaces as no-break spaces). */
function paletteText(pattern) {
  return page.locator('.blocklyFlyout .blocklyBlockCanvas .blocklyText').filter({ hasText: pattern }).first();
}

async function category(name) {
  const item = page.locator('.scratchCategoryMenuItem').filter({ hasText: name }).first();
  const box = await item.boundingBox();
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  await page.waitForTimeout(400); // the palette scrolls to the category
}

/** Drag from a point of a palette block to a point of the scripts area, the way a hand does it. */
async function drag(from, to) {
  await page.mouse.move(from.x, from.y);
  await page.mouse.down();
  await page.mouse.move(from.x + 30, from.y + 5, { steps: 5 });
  await page.mouse.move(to.x, to.y, { steps: 15 });
  await page.mouse.up();
  await page.waitForTimeout(300);
}

async function centre(locator) {
  await locator.waitFor({ state: 'attached', timeout: UI_MS });
  const box = await locator.boundingBox();
  return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
}

/** The scripts-area blocks as {type, left, top, bottom} (scratch-blocks' own workspace, in screen pixels). */
function scriptBlocks() {
  return page.evaluate(() => window.Blockly.getMainWorkspace().getAllBlocks().filter((b) => !b.isShadow()).map((b) => {
    const r = b.getSvgRoot().getBoundingClientRect();
    return { id: b.id, type: b.type, left: r.left, top: r.top, bottom: r.bottom, parent: b.getParent()?.type || null };
  }));
}

/** Type a number into a placed block's first number field, as a kid does (click it, type, Enter). */
async function typeNumber(blockType, value) {
  const field = await page.evaluate((type) => {
    const block = window.Blockly.getMainWorkspace().getAllBlocks().find((b) => b.type === type);
    const shadow = block.inputList.map((i) => i.connection && i.connection.targetBlock()).find((t) => t && t.isShadow());
    const r = shadow.getSvgRoot().getBoundingClientRect();
    return { x: r.left + r.width / 2, y: r.top + r.height / 2 };
  }, blockType);
  await page.mouse.click(field.x, field.y);
  await page.waitForSelector('.blocklyHtmlInput', { timeout: UI_MS });
  await page.keyboard.press('Control+A');
  await page.keyboard.type(String(value));
  await page.keyboard.press('Enter');
  await page.waitForTimeout(300);
}

async function greenFlagAndWaitForFeedback() {
  const before = await page.evaluate(() => document.getElementById('feedback-card').dataset.attempt || '');
  await page.click('img[class*="green-flag_green-flag"]');
  await page.waitForFunction((prev) => {
    const card = document.getElementById('feedback-card');
    return !document.getElementById('feedback-dialog').hidden && card.dataset.attempt && card.dataset.attempt !== prev
      && card.dataset.coach !== 'pending'; // the stars come at once, the coach's words follow
  }, before, { timeout: GRADED_MS });
  return page.evaluate(() => ({
    stars: Number(document.getElementById('feedback-card').dataset.stars),
    text: document.getElementById('feedback-body').textContent,
  }));
}

describe('a kid in the Scratch editor, from joining to three stars, at 1366x768', { skip: chromiumSkipReason() }, () => {
  before(async () => {
    demo = await startDemo({ cars: 2 });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
    page.on('pageerror', (err) => pageErrors.push(err.message));
  });

  after(async () => {
    if (browser) await browser.close();
    if (demo) await demo.stop();
  });

  test('the car connects by itself, the arena takes the stage, locked blocks are grey with their level', async () => {
    await page.goto(`${demo.url}/scratch/?class=DEMO`);
    await page.fill('#kid-name', 'Mia');
    await page.click('#join-button');
    await page.waitForSelector('body[data-ready=true]', { timeout: EDITOR_READY_MS });
    await page.waitForFunction(() => window.vm.getPeripheralIsConnected('mikrodojo'), null, { timeout: UI_MS });
    assert.match(await page.textContent('#car-status'), /car-\d is connected/);
    // The arena lies where Scratch's stage is.
    const [arena, stage] = await page.evaluate(() => [document.getElementById('arena').getBoundingClientRect(),
      document.querySelector('[class*="stage-wrapper_stage-canvas-wrapper"]').getBoundingClientRect()].map((r) => r.toJSON()));
    for (const k of ['left', 'top', 'width', 'height']) assert.ok(Math.abs(arena[k] - stage[k]) <= 2, `arena ${k} ${arena[k]} vs stage ${stage[k]}`);
    assert.ok(stage.width >= 470, `the large stage at 1366 px (${stage.width} px wide)`);
    // Level 1: "drive at" is locked: grey, disabled, with its unlock level under it.
    await page.waitForSelector('.blocklyFlyoutLabelText >> text=★ unlocks at level 2', { timeout: UI_MS });
    const driveFor = await page.evaluate(() => {
      const b = window.Blockly.getMainWorkspace().getFlyout().getWorkspace().getTopBlocks(false).find((x) => x.type === 'mikrodojo_driveFor');
      return { disabled: b.disabled, colour: b.getColour(), grey: b.getSvgRoot().classList.contains('dojo-locked') };
    });
    assert.deepEqual(driveFor, { disabled: true, colour: '#c3cad6', grey: true });
    assert.equal(await page.evaluate(() => document.documentElement.scrollHeight), 768, 'the page itself does not scroll');
    await shot('1-editor-car-connected');
  });

  test('clicking a locked block says why, big, next to that block, naming it as it reads', async () => {
    await category('MIKRO-DOJO');
    const block = await centre(paletteText(/^drive.at$/));
    await page.mouse.click(block.x, block.y);
    await page.waitForSelector('#block-note:not([hidden])', { timeout: MOVE_MS });
    const text = await page.textContent('#block-note-text');
    assert.equal(text, 'The “drive at …% for … seconds” block unlocks at level 2 — keep going!');
    const note = await page.locator('#block-note').boundingBox();
    assert.ok(note.x > block.x && Math.abs(note.y + 28 - block.y) < 60, `the note is beside the block (${JSON.stringify(note)} vs ${JSON.stringify(block)})`);
    assert.ok(Number(await page.evaluate(() => getComputedStyle(document.querySelector('.block-note-text')).fontSize.replace('px', ''))) >= 16,
      'big enough to read');
    await page.waitForTimeout(300); // the note's entrance animation
    await shot('2-refusal-next-to-the-block');
    await page.click('#block-note-ok');
  });

  test('Lessons in the menu bar opens the picker; the lesson card has story, goal and hints one by one', async () => {
    assert.equal(await page.locator('[data-lessons="true"]').textContent(), 'Lessons', 'Tutorials became Lessons');
    await page.click('[data-lessons="true"]');
    await page.waitForSelector('#lesson-picker:not([hidden]) .lesson-tile[data-lesson="l1-wake-up"]', { timeout: UI_MS });
    await shot('3-lesson-picker');
    await page.click('.lesson-tile[data-lesson="l1-wake-up"]');
    await page.waitForSelector('#lesson-card:not([hidden])', { timeout: UI_MS });
    assert.equal(await page.textContent('#lesson-title'), 'Wake up, car!');
    assert.match(await page.textContent('#lesson-goal'), /garage/);
    for (let i = 0; i < 3; i += 1) await page.click('#hint-btn');
    const hints = await page.$$eval('#lesson-hints li', (els) => els.map((e) => e.textContent));
    assert.equal(hints.length, 3);
    assert.match(hints[2], /190 cm/);
    // The palette holds the lesson's blocks only: "drive at" is gone, "move forward" is there.
    await page.waitForFunction(() => !window.Blockly.getMainWorkspace().getFlyout().getWorkspace().getTopBlocks(false)
      .some((b) => b.type === 'mikrodojo_driveFor'), null, { timeout: UI_MS });
    await shot('4-lesson-card-and-hints');
  });

  test('dragging the green flag and a move block builds the program; 150 misses, and the next hint comes', async () => {
    await category('Events');
    const hat = await centre(paletteText(/^when$/));
    await drag(hat, { x: 420, y: 180 });
    await category('MIKRO-DOJO');
    const moveText = paletteText(/^move.forward$/);
    const grab = await centre(moveText);
    const flyoutBlock = await page.evaluate(() => {
      const b = window.Blockly.getMainWorkspace().getFlyout().getWorkspace().getTopBlocks(false).find((x) => x.type === 'mikrodojo_moveForward');
      return b.getSvgRoot().getBoundingClientRect().toJSON();
    });
    const placedHat = (await scriptBlocks()).find((b) => b.type === 'event_whenflagclicked');
    await drag(grab, { x: placedHat.left + (grab.x - flyoutBlock.left), y: placedHat.bottom + (grab.y - flyoutBlock.top) - 4 });
    const blocks = await scriptBlocks();
    assert.equal(blocks.find((b) => b.type === 'mikrodojo_moveForward')?.parent, 'event_whenflagclicked', 'it snapped under the flag');
    await typeNumber('mikrodojo_moveForward', 150);
    const miss = await greenFlagAndWaitForFeedback();
    assert.equal(miss.stars, 0);
    assert.match(miss.text, /middle dot just outside the garage|middle dot \d+ cm away from the garage/);
    const hints = await page.$$eval('#lesson-hints li', (els) => els.map((e) => e.textContent));
    assert.ok(miss.text.includes(hints[0]), 'the coach gives the first hint after the first miss');
    await shot('5-a-miss-with-the-next-hint');
    await page.click('#feedback-dialog .close-x');
  });

  test('what the hints say gets three stars, and My tries lists both tries', async () => {
    await typeNumber('mikrodojo_moveForward', 190);
    const pass = await greenFlagAndWaitForFeedback();
    assert.equal(pass.stars, 3, pass.text);
    const hints = await page.$$eval('#lesson-hints li', (els) => els.map((e) => e.textContent));
    assert.ok(hints.every((h) => !pass.text.includes(h)), 'no hint after a pass');
    assert.doesNotMatch(pass.text, /[.?!]\./, 'no double punctuation');
    await page.waitForSelector('.drive-picture img', { timeout: UI_MS });
    await shot('6-three-stars');
    await page.click('#feedback-dialog .close-x');
    await page.click('#attempts-btn');
    await page.waitForFunction(() => document.querySelectorAll('#attempt-list li[data-attempt]').length === 2, null, { timeout: UI_MS });
    await shot('7-my-tries');
    await page.click('#attempts-dialog .close-x');
  });

  test('a reload says welcome back, with the project and the lesson still there', async () => {
    await page.waitForFunction(() => document.getElementById('save-state').textContent === 'saved ✓', null, { timeout: UI_MS });
    await page.reload();
    await page.waitForSelector('body[data-ready=true]', { timeout: EDITOR_READY_MS });
    assert.match(await page.textContent('#status-text'), /^Welcome back, Mia! Your project is here\. Lesson: “Wake up, car!”\.$/);
    const blocks = await scriptBlocks();
    assert.deepEqual(blocks.map((b) => b.type).sort(), ['event_whenflagclicked', 'mikrodojo_moveForward']);
    assert.equal(await page.textContent('#lesson-title'), 'Wake up, car!');
    await page.waitForSelector('.scratchCategoryMenuItem.categorySelected >> text=MIKRO-DOJO', { timeout: UI_MS });
    await page.waitForFunction(() => { // the palette has scrolled our category to its top
      const label = [...document.querySelectorAll('.blocklyFlyoutLabelText')].find((e) => e.textContent === 'MIKRO-DOJO');
      return label && label.getBoundingClientRect().top < 150;
    }, null, { timeout: UI_MS });
    await shot('8-welcome-back');
  });

  test('the teacher gives Mia another car mid-session: the editor says so and drives the new car', async () => {
    await page.waitForFunction(() => window.vm.getPeripheralIsConnected('mikrodojo'), null, { timeout: UI_MS });
    const teacher = await teacherSession(demo.url, demo.teacherPassword);
    const { kids } = await teacher.get('/api/teacher/classes/DEMO/roster');
    const mia = kids.find((k) => k.name === 'Mia');
    const other = mia.car_id === 'car-1' ? 'car-2' : 'car-1';
    await teacher.post(`/api/teacher/cars/${other}/assign`, { kid_ids: [mia.kid_id] });
    await page.waitForFunction((car) => document.getElementById('status-text').textContent.startsWith(`Your teacher gave you ${car}.`),
      other, { timeout: UI_MS });
    await page.waitForFunction((car) => document.getElementById('car-status').textContent === `${car} is connected`, other,
      { timeout: UI_MS });
    await page.waitForFunction((car) => window.arenaView.carId === car && window.arenaView.cars.get(car)?.pose, other,
      { timeout: UI_MS });
    const x0 = await page.evaluate((car) => window.arenaView.cars.get(car).pose.x_cm, other);
    await page.click('img[class*="green-flag_green-flag"]');
    await page.waitForFunction(([car, x]) => window.arenaView.cars.get(car).pose.x_cm > x + 20, [other, x0], { timeout: MOVE_MS });
    assert.equal(await page.locator('[class*="alert_alert_"]').count(), 0, 'no "lost connection" alarm');
    await shot('9-teacher-gave-another-car');
    assert.deepEqual(pageErrors, []);
  });
});
