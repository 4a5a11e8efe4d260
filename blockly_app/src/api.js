// The classroom server's HTTP API as the app uses it (fetch; same origin). Errors come back as
// {error: {rule, message, fix}}; we turn them into an Error whose message a kid can read.

export const HTTP_TIMEOUT_MS = 8_000; // loopback/LAN requests answer in milliseconds; 8 s means the server is gone
const SESSION_KEY = 'mikrodojo.blockly.session';

export class ApiError extends Error {
  constructor(message, { status = 0, rule = '', fix = '' } = {}) {
    super(message);
    this.name = 'ApiError';
    Object.assign(this, { status, rule, fix });
  }
}

async function request(method, path, { token, body } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let resp;
  try {
    resp = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
    });
  } catch (err) {
    throw new ApiError("I can't reach the classroom — is the server running?", { rule: 'unreachable', fix: String(err) });
  }
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    const e = data.error || data;
    throw new ApiError(e.message || `The classroom said no (${resp.status}).`, { status: resp.status, rule: e.rule, fix: e.fix });
  }
  return data;
}

/** Friendlier words for the join errors a kid can actually make. */
function joinMessage(err) {
  if (err.rule === 'class_code') return "That class code doesn't exist — check the code on the board.";
  if (err.rule === 'kid_name') return 'Type just your first name, with letters only (like Mia).';
  return err.message;
}

export async function join(classCode, name) {
  try {
    return await request('POST', '/api/join', { body: { class_code: classCode.trim(), name: name.trim() } });
  } catch (err) {
    throw new ApiError(joinMessage(err), err);
  }
}

export const catalog = (level) => request('GET', `/api/catalog?level=${encodeURIComponent(level)}`);
export const loadProgram = (token) => request('GET', '/api/programs/current', { token });
export const saveProgram = (token, program) => request('PUT', '/api/programs/current', { token, body: { program } });

export function rememberSession(session) {
  try { localStorage.setItem(SESSION_KEY, JSON.stringify(session)); } catch { /* private mode: join each time */ }
}

export function rememberedSession() {
  try { return JSON.parse(localStorage.getItem(SESSION_KEY) || 'null'); } catch { return null; }
}

export function forgetSession() {
  try { localStorage.removeItem(SESSION_KEY); } catch { /* nothing to forget */ }
}

// --- lessons and attempts (docs/lessons.md) ---------------------------------------------------------

export const lessons = (token) => request('GET', '/api/lessons', { token });
export const selectLesson = (token, lessonId) => request('POST', '/api/lessons/select', { token, body: { lesson_id: lessonId } });
export const attempts = (token, lessonId) =>
  request('GET', `/api/attempts${lessonId ? `?lesson=${encodeURIComponent(lessonId)}` : ''}`, { token });
export const compareAttempts = (token, a, b) =>
  request('GET', `/api/attempts/compare?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`, { token });
export const attempt = (token, attemptId) => request('GET', `/api/attempts/${encodeURIComponent(attemptId)}`, { token });
