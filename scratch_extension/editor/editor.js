// The Scratch editor the classroom server serves at /scratch/: scratch-gui with the MIKRO-DOJO category
// preloaded, the car in the stage's column (car_column.js), and the same lesson panel as the Blockly app
// (kid_ui/: picker, story, goal, hints, stars, feedback card, my tries). Everything comes from this server
// (no CDN), so a classroom without internet works.
//
// Flow: join (class code + first name; "is that you?" for a name the class has) -> scratch-gui ->
// the extension (through the `Scratch` shim) connects to the kid's car by itself -> the kid's saved
// project comes back ("welcome back") -> lessons and "Tell the car" (in the panel's #tell-slot). A /kid
// socket.io connection feeds the arena, the readouts, safety notes, the level, the car the teacher gives,
// and the graded try's feedback.
import * as api from '/kid-ui/api.js';
import { FeedbackPanel } from '/kid-ui/feedback.js';
import { LessonPanel } from '/kid-ui/lessons.js';
import { mountLessonUI } from '/kid-ui/markup.js';
import { statusCard } from '/kid-ui/status.js';
import { askIsThatYou } from '/kid-ui/ui.js';
import { Autosave } from './autosave.js';
import { BlockNotes } from './block_notes.js';
import { CarColumn } from './car_column.js';
import { fitStage, greyLockedBlocks, loadScript, showOurCategory, startGui, tutorialsOpenLessons } from './gui.js';
import { mountTell } from './tell.js';

const SESSION_KEY = 'mikrodojo.scratch';
const CHECK_TOKEN_TIMEOUT_MS = 5000; // loopback/LAN answers in milliseconds
const PROJECT_SHOWN_WAIT_MS = 5000; // the starter project is on screen a moment after the VM exists

const $ = (id) => document.getElementById(id);
const setStatus = statusCard($);
const state = {
  kid: null, vm: null, ext: null, socket: null, column: null, lessons: null, feedback: null, notes: null,
  carNews: null, // what the teacher's car change said, until the new car is connected
  greeting: null, // the welcome on the status card, until the car first connects
};

// --- step 1: join ---------------------------------------------------------------------------

async function savedKid() {
  const kid = api.rememberedSession(SESSION_KEY, sessionStorage);
  if (!kid || !kid.token) return null;
  try {
    const res = await fetch('/api/cars', {
      headers: { Authorization: `Bearer ${kid.token}` }, signal: AbortSignal.timeout(CHECK_TOKEN_TIMEOUT_MS),
    });
    if (res.status === 401) return null; // the class was reset or the token is too old: join again
    const { cars } = await res.json();
    kid.car_id = cars && cars[0] ? cars[0].car_id : null; // the teacher may have changed it meanwhile
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
        const kid = await api.join($('class-code').value, $('kid-name').value, { isThatYou: askIsThatYou });
        api.rememberSession(kid, SESSION_KEY, sessionStorage);
        $('join').hidden = true;
        resolve(kid);
      } catch (err) {
        $('join-error').textContent = err.message;
      } finally {
        $('join-button').disabled = false;
      }
    });
  });
}

// --- step 2: Scratch, the car, the lessons ------------------------------------------------------

async function startScratch(kid) {
  $('loading').hidden = false;
  $('app').hidden = false;
  const root = $('gui');
  const vm = await startGui(root);
  state.vm = vm;
  window.vm = vm; // for the browser tests and curious teachers
  const projectShown = new Promise((resolve) => {
    vm.once('workspaceUpdate', resolve);
    setTimeout(resolve, PROJECT_SHOWN_WAIT_MS);
  });
  window.Scratch = window.MikroDojoShim.makeScratch(vm, {
    server: location.origin, token: kid.token, level: kid.level, carId: kid.car_id,
  });
  await loadScript('/scratch/extension.js');
  state.ext = window.Scratch.extensions.registered[0];
  await projectShown;
  $('loading').hidden = true;
  const back = await new Autosave(vm, () => state.kid.token, showSaveState).restore().catch(() => false);
  fitStage(root);
  showOurCategory();
  greyLockedBlocks(() => state.ext.lockedOpcodes());
  tutorialsOpenLessons(() => state.lessons.open());
  watchConnection(vm);
  state.notes = new BlockNotes($, vm, (kind, text) => setStatus(kind === 'note' ? 'car' : kind, text));
  state.column.show(true);
  state.ext.connectTo(kid.car_id); // no dialog needed: the kid's own car (or the first one they are given)
  await startLessons();
  window.tellBox = mountTell($('tell-slot'), { vm, token: () => state.kid.token }); // docs/language.md
  window.tellBox.refresh();
  const welcome = back ? `Welcome back, ${kid.name}! Your project is here.` : `Hi ${kid.name}! Drag a car block in and click it.`;
  state.greeting = state.lessons.current ? `${welcome} Lesson: “${state.lessons.current.title}”.` : welcome;
  setStatus('idle', state.greeting);
  document.body.dataset.ready = 'true'; // for the browser tests: the editor is laid out
}

function showSaveState(text, title = '') {
  $('save-state').textContent = text;
  $('save-state').title = title;
}

function showKid(kid) {
  $('who').textContent = kid.name;
  $('car-status').textContent = kid.car_id ? `connecting to ${kid.car_id}…` : 'no car yet — ask your teacher';
}

function watchConnection(vm) {
  const status = $('car-status');
  const set = (text, cls) => { status.textContent = text; status.className = `car-status ${cls}`; };
  vm.on('PERIPHERAL_CONNECTED', () => {
    set(`${state.kid.car_id} is connected`, 'ok');
    const news = state.carNews; // "Your teacher gave you car-3." stays in front of "ready"
    state.carNews = null;
    const greeted = state.greeting && $('status-text').textContent === state.greeting;
    state.greeting = null;
    if (greeted && !news) return; // the car came a moment after the welcome: the welcome stays (the dot is green)
    setStatus('car', news ? `${news} It is ready: click a block to drive it!`
      : `Your car ${state.kid.car_id} is ready. Click a MIKRO-DOJO block — it moves! The red stop sign stops it.`);
  });
  vm.on('PERIPHERAL_DISCONNECTED', () => set(state.kid.car_id ? `connecting to ${state.kid.car_id}…` : 'no car yet', ''));
  vm.on('PERIPHERAL_CONNECTION_LOST_ERROR', () => {
    set(`lost ${state.kid.car_id}`, 'lost');
    setStatus('failed', 'Your car stopped answering. Ask your teacher to check it, then click the orange dot.');
  });
  vm.runtime.on('PROJECT_START', () => setStatus('running', 'Your car is driving…'));
  vm.runtime.on('PROJECT_RUN_STOP', () => {
    if (state.lessons?.current && $('status-card').dataset.state === 'running') {
      setStatus('grading', 'Your coach is looking at your drive…');
    }
  });
}

function connectSocket(kid) {
  const socket = window.io('/kid', { auth: { token: kid.token }, transports: ['websocket'] });
  state.socket = socket;
  state.column = new CarColumn($, socket);
  state.column.follow(kid.car_id);
  socket.on('car_changed', (c) => { // the teacher gave this kid another car: follow it (the extension reconnects)
    state.kid.car_id = c.car_id;
    api.rememberSession(state.kid, SESSION_KEY, sessionStorage);
    state.column.follow(c.car_id);
    showKid(state.kid);
    state.carNews = c.car_id ? c.kid_text : null;
    setStatus('car', c.kid_text);
  });
  socket.on('level', (payload) => {
    state.kid.level = payload.level;
    api.rememberSession(state.kid, SESSION_KEY, sessionStorage);
    $('level-badge').textContent = `Level ${payload.level} · ${payload.title}`;
    state.lessons?.refresh().catch(() => {});
    window.tellBox?.refresh();
  });
  socket.on('safety', (e) => { if (e && e.kid_text) state.notes?.safety(e.kid_text); });
  socket.on('feedback', (payload) => {
    state.feedback?.onFeedback(payload);
    setStatus('finished', payload.summary || `${payload.stars} star${payload.stars === 1 ? '' : 's'}!`);
    state.lessons?.refresh().catch(() => {});
  });
}

async function startLessons() {
  const session = () => state.kid;
  const onError = (text) => setStatus('failed', text);
  state.lessons = new LessonPanel($, session, {
    onSelected: lessonPicked, onError, levelTitle: () => '', tryText: 'Click the green flag to try it!',
  });
  state.feedback = new FeedbackPanel($, session, state.lessons, { onError });
  try {
    await state.lessons.refresh(); // a lesson picked before a reload is still picked on the server
    await state.feedback.restore();
  } catch {
    state.lessons.renderCard(); // no lessons on this server: free driving only
  }
  state.vm.runtime.emit('MIKRODOJO_LESSON', lessonBlocks(state.lessons.current));
}

function lessonBlocks(lesson) {
  return lesson ? { allowedBlocks: lesson.allowed_blocks || [] } : null;
}

/** The server put the car into the lesson's arena: only its blocks, clean trails, a friendly start line. */
function lessonPicked(lesson) {
  state.vm.runtime.emit('MIKRODOJO_LESSON', lessonBlocks(lesson));
  state.column.view?.clearTrails();
  state.column.view?.load();
  state.feedback.forLesson(lesson);
  window.tellBox?.refresh(); // a lesson may say "build it yourself"
  if (lesson) setStatus('lesson', `Build a program for “${lesson.title}” under the green flag, then click the flag!`);
  else setStatus('idle', 'Free driving: no lesson, no stars — just have fun!');
}

// --- go ---------------------------------------------------------------------------------------

mountLessonUI($('lesson-slot'));
$('switch-kid').addEventListener('click', () => {
  api.forgetSession(SESSION_KEY, sessionStorage);
  location.reload();
});

state.kid = (await savedKid()) || (await askToJoin());
showKid(state.kid);
$('level-badge').textContent = `Level ${state.kid.level}`;
connectSocket(state.kid);
await startScratch(state.kid);
