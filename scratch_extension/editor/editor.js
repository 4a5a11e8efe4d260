// The Scratch editor the classroom server serves at /scratch/: the prebuilt npm scratch-gui 4.0.10
// (BSD-3), the MIKRO-DOJO category preloaded through a small `Scratch` shim, and the arena beside it.
// Everything comes from this server (no CDN), so a classroom without internet works.
//
// Flow: join (class code + first name -> POST /api/join -> token, kept in this tab's sessionStorage)
// -> render scratch-gui -> onVmInit: `Scratch` shim + /scratch/extension.js -> the arena panel (a /kid
// socket.io connection feeding the shared ArenaView).
import { ArenaView } from '/arena/arena.js';
import { mountTell } from '/scratch/editor/tell.js';

const GUI_BASE = '/vendor/scratch-gui/';
const SESSION_KEY = 'mikrodojo.scratch';
const EXTENSION_ID = 'mikrodojo';
const CHECK_TOKEN_TIMEOUT_MS = 5000; // loopback/LAN answers in milliseconds
const CATEGORY_WAIT_MS = 5000; // the toolbox redraws with our category a few frames after registration
const CATEGORY_SETTLE_MS = 300; // after a project load the toolbox redraws once more
const MAX_STARS = 3; // lessons give one to three stars
const LARGE_STAGE_MIN_WIDTH = 1090; // below this the large stage (480 px) is cut off: measured at 1100 (fits) and 1030 (cut)
// Where React and ReactDOM live inside scratch-gui 4.0.10's dist bundle (it bundles its own React 16;
// rendering its components with a second React would break). Checked by shape before use.
const REACT_MODULE_ID = 96540;
const REACT_DOM_MODULE_ID = 40961;

// The device dialog and the "lost connection" alert look extensions up in scratch-gui's extension
// library; ours is not in it, so without this entry the dialog has no title or icon, its Help button
// throws, and a lost car shows no alert. Adding the entry fixes all three.
const LIBRARY_ENTRY = {
  name: 'MIKRO-DOJO',
  extensionId: EXTENSION_ID,
  collaborator: 'MIKRO-DOJO',
  iconURL: '/scratch/editor/library.svg',
  insetIconURL: '/scratch/editor/car.svg',
  description: 'Program a real robot car.',
  featured: true,
  disabled: false,
  bluetoothRequired: false,
  internetConnectionRequired: false,
  launchPeripheralConnectionFlow: true,
  useAutoScan: false, // false: the dialog lists every car with signal bars (true: connects to the first found)
  connectionIconURL: '/scratch/editor/car.svg',
  connectionSmallIconURL: '/scratch/editor/car-small.svg', // the list tile and the dialog's title bar
  connectingMessage: 'Connecting to your car…',
  helpLink: '/scratch/editor/help.html',
};

const $ = (id) => document.getElementById(id);

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = src;
    script.onload = resolve;
    script.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.appendChild(script);
  });
}

// Start the big download at once; the kid types their name meanwhile.
const guiScript = loadScript(`${GUI_BASE}scratch-gui.js`);

// --- step 1: join ---------------------------------------------------------------------------

async function savedKid() {
  let kid = null;
  try { kid = JSON.parse(sessionStorage.getItem(SESSION_KEY) || 'null'); } catch { kid = null; }
  if (!kid || !kid.token) return null;
  try {
    const res = await fetch('/api/cars', {
      headers: { Authorization: `Bearer ${kid.token}` }, signal: AbortSignal.timeout(CHECK_TOKEN_TIMEOUT_MS),
    });
    if (res.status === 401) return null; // the class was reset or the token is too old: join again
  } catch { /* server busy: try the saved token anyway */ }
  return kid;
}

function askToJoin() {
  $('join').hidden = false;
  const params = new URLSearchParams(location.search);
  if (params.get('class')) $('class-code').value = params.get('class');
  ($('class-code').value ? $('kid-name') : $('class-code')).focus();
  return new Promise((resolve) => {
    $('join-form').addEventListener('submit', async (event) => {
      event.preventDefault();
      $('join-error').textContent = '';
      $('join-button').disabled = true;
      try {
        const res = await fetch('/api/join', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ class_code: $('class-code').value.trim(), name: $('kid-name').value.trim() }),
        });
        const body = await res.json().catch(() => ({}));
        if (!res.ok) throw new Error(joinErrorText(body));
        sessionStorage.setItem(SESSION_KEY, JSON.stringify(body));
        $('join').hidden = true;
        resolve(body);
      } catch (err) {
        $('join-error').textContent = err.message;
      } finally {
        $('join-button').disabled = false;
      }
    });
  });
}

function joinErrorText(body) {
  const rule = body && body.error && body.error.rule;
  if (rule === 'class_code') return 'Hmm, that class code is not right. Check the board and try again!';
  if (rule === 'kid_name') return 'Just your first name, with letters only — like Mia.';
  return (body && body.error && body.error.message) || 'That did not work. Try again!';
}

// --- step 2: Scratch ------------------------------------------------------------------------

/** scratch-gui's own webpack `require`, through its chunk-loading array (a chunk with a runtime hook). */
function guiRequire() {
  let req = null;
  (self.webpackChunkGUI = self.webpackChunkGUI || []).push([[`mikrodojo-${Date.now()}`], {}, (r) => { req = r; }]);
  if (!req) throw new Error('scratch-gui.js did not expose its module loader');
  return req;
}

function bundledReact(req) {
  const React = req(REACT_MODULE_ID);
  const ReactDOM = req(REACT_DOM_MODULE_ID);
  if (!React || typeof React.createElement !== 'function' || !ReactDOM || typeof ReactDOM.render !== 'function') {
    throw new Error('this scratch-gui build is not 4.0.10: React was not found inside it');
  }
  return { React, ReactDOM };
}

function addToExtensionLibrary(req) {
  for (const id of Object.keys(req.m)) {
    const source = Function.prototype.toString.call(req.m[id]);
    if (!source.includes('gui.extension.microbit.description') || !source.includes('helpLink')) continue;
    const exported = req(id);
    for (const key of Object.keys(exported)) {
      const list = exported[key];
      if (Array.isArray(list) && list.some((e) => e && e.extensionId === 'microbit')) {
        if (!list.some((e) => e && e.extensionId === EXTENSION_ID)) list.push(LIBRARY_ENTRY);
        return true;
      }
    }
  }
  console.warn('MIKRO-DOJO: extension library not found; the device dialog will have no title'); // eslint-disable-line no-console
  return false;
}

async function startScratch(kid) {
  $('loading').hidden = false;
  await guiScript;
  const GUI = window.GUI;
  const req = guiRequire();
  const { React, ReactDOM } = bundledReact(req);
  addToExtensionLibrary(req);
  const root = $('gui');
  $('app').hidden = false;
  GUI.setAppElement(root);
  const WrappedGui = GUI.AppStateHOC(GUI.default);
  const vmReady = new Promise((resolve) => {
    ReactDOM.render(React.createElement(WrappedGui, {
      projectId: '0', // the built-in default project; without it the toolbox never updates
      basePath: GUI_BASE, // block images and sounds come from the package's dist/
      assetHost: `${location.origin}/scratch/assets`, // never the internet: unknown assets are a local 404
      canSave: false,
      canShare: false,
      backpackVisible: false,
      showComingSoon: false,
      onVmInit: resolve,
    }), root);
  });
  const vm = await vmReady;
  window.vm = vm; // for the browser tests and curious teachers
  // The starter project loads now; when it is shown, the toolbox has been redrawn at Motion.
  const projectShown = new Promise((resolve) => {
    vm.once('workspaceUpdate', resolve);
    setTimeout(resolve, CATEGORY_WAIT_MS);
  });
  window.Scratch = window.MikroDojoShim.makeScratch(vm, {
    server: location.origin, token: kid.token, level: kid.level, carId: kid.car_id,
  });
  await loadScript('/scratch/extension.js');
  $('loading').hidden = true;
  watchConnection(vm, kid);
  await projectShown;
  fitStage(root);
  showOurCategory();
  document.body.dataset.ready = 'true'; // for the browser tests: the editor is laid out
  return vm;
}

/** scratch-gui sizes its stage from the window, not from its box: beside our panel, use the small stage. */
function fitStage(root) {
  if (root.clientWidth >= LARGE_STAGE_MIN_WIDTH) return;
  // The small/large toggle is two icon buttons; the first is "small stage" (scratch-gui 4.0.10 layout).
  const toggles = document.querySelectorAll('[class*="stage-header_stage-button-first"], [class*="stage-header_stage-button-icon"]');
  if (toggles.length) (toggles[0].closest('[class*="stage-header_stage-button"]') || toggles[0]).click();
}

/** Open the toolbox at MIKRO-DOJO: the first thing a kid should see are the car blocks. */
function showOurCategory() {
  const deadline = Date.now() + CATEGORY_WAIT_MS;
  const tick = () => {
    const item = [...document.querySelectorAll('.scratchCategoryMenuItem')]
      .find((el) => el.textContent.trim() === 'MIKRO-DOJO');
    if (item) {
      // scratch-blocks listens to the mouse, not to click(): send what a real click sends.
      for (const type of ['mousedown', 'mouseup', 'click']) {
        item.dispatchEvent(new MouseEvent(type, { bubbles: true, cancelable: true, view: window }));
      }
    } else if (Date.now() < deadline) {
      setTimeout(tick, 100);
    }
  };
  setTimeout(tick, CATEGORY_SETTLE_MS);
}

// --- the arena panel ------------------------------------------------------------------------

function showArena(kid) {
  $('who').textContent = `${kid.name} · ${kid.car_id || 'no car yet'}`;
  const socket = window.io('/kid', { auth: { token: kid.token }, transports: ['websocket'] });
  const view = new ArenaView($('arena'), { socket, carId: kid.car_id });
  socket.on('telemetry', (t) => {
    if (!t || !t.pose || t.car_id !== kid.car_id) return;
    $('read-x').textContent = `${Math.round(t.pose.x_cm)} cm`;
    $('read-y').textContent = `${Math.round(t.pose.y_cm)} cm`;
    $('read-heading').textContent = `${Math.round(t.pose.heading_deg)}°`;
    $('read-distance').textContent = t.distance_cm == null ? 'nothing' : `${Math.round(t.distance_cm)} cm`;
  });
  socket.on('feedback', showFeedback); // a graded try at the picked lesson (green flag)
  window.arenaView = view;
  window.addEventListener('resize', () => { view.dirty = true; });
  if (!kid.car_id) $('arena-hint').textContent = 'You have no car yet — ask your teacher to give you one.';
}

function showFeedback(fb) {
  if (!fb) return;
  const stars = Math.max(0, Math.min(MAX_STARS, Number(fb.stars) || 0));
  $('feedback-title').textContent = fb.lesson_title || 'Your try';
  $('feedback-stars').textContent = '★'.repeat(stars) + '☆'.repeat(MAX_STARS - stars);
  $('feedback-stars').setAttribute('aria-label', `${stars} of ${MAX_STARS} stars`);
  const text = fb.text || fb.summary || (fb.passed ? 'You did it!' : 'Not yet — try again!');
  const tip = fb.tip && !text.includes(fb.tip) ? fb.tip : ''; // the checks-only text already ends with it
  $('feedback-text').textContent = text;
  $('feedback-tip').textContent = tip && !/^tip\b/i.test(tip) ? `Tip: ${tip}` : tip;
  $('feedback').className = `feedback ${fb.passed ? 'passed' : 'not-yet'}`;
  $('feedback').hidden = false;
}

function watchConnection(vm, kid) {
  const status = $('car-status');
  const set = (text, cls) => { status.textContent = text; status.className = `car-status ${cls}`; };
  vm.on('PERIPHERAL_CONNECTED', () => {
    set(`connected to ${kid.car_id}`, 'ok');
    $('arena-hint').textContent = 'Click a MIKRO-DOJO block — your car moves! The red stop sign stops it.';
  });
  vm.on('PERIPHERAL_DISCONNECTED', () => set('not connected', ''));
  vm.on('PERIPHERAL_CONNECTION_LOST_ERROR', () => {
    set('lost the car', 'lost');
    $('arena-hint').textContent = 'Your car is gone. Ask your teacher to check it, then click the dot again.';
  });
}

// --- go ---------------------------------------------------------------------------------------

$('switch-kid').addEventListener('click', () => {
  sessionStorage.removeItem(SESSION_KEY);
  location.reload();
});

const kid = (await savedKid()) || (await askToJoin());
showArena(kid);
const vm = await startScratch(kid);
window.tellBox = mountTell($('tell'), { vm, token: () => kid.token }); // "Tell the car" (docs/language.md)
window.tellBox.refresh();
