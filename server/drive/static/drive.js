// The drive page: join, pick a trick, drive it (socket /drive), then Teach (HTTP /api/skills/teach + polling).
import * as api from '/kid-ui/api.js';
import { listen, stickFrom } from '/drive/static/controls.js';
import { drawArena, drawCar, drawLoss, drawPath, view } from '/drive/static/arena_draw.js';

const STEER_HZ = 20; // the stick goes out 20 times a second while driving (the car holds still without it)
const JOB_POLL_MS = 250;
const $ = (id) => document.getElementById(id);
const state = { session: null, tricks: [], trick: null, socket: null, driving: false, seq: 0, car: null, path: [],
  lastPaths: [], evalPaths: null, job: null, states: [] };
window.dojoDrive = state; // tests and the curious read the page's state here

function setStatus(text) { $('drive-status').textContent = text; }

async function start() {
  state.session = api.rememberedSession();
  if (!state.session?.token) { showJoin(); return; }
  $('who').textContent = `${state.session.name} · level ${state.session.level}`;
  $('main').hidden = false;
  try {
    state.tricks = (await authed('GET', '/api/skills/tricks')).tricks;
  } catch (err) {
    if (err.status === 401) { api.forgetSession(); showJoin(); return; }
    setStatus(err.message); return;
  }
  renderTricks();
  pickTrick(state.tricks[0].name);
  connect();
  state.held = listen(document, document.querySelector('.pad'));
  setInterval(sendStick, 1000 / STEER_HZ);
  $('start').onclick = startDrive;
  $('stop').onclick = () => state.socket.emit('end');
  $('teach').onclick = teach;
}

function showJoin() {
  $('join').hidden = false;
  $('join-form').onsubmit = async (e) => {
    e.preventDefault();
    try {
      const joined = await api.join($('class-code').value, $('kid-name').value,
        { isThatYou: async (n) => confirm(`There is already a ${n} in this class. Is that you?`) });
      api.rememberSession(joined);
      location.reload();
    } catch (err) { $('join-error').textContent = err.message; }
  };
}

async function authed(method, path, body) {
  const resp = await fetch(path, { method, headers: { Authorization: `Bearer ${state.session.token}`,
    ...(body ? { 'Content-Type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new api.ApiError(data.error?.message || `HTTP ${resp.status}`, { status: resp.status, rule: data.error?.rule });
  return data;
}

// --- tricks ------------------------------------------------------------------------------------

function renderTricks() {
  const list = $('tricks');
  list.replaceChildren(...state.tricks.map((t) => {
    const b = document.createElement('button');
    b.type = 'button'; b.setAttribute('role', 'radio'); b.dataset.trick = t.name; b.textContent = t.title;
    b.onclick = () => pickTrick(t.name);
    return b;
  }));
}

function pickTrick(name) {
  if (state.driving) return;
  state.trick = state.tricks.find((t) => t.name === name);
  for (const b of $('tricks').children) b.setAttribute('aria-checked', String(b.dataset.trick === name));
  $('trick-task').textContent = state.trick.task;
  $('skill-name').value = state.trick.skill_name;
  state.car = { x: state.trick.arena.start.x_cm, y: state.trick.arena.start.y_cm, heading: state.trick.arena.start.heading_deg };
  state.path = []; state.evalPaths = null;
  state.lastPaths = state.trick.drives.last.map((d) => d.path);
  showDrives(state.trick.drives);
  draw();
}

function showDrives(d) {
  if (!d) return;
  $('drives').textContent = d.drives ? `You drove it ${d.drives} time${d.drives === 1 ? '' : 's'}; ${d.good} went all the way.` : 'No drives yet.';
  $('teach').disabled = d.good < 1 || state.driving;
}

function draw() {
  const canvas = $('arena');
  const ctx = canvas.getContext('2d');
  const v = view(canvas, state.trick.arena);
  drawArena(ctx, state.trick.arena, v);
  for (const p of state.lastPaths) drawPath(ctx, p, v, '#c3d4ea', 1.5);
  for (const e of state.evalPaths || []) drawPath(ctx, e.path, v, e.success ? '#59c059' : '#e5533d', 2);
  drawPath(ctx, state.path.map((p) => [0, p[0], p[1]]), v, '#4c97ff', 3);
  if (state.car) drawCar(ctx, state.car.x, state.car.y, state.car.heading, v);
}

// --- driving -----------------------------------------------------------------------------------

function connect() {
  state.socket = io('/drive', { auth: { token: state.session.token }, transports: ['websocket'] });
  state.socket.on('connect_error', (err) => setStatus(`I can't reach the car: ${err.message}`));
  state.socket.on('drive_state', (s) => {
    state.states.push(s);
    if (state.states.length > 3000) state.states.splice(0, 1000);
    state.car = { x: s.x, y: s.y, heading: s.heading };
    state.path.push([s.x, s.y]);
    state.frames = s.frames;
    if (s.narration) $('narration').textContent = s.narration;
    if (s.safety?.length) setStatus(s.safety[s.safety.length - 1]);
    else setStatus(`Driving… ${s.frames} moments recorded.`);
    draw();
  });
  state.socket.on('drive_ended', (summary) => {
    state.driving = false;
    state.lastEnded = summary;
    $('start').disabled = false; $('stop').disabled = true;
    setStatus(summary.kid_text + (summary.success ? ' 🎉 That one counts!' : ''));
    if (summary.drives) {
      state.trick.drives = summary.drives;
      state.lastPaths = summary.drives.last.map((d) => d.path);
      showDrives(summary.drives);
    }
    draw();
  });
}

function startDrive() {
  $('start').disabled = true;
  setStatus('Putting the car at the start…');
  state.socket.emit('start', { trick: state.trick.name }, (reply) => {
    if (!reply?.ok) { $('start').disabled = false; setStatus(reply?.kid_text || 'That did not work.'); return; }
    state.driving = true; state.drive = reply.drive; state.path = []; state.evalPaths = null;
    state.car = { x: reply.drive.start.x_cm, y: reply.drive.start.y_cm, heading: reply.drive.start.heading_deg };
    $('stop').disabled = false; $('teach').disabled = true;
    setStatus(`Drive! Level ${reply.drive.level} cars go up to ${reply.drive.max_speed_pct}%.`);
    draw();
  });
}

function sendStick() {
  if (!state.driving || !state.socket?.connected) return;
  const pads = navigator.getGamepads ? Array.from(navigator.getGamepads()) : [];
  const stick = stickFrom(state.held, pads);
  state.stick = stick;
  state.socket.emit('steer', { ...stick, seq: state.seq++ });
}

// --- teaching ----------------------------------------------------------------------------------

async function teach() {
  $('teach').disabled = true; $('start').disabled = true;
  $('teach-result').textContent = '';
  $('teach-status').textContent = 'Getting ready…';
  let job;
  try {
    job = (await authed('POST', '/api/skills/teach', { trick: state.trick.name, name: $('skill-name').value || undefined })).job;
  } catch (err) {
    $('teach-status').textContent = err.message; $('teach').disabled = false; $('start').disabled = false; return;
  }
  while (!job.done) {
    showJob(job);
    await new Promise((r) => setTimeout(r, JOB_POLL_MS));
    try { job = (await authed('GET', `/api/skills/jobs/${job.id}`)).job; } catch { /* try again */ }
  }
  showJob(job);
  $('start').disabled = false; $('teach').disabled = false;
}

const PHASES = { waiting: 'Waiting for my turn to learn…', dataset: 'Looking at your drives…',
  training: 'Learning from your drives…', evaluating: 'Trying it on my own in the simulator…',
  deciding: 'Checking if it is good enough…', deploying: 'Sending it to the cars…' };

function showJob(job) {
  state.job = job;
  const bar = job.phase === 'training' ? job.fraction * 0.7 : { waiting: 0, dataset: 0.02, evaluating: 0.8,
    deciding: 0.95, deploying: 0.98, done: 1, failed: 1 }[job.phase] ?? 0;
  $('progress-bar').style.width = `${Math.round(bar * 100)}%`;
  $('teach-status').textContent = PHASES[job.phase] || (job.phase === 'failed' ? job.kid_text : '');
  drawLoss($('loss'), job.losses);
  if (job.eval) { state.evalPaths = job.eval.paths; draw(); }
  if (job.phase === 'done' && job.decision) {
    const e = job.eval;
    const res = $('teach-result');
    res.textContent = `${job.decision.kid_text} It made it ${e.successes} of ${e.episodes} times on its own. `;
    if (job.decision.promote) {
      const chip = document.createElement('span');
      chip.className = 'block-chip'; chip.textContent = `do skill [${job.name}]`;
      res.append('Your new block: ', chip);
      if (job.level && state.session.level < job.level) res.append(` (it opens at level ${job.level})`);
    }
  }
}

start();
