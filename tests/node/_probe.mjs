import { startDemo } from './helpers/demo_server.mjs';
import { launchChromium } from './helpers/chromium.mjs';
const demo = await startDemo({ cars: 2 });
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
  const errors = []; page.on('pageerror', (e) => errors.push(e.message)); page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text()); });
  await page.goto(`${demo.url}/scratch/`);
  await page.fill('#class-code', 'DEMO'); await page.fill('#kid-name', 'Mia'); await page.click('#join-button');
  await page.waitForSelector('body[data-ready=true]', { timeout: 60000 });
  await page.waitForTimeout(2500);
  await page.screenshot({ path: '/tmp/probe/s1.png' });
  console.log(await page.evaluate(() => ({ st: document.getElementById('status-text').textContent, car: document.getElementById('car-status').textContent, conn: window.vm.getPeripheralIsConnected('mikrodojo') })));
  console.log(errors.slice(0, 10));
} finally { await browser.close(); await demo.stop(); }
