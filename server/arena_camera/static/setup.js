// The set-up wizard (/setup/): seven steps, one screen each, in plain words for a parent.
// Progress lives on the server (GET /api/setup): closing the page and coming back resumes it. The
// camera picture is /api/camera/preview.jpg (the tracker's view drawn on it), refreshed a few times a
// second; "this computer's camera" sends webcam pictures over the /camera socket.

const PREVIEW_MS = 250; // four pictures a second: live enough to place markers by, light on the server
const STATE_MS = 700; // the step lights
const GRAB_MS = 100; // the browser camera: ten pictures a second to the server
const CSRF_KEY = 'mikrodojo.teacher.csrf';

const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
};

// --- pictures of what to do (simple drawings) ---------------------------------------------------
const svg = (body) => `<svg viewBox="0 0 240 170" xmlns="http://www.w3.org/2000/svg" role="img">${body}</svg>`;
const marker = (x, y, s = 22) => `<rect x="${x}" y="${y}" width="${s}" height="${s}" fill="#111"/><rect x="${x + s * 0.25}" y="${y + s * 0.25}" width="${s * 0.25}" height="${s * 0.25}" fill="#fff"/><rect x="${x + s * 0.55}" y="${y + s * 0.5}" width="${s * 0.2}" height="${s * 0.25}" fill="#fff"/>`;
const floor = '<rect x="40" y="60" width="160" height="95" fill="#e7dcc8" stroke="#c24" stroke-width="2"/>';
const carTop = (x, y) => `<rect x="${x}" y="${y}" width="44" height="26" rx="6" fill="#2a62c9"/>${marker(x + 12, y + 4, 18)}`;
const PICTURES = {
  camera: svg(`${floor}<line x1="120" y1="8" x2="120" y2="40" stroke="#555" stroke-width="4"/><rect x="100" y="22" width="40" height="24" rx="4" fill="#333"/><circle cx="120" cy="38" r="7" fill="#6cf"/><path d="M105 46 L40 150 M135 46 L200 150" stroke="#6cf" stroke-dasharray="4 4"/>`),
  print: svg(`<rect x="60" y="20" width="120" height="140" fill="#fff" stroke="#999"/>${marker(90, 45, 60)}<line x1="80" y1="135" x2="160" y2="135" stroke="#111" stroke-width="3"/><text x="98" y="152" font-size="12">10 cm</text>`),
  corners: svg(`${floor}${marker(18, 155 - 0, 22).replace(/y="155/g, 'y="153')}${marker(200, 153)}${marker(200, 38)}${marker(18, 38)}`),
  measure: svg(`${floor}${marker(18, 153)}${marker(200, 153)}<line x1="40" y1="140" x2="200" y2="140" stroke="#e11" stroke-width="3" marker-end="url(#a)"/><text x="92" y="132" font-size="14" fill="#e11">tape: ? cm</text>`),
  pair: svg(`${floor}${carTop(98, 95)}<text x="60" y="40" font-size="20" font-family="monospace">CODE 7K3Q</text>`),
  drive: svg(`${floor}${carTop(52, 120)}<path d="M100 133 H150 A40 40 0 0 0 190 93" fill="none" stroke="#16a34a" stroke-width="3" stroke-dasharray="6 4"/><text x="108" y="125" font-size="12">50 cm</text><text x="176" y="80" font-size="12">90°</text>`),
  save: svg(`<rect x="70" y="25" width="100" height="125" rx="6" fill="#fff" stroke="#999"/><text x="84" y="55" font-size="14" font-family="monospace">arena.yaml</text><line x1="84" y1="70" x2="156" y2="70" stroke="#bbb"/><line x1="84" y1="85" x2="150" y2="85" stroke="#bbb"/><line x1="84" y1="100" x2="140" y2="100" stroke="#bbb"/><circle cx="150" cy="130" r="14" fill="#22c55e"/><path d="M143 130 l5 5 l9 -10" stroke="#fff" stroke-width="3" fill="none"/>`),
};

const STEPS = [
  { key: 'camera', title: '1. Choose the camera',
    lead: 'Fix a camera high up, looking down at the floor where the cars will drive. A webcam on a shelf or a phone on a stand both work.',
    caption: 'The camera sees the whole floor from above.' },
  { key: 'print', title: '2. Print the markers',
    lead: 'Print the marker sheets at 100 % ("actual size"). Check the 10 cm line on a page with a ruler: if it is not 10 cm, the printer scaled the page.',
    caption: 'Each page has one square marker and a 10 cm check line.' },
  { key: 'corners', title: '3. Place the corners',
    lead: 'Lay the four corner markers flat on the floor, one just outside each corner of your arena. Each sheet says which corner it is. The picture shows each marker the camera finds.',
    caption: 'One marker outside each corner, flat, not covered.' },
  { key: 'measure', title: '4. Measure',
    lead: 'Measure the lower edge of the arena (from the lower-left corner to the lower-right corner) with a tape, and type the number of centimetres.',
    caption: 'Measure corner to corner along the bottom edge.' },
  { key: 'pair', title: '5. Pair a car',
    lead: 'Get a pairing code, type the command on the car, switch it on. Then put the car in the arena with its roof marker on top (FRONT towards the nose) and press "Find my car".',
    caption: 'The roof marker lies flat on the car, FRONT to the nose.' },
  { key: 'drive', title: '6. Test drive',
    lead: 'Give the car room: it drives 50 cm straight ahead, then turns left. The camera measures what it really did.',
    caption: '50 cm straight, then a quarter turn to the left.' },
  { key: 'save', title: '7. Save the arena',
    lead: 'Give your arena a name and save it. Lessons use this file; we tell you which lessons fit your floor.',
    caption: 'Your arena is saved as a file lessons read.' },
];

// --- server calls -----------------------------------------------------------------------------------
let csrf = sessionStorage.getItem(CSRF_KEY) || '';
async function call(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') headers['X-CSRF-Token'] = csrf;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    const e = data?.error || {};
    const err = new Error([e.message, e.fix].filter(Boolean).join(' ') || `The server answered ${res.status}.`);
    err.status = res.status; err.rule = e.rule;
    throw err;
  }
  return data;
}

// --- state ------------------------------------------------------------------------------------------
let view = null;
let current = Number(new URLSearchParams(location.search).get('step')) || 0; // 0: resume where the server says
let socket = null;
let webcam = null;
let grabTimer = null;
let sending = false; // this computer's camera is the chosen one: send its pictures
let lastRechoose = 0;

function showError(text) { $('error').textContent = text || ''; }

function stepStatus(n) { return view?.steps?.find((s) => s.n === n) || { status: 'todo', message: '', fix: '' }; }

function resumeStep() {
  const firstNotGreen = view.steps.find((s) => s.status !== 'green');
  return firstNotGreen ? firstNotGreen.n : 7;
}

function renderProgress() {
  // Built once, then updated in place: a button replaced under the parent's finger would swallow the click.
  const list = $('progress');
  if (!list.children.length) {
    list.replaceChildren(...STEPS.map((s, i) => el('li', {}, el('button', { type: 'button', 'data-step': String(i + 1),
      onclick: () => go(i + 1) }, el('span', { class: 'dot' }), s.title.replace(/^\d+\. /, '')))));
  }
  [...list.querySelectorAll('button')].forEach((b, i) => {
    b.className = i + 1 === current ? 'current' : '';
    b.querySelector('.dot').className = `dot ${stepStatus(i + 1).status}`;
  });
}

function renderStatus() {
  const st = stepStatus(current);
  $('light').className = `light ${st.status}`;
  $('status').className = `status ${st.status}`;
  $('status').dataset.status = st.status;
  $('status-message').textContent = st.message;
  $('status-fix').textContent = st.fix || '';
  const cam = view.camera;
  $('camera-line').textContent = cam.source ? `camera: ${cameraName(cam.source)} · ${cam.frames} pictures` : 'camera: none chosen yet';
  renderProgress();
  renderLens();
}

function cameraName(source) {
  return { sim: 'simulated camera', browser: "this computer's camera" }[source] || source;
}

// --- each step's controls ------------------------------------------------------------------------------
const CONTROLS = {
  camera() {
    const url = el('input', { type: 'text', id: 'camera-url', placeholder: 'usb:0 or http://192.168.1.20:8080/video', size: '34' });
    const pick = (source) => async () => {
      showError('');
      try {
        if (source === 'browser') await startWebcam(); // the browser asks for the camera first
        else stopWebcam();
        view = await call('POST', '/api/setup/camera', { source });
        sending = source === 'browser'; // pictures go out once the server listens for them
        renderStatus();
      } catch (e) { stopWebcam(); showError(e.message); }
    };
    return [
      el('button', { class: 'btn', type: 'button', id: 'use-browser', onclick: pick('browser') }, "This computer's camera"),
      el('button', { class: 'btn', type: 'button', id: 'use-sim', onclick: pick('sim') }, 'Simulated camera (practice)'),
      el('label', {}, 'USB or phone camera:', url),
      el('button', { class: 'btn secondary', type: 'button', id: 'use-url', onclick: () => pick(url.value.trim())() }, 'Use it'),
    ];
  },
  print() {
    const paper = el('select', { id: 'paper' }, el('option', { value: 'a4' }, 'A4'), el('option', { value: 'letter' }, 'Letter'));
    const cars = el('input', { type: 'number', id: 'print-cars', min: '1', max: '40', value: '2' });
    const link = el('a', { class: 'btn', id: 'download', href: '#', onclick: async (ev) => {
      ev.preventDefault();
      showError('');
      const res = await fetch(`/api/setup/markers.pdf?paper=${paper.value}&cars=${cars.value}`, { credentials: 'same-origin' });
      if (!res.ok) { showError((await res.json()).error.message); return; }
      const blob = await res.blob();
      const a = el('a', { href: URL.createObjectURL(blob), download: `mikrodojo-markers-${paper.value}.pdf` });
      document.body.append(a); a.click(); a.remove();
      await refresh();
    } }, 'Download the markers (PDF)');
    return [el('label', {}, 'Paper:', paper), el('label', {}, 'Cars:', cars), link];
  },
  corners() { return []; },
  measure() {
    const width = el('input', { type: 'number', id: 'width', min: '50', max: '5000', step: '0.5', placeholder: 'cm' });
    const out = el('div', { class: 'box', id: 'measure-result' });
    const show = (m) => {
      if (!m) return;
      const tips = (m.tips || []).map((t) => el('li', {}, `${t.message} ${t.fix}`));
      out.replaceChildren(el('p', {}, `Your arena: ${m.width_cm.toFixed(0)} x ${m.height_cm.toFixed(0)} cm. ` +
        `The camera is off by ${m.error_cm.toFixed(1)} cm on average (${m.light === 'red' ? 'too much' : 'good'}).`),
      ...(tips.length ? [el('p', {}, 'Tips:'), el('ul', { class: 'tips' }, ...tips)] : []));
    };
    show(view.state.measure);
    const go = el('button', { class: 'btn', type: 'button', id: 'measure-go', onclick: async () => {
      showError('');
      try { show(await call('POST', '/api/setup/measure', { width_cm: width.value === '' ? null : Number(width.value) })); await refresh(); }
      catch (e) { showError(e.message); }
    } }, 'Measure');
    return [el('label', {}, 'Lower edge:', width, 'cm'), go, out, lensBox()];
  },
  pair() {
    const box = el('div', { class: 'box', id: 'pair-code' });
    const getCode = el('button', { class: 'btn secondary', type: 'button', id: 'get-code', onclick: async () => {
      showError('');
      try {
        const made = await call('POST', '/api/teacher/pairing-codes', {});
        const qr = el('div', { class: 'qr' }); qr.innerHTML = made.qr_svg;
        box.replaceChildren(el('p', {}, 'Pairing code: ', el('span', { class: 'code', id: 'code' }, made.code)),
          el('p', {}, 'On the car, type:'), el('p', { class: 'command' }, made.command), qr);
      } catch (e) { showError(e.message); }
    } }, 'Get a pairing code');
    const car = el('select', { id: 'car' }, ...view.cars_connected.map((c) => el('option', { value: c }, c)));
    const height = el('input', { type: 'number', id: 'roof-height', min: '0', max: '100', value: '12' });
    const markerId = el('input', { type: 'number', id: 'marker-id', min: '0', max: '49', placeholder: 'auto' });
    const found = el('div', { class: 'box', id: 'pair-result' });
    const find = el('button', { class: 'btn', type: 'button', id: 'find-car', onclick: async () => {
      showError('');
      try {
        const body = { car_id: car.value, height_cm: Number(height.value) };
        if (markerId.value !== '') body.marker_id = Number(markerId.value);
        const r = await call('POST', '/api/setup/cars', body);
        found.textContent = `Found ${r.car_id}: roof marker ${r.marker_id}.`;
        await refresh();
      } catch (e) { showError(e.message); }
    } }, 'Find my car');
    return [getCode, box, el('label', {}, 'Car:', car), el('label', {}, 'Roof height:', height, 'cm'),
      el('label', {}, 'Marker number (if asked):', markerId), find, found];
  },
  drive() {
    const car = el('select', { id: 'drive-car' }, ...view.cars_paired.map((c) => el('option', { value: c.car_id }, c.car_id)));
    const out = el('div', { class: 'box', id: 'drive-result' });
    const show = (d) => {
      if (!d) return;
      out.replaceChildren(el('p', {}, d.words),
        el('p', {}, `Speed: ${d.speed_cm_s.toFixed(0)} cm/s at ${30} % → top speed ${d.car_config.top_speed_cm_s.toFixed(0)} cm/s. ` +
          `Steering trim: ${d.car_config.steering_trim >= 0 ? '+' : ''}${d.car_config.steering_trim.toFixed(3)}.`),
        el('p', { class: 'small' }, 'These go into the car\'s calibration (car.yaml): spec.top_speed_cm_s and the steering centre.'));
    };
    const last = Object.values(view.state.drives || {})[0];
    show(last);
    const go = el('button', { class: 'btn', type: 'button', id: 'drive-go', onclick: async () => {
      showError(''); go.disabled = true; out.textContent = 'Driving ...';
      try { show(await call('POST', '/api/setup/test-drive', { car_id: car.value })); await refresh(); }
      catch (e) { out.textContent = ''; showError(e.message); }
      finally { go.disabled = false; }
    } }, 'Start the test drive');
    return [el('label', {}, 'Car:', car), go, out];
  },
  save() {
    const name = el('input', { type: 'text', id: 'arena-name', maxlength: '60', placeholder: 'Living room' });
    const out = el('div', { class: 'box', id: 'save-result' });
    const go = el('button', { class: 'btn', type: 'button', id: 'save-go', onclick: async () => {
      showError('');
      try {
        const r = await call('POST', '/api/setup/save', { name: name.value });
        const rows = r.lessons.map((l) => el('tr', { 'data-fit': l.fit }, el('td', {}, `L${l.level}`), el('td', {}, l.title),
          el('td', { class: `fit-${l.fit}` }, l.words)));
        out.replaceChildren(el('p', {}, 'Saved: ', el('code', { id: 'saved-path' }, r.path)), el('pre', { class: 'yaml' }, r.yaml),
          el('table', { class: 'fits', id: 'fits' }, el('tr', {}, el('th', {}, 'Level'), el('th', {}, 'Lesson'), el('th', {}, 'On your floor')), ...rows));
        await refresh();
      } catch (e) { showError(e.message); }
    } }, 'Save');
    return [el('label', {}, 'Name:', name), go, out];
  },
};

// --- the lens board: optional, inside step 4 (GET/POST /api/setup/lens...) -------------------------------
function lensBox() {
  const box = el('details', { class: 'box lens', id: 'lens' });
  const progress = el('p', { id: 'lens-progress' });
  const result = el('p', { id: 'lens-result' });
  const act = (path, button) => async () => {
    showError(''); button.disabled = true;
    try { view.lens = await call('POST', path); renderLens(); await refresh(); } catch (e) { showError(e.message); }
    finally { button.disabled = false; }
  };
  const startBtn = el('button', { class: 'btn secondary', type: 'button', id: 'lens-start' }, 'I have the lens board');
  const finishBtn = el('button', { class: 'btn', type: 'button', id: 'lens-finish' }, 'Finish');
  const stopBtn = el('button', { class: 'btn secondary', type: 'button', id: 'lens-stop' }, 'Stop');
  startBtn.addEventListener('click', act('/api/setup/lens/start', startBtn));
  finishBtn.addEventListener('click', act('/api/setup/lens/finish', finishBtn));
  stopBtn.addEventListener('click', act('/api/setup/lens/stop', stopBtn));
  box.append(el('summary', {}, 'Have the lens board? (optional: the best accuracy, wide-angle cameras too)'),
    el('p', {}, 'Glue the lens board (the last page of the markers PDF) flat onto card. Press the button, then hold the '
      + 'board in front of the camera at arm\'s length, in a few places and angles: into every corner of the picture, '
      + 'tilted a different way each time. Then press Finish, put the board away and press Measure again.'),
    el('div', { class: 'controls' }, startBtn, finishBtn, stopBtn), progress, result);
  if (view.lens?.collecting || view.lens?.result) box.open = true;
  setTimeout(renderLens);
  return box;
}

function renderLens() {
  const lens = view?.lens;
  const progress = $('lens-progress');
  if (!lens || !progress) return;
  $('lens-start').hidden = lens.collecting;
  $('lens-finish').hidden = !lens.collecting;
  $('lens-stop').hidden = !lens.collecting;
  if (lens.collecting) {
    const where = lens.regions_missing.length ? ` Hold it next in the ${lens.regions_missing.join(', ')} of the picture.` : '';
    const last = lens.last?.problem ? ` ${lens.last.problem.message} ${lens.last.problem.fix}` : '';
    progress.textContent = `Views kept: ${lens.views} (${lens.needed} needed, ${lens.good} for the best result).`
      + (lens.ready ? ' Enough: press Finish, or add a few more.' : where) + last;
  } else progress.textContent = '';
  const r = lens.result;
  $('lens-result').replaceChildren(...(r ? [el('span', { class: `light small ${r.light === 'amber' ? 'amber' : r.light}` }),
    ` ${r.words} `, lens.in_use ? 'The floor is measured with this lens.'
      : 'Put the board away and press Measure again: the floor is then measured with this lens.'] : []));
  $('lens-result').dataset.light = r ? r.light : '';
}

function render() {
  const s = STEPS[current - 1];
  $('step-title').textContent = s.title;
  $('step-lead').textContent = s.lead;
  $('picture').innerHTML = PICTURES[s.key];
  $('picture-caption').textContent = s.caption;
  $('controls').replaceChildren(...CONTROLS[s.key]());
  $('back').disabled = current === 1;
  $('next').textContent = current === 7 ? 'Done' : 'Next';
  document.body.dataset.step = s.key;
  showError('');
  renderStatus();
}

function go(n) {
  current = Math.max(1, Math.min(7, n));
  history.replaceState(null, '', `?step=${current}`);
  render();
}

async function refresh() {
  try {
    view = await call('GET', '/api/setup');
    renderStatus();
    // This computer's camera was switched off by the server after a long pause (a tab in the background):
    // the webcam is still on here, so choose it again.
    if (webcam && view.camera.problem?.code === 'camera_gone' && Date.now() - lastRechoose > 5000) {
      lastRechoose = Date.now();
      sending = false;
      view = await call('POST', '/api/setup/camera', { source: 'browser' });
      sending = true;
    }
  } catch (e) {
    if (e.status === 401) { showLogin(); return; }
    showError(e.message);
  }
}

// --- the live picture ------------------------------------------------------------------------------
let previewBusy = false;
async function refreshPreview() {
  if (previewBusy || !view) return;
  previewBusy = true;
  try {
    const res = await fetch('/api/camera/preview.jpg', { credentials: 'same-origin', cache: 'no-store' });
    if (res.ok) {
      const url = URL.createObjectURL(await res.blob());
      const img = $('preview');
      const old = img.src;
      img.src = url; img.hidden = false; $('no-preview').hidden = true;
      if (old.startsWith('blob:')) URL.revokeObjectURL(old);
    }
  } finally { previewBusy = false; }
}

// --- this computer's camera -----------------------------------------------------------------------------
async function startWebcam() {
  if (!navigator.mediaDevices?.getUserMedia) throw new Error('This browser cannot share its camera. Try Chrome or Firefox, or choose another camera.');
  stopWebcam();
  try {
    webcam = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
  } catch (e) {
    throw new Error(`The camera could not be started (${e.name}). Allow the camera when the browser asks, or choose another camera.`);
  }
  const video = $('webcam');
  video.srcObject = webcam;
  for (const track of webcam.getVideoTracks()) {
    track.addEventListener('ended', () => { showError('This computer\'s camera stopped (unplugged or closed). Plug it in again, then choose it again.'); stopWebcam(); });
  }
  await video.play().catch(() => {});
  const canvas = $('grab');
  grabTimer = setInterval(() => {
    if (!sending || !video.videoWidth || !socket?.connected) return;
    canvas.width = video.videoWidth; canvas.height = video.videoHeight;
    canvas.getContext('2d').drawImage(video, 0, 0);
    canvas.toBlob(async (blob) => {
      if (!blob) return;
      const reply = await socket.timeout(3000).emitWithAck('frame', await blob.arrayBuffer()).catch(() => null);
      if (reply && !reply.ok) showError(`${reply.error.message} ${reply.error.fix}`);
    }, 'image/jpeg', 0.85);
  }, GRAB_MS);
}

function stopWebcam() {
  clearInterval(grabTimer); grabTimer = null; sending = false;
  if (webcam) for (const t of webcam.getTracks()) t.stop();
  webcam = null;
}

// --- start --------------------------------------------------------------------------------------------
function showLogin() {
  $('login').hidden = false; $('wizard').hidden = true;
  // accounts mode (a server with teacher accounts) asks for the username too
  call('GET', '/api/teacher/login-mode').then((m) => { $('username').hidden = !m?.accounts; $('username').required = Boolean(m?.accounts); })
    .catch(() => {});
}

async function start() {
  await refresh();
  if (!view) { // the server refused or did not answer: say so where the teacher is looking
    showLogin();
    $('login-error').textContent = $('error').textContent || 'Your sign-in ran out. Enter the password again.';
    return;
  }
  if (!current) current = resumeStep();
  go(current);
  socket = io('/camera', { transports: ['websocket'], withCredentials: true });
  socket.on('camera', () => {}); // the lights are polled; the socket carries this computer's camera pictures
  // Shown only once the step is drawn, so nobody sees (or clicks) an empty wizard.
  $('login').hidden = true; $('wizard').hidden = false;
  setInterval(refresh, STATE_MS);
  setInterval(refreshPreview, PREVIEW_MS);
  if (view.state.camera === 'browser') { // resumed: this computer's camera again
    startWebcam().then(async () => { view = await call('POST', '/api/setup/camera', { source: 'browser' }); sending = true; })
      .catch((e) => showError(e.message));
  }
}

$('login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  try {
    const username = $('username').hidden ? '' : $('username').value.trim();
    const r = await call('POST', '/api/teacher/login', username ? { username, password: $('password').value } : { password: $('password').value });
    csrf = r.csrf_token; sessionStorage.setItem(CSRF_KEY, csrf);
    await start();
  } catch (e) { $('login-error').textContent = e.message; }
});
$('back').addEventListener('click', () => go(current - 1));
$('next').addEventListener('click', () => go(current + 1));

(async () => {
  try {
    const me = await call('GET', '/api/teacher/me');
    csrf = me.csrf_token; sessionStorage.setItem(CSRF_KEY, csrf);
    await start();
  } catch (e) {
    showLogin();
  }
})();
