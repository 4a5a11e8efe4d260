// The served Scratch editor in real Chromium (Debian's, driven by playwright-core) against a real
// `dojo demo`: it loads with no request leaving 127.0.0.1, the MIKRO-DOJO category appears, the car
// connects by itself, and the standard device dialog (for a car switched off and on, or TurboWarp)
// lists the kid's car and one click connects; a clicked block moves the car in the arena, and a car
// that goes away (its process killed) shows Scratch's own "lost connection" alert.
// The lessons, the notes next to blocks, autosave and reassignment: browser_scratch_lessons.test.mjs.
// Screenshots go to artifacts/ (gitignored) for people to look at.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { chromiumSkipReason, launchChromium } from './helpers/chromium.mjs';
import { buildProject, flag, moveForward } from './helpers/scratch_project.mjs';
import { REPO_ROOT, startDemo } from './helpers/demo_server.mjs';

const ARTIFACTS = path.join(REPO_ROOT, 'artifacts', 'scratch');
const EDITOR_READY_MS = 60_000; // 15 MB of scratch-gui parsed on a loaded 2-core box
const UI_MS = 10_000; // a click's visible effect
const MOVE_MS = 20_000; // a 20 cm move at level-1 speed, plus the trip through the server
const GRADED_MS = 40_000; // a 180 cm drive at level-1 speed, the car settling, then the judge (no Ollama: checks only)
const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost']);

let demo;
let browser;
let page;
const external = [];
const pageErrors = [];

async function shot(name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
}

/** A block's label in the flyout (scratch-blocks writes spaces as no-break spaces). */
function flyoutText(pattern) {
  return page.locator('.blocklyFlyout .blocklyBlockCanvas .blocklyText').filter({ hasText: pattern }).first();
}

/** Click an SVG element where it is drawn (playwright's visibility checks do not apply well to SVG). */
async function clickSvg(locator) {
  await locator.waitFor({ state: 'attached', timeout: UI_MS });
  const box = await locator.boundingBox();
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
}

function arenaPose(carId) {
  return page.evaluate((id) => {
    const car = window.arenaView && window.arenaView.cars.get(id);
    return car && car.pose ? { ...car.pose } : null;
  }, carId);
}

describe('the Scratch editor served at /scratch/, in Chromium', { skip: chromiumSkipReason() }, () => {
  before(async () => {
    demo = await startDemo({ cars: 2 });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    // Offline means offline: every request that would leave this machine is recorded and refused.
    await page.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (['http:', 'https:', 'ws:', 'wss:'].includes(url.protocol) && !LOCAL_HOSTS.has(url.hostname)) {
        external.push(url.href);
        return route.abort();
      }
      return route.continue();
    });
    page.on('websocket', (ws) => { // page.route does not see WebSockets: check them here
      if (!LOCAL_HOSTS.has(new URL(ws.url()).hostname)) external.push(ws.url());
    });
    page.on('pageerror', (err) => pageErrors.push(err.message));
  });

  after(async () => {
    if (browser) await browser.close();
    if (demo) await demo.stop();
  });

  test('a kid joins with the class code and gets the editor with nothing fetched from outside', async () => {
    await page.goto(`${demo.url}/scratch/`);
    await page.waitForSelector('#join-form', { state: 'visible', timeout: UI_MS });
    await page.fill('#class-code', 'NOPE');
    await page.fill('#kid-name', 'Mia');
    await page.click('#join-button');
    await page.waitForFunction(() => document.getElementById('join-error').textContent.length > 0, null, { timeout: UI_MS });
    assert.match(await page.textContent('#join-error'), /class code/i, 'a wrong code gets a friendly sentence');
    await shot('1-join');
    await page.fill('#class-code', demo.classCode);
    await page.click('#join-button');
    await page.waitForFunction(() => window.vm && window.vm.extensionManager.isExtensionLoaded('mikrodojo'), null,
      { timeout: EDITOR_READY_MS });
    await page.waitForSelector('#loading', { state: 'hidden', timeout: UI_MS });
    await page.waitForSelector('body[data-ready=true]', { timeout: UI_MS });
    assert.equal(await page.textContent('#who'), 'Mia');
    await page.waitForSelector('#car-status.ok', { timeout: UI_MS }); // it connected by itself
    assert.match(await page.textContent('#car-status'), /^car-\d is connected$/);
    assert.deepEqual(external, [], 'no request left 127.0.0.1');
  });

  test('the editor opens at the MIKRO-DOJO category, with our blocks', async () => {
    await page.waitForSelector('.scratchCategoryMenuItem.categorySelected >> text=MIKRO-DOJO', { timeout: UI_MS });
    await page.waitForSelector('.blocklyFlyoutLabelText >> text=MIKRO-DOJO', { timeout: UI_MS });
    await page.waitForFunction(() => { // the flyout has scrolled our label to its top
      const label = [...document.querySelectorAll('.blocklyFlyoutLabelText')].find((e) => e.textContent === 'MIKRO-DOJO');
      return label && label.getBoundingClientRect().top < 150;
    }, null, { timeout: UI_MS });
    const texts = await page.$$eval('.blocklyFlyout .blocklyBlockCanvas .blocklyText', (els) => els.map((e) => e.textContent.replace(/\u00a0/g, ' ')));
    for (const words of ['move forward', 'turn', 'do skill', 'distance ahead (cm)', 'when obstacle closer than']) {
      assert.ok(texts.includes(words), `${words} is in the flyout`);
    }
    await shot('2-category');
  });

  test('the status dot opens the device dialog: our title, icon and help, the car with signal bars, one click connects', async () => {
    const kidCar = (await page.textContent('#car-status')).split(' ')[0];
    await page.evaluate(() => window.vm.disconnectPeripheral('mikrodojo')); // as if the car had been off
    await page.waitForFunction(() => !window.vm.getPeripheralIsConnected('mikrodojo'));
    // The orange status dot, clicked where it is drawn, like a kid would.
    await clickSvg(page.locator('.blocklyFlyout image.blocklyFlyoutButton'));
    const tiles = page.locator('[class^="connection-modal_peripheral-tile_"]');
    const tile = tiles.filter({ hasText: kidCar });
    await tile.waitFor({ timeout: UI_MS });
    assert.equal(await tiles.count(), 1, 'only the kid\'s own car');
    assert.match(await page.textContent('.ReactModalPortal'), /MIKRO-DOJO/, 'the dialog has our title');
    assert.ok(await page.locator('.ReactModalPortal img[src*="car-small.svg"]').count() > 0, 'and our icon');
    assert.equal(await page.locator('[class*="connection-modal_green-bar"]').count(), 4, 'a fresh car has four bars');
    await shot('3-device-dialog');
    // Help (which throws for extensions outside Scratch's library) opens our help page.
    const [help] = await Promise.all([page.waitForEvent('popup', { timeout: UI_MS }),
      page.click('.ReactModalPortal >> text=Help')]);
    await help.waitForLoadState();
    assert.match(help.url(), /\/scratch\/editor\/help\.html$/);
    assert.match(await help.textContent('h1'), /Connecting your car/);
    await help.close();
    await tile.locator('button').click();
    await page.waitForFunction(() => window.vm.getPeripheralIsConnected('mikrodojo'), null, { timeout: UI_MS });
    await page.waitForSelector('text=Connected', { timeout: UI_MS });
    await shot('4-connected');
    await page.click('.ReactModalPortal button:has-text("Go to Editor")');
    await page.waitForSelector('#car-status.ok', { timeout: UI_MS });
  });

  test('clicking "move forward 20 cm" drives the car and the arena panel shows it', async () => {
    const carId = (await page.textContent('#car-status')).split(' ')[0];
    await page.waitForFunction((id) => window.arenaView.cars.get(id) && window.arenaView.cars.get(id).pose, carId,
      { timeout: UI_MS });
    const before = await arenaPose(carId);
    await clickSvg(flyoutText(/^move.forward$/));
    await page.waitForFunction(([id, x0]) => window.arenaView.cars.get(id).pose.x_cm > x0 + 15, [carId, before.x_cm],
      { timeout: MOVE_MS });
    await page.waitForTimeout(500); // let the arena draw the trail
    const afterMove = await arenaPose(carId);
    assert.ok(afterMove.x_cm - before.x_cm < 30, `about 20 cm: ${before.x_cm} -> ${afterMove.x_cm}`);
    assert.ok(Math.abs(afterMove.y_cm - before.y_cm) < 3, 'straight ahead');
    await shot('5-after-move');
    assert.deepEqual(external, [], 'still nothing fetched from outside');
    assert.deepEqual(pageErrors, [], 'no uncaught errors in the page (the Help button did not throw)');
  });

  test('a refused block makes the sprite say why', async () => {
    const says = page.evaluate(() => new Promise((resolve) => {
      window.vm.runtime.once('SAY', (target, type, text) => resolve(text));
    }));
    await clickSvg(flyoutText(/^drive.at$/));
    assert.match(await says, /level/i);
    await page.waitForTimeout(300);
    await shot('6-refusal-bubble');
  });

  test('a green-flag program on a picked lesson is graded, and the feedback card shows the stars', async () => {
    const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem('mikrodojo.scratch')).token);
    const picked = await fetch(`${demo.url}/api/lessons/select`, {
      method: 'POST', body: JSON.stringify({ lesson_id: 'l1-wake-up' }),
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    });
    assert.equal(picked.status, 200);
    await page.waitForTimeout(500); // the lesson's arena reaches the car, which is put at its start
    const project = buildProject([[flag(), moveForward(180)]]);
    await page.evaluate((json) => window.vm.loadProject(json), JSON.stringify(project));
    await page.click('img[class*="green-flag_green-flag"]'); // the green flag, clicked
    await page.waitForSelector('#feedback-dialog:not([hidden]) #feedback-card.passed', { timeout: GRADED_MS });
    assert.match(await page.textContent('#feedback-card .feedback-lesson'), /Wake up/);
    assert.ok(Number(await page.getAttribute('#feedback-card', 'data-stars')) >= 1);
    await shot('7-lesson-feedback');
    await page.click('#feedback-dialog .close-x');
  });

  test('a car that goes away shows Scratch\'s own "lost connection" alert', async () => {
    const carId = (await page.textContent('#car-status')).split(' ')[0];
    demo.killCar(carId);
    const alert = page.locator('[class*="alert_alert_"]').filter({ hasText: 'MIKRO-DOJO' });
    await alert.waitFor({ timeout: UI_MS });
    assert.match(await alert.textContent(), /lost connection to MIKRO-DOJO/i);
    assert.equal(await alert.locator('button:has-text("Reconnect")').count(), 1, 'with a Reconnect button');
    await page.waitForSelector('#car-status.lost', { timeout: UI_MS });
    await shot('8-lost-car-alert');
  });
});
