// Debian's Chromium driven by playwright-core: never a browser downloaded by a test tool.
//
//   import { launchChromium, chromiumOrSkip } from './helpers/chromium.mjs';
//   test('the editor loads', async (t) => {
//     if (!chromiumOrSkip(t)) return;          // locally without chromium: skipped with a message
//     const browser = await launchChromium();   // under CI=true a missing chromium FAILS instead
//     try { const page = await browser.newPage(); ... } finally { await browser.close(); }
//   });
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

// The flags every browser test uses (team sheet): headless, no sandbox (containers), and nothing that
// phones home or updates itself while a test runs.
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// A cold Chromium start on the shared 2-core machine takes 1-3 s; 30 s means something is broken.
export const LAUNCH_TIMEOUT_MS = 30_000;

export const isCI = () => ['1', 'true', 'yes'].includes(String(process.env.CI || '').toLowerCase());

export function chromiumAvailable() {
  try {
    fs.accessSync(CHROMIUM_PATH, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export const MISSING_CHROMIUM = `Chromium not found at ${CHROMIUM_PATH}: install Debian's chromium ` +
  '(sudo apt-get install -y chromium, or `make chromium`) or set CHROMIUM_PATH';

/**
 * Under CI=true a missing Chromium is a failure (throws); locally the test is skipped with a message.
 * Returns true when the browser test can run.
 */
export function chromiumOrSkip(t) {
  if (chromiumAvailable()) return true;
  if (isCI()) throw new Error(`${MISSING_CHROMIUM} (CI=true: browser tests must run, never skip)`);
  t.skip(MISSING_CHROMIUM);
  return false;
}

/** Same rule as chromiumOrSkip, for a whole file: `describe('...', { skip: chromiumSkipReason() }, ...)`. */
export function chromiumSkipReason() {
  if (chromiumAvailable()) return false;
  if (isCI()) throw new Error(`${MISSING_CHROMIUM} (CI=true: browser tests must run, never skip)`);
  return MISSING_CHROMIUM;
}

/**
 * Launch headless Chromium and return a playwright Browser. Every launch gets a fresh user-data-dir:
 * playwright's launch() makes a new temporary profile per browser and deletes it on close (it refuses
 * an explicit --user-data-dir; that is launchPersistentContext's job). `options` are merged into
 * playwright's launch options (e.g. { slowMo: 50 }).
 */
export async function launchChromium(options = {}) {
  if (!chromiumAvailable()) throw new Error(MISSING_CHROMIUM);
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: LAUNCH_TIMEOUT_MS,
    ...options,
  });
}

/** A persistent context on a fresh temporary profile (removed on close), for tests that need one. */
export async function launchChromiumPersistent(options = {}) {
  if (!chromiumAvailable()) throw new Error(MISSING_CHROMIUM);
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dojo-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: LAUNCH_TIMEOUT_MS,
    ...options,
  });
  context.on('close', () => fs.rmSync(userDataDir, { recursive: true, force: true }));
  return context;
}
