// Driven by benchmarks/bench_language.py: "Tell the car", sentence -> blocks on screen, in real Chromium
// against a real `dojo demo`, once with a language-model stand-in (answers at once) and once with the model
// switched off (the simple reader answers). Per mode and editor it prints one JSON line:
//   {mode, editor, http_ms: [...], screen_ms: [...]}
// http_ms: POST /api/plan round trips from Node (the server's part, the same-run baseline); screen_ms: from
// handing the sentence to the box until the new blocks are in the workspace and painted (two frames).
//
//   node benchmarks/tell_on_screen.mjs ROUNDS
import { launchChromium } from '../tests/node/helpers/chromium.mjs';
import { startDemo } from '../tests/node/helpers/demo_server.mjs';
import { startFakeOllama } from '../tests/node/helpers/fake_ollama.mjs';
import { joinKid } from '../tests/node/helpers/classroom_http.mjs';

const ROUNDS = Number(process.argv[2] || 15);
const PLANS_PER_KID = 3; // the gate's plan burst (curriculum.gate.PLAN_BURST): a fresh kid every 3 sentences
const EDITOR_READY_MS = 90_000; // scratch-gui parsed on a loaded 2-core box
const SENTENCES = ['forward 30 then turn left, do it 4 times', 'go back a bit', 'drive a square',
  'turn right 45 then forward 20', 'forward 50 slowly'];

const PLAN = JSON.stringify({ steps: [{ block: 'repeat', times: 4, do: [
  { block: 'move_forward', distance: 30 }, { block: 'turn', direction: 'left', degrees: 90 }] }] });

/** Tokens of n fresh kids (first names are letters only: Ma, Mb, ..., Mz, Maa, ...). */
async function tokens(url, n, prefix) {
  const out = [];
  for (let i = 0; i < n; i += 1) {
    const name = `${prefix}${String.fromCharCode(97 + (i % 26))}${'a'.repeat(Math.floor(i / 26))}`;
    out.push((await joinKid(url, name)).token);
  }
  return out;
}

async function httpRounds(url, kidTokens) {
  const times = [];
  for (let i = 0; i < ROUNDS; i += 1) {
    const t0 = performance.now();
    const token = kidTokens[Math.floor(i / PLANS_PER_KID)];
    const resp = await fetch(`${url}/api/plan`, {
      method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: JSON.stringify({ sentence: SENTENCES[i % SENTENCES.length], front_end: 'blockly' }),
    });
    const body = await resp.json();
    times.push(performance.now() - t0);
    if (body.outcome !== 'planned') throw new Error(`http round ${i}: ${JSON.stringify(body)}`);
  }
  return times;
}

/** In the page: swap to the next kid's token, tell, wait two frames (painted), take the blocks back. */
async function screenRounds(page, kidTokens, setToken) {
  const times = [];
  for (let i = 0; i < ROUNDS; i += 1) {
    await page.evaluate(setToken, kidTokens[Math.floor(i / PLANS_PER_KID)]);
    const result = await page.evaluate(async (sentence) => {
      const box = window.tellBox || window.dojoApp.state.tell;
      const t0 = performance.now();
      const answer = await box.tell(sentence);
      await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
      const ms = performance.now() - t0;
      const glowing = document.querySelectorAll('.tell-new').length;
      await box.takeBack();
      return { ms, outcome: answer.outcome, glowing };
    }, SENTENCES[i % SENTENCES.length]);
    if (result.outcome !== 'planned' || !result.glowing) {
      throw new Error(`screen round ${i}: ${JSON.stringify(result)}`);
    }
    times.push(result.ms);
  }
  return times;
}

async function measure(mode, env) {
  const demo = await startDemo({ cars: 2, env });
  const browser = await launchChromium();
  try {
    const kids = await tokens(demo.url, 3 * Math.ceil(ROUNDS / PLANS_PER_KID), mode === 'model' ? 'M' : 'R');
    const per = Math.ceil(ROUNDS / PLANS_PER_KID);
    const http = await httpRounds(demo.url, kids.slice(0, per));

    const blockly = await browser.newPage({ viewport: { width: 1400, height: 860 } });
    await blockly.goto(`${demo.url}/blockly/`);
    await blockly.fill('#class-code', demo.classCode);
    await blockly.fill('#kid-name-input', mode === 'model' ? 'Bench' : 'Reader');
    await blockly.click('#join-btn');
    await blockly.waitForSelector('.tell-box #tell-input:not([disabled])');
    const onBlockly = await screenRounds(blockly, kids.slice(per, 2 * per),
      (t) => { window.dojoApp.state.session.token = t; });
    console.log(JSON.stringify({ mode, editor: 'blockly', http_ms: http, screen_ms: onBlockly }));

    const scratch = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await scratch.goto(`${demo.url}/scratch/`);
    await scratch.fill('#class-code', demo.classCode);
    await scratch.fill('#kid-name', mode === 'model' ? 'Scratcher' : 'Scratchy');
    await scratch.click('#join-button');
    await scratch.waitForSelector('body[data-ready=true]', { timeout: EDITOR_READY_MS });
    await scratch.waitForSelector('.tell-box #tell-input:not([disabled])');
    const onScratch = await screenRounds(scratch, kids.slice(2 * per), (t) => { window.tellBox.token = () => t; });
    console.log(JSON.stringify({ mode, editor: 'scratch', http_ms: http, screen_ms: onScratch }));
  } finally {
    await browser.close();
    await demo.stop();
  }
}

const ollama = await startFakeOllama(() => PLAN);
try {
  await measure('model', { DOJO_OLLAMA_HOST: ollama.url });
} finally {
  await ollama.stop();
}
await measure('reader', { DOJO_PLANNER: 'off' });
process.exit(0);
