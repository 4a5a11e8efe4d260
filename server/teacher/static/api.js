// The teacher API, in one place: every path the console calls is listed here.
// Auth: the session cookie rides along automatically (same origin); every state-changing request
// also carries the X-CSRF-Token header the login answer gave us, so another site cannot forge one.

const CSRF_KEY = 'mikrodojo.teacher.csrf';
const REQUEST_TIMEOUT_MS = 8000; // a classroom LAN answers in milliseconds; 8 s means the server is gone

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

let csrfToken = sessionStorage.getItem(CSRF_KEY) || '';

export function setCsrf(token) {
  csrfToken = token || '';
  if (csrfToken) sessionStorage.setItem(CSRF_KEY, csrfToken);
  else sessionStorage.removeItem(CSRF_KEY);
}

function messageOf(body, status) {
  if (!body) return `The server answered ${status}.`;
  if (typeof body === 'string') return body;
  const err = body.error ?? body;
  if (typeof err === 'string') return body.fix ? `${err} — ${body.fix}` : err;
  const text = err.message || err.detail || err.kid_text || JSON.stringify(err);
  return err.fix ? `${text} — ${err.fix}` : text;
}

export async function request(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrfToken;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
  let res;
  try {
    res = await fetch(path, {
      method, headers, credentials: 'same-origin', signal: controller.signal,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, e.name === 'AbortError' ? 'The server did not answer in time.' : 'Cannot reach the classroom server.');
  } finally {
    clearTimeout(timer);
  }
  const type = res.headers.get('content-type') || '';
  const data = type.includes('json') ? await res.json().catch(() => null) : await res.text();
  if (!res.ok) throw new ApiError(res.status, messageOf(data, res.status), data);
  return data;
}

const enc = encodeURIComponent;

export const api = {
  // username: only in accounts mode (loginMode().accounts); one classroom's password needs none
  login: (password, username) => request('POST', '/api/teacher/login', username ? { username, password } : { password }),
  loginMode: () => request('GET', '/api/teacher/login-mode'),
  logout: () => request('POST', '/api/teacher/logout'),
  logoutEverywhere: () => request('POST', '/api/teacher/logout-everywhere'),
  session: () => request('GET', '/api/teacher/me'),

  classes: () => request('GET', '/api/teacher/classes'),
  createClass: (name) => request('POST', '/api/teacher/classes', { name }),
  // the console's view of a class (server/teacher/console.py): kids with level, current lesson,
  // stars and state; cars with driver, turn queue and e-stop; the arena
  board: (code) => request('GET', `/api/teacher/classes/${enc(code)}/board`),

  setKidLevel: (code, kidId, level) => request('POST', `/api/teacher/classes/${enc(code)}/kids/${enc(kidId)}/level`, { level }),
  // the kid leaves the class: their car stops if they drive, their editors are closed, their token is void
  removeKid: (code, kidId) => request('DELETE', `/api/teacher/classes/${enc(code)}/kids/${enc(kidId)}`),
  setClassLevel: (code, level) => request('POST', `/api/teacher/classes/${enc(code)}/level`, { level }),
  // the car's kids become exactly these, in this order (their turn order on a shared car)
  assignCar: (carId, kidIds) => request('POST', `/api/teacher/cars/${enc(carId)}/assign`, { kid_ids: kidIds }),

  lessons: (code) => request('GET', `/api/teacher/classes/${enc(code)}/lessons`),
  // mode: 'locked' | 'open' | 'auto' (follow each kid's progress)
  setLessonMode: (code, lessonId, mode) =>
    request('POST', `/api/teacher/classes/${enc(code)}/lessons/${enc(lessonId)}/${{ locked: 'lock', open: 'unlock', auto: 'auto' }[mode]}`),

  estopAll: () => request('POST', '/api/teacher/estop', { reason: 'STOP ALL button' }),
  stopCar: (carId) => request('POST', `/api/teacher/cars/${enc(carId)}/stop`),
  resetCar: (carId) => request('POST', `/api/teacher/cars/${enc(carId)}/reset`),

  attempts: () => request('GET', '/api/teacher/attempts'),
  attempt: (id) => request('GET', `/api/attempts/${enc(id)}`), // the teacher's session opens any attempt
  override: (id, stars, comment) => request('POST', `/api/teacher/attempts/${enc(id)}/override`, { stars, comment }),

  csvUrl: (code) => `/api/teacher/classes/${enc(code)}/progress.csv`,
};
