// The classroom server's kid HTTP API, for the Blockly app and the Scratch editor (fetch; same origin).
// Errors come back as {error: {rule, message, value, fix}}; we turn them into an Error a kid can read.

export const HTTP_TIMEOUT_MS = 8_000; // loopback/LAN requests answer in milliseconds; 8 s means the server is gone
const SESSION_KEY = 'mikrodojo.blockly.session';

export class ApiError extends Error {
  constructor(message, { status = 0, rule = '', fix = '', value = null } = {}) {
    super(message);
    this.name = 'ApiError';
    Object.assign(this, { status, rule, fix, value });
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
    throw new ApiError(e.message || `The classroom said no (${resp.status}).`,
      { status: resp.status, rule: e.rule, fix: e.fix, value: e.value ?? null });
  }
  return data;
}

/** Friendlier words for the join errors a kid can actually make. */
function joinMessage(err) {
  if (err.rule === 'class_code') return "That class code doesn't exist — check the code on the board.";
  if (err.rule === 'kid_name') return 'Type just your first name, with letters only (like Mia).';
  return err.message;
}

/**
 * Join the class. A name the class already has is a question, not a merge: `isThatYou(name)` asks the
 * kid (true: join as that kid again; false: they pick another name).
 */
export async function join(classCode, name, { isThatYou = async () => false } = {}) {
  const body = { class_code: classCode.trim(), name: name.trim() };
  try {
    return await request('POST', '/api/join', { body });
  } catch (err) {
    if (err.rule !== 'same_name') throw new ApiError(joinMessage(err), err);
    const existing = err.value || body.name;
    if (await isThatYou(existing)) return request('POST', '/api/join', { body: { ...body, rejoin: true } });
    throw new ApiError(`Then add the first letter of your last name, like ${existing}K.`, { rule: 'same_name' });
  }
}

export const catalog = (level) => request('GET', `/api/catalog?level=${encodeURIComponent(level)}`);
export const loadProgram = (token) => request('GET', '/api/programs/current', { token });
export const saveProgram = (token, program) => request('PUT', '/api/programs/current', { token, body: { program } });

// Each editor remembers its kid under its own key (the Blockly app in localStorage by default).
export function rememberSession(session, key = SESSION_KEY, store = localStorage) {
  try { store.setItem(key, JSON.stringify(session)); } catch { /* private mode: join each time */ }
}

export function rememberedSession(key = SESSION_KEY, store = localStorage) {
  try { return JSON.parse(store.getItem(key) || 'null'); } catch { return null; }
}

export function forgetSession(key = SESSION_KEY, store = localStorage) {
  try { store.removeItem(key); } catch { /* nothing to forget */ }
}

/** The kid's saved Scratch project (an .sb3 file's bytes), or null when there is none yet. */
export async function loadScratchProject(token) {
  const resp = await fetch('/api/programs/scratch', {
    headers: { Authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
  });
  if (resp.status === 204) return null;
  if (!resp.ok) throw new ApiError(`I couldn't open your saved project (${resp.status}).`, { status: resp.status });
  return resp.arrayBuffer();
}

export async function saveScratchProject(token, sb3) {
  const resp = await fetch('/api/programs/scratch', {
    method: 'PUT', body: sb3, signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/x.scratch.sb3' },
  });
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new ApiError((data.error && data.error.message) || `not saved (${resp.status})`, { status: resp.status });
  return data;
}

// --- lessons and attempts (docs/lessons.md) ---------------------------------------------------------

export const lessons = (token) => request('GET', '/api/lessons', { token });
export const selectLesson = (token, lessonId) => request('POST', '/api/lessons/select', { token, body: { lesson_id: lessonId } });
export const attempts = (token, lessonId) =>
  request('GET', `/api/attempts${lessonId ? `?lesson=${encodeURIComponent(lessonId)}` : ''}`, { token });
export const compareAttempts = (token, a, b) =>
  request('GET', `/api/attempts/compare?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`, { token });
export const attempt = (token, attemptId) => request('GET', `/api/attempts/${encodeURIComponent(attemptId)}`, { token });
