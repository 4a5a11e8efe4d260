// MIKRO-DOJO teacher console: log in, pick or create a class, then run it from one page.
// Live state comes over socket.io (/teacher namespace); the roster board is re-read from the API
// whenever the server says something changed, so the page never needs a reload.
import { api, setCsrf, ApiError, request } from './api.js';
import { $, el, fill, toast, openDialog, setupDialogs, confirmChange } from './ui.js';
import { Roster } from './roster.js';
import { Cars } from './cars.js';
import { Attempts } from './attempts.js';
import { LiveArena } from './live_arena.js';
import { Lessons } from './lessons.js';
import { TellLog } from '/language/tell_log.js'; // the Tell the car panel (server/language)
import { AddCar } from './add_car.js'; // "Add a car": pairing code, QR, the command (server/cars)

const BOARD_REFRESH_DEBOUNCE_MS = 120; // a burst of roster events (a whole class joining) -> one fetch
const BOARD_POLL_MS = 5000; // safety net if a socket event is lost: the roster is never staler than this
const CLASS_KEY = 'mikrodojo.teacher.class';

const state = {
  code: null, classes: [], board: null, socket: null, refreshTimer: null, pollTimer: null, attemptsTimer: null,
  lessonTitles: new Map(), changes: 0,
  accounts: false, // accounts mode: a username at login; a new car joins the open class
};

// --- actions (every one reports its error where the teacher looks) ----------------------------

async function act(what, fn, { quiet404 = false } = {}) {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return showLogin('Your session ended — please log in again.');
    if (quiet404 && e instanceof ApiError && e.status === 404) return undefined; // that feature is not on this server
    toast(`Could not ${what}`, e.message, 'error');
    scheduleRefresh();
    return undefined;
  }
}

/** A state-changing action: a roster read that started before it is stale, and refreshBoard drops it. */
function change(what, fn) {
  state.changes += 1;
  return act(what, fn);
}

function kidsOfCar(carId) {
  return (state.board?.cars || []).find((c) => c.car_id === carId)?.kid_ids || [];
}

function kidOf(kidId) {
  return (state.board?.kids || []).find((k) => k.kid_id === kidId);
}

const names = (ids) => ids.map(nameOf).join(', ');

/** A sentence about who loses a car and who stops driving, or '' when nothing is taken from anyone.
 * keepIds: the car's kids after the change; moving: kids leaving it for another car (not "no car"). */
function whatItTakes(carId, keepIds, moving = []) {
  const losing = kidsOfCar(carId).filter((id) => !keepIds.includes(id) && !moving.includes(id));
  const driving = [...losing, ...moving].filter((id) => kidOf(id)?.state === 'running');
  const parts = [];
  if (losing.length) parts.push(`${names(losing)} will have no car.`);
  if (driving.length) parts.push(`${names(driving)} ${driving.length > 1 ? 'are' : 'is'} driving right now: that drive stops.`);
  return parts.join(' ');
}

const roster = new Roster({
  setLevel: (kidId, level) => change('set the level', async () => {
    const kid = state.board?.kids.find((k) => k.kid_id === kidId);
    if (kid) kid.level = level; // shown at once; the next roster read confirms it
    await api.setKidLevel(state.code, kidId, level);
    toast('Level changed', `${nameOf(kidId)} is on level ${level} now.`, 'ok');
    scheduleRefresh();
  }),
  // the share bar: exactly these kids share the car, taking turns in this order
  share: async (carId, kidIds) => {
    const takes = whatItTakes(carId, kidIds);
    if (takes && !await confirmChange(`${carId} for ${names(kidIds)}: ${takes}`, `Share ${carId}`)) return scheduleRefresh();
    await change('share the car', async () => {
      await api.assignCar(carId, kidIds);
      toast(`${carId} is shared`, `${names(kidIds)} take turns, in that order. Their editors switched by themselves.`, 'ok');
      roster.selected.clear();
      scheduleRefresh();
    });
  },
  // one kid's car menu: the kid joins that car (at the end of its turn order) and leaves any other
  assign: async (carId, kidId) => {
    const kid = kidOf(kidId);
    const from = kid?.car_id;
    const takes = from ? whatItTakes(from, kidsOfCar(from).filter((k) => k !== kidId), [kidId]) : '';
    if (takes && !await confirmChange(`Move ${nameOf(kidId)} from ${from} to ${carId}? ${takes}`, `Move to ${carId}`)) {
      return scheduleRefresh(); // the menu shows the car the kid still has
    }
    await change('assign the car', async () => {
      await api.assignCar(carId, [...kidsOfCar(carId).filter((k) => k !== kidId), kidId]);
      const sharing = kidsOfCar(carId).filter((k) => k !== kidId);
      toast(`${nameOf(kidId)} drives ${carId} now`, `${sharing.length ? `Shared with ${names(sharing)}. ` : ''}`
        + 'Their editor switched to it by itself.', 'ok');
      scheduleRefresh();
    });
  },
  // a kid who should not be here (a phantom from a join flood, a kid who left): out of the class
  remove: async (kidId) => {
    const kid = kidOf(kidId);
    const driving = kid?.state === 'running' ? ` ${nameOf(kidId)} is driving right now: that drive stops.` : '';
    if (!await confirmChange(`Remove ${nameOf(kidId)} from the class?${driving} Their editor closes; they can join `
      + 'again with the class code.', `Remove ${nameOf(kidId)}`)) return scheduleRefresh();
    await change('remove the kid', async () => {
      await api.removeKid(state.code, kidId);
      toast(`${nameOf(kidId)} removed`, 'Their editor was closed.', 'ok');
      roster.selected.delete(kidId);
      scheduleRefresh();
    });
  },
  unassign: async (kidId) => {
    const car = (state.board?.cars || []).find((c) => (c.kid_ids || []).includes(kidId));
    if (!car) return;
    const takes = whatItTakes(car.car_id, car.kid_ids.filter((k) => k !== kidId));
    if (!await confirmChange(`Take ${car.car_id} from ${nameOf(kidId)}? ${takes}`, 'Take the car')) return scheduleRefresh();
    await change('remove the car', async () => {
      await api.assignCar(car.car_id, car.kid_ids.filter((k) => k !== kidId));
      toast(`${nameOf(kidId)} has no car now`, `${car.car_id} is free for someone else.`, 'ok');
      scheduleRefresh();
    });
  },
}, (carId) => arena.colorOf(carId));

function nameOf(kidId) {
  return (state.board?.kids || []).find((k) => k.kid_id === kidId)?.name || kidId;
}

const arena = new LiveArena($('arena-box'));
const tellLog = new TellLog($('tell-panel'), request);

const cars = new Cars({
  stop: (carId) => change(`stop ${carId}`, async () => { await api.stopCar(carId); toast(`${carId} stopped`, 'Press Reset to let it drive again.', 'ok'); scheduleRefresh(); }),
  reset: (carId) => change(`reset ${carId}`, async () => { await api.resetCar(carId); toast(`${carId} reset`, 'It can drive again.', 'ok'); scheduleRefresh(); }),
}, (carId) => arena.colorOf(carId));

new AddCar($('add-car-btn'), {
  request, classCode: () => (state.accounts ? state.code : null), onCar: (carId) => { toast(`${carId} joined`, 'Give it to a kid in the roster.', 'ok'); scheduleRefresh(); },
});

const lessons = new Lessons({
  setMode: (lessonId, mode) => change('change the lesson', async () => {
    await api.setLessonMode(state.code, lessonId, mode);
    const what = { auto: 'follows each kid\'s progress again', open: 'is open for the whole class', locked: 'is locked for the whole class' }[mode];
    toast('Lesson changed', `${lessonId} ${what}.`, 'ok');
    await loadLessons();
  }),
});

const attempts = new Attempts({
  open: (id) => api.attempt(id),
  override: async (id, stars, comment) => { const res = await api.override(id, stars, comment); scheduleAttempts(); return res; },
}, {
  kid: (id) => nameOf(id),
  lesson: (id) => state.lessonTitles.get(id) || id,
});

// --- STOP ALL: the most important button on the page ----------------------------------------

async function stopAll() {
  const btn = $('stop-all');
  btn.classList.remove('fired');
  void btn.offsetWidth; // restart the flash animation
  btn.classList.add('fired');
  try {
    const res = await api.estopAll();
    const n = Array.isArray(res?.cars) ? res.cars.length : null;
    toast('ALL CARS STOPPED', `${n === null ? 'Every car' : n === 1 ? '1 car' : `${n} cars`} stopped. Resume all (top) or Reset one car to let them drive again.`, 'error');
  } catch (e) {
    toast('STOP ALL failed', `${e.message} — switch the cars off by hand!`, 'error');
  }
  scheduleRefresh();
}
$('stop-all').addEventListener('click', stopAll);

/** After STOP ALL: every stopped car may drive again, in one click (each car's Reset, all at once). */
async function resumeAll() {
  const stopped = (state.board?.cars || []).filter((c) => c.estop).map((c) => c.car_id);
  await change('resume the cars', async () => {
    await Promise.all(stopped.map((carId) => api.resetCar(carId)));
    toast('Cars can drive again', `${stopped.join(', ')} ${stopped.length === 1 ? 'is' : 'are'} free to drive.`, 'ok');
    scheduleRefresh();
  });
}
$('resume-all').addEventListener('click', resumeAll);
document.addEventListener('keydown', (e) => {
  if ((e.ctrlKey || e.metaKey) && !e.altKey && e.key.toLowerCase() === 'e') {
    e.preventDefault(); // Ctrl+E is the browser's search shortcut; here it stops the cars
    if (!$('stop-all').disabled) stopAll();
  }
});

// --- views -----------------------------------------------------------------------------------

function showOnly(id) {
  for (const view of ['login-view', 'classes-view', 'class-view']) $(view).hidden = view !== id;
}

function showLogin(message = '') {
  disconnect();
  setCsrf('');
  showOnly('login-view');
  $('logout-btn').hidden = true;
  $('logout-all-btn').hidden = true;
  $('who').hidden = true;
  // accounts mode asks for a username too; a failed look-up keeps the one-password form
  api.loginMode().then((mode) => showUsername(Boolean(mode?.accounts))).catch(() => {});
  $('topbar-class').hidden = true;
  $('stop-all').disabled = true;
  $('login-error').textContent = message;
  $('password').focus();
}

function showUsername(accounts) {
  state.accounts = accounts;
  $('username-row').hidden = !accounts;
  $('username').required = accounts;
  if (accounts && !$('username').value) $('username').focus();
}

function showWho(session) {
  state.accounts = Boolean(session?.username);
  $('who').hidden = !session?.username;
  $('who').textContent = session?.username ? `${session.username}${session.role === 'admin' ? ' (admin)' : ''}` : '';
  $('logout-all-btn').hidden = false;
}

async function showClasses() {
  disconnect();
  state.code = null;
  showOnly('classes-view');
  $('topbar-class').hidden = true;
  $('logout-btn').hidden = false;
  $('stop-all').disabled = false;
  const list = await act('load the classes', () => api.classes());
  state.classes = list?.classes || [];
  fill($('class-list'), state.classes.map((c) => el('li', {}, el('button', { onclick: () => openClass(c.code) },
    el('span', {}, c.name || 'Class'), el('span', { class: 'code' }, c.code)))));
  if (!state.classes.length) $('class-list').append(el('li', { class: 'empty' }, 'No classes yet.'));
  $('class-name').focus();
}

async function openClass(code) {
  state.code = code;
  localStorage.setItem(CLASS_KEY, code);
  showOnly('class-view');
  $('topbar-class').hidden = false;
  $('logout-btn').hidden = false;
  $('stop-all').disabled = false;
  $('code-chip').textContent = code;
  $('join-code').textContent = code;
  $('join-url').textContent = `${location.host}/`; // the landing page: Scratch or Blockly from there
  $('csv-link').href = api.csvUrl(code);
  $('csv-link').setAttribute('download', `${code}-progress.csv`);
  fill($('class-picker'), [...state.classes, ...(state.classes.some((c) => c.code === code) ? [] : [{ code, name: '' }])]
    .map((c) => el('option', { value: c.code, selected: c.code === code }, `${c.code}${c.name ? ` · ${c.name}` : ''}`)));
  $('class-picker').append(el('option', { value: '__new' }, '+ New class…'));
  await refreshBoard();
  await loadLessons();
  await refreshAttempts();
  tellLog.show(code);
  connect();
  clearInterval(state.pollTimer);
  state.pollTimer = setInterval(() => { refreshBoard(); refreshAttempts(); }, BOARD_POLL_MS);
}

// --- data ------------------------------------------------------------------------------------

async function refreshBoard() {
  if (!state.code) return;
  const code = state.code;
  const changes = state.changes;
  let board;
  try {
    board = await api.board(code);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) showLogin('Your session ended — please log in again.');
    else toast('Could not load the roster', e.message, 'error');
    return;
  }
  if (code !== state.code) return;
  if (changes !== state.changes) { scheduleRefresh(); return; } // the teacher changed something meanwhile

  const before = state.board?.code === code ? new Set(state.board.kids.map((k) => k.kid_id)) : null;
  state.board = board;
  if (before) for (const kid of board.kids) if (!before.has(kid.kid_id)) toast(`${kid.name} joined`, `Level ${kid.level}${kid.car_id ? ` · ${kid.car_id}` : ''}`, 'ok');
  renderBoard();
}

function renderBoard() {
  const board = state.board;
  const stopped = (board.cars || []).filter((c) => c.estop).length;
  $('resume-all').hidden = !stopped;
  $('resume-all').textContent = `↺ Resume all (${stopped})`;
  roster.update(board.kids || [], board.cars || []);
  cars.update(board.cars || [], board.kids || []);
  arena.setCars(board.cars || [], board.kids || []);
}

/** Live turn changes ({car_id: {driver_id, queue, estop, connected}}): update states without a fetch. */
function applyTurns(snapshot) {
  const board = state.board;
  if (!board || !snapshot) return;
  for (const car of board.cars) {
    const turn = snapshot[car.car_id];
    if (!turn) continue;
    Object.assign(car, { driver_id: turn.driver_id, queue: turn.queue, estop: turn.estop, connected: turn.connected });
    car.driver_name = board.kids.find((k) => k.kid_id === turn.driver_id)?.name || null;
  }
  for (const kid of board.kids) {
    const turn = kid.car_id && snapshot[kid.car_id];
    if (!turn) continue;
    const pos = turn.queue.indexOf(kid.kid_id);
    if (turn.driver_id === kid.kid_id) Object.assign(kid, { state: 'running', queue_position: null });
    else if (pos >= 0) Object.assign(kid, { state: 'waiting', queue_position: pos + 1 });
    else Object.assign(kid, { state: 'idle', queue_position: null });
  }
  renderBoard();
}

function scheduleRefresh() {
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(refreshBoard, BOARD_REFRESH_DEBOUNCE_MS);
}

async function loadLessons() {
  const data = await act('load the lessons', () => api.lessons(state.code), { quiet404: true });
  const list = data ? data.lessons || [] : [];
  state.lessonTitles = new Map(list.map((l) => [l.id, l.title]));
  lessons.render(list);
}

/** The attempts of this class's kids, newest first (the server lists every class's). */
async function refreshAttempts() {
  if (!state.code) return;
  const data = await act('load the attempts', () => api.attempts(), { quiet404: true });
  if (!data || !state.board) return;
  const mine = new Set(state.board.kids.map((k) => k.kid_id));
  attempts.update((data.attempts || []).filter((a) => mine.has(a.kid_id)));
}

function scheduleAttempts() {
  clearTimeout(state.attemptsTimer);
  state.attemptsTimer = setTimeout(refreshAttempts, BOARD_REFRESH_DEBOUNCE_MS);
}

// --- live: socket.io /teacher ----------------------------------------------------------------

function setLive(mode) {
  const dot = $('live-dot');
  dot.dataset.state = mode;
  dot.textContent = { on: 'live', lost: 'reconnecting…', connecting: 'connecting…' }[mode] || '';
  dot.hidden = mode === 'off'; // no class open: nothing to be live about (never a scary "offline")
}

function connect() {
  disconnect();
  setLive('connecting'); // never "offline" while the first connection is still on its way
  if (typeof io !== 'function') { setLive('off'); return; }
  const socket = io('/teacher', { transports: ['websocket'], withCredentials: true });
  state.socket = socket;
  socket.on('connect', () => { setLive('on'); scheduleRefresh(); });
  socket.on('disconnect', () => setLive('lost'));
  socket.on('connect_error', (err) => {
    setLive('lost');
    // refused because the session is gone (server restarted, logged out elsewhere): log in again
    if (err?.data?.rule === 'teacher_login' || /logged in/i.test(err?.message || '')) showLogin('Your session ended — please log in again.');
  });
  arena.attach(socket); // the arena view listens to telemetry and safety on this socket itself
  // telemetry: one car's newest sample, or a tick's samples of several cars as one telemetry_batch
  const onTelemetry = (t) => { if (t?.car_id && t.pose) cars.onTelemetry(t.car_id, t); };
  socket.on('telemetry', onTelemetry);
  socket.on('telemetry_batch', (list) => { if (Array.isArray(list)) list.forEach(onTelemetry); });
  // safety interventions come one by one ({car_id, reason, kid_text, ...}); telemetry is coalesced
  // and may skip a sample, so the list is fed from here only
  socket.on('safety', (msg) => { if (msg?.car_id) cars.onSafety(msg.car_id, msg); });
  // a second device tried to connect with a car's token while the car was live: refused, listed, marked on the card
  socket.on('car_refused', (msg) => { if (msg?.car_id) cars.onRefused(msg.car_id, msg); });
  socket.on('roster_changed', (msg) => {
    scheduleRefresh();
    if (msg?.reason === 'run_started' || msg?.reason === 'run_ended') scheduleAttempts();
  });
  socket.on('attempts_changed', () => { scheduleAttempts(); scheduleRefresh(); });
  socket.on('turns', (msg) => applyTurns(msg?.cars));
  socket.on('estop', () => scheduleRefresh());
}

function disconnect() {
  clearInterval(state.pollTimer);
  arena.detach();
  if (state.socket) { state.socket.removeAllListeners(); state.socket.disconnect(); state.socket = null; }
  setLive('off');
}

// --- wiring ----------------------------------------------------------------------------------

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('login-error').textContent = '';
  try {
    const res = await api.login($('password').value, state.accounts ? $('username').value.trim() : '');
    setCsrf(res.csrf_token);
    $('password').value = '';
    showWho(res);
    await afterLogin();
  } catch (err) {
    const wrong = state.accounts ? 'That username or password is not right. Try again.' : 'That password is not right. Try again.';
    if (err.body?.error?.rule === 'teacher_username_missing') showUsername(true); // accounts were switched on meanwhile
    $('login-error').textContent = err.status === 401 || err.status === 403 ? wrong : err.message;
  }
});

$('create-class-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('create-class-error').textContent = '';
  try {
    const created = await api.createClass($('class-name').value.trim());
    const { code, name } = created;
    state.classes.push({ code, name });
    $('class-name').value = '';
    await openClass(code);
    showCodeBig();
  } catch (err) {
    $('create-class-error').textContent = err.message;
  }
});

$('logout-btn').addEventListener('click', async () => {
  await api.logout().catch(() => {});
  localStorage.removeItem(CLASS_KEY);
  showLogin('You are logged out.');
});

$('logout-all-btn').addEventListener('click', async () => {
  const res = await api.logoutEverywhere().catch(() => null);
  localStorage.removeItem(CLASS_KEY);
  showLogin(res ? `You are logged out everywhere (${res.sessions_ended} logins ended).` : 'You are logged out.');
});

$('class-picker').addEventListener('change', (e) => {
  if (e.target.value === '__new') showClasses(); else openClass(e.target.value);
});

$('class-level').addEventListener('change', async (e) => {
  const level = Number(e.target.value);
  if (!level) return;
  await change('set the class level', async () => {
    const res = await api.setClassLevel(state.code, level);
    toast(`Whole class: level ${level}`, `${res?.kids ?? (state.board?.kids?.length ?? '')} kids updated.`, 'ok');
  });
  e.target.value = '';
  scheduleRefresh();
});

function showCodeBig() {
  $('huge-code').textContent = state.code;
  openDialog($('code-dialog'));
}
$('code-chip').addEventListener('click', showCodeBig);
$('join-code').addEventListener('click', showCodeBig);
$('code-dialog').addEventListener('click', () => $('code-dialog').close());
$('banner-toggle').addEventListener('click', showCodeBig);

async function afterLogin() {
  const list = await api.classes();
  state.classes = list.classes || [];
  const remembered = localStorage.getItem(CLASS_KEY);
  if (remembered && state.classes.some((c) => c.code === remembered)) await openClass(remembered);
  else await showClasses();
}

setupDialogs();

// On load: if our session is still valid (cookie + remembered CSRF token), go straight in.
(async () => {
  try {
    const session = await api.session();
    if (session?.csrf_token) setCsrf(session.csrf_token);
    showWho(session);
    await afterLogin();
  } catch {
    showLogin();
  }
})();
