// First contact, in real Chromium against a real `dojo demo`: `/` is a landing page with a door for kids
// (Scratch, Blocks), the teacher, the arena and setting up, the address kids type and the cars that are
// there; a kid goes through the Blocks door and joins; a second kid who types a name the class has (any
// letter case) is asked "is that you?" instead of silently becoming the first one.
// Screenshots: artifacts/landing/ (gitignored).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { chromiumSkipReason, launchChromium } from './helpers/chromium.mjs';
import { REPO_ROOT, startDemo } from './helpers/demo_server.mjs';

const SHOTS = path.join(REPO_ROOT, 'artifacts', 'landing');
const UI_MS = 10_000;

let demo;
let browser;

async function shot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

async function joinBlocks(page, name) {
  await page.fill('#class-code', 'DEMO');
  await page.fill('#kid-name-input', name);
  await page.click('#join-btn');
}

const session = (page) => page.evaluate(() => JSON.parse(localStorage.getItem('mikrodojo.blockly.session') || 'null'));

describe('the landing page and a same-name join', { skip: chromiumSkipReason() }, () => {
  before(async () => {
    demo = await startDemo({ cars: 2 });
    browser = await launchChromium();
  });

  after(async () => {
    if (browser) await browser.close();
    if (demo) await demo.stop();
  });

  test('/ has a door for kids, the teacher, the arena and setup (with the wizard), the address to type and the cars', async () => {
    const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
    const res = await page.goto(`${demo.url}/`);
    assert.equal(res.status(), 200);
    assert.equal(await page.textContent('#address'), new URL(demo.url).host);
    for (const [id, href] of [['go-scratch', '/scratch/'], ['go-blocks', '/blockly/'], ['go-teacher', '/teacher/'],
      ['go-arena', '/arena/']]) {
      assert.equal(await page.getAttribute(`#${id}`, 'href'), href);
      assert.ok(await page.isVisible(`#${id}`), `${id} is on screen`);
    }
    await page.waitForFunction(() => /2 cars connected/.test(document.getElementById('cars-line').textContent), null,
      { timeout: UI_MS });
    assert.ok(await page.isVisible('#setup-steps'), 'the setup door says how to start cars');
    await page.waitForSelector('#setup-wizard:not([hidden])', { timeout: UI_MS }); // and links the /setup/ wizard
    assert.equal(await page.getAttribute('#setup-wizard a', 'href'), '/setup/');
    assert.ok(await page.evaluate(() => document.documentElement.scrollHeight) <= 768, 'all four doors on one screen');
    await shot(page, '1-landing');
    await page.click('#go-blocks');
    await page.waitForURL(`${demo.url}/blockly/`);
    await joinBlocks(page, 'Mia');
    await page.waitForSelector('#main:not([hidden])', { timeout: UI_MS });
    await page.close();
  });

  test('a second "lina" is asked "is that you?": no picks another name, yes is Lina again', async () => {
    const first = await browser.newContext({ viewport: { width: 1366, height: 768 } });
    const lina = await first.newPage();
    await lina.goto(`${demo.url}/blockly/`);
    await joinBlocks(lina, 'Lina');
    await lina.waitForSelector('#main:not([hidden])', { timeout: UI_MS });
    const linaId = (await session(lina)).kid_id;
    await first.close();

    const other = await browser.newContext({ viewport: { width: 1366, height: 768 } });
    const page = await other.newPage();
    await page.goto(`${demo.url}/blockly/`);
    await joinBlocks(page, 'lina');
    await page.waitForSelector('#same-name-dialog:not([hidden])', { timeout: UI_MS });
    assert.equal(await page.textContent('#same-name-title'), 'There is already a Lina in this class. Is that you?');
    await shot(page, '2-is-that-you');
    await page.click('#same-name-no');
    await page.waitForFunction(() => /first letter of your last name/.test(document.getElementById('join-error').textContent));
    assert.equal(await session(page), null, 'not joined as Lina');
    await joinBlocks(page, 'LinaK');
    await page.waitForSelector('#main:not([hidden])', { timeout: UI_MS });
    assert.notEqual((await session(page)).kid_id, linaId, 'LinaK is a kid of her own');
    await other.close();

    const back = await browser.newContext({ viewport: { width: 1366, height: 768 } });
    const again = await back.newPage();
    await again.goto(`${demo.url}/blockly/`);
    await joinBlocks(again, 'LINA');
    await again.click('#same-name-yes');
    await again.waitForSelector('#main:not([hidden])', { timeout: UI_MS });
    assert.equal((await session(again)).kid_id, linaId, 'yes: the same Lina, with her level and car');
    await back.close();
  });
});
