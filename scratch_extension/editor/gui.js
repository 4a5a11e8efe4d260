// Booting the prebuilt npm scratch-gui 4.0.10 (BSD-3) with our extension, and the few places we adjust
// it: our entry in its extension library (the device dialog's title, icon and help), the large stage
// when the window has room, the toolbox opened at MIKRO-DOJO, locked blocks greyed, and the Tutorials
// menu opening our lessons instead of Scratch's stock tutorials.

const GUI_BASE = '/vendor/scratch-gui/';
const EXTENSION_ID = 'mikrodojo';
const CATEGORY_WAIT_MS = 10000; // the toolbox redraws (with our category, after a project load) for a while on a slow computer; the kid's first input ends it sooner
const CATEGORY_SETTLE_MS = 300; // after a project load the toolbox redraws once more
const LARGE_STAGE_MIN_WIDTH = 1090; // below this the large stage (480 px) is cut off: measured at 1100 (fits) and 1030 (cut)
const GREY_DEBOUNCE_MS = 50; // the flyout redraws in bursts; grey its locked blocks once it settles
const LOCKED_COLOURS = ['#c3cad6', '#b3bac6', '#9aa3b2']; // a locked block: the palette's grey, not the car blue
const CAR_COLOURS = ['#4C97FF', '#4280D7', '#3373CC']; // the extension's own (mikrodojo.js getInfo)
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

export function loadScript(src) {
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

/** Render scratch-gui into `root`; resolves with the VM once it exists. */
export async function startGui(root) {
  await guiScript;
  const GUI = window.GUI;
  const req = guiRequire();
  const { React, ReactDOM } = bundledReact(req);
  addToExtensionLibrary(req);
  GUI.setAppElement(root);
  const WrappedGui = GUI.AppStateHOC(GUI.default);
  return new Promise((resolve) => {
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
}

/** The large stage when the window has room for it (the car arena takes the stage's place). */
export function fitStage(root) {
  // The small/large toggle is two icon buttons (scratch-gui 4.0.10 layout): first small, then large.
  const buttons = [...document.querySelectorAll('[class*="stage-header_stage-button"]')]
    .filter((b) => b.querySelector('[class*="stage-header_stage-button-icon"]'));
  const wanted = root.clientWidth >= LARGE_STAGE_MIN_WIDTH ? buttons[1] : buttons[0];
  if (wanted) wanted.click();
}

const KID_INPUT = ['mousedown', 'wheel', 'touchstart', 'keydown']; // the kid is using the editor: leave the toolbox be

/** Open the toolbox at MIKRO-DOJO: the first thing a kid should see are the car blocks. The toolbox may
 * redraw (a project load, a palette refresh) and fall back to Motion later on a slow computer, so until
 * CATEGORY_WAIT_MS it is selected again whenever it is not — until the kid clicks, scrolls or types. */
export function showOurCategory() {
  const deadline = Date.now() + CATEGORY_WAIT_MS;
  let kidChose = false;
  const kid = (event) => { if (event.isTrusted) kidChose = true; };
  for (const type of KID_INPUT) document.addEventListener(type, kid, { capture: true, passive: true });
  const tick = () => {
    const item = [...document.querySelectorAll('.scratchCategoryMenuItem')]
      .find((el) => el.textContent.trim() === 'MIKRO-DOJO');
    if (item && !kidChose && !item.classList.contains('categorySelected')) {
      // scratch-blocks listens to the mouse, not to click(): send what a real click sends.
      for (const type of ['mousedown', 'mouseup', 'click']) {
        item.dispatchEvent(new MouseEvent(type, { bubbles: true, cancelable: true, view: window }));
      }
    }
    if (Date.now() < deadline && !kidChose) setTimeout(tick, 100);
    else for (const type of KID_INPUT) document.removeEventListener(type, kid, { capture: true });
  };
  setTimeout(tick, CATEGORY_SETTLE_MS);
}

/** The menu bar's Tutorials (Scratch's stock tutorials, from the internet) opens our lessons instead. */
export function tutorialsOpenLessons(openLessons) {
  const item = [...document.querySelectorAll('[class*="menu-bar_menu-bar-item"]')]
    .find((el) => el.textContent.trim() === 'Tutorials');
  if (!item) return false;
  item.dataset.lessons = 'true';
  const label = [...item.querySelectorAll('span, div')].find((el) => el.childElementCount === 0 && el.textContent.trim() === 'Tutorials');
  if (label) label.textContent = 'Lessons';
  item.addEventListener('click', (event) => { // capture: scratch-gui never sees the click
    event.stopPropagation();
    event.preventDefault();
    openLessons();
  }, true);
  return true;
}

/**
 * Grey the palette's locked car blocks whenever the flyout is redrawn. The extension marks them disabled
 * in the palette's XML, but scratch-blocks draws a disabled block like any other and reuses last
 * drawing's blocks (with their old state) after a level change: so the extension's own list decides.
 * lockedOpcodes(): {opcode: unlock level} (the extension's).
 */
export function greyLockedBlocks(lockedOpcodes) {
  const Blockly = window.Blockly; // scratch-blocks, as scratch-gui loads it
  let timer = null;
  const paint = () => {
    const flyout = Blockly && Blockly.getMainWorkspace() && Blockly.getMainWorkspace().getFlyout();
    if (!flyout) return;
    const locked = lockedOpcodes();
    for (const block of flyout.getWorkspace().getTopBlocks(false)) {
      if (!block.type.startsWith(`${EXTENSION_ID}_`) || block.type.includes('_menu_')) continue;
      const lock = block.type.slice(EXTENSION_ID.length + 1) in locked;
      if (block.disabled !== lock) block.setDisabled(lock); // also what the palette's drag looks at
      const colours = lock ? LOCKED_COLOURS : CAR_COLOURS;
      if (block.getColour().toLowerCase() !== colours[0].toLowerCase()) block.setColour(...colours);
      block.getSvgRoot().classList.toggle('dojo-locked', lock);
    }
  };
  const flyoutSvg = document.querySelector('.blocklyFlyout');
  if (!flyoutSvg) return;
  new MutationObserver(() => { clearTimeout(timer); timer = setTimeout(paint, GREY_DEBOUNCE_MS); })
    .observe(flyoutSvg, { childList: true, subtree: true });
  paint();
}
