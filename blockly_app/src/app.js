// The Blockly app at /blockly/: join, the kid's level toolbox, run with highlighting, stop, save/load,
// files, Python export, and the arena panel. Blockly, its generators and socket.io come as classic
// scripts (window.Blockly, window.python, window.javascript, window.io); our modules are ES modules.
import * as api from '/kid-ui/api.js';
import { CATALOG_IDS } from './blocks.js';
import { registerDojo } from './register.js';
import { ProgramRunner } from './runner.js';
import { unavailableSkillText } from './skill_field.js';
import { buildToolbox, lessonCatalog, levelCatalog } from './toolbox.js';
import { LessonPanel } from '/kid-ui/lessons.js';
import { FeedbackPanel } from '/kid-ui/feedback.js';
import { mountLessonUI } from '/kid-ui/markup.js';
import { askIsThatYou } from '/kid-ui/ui.js';
import { statusCard } from '/kid-ui/status.js';
import { downloadText, readFileText, programFile, programFromFile } from './files.js';
import { mountTell } from './tell.js';
import { ArenaView } from '/arena/arena.js'; // the server's live arena view, drawn from our own /kid socket

const { Blockly, python, javascript, io } = window;

const SAVE_DEBOUNCE_MS = 800; // save once the kid pauses, not on every pixel of a drag
const SOCKET_CONNECT_TIMEOUT_MS = 5_000; // loopback/LAN handshake; longer means the server is gone
const MEDIA = '/blockly/lib/blockly/media/'; // Blockly's sounds and sprites from our server, never a CDN
const WARNING = 'dojo'; // our warning-bubble id on a block (Blockly keeps one text per id)

const $ = (id) => document.getElementById(id);
const dojo = registerDojo({ Blockly, python, javascript });

const state = {
  session: null, // {token, kid_id, name, level, car_id, class_code}
  catalog: null, // levelCatalog(...)
  workspace: null,
  socket: null,
  runner: null,
  arena: null, // ArenaView on the kid's socket
  cars: [],
  carId: null,
  loading: false,
  saveTimer: null,
  lessons: null, // LessonPanel: the picker and the selected lesson's card
  feedback: null, // FeedbackPanel: stars, checks, coach; my tries and compare
  tell: null, // the Tell the car box: a sentence becomes blocks (docs/language.md)
  gradingRun: null, // run id of a lesson run whose feedback the kid is waiting for
  runNote: null, // the car's last note in this run (a done block's kid_text with a rule): kept on the card at the end
};

// --- status line -----------------------------------------------------------------------------

const setStatus = statusCard($);

const STATUS_TEXT = {
  running: 'Your car is driving…',
  listening: 'Watching for obstacles… press Stop to finish.',
  finished: 'Done! Your program ran to the end.',
  stopped: 'Stopped.',
};

// --- join ------------------------------------------------------------------------------------

async function onJoin(event) {
  event.preventDefault();
  $('join-error').textContent = '';
  $('join-btn').disabled = true;
  try {
    const joined = await api.join($('class-code').value, $('kid-name-input').value, { isThatYou: askIsThatYou });
    api.rememberSession(joined);
    await start(joined);
  } catch (err) {
    $('join-error').textContent = err.message;
  } finally {
    $('join-btn').disabled = false;
  }
}

function showJoin(message = '') {
  $('join-screen').hidden = false;
  $('main').hidden = true;
  $('who').hidden = true;
  $('actions').hidden = true;
  $('join-error').textContent = message;
}

async function start(session) {
  state.session = session;
  let saved;
  try {
    saved = await api.loadProgram(session.token); // also proves the remembered token still works
  } catch (err) {
    if (err.status === 401) {
      api.forgetSession();
      showJoin('Please join again.');
      return;
    }
    throw err;
  }
  $('join-screen').hidden = true;
  $('main').hidden = false;
  $('who').hidden = false;
  $('actions').hidden = false;
  $('kid-name').textContent = `Hi ${session.name}!`;
  await startLessons();
  await applyLevel(session.level);
  let welcome = saved.program ? 'Welcome back! Your last program is here.' : 'Drag blocks in, then press Run!';
  try {
    loadWorkspace(saved.program);
  } catch (err) {
    welcome = `I couldn't open your last program (${err.message}) — you can start a new one.`;
  }
  connectSocket();
  state.tell ||= mountTell($('tell-card'), {
    Blockly, workspace: () => state.workspace, token: () => state.session.token,
    onPlanned: () => setStatus('idle', 'New blocks from your sentence — read them, change a number if you like, then press Run!'),
  });
  state.tell.refresh();
  setCars([{ car_id: session.car_id, connected: true }], session.car_id);
  if (state.lessons.current) welcome += ` Lesson: “${state.lessons.current.title}”.`;
  setStatus('idle', welcome);
}

// --- lessons and feedback --------------------------------------------------------------------------

async function startLessons() {
  if (!state.lessons) {
    const session = () => state.session;
    const onError = (text) => setStatus('failed', text);
    const levelTitle = (n) => (state.catalog?.level === n ? state.catalog.title : '');
    state.lessons = new LessonPanel($, session, { onSelected: onLessonSelected, onError, levelTitle });
    state.feedback = new FeedbackPanel($, session, state.lessons, { onError });
  }
  try {
    await state.lessons.refresh(); // a lesson picked before a reload is still selected on the server
    await state.feedback.restore(); // and its last result can be opened again
  } catch {
    state.lessons.renderCard(); // no lessons on this server: free driving only
  }
}

/** Back online while the kid waits for a grade: the `feedback` event may have gone by meanwhile. */
async function catchUpFeedback() {
  const waiting = state.gradingRun;
  if (!waiting) return;
  const fb = await state.feedback.restore({ show: true }).catch(() => null);
  if (fb && fb.run_id === waiting) {
    state.gradingRun = null;
    setStatus('finished', fb.summary || `${fb.stars} stars!`);
  }
}

/** The server put the car into the lesson's arena: new toolbox, clean trails, a friendly start line. */
async function onLessonSelected(lesson) {
  await applyLevel(state.session.level);
  state.tell?.refresh(); // a lesson may say "build it yourself"
  state.arena?.clearTrails();
  state.arena?.load();
  state.feedback.forLesson(lesson);
  if (lesson) setStatus('lesson', `Build a program for “${lesson.title}”, then press Run!`);
  else setStatus('idle', 'Free driving: no lesson, no stars — just have fun!');
}

function onFeedback(payload) {
  if (payload.run_id && payload.run_id === state.gradingRun) state.gradingRun = null;
  state.feedback.onFeedback(payload);
  setStatus('finished', payload.summary || `${payload.stars} star${payload.stars === 1 ? '' : 's'}!`);
  state.lessons.refresh().catch(() => {}); // best stars, newly opened lessons
}

// --- level, toolbox, workspace ---------------------------------------------------------------

async function applyLevel(level) {
  const catalog = levelCatalog(await api.catalog(level));
  state.catalog = catalog;
  Object.assign(dojo.skills, { available: catalog.skills, all: catalog.allSkills, unlockLevel: catalog.skillUnlock,
    lockedText: catalog.skillLockedText });
  $('level-badge').textContent = `Level ${catalog.level} · ${catalog.title}`;
  const toolbox = buildToolbox(lessonCatalog(catalog, state.lessons?.current?.allowed_blocks));
  if (!state.workspace) {
    state.workspace = Blockly.inject('workspace', {
      toolbox,
      media: MEDIA,
      renderer: 'zelos',
      trashcan: true,
      sounds: true,
      grid: { spacing: 32, length: 3, colour: '#dde5ef', snap: true },
      zoom: { controls: true, wheel: true, startScale: 0.8, maxScale: 2, minScale: 0.4 },
      move: { scrollbars: true, drag: true, wheel: false },
    });
    state.workspace.addChangeListener(onWorkspaceChange);
  } else {
    state.workspace.updateToolbox(toolbox);
  }
  for (const block of state.workspace.getBlocksByType('dojo_do_skill', false)) block.getField('SKILL').refreshSkills();
  markUnavailable();
}

/** A warning bubble on blocks this level cannot run: they stay in the program, shown, never changed. */
function markUnavailable() {
  if (!state.workspace || !state.catalog) return;
  const byType = new Map(state.catalog.blocks.map((b) => [b.type, b]));
  for (const block of state.workspace.getAllBlocks(false)) {
    if (!CATALOG_IDS[block.type] || block.isInFlyout) continue;
    const entry = byType.get(block.type);
    let text = null;
    const lesson = state.lessons?.current;
    if (entry && !entry.allowed) text = entry.lockedText;
    else if (entry && lesson?.allowed_blocks?.length && !lesson.allowed_blocks.includes(entry.id)) {
      text = `“${lesson.title}” is done without this block.`;
    }
    else if (block.type === 'dojo_do_skill' && !block.getField('SKILL').isAvailable()) {
      text = unavailableSkillText(dojo.skills, block.getFieldValue('SKILL'));
    }
    if ((block.getWarningText?.() ?? null) !== text) block.setWarningText(text, `${WARNING}-lock`);
  }
}

function loadWorkspace(program) {
  state.loading = true;
  try {
    state.workspace.clear();
    if (program) Blockly.serialization.workspaces.load(program, state.workspace);
  } finally {
    state.loading = false;
  }
  markUnavailable();
  updatePythonPreview();
}

const PY_KEYWORDS = /\b(import|def|for|in|range|while|if|elif|else|return|global|try|except|break|continue|and|or|not|True|False)\b/g;

/** One line of the Python preview as safe HTML with a little colour (comments, `car.`, keywords). */
function pythonLineHtml(line) {
  const esc = line.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  if (/^\s*#/.test(line)) return `<span class="py-comment">${esc}</span>`;
  return esc.replace(/\bcar\./g, '<span class="py-car">car.</span>').replace(PY_KEYWORDS, '<span class="py-keyword">$1</span>');
}

/** The Python export, live: the bridge from blocks to text. The header and connect line are left out. */
function updatePythonPreview() {
  if (!state.workspace || !state.session) return;
  const code = dojo.exportPython(state.workspace, { server: window.location.origin, classCode: state.session.class_code, name: state.session.name });
  const lines = code.split('\n');
  const start = lines.findIndex((l) => l.startsWith('car = dojo.connect('));
  $('python-preview').innerHTML = lines.slice(start + 2).map(pythonLineHtml).join('\n');
}

function onWorkspaceChange(event) {
  if (event.isUiEvent || state.loading) return;
  updatePythonPreview();
  if (event.type === Blockly.Events.BLOCK_CREATE || event.type === Blockly.Events.BLOCK_CHANGE) markUnavailable();
  clearTimeout(state.saveTimer);
  $('save-state').textContent = 'editing…';
  state.saveTimer = setTimeout(saveNow, SAVE_DEBOUNCE_MS);
}

async function saveNow() {
  clearTimeout(state.saveTimer);
  try {
    await api.saveProgram(state.session.token, Blockly.serialization.workspaces.save(state.workspace));
    $('save-state').textContent = 'saved ✓';
  } catch (err) {
    $('save-state').textContent = 'not saved ⚠';
    $('save-state').title = err.message;
  }
}

// --- socket, cars, arena -----------------------------------------------------------------------

function connectSocket() {
  const socket = io('/kid', { auth: { token: state.session.token }, transports: ['websocket'], timeout: SOCKET_CONNECT_TIMEOUT_MS });
  state.socket = socket;
  state.runner = new ProgramRunner(socket, {
    onHighlight: (id) => state.workspace.highlightBlock(id),
    onProblem: showProblem,
    onNote: (note) => { // what the car did instead, and why ("a wall was too close, so I backed up")
      state.runNote = note.kidText;
      showProblem(note);
      setStatus('safety', note.kidText);
    },
    onStatus: (status, text) => {
      if (status === 'running') state.runNote = null;
      setRunning(status === 'running' || status === 'listening');
      if (status === 'refused' || status === 'failed') setStatus(status, text);
      else if (status === 'finished' && state.runNote) setStatus('safety', state.runNote); // the note outlives "Done!"
      else if (status === 'stopped' && text && !/^stop/.test(text)) setStatus(status, text); // e.g. the teacher's stop
      else setStatus(status, STATUS_TEXT[status] || text || status);
    },
  });
  socket.on('connect_error', (err) => {
    if (err?.data?.rule || /token/i.test(String(err?.message))) {
      api.forgetSession();
      showJoin('Please join again.');
    } else {
      $('car-state').textContent = 'reconnecting…';
    }
  });
  socket.on('connect', () => {
    $('car-state').textContent = '';
    catchUpFeedback();
  });
  socket.on('skills', () => { // a learned skill was promoted or rolled back: the skill menu follows
    if (state.catalog) applyLevel(state.catalog.level).catch(() => {});
  });
  socket.on('level', (payload) => {
    if (payload.level !== state.catalog?.level) {
      state.session.level = payload.level;
      api.rememberSession(state.session);
      applyLevel(payload.level).then(() => setStatus('level', `You are now on level ${payload.level}: ${payload.title}!`));
      state.tell?.refresh();
      state.lessons?.refresh().catch(() => {});
    }
  });
  socket.on('feedback', onFeedback);
  socket.on('car_changed', (c) => { // the teacher gave this kid another car (or took it back)
    setCars(c.car_id ? [{ car_id: c.car_id, connected: true }] : [], c.car_id);
    setStatus('car', c.kid_text);
  });
  socket.on('car_status', (s) => {
    setCars(s.cars || [], s.car_id);
    $('car-state').textContent = carStateText(s);
  });
  socket.on('safety', (e) => { if (e.kid_text) setStatus('safety', e.kid_text); }); // "I slowed down: wall ahead"
}

/** A few words about the car next to the arena title: off, or waiting for a turn on a shared car. */
function carStateText(s) {
  if (!s.car_id) return 'no car yet — ask your teacher';
  if (s.connected === false) return `${s.car_id} is switched off`;
  if (s.status === 'waiting' && s.queue_position) return s.queue_position === 1 ? 'your turn is next' : `waiting: ${s.queue_position - 1} ahead of you`;
  return '';
}

function setCars(cars, carId) {
  state.cars = cars.length ? cars : state.cars;
  const picker = $('car-picker');
  const wanted = state.carId && state.cars.some((c) => c.car_id === state.carId) ? state.carId : carId;
  picker.replaceChildren(...state.cars.filter((c) => c.car_id).map((c) => {
    const o = document.createElement('option');
    o.value = c.car_id;
    o.textContent = `${c.car_id}${c.connected === false ? ' (off)' : ''}`;
    return o;
  }));
  picker.disabled = state.cars.length < 2;
  if (wanted) showCar(wanted);
}

function showCar(carId) {
  if (!carId || carId === state.carId || !state.socket) return;
  state.carId = carId;
  $('car-picker').value = carId;
  state.arena?.destroy();
  state.arena = new ArenaView($('arena-canvas'), { socket: state.socket, carId });
}

// --- run / stop --------------------------------------------------------------------------------

function clearProblems() {
  for (const block of state.workspace.getAllBlocks(false)) block.setWarningText(null, WARNING);
}

/** The kid sentence next to the block that caused it (a warning bubble, opened). */
function showProblem(problem) {
  let id = problem.blockId;
  if (!id) id = /\(block ([^)]+)\)/.exec(problem.detail || '')?.[1]; // run_start refusals name the block
  if (!id && problem.reply?.rule === 'lesson_blocks') id = firstBlockOutsideLesson()?.id; // the lesson check names types only
  const block = id ? state.workspace.getBlockById(id) : null;
  if (!block) return;
  block.setWarningText(null, `${WARNING}-lock`); // the server's sentence says it better; no double text
  block.setWarningText(problem.kidText, WARNING);
  const icon = block.getIcon(Blockly.icons.IconType.WARNING);
  icon?.setBubbleVisible(true);
  state.workspace.centerOnBlock(block.id);
}

/** The first placed car block (reading order) the selected lesson is done without. */
function firstBlockOutsideLesson() {
  const allowed = state.lessons?.current?.allowed_blocks;
  if (!allowed?.length) return null;
  return state.workspace.getAllBlocks(true).find((b) => CATALOG_IDS[b.type] && b.isEnabled()
    && CATALOG_IDS[b.type] !== 'stop' && !allowed.includes(CATALOG_IDS[b.type])) || null;
}

function setRunning(running) {
  $('run-btn').disabled = running;
  document.body.classList.toggle('is-running', running);
}

async function run() {
  clearProblems();
  await saveNow();
  const program = Blockly.serialization.workspaces.save(state.workspace);
  const code = dojo.programCode(state.workspace);
  const lessonId = state.lessons?.current?.id || null;
  setRunning(true);
  setStatus('running', 'Starting…');
  if (lessonId) state.arena?.clearTrails(); // the server puts the car back at the lesson's start
  const result = await state.runner.run(program, code, { lessonId });
  if (lessonId && result.runId && result.status !== 'refused') {
    // The attempt is recorded and graded now: the coach's card comes a few seconds after the car stops.
    state.gradingRun = result.runId;
    setTimeout(() => {
      if (state.gradingRun === result.runId) setStatus('grading', 'Your coach is looking at your drive…');
    }, 0);
  }
}

async function stop() {
  setStatus('stopped', 'Stopping…');
  await state.runner.stop('stopped by kid');
  setRunning(false);
  setStatus('stopped', STATUS_TEXT.stopped);
}

// --- files and export ----------------------------------------------------------------------------

function safeName() {
  return (state.session?.name || 'my').toLowerCase().replace(/[^a-z0-9]+/g, '_') || 'my';
}

function exportPython() {
  const fileName = `${safeName()}_car_program.py`;
  const code = dojo.exportPython(state.workspace, {
    server: window.location.origin, classCode: state.session.class_code, name: state.session.name, car: state.carId,
  }, `${state.session.name}'s car program`, fileName);
  downloadText(fileName, code, 'text/x-python');
  setStatus('finished', `Your Python program is downloaded — run it with: python ${fileName}`);
}

async function uploadFile(event) {
  const file = event.target.files?.[0];
  event.target.value = '';
  if (!file) return;
  try {
    loadWorkspace(programFromFile(await readFileText(file)));
    await saveNow();
    setStatus('finished', `Opened ${file.name}.`);
  } catch (err) {
    setStatus('failed', `I can't open ${file.name}: ${err.message}`);
  }
}

// --- start-up ------------------------------------------------------------------------------------

function wire() {
  mountLessonUI($('lesson-slot'));
  $('join-form').addEventListener('submit', onJoin);
  $('run-btn').addEventListener('click', () => run());
  $('stop-btn').addEventListener('click', () => stop());
  $('export-btn').addEventListener('click', exportPython);
  $('download-btn').addEventListener('click', () =>
    downloadText(`${safeName()}_program.json`, programFile(Blockly.serialization.workspaces.save(state.workspace)), 'application/json'));
  $('upload-input').addEventListener('change', uploadFile);
  $('car-picker').addEventListener('change', (e) => showCar(e.target.value));
  $('leave-btn').addEventListener('click', () => { api.forgetSession(); window.location.reload(); });
  // Esc is the keyboard's stop sign (the page is the kid's: no other key may move the car).
  document.addEventListener('keydown', (e) => { if (e.key === 'Escape' && state.runner) stop(); });
  const params = new URLSearchParams(window.location.search);
  if (params.get('class')) $('class-code').value = params.get('class');
}

async function main() {
  wire();
  window.dojoApp = { state, dojo }; // for the browser tests and curious teachers (read-only use)
  const remembered = api.rememberedSession();
  if (remembered?.token) {
    try {
      await start(remembered);
      return;
    } catch (err) {
      showJoin(err.message);
      return;
    }
  }
  showJoin();
}

main();
