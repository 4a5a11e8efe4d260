// The teacher's Skills page: the class's learned skills, who taught them, how good each version is
// (success per version, evaluated trajectories), promote and roll back. Uses the console's API client.
import { api, request, setCsrf } from '/teacher/api.js';
import { drawArena, drawPath, view } from '/drive/static/arena_draw.js';

const $ = (id) => document.getElementById(id);
const state = { skills: [], selected: null, detail: null, version: null };
window.dojoSkills = state;

async function main() {
  try {
    const me = await api.session();
    if (me?.csrf_token) setCsrf(me.csrf_token);
  } catch { return showLogin(); }
  $('main').hidden = false;
  $('rollback').onclick = rollback;
  $('teach-form').onsubmit = teachFromExpert;
  await refresh();
  setInterval(refresh, 5000);
}

function showLogin() {
  $('login').hidden = false;
  api.loginMode().then((m) => { $('username').hidden = !m?.accounts; $('username').required = Boolean(m?.accounts); }).catch(() => {});
  $('login-form').onsubmit = async (e) => {
    e.preventDefault();
    const username = $('username').hidden ? '' : $('username').value.trim();
    try { const res = await api.login($('password').value, username); setCsrf(res.csrf_token); location.reload(); } catch (err) { $('login-error').textContent = err.message; }
  };
}

async function refresh() {
  const data = await request('GET', '/api/teacher/skills');
  state.skills = data.skills;
  const picker = $('teach-trick');
  if (!picker.options.length) for (const t of data.tricks) picker.add(new Option(t.title, t.name));
  $('empty').hidden = state.skills.length > 0;
  const body = $('skills').tBodies[0];
  body.replaceChildren(...state.skills.map((s) => {
    const tr = document.createElement('tr');
    tr.dataset.skill = s.name;
    if (s.name === state.selected) tr.className = 'selected';
    const cars = Object.entries(s.cars || {}).map(([car, c]) => `${car}: ${c.ok ? c.version : '✗ ' + c.message}`).join('; ');
    for (const text of [s.name, s.trick, s.taught_by, s.level, s.current || '—', s.last_good || '—', s.factory || '—',
      (s.versions || []).length, cars || '—']) {
      const td = document.createElement('td'); td.textContent = String(text ?? ''); tr.append(td);
    }
    tr.onclick = () => select(s.name);
    return tr;
  }));
  if (state.selected) await select(state.selected, false);
}

async function select(name, reset = true) {
  state.selected = name;
  state.detail = await request('GET', `/api/teacher/skills/${encodeURIComponent(name)}`);
  if (reset || !state.version) state.version = state.detail.current || state.detail.versions.at(-1)?.id;
  for (const tr of $('skills').tBodies[0].rows) tr.className = tr.dataset.skill === name ? 'selected' : '';
  renderDetail();
}

function renderDetail() {
  const d = state.detail;
  $('detail').hidden = false;
  $('detail-title').textContent = `${d.name} — ${d.trick}, taught by ${d.taught_by || '?'}, level ${d.level}`;
  const body = $('versions').tBodies[0];
  body.replaceChildren(...d.versions.map((v) => {
    const tr = document.createElement('tr');
    tr.dataset.version = v.id;
    if (v.id === state.version) tr.className = 'selected';
    const tags = [v.id === d.current && 'current', v.id === d.last_good && 'last good', v.id === d.factory && 'factory'].filter(Boolean);
    const cells = [`${v.id}${tags.map((t) => ` [${t}]`).join('')}`, v.success_rate == null ? 'not evaluated' : `${Math.round(v.success_rate * 100)}% of ${v.episodes}`,
      v.collisions ?? '—', v.safety_events ?? '—', v.mean_time_s == null ? '—' : `${v.mean_time_s} s`,
      v.min_clearance_cm == null ? '—' : `${v.min_clearance_cm} cm`, v.train_s == null ? '—' : `${v.steps} steps, ${Number(v.train_s).toFixed(1)} s`];
    for (const text of cells) { const td = document.createElement('td'); td.textContent = String(text); tr.append(td); }
    const td = document.createElement('td');
    if (v.id !== d.current) {
      const b = document.createElement('button'); b.textContent = 'Promote'; b.dataset.promote = v.id;
      b.onclick = (e) => { e.stopPropagation(); promote(v.id); };
      td.append(b);
    }
    tr.append(td);
    tr.onclick = () => { state.version = v.id; renderDetail(); };
    return tr;
  }));
  $('rollback').disabled = !d.last_good;
  drawSuccess(d);
  drawTrajectories(d);
}

function drawSuccess(d) {
  const canvas = $('success-plot'); const ctx = canvas.getContext('2d');
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const n = d.versions.length; if (!n) return;
  const w = (canvas.width - 40) / n;
  ctx.font = '11px system-ui';
  d.versions.forEach((v, i) => {
    const rate = v.success_rate ?? 0; const h = rate * (canvas.height - 40);
    ctx.fillStyle = v.id === d.current ? '#4c97ff' : v.promoted ? '#9fc4ff' : '#c8d3df';
    ctx.fillRect(30 + i * w + 4, canvas.height - 20 - h, w - 8, h);
    ctx.fillStyle = '#1d2733';
    ctx.fillText(v.id, 30 + i * w + 4, canvas.height - 6);
    if (v.success_rate != null) ctx.fillText(`${Math.round(rate * 100)}%`, 30 + i * w + 4, canvas.height - 24 - h);
  });
  ctx.fillText('success', 2, 12);
}

function drawTrajectories(d) {
  const v = d.versions.find((x) => x.id === state.version);
  $('traj-version').textContent = v ? `(${v.id})` : '';
  const canvas = $('trajectories'); const ctx = canvas.getContext('2d');
  if (!d.arena) return;
  const vw = view(canvas, d.arena);
  drawArena(ctx, d.arena, vw);
  for (const e of v?.paths || []) drawPath(ctx, e.path, vw, e.success ? '#59c059' : '#e5533d', 2);
}

async function promote(version) {
  $('action-result').textContent = `Evaluating ${version}…`;
  try {
    const res = await request('POST', `/api/teacher/skills/${encodeURIComponent(state.selected)}/promote`, { version });
    $('action-result').textContent = res.reason;
  } catch (err) { $('action-result').textContent = err.message; }
  await refresh();
}

async function rollback() {
  try {
    const res = await request('POST', `/api/teacher/skills/${encodeURIComponent(state.selected)}/rollback`);
    $('action-result').textContent = `Rolled back: ${res.skill.current} is current again.`;
  } catch (err) { $('action-result').textContent = err.message; }
  await refresh();
}

async function teachFromExpert(e) {
  e.preventDefault();
  let job = (await request('POST', '/api/teacher/skills/teach', { trick: $('teach-trick').value, name: $('teach-name').value })).job;
  while (!job.done) {
    $('teach-status').textContent = `${job.phase} ${Math.round(job.fraction * 100)}%`;
    await new Promise((r) => setTimeout(r, 500));
    job = (await request('GET', `/api/teacher/skills/jobs/${job.id}`)).job;
  }
  $('teach-status').textContent = job.decision ? job.decision.reason : job.error;
  await refresh();
}

main();
