// The "Tell the car" box both editors show (the Blockly app and the served Scratch editor import it from
// /language/tell_box.js): a sentence field, "Make blocks", the answer (what the server made, what it left
// out and why, who wrote it) and Undo. Each editor passes a `target` that puts the blocks in its workspace:
//
//   const box = new TellBox(element, { frontEnd: 'blockly', token: () => session.token, target, onPlanned });
//   target.insert(answer) -> a handle (or throws with a kid sentence); target.remove(handle); target.forget?()
//   box.refresh();   // after a level or lesson change: is the box open (the teacher's switch, the lesson)?
//
// The blocks are never run from here: the kid reads them, may change them, and presses Run.

export const PLAN_TIMEOUT_MS = 40_000; // the server asks a model twice (12 s each at most), then its reader answers
const STATUS_TIMEOUT_MS = 8_000; // a loopback/LAN answer takes milliseconds; 8 s means the server is gone
const CLOSED_POLL_MS = 10_000; // a closed box asks again this often: the teacher may switch it back on
const CLOSING_RULES = new Set(['planning_off', 'lesson_planning']); // closed until the teacher or lesson opens it

function el(tag, className = '', text = '') {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text) node.textContent = text; // text only: nothing from the server is ever parsed as HTML
  return node;
}

/** POST /api/plan -> the server's answer; a network or HTTP error becomes a `refused` answer with a kid sentence. */
export async function askPlan(token, sentence, frontEnd, { fetchImpl = fetch, timeoutMs = PLAN_TIMEOUT_MS } = {}) {
  let resp;
  try {
    resp = await fetchImpl('/api/plan', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: JSON.stringify({ sentence, front_end: frontEnd }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch {
    return { outcome: 'refused', rule: 'unreachable', notes: [],
      kid_text: "I can't reach the classroom — is the server running?" };
  }
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    return { outcome: 'refused', rule: body.error?.rule || String(resp.status), notes: [],
      kid_text: body.error?.message || 'The classroom said no.' };
  }
  return body;
}

/** "Written by the language model (qwen2.5vl:3b)." or "Written by the simple reader (...)." */
export function whoAnswered(answer) {
  if (answer.answered_by === 'model') return `Written by the language model${answer.model ? ` (${answer.model})` : ''}.`;
  if (answer.answered_by === 'reader') return 'Written by the simple reader (no language model answered).';
  return '';
}

export class TellBox {
  constructor(root, { frontEnd, token, target, onPlanned = () => {}, fetchImpl = fetch }) {
    Object.assign(this, { root, frontEnd, token, target, onPlanned, fetchImpl });
    this.handle = null; // what the target gave back for the last plan's blocks, while they are there
    this.reopen = null; // the timer of a closed box's next look
    this.input = el('input', 'tell-input');
    Object.assign(this.input, { id: 'tell-input', maxLength: 200, autocomplete: 'off', spellcheck: true,
      placeholder: 'like: forward 30 then turn left, do it 4 times' });
    this.input.setAttribute('aria-label', 'Tell the car what to do');
    this.button = el('button', 'tell-btn', 'Make blocks');
    Object.assign(this.button, { id: 'tell-btn', type: 'submit' });
    this.undo = el('button', 'tell-undo', 'Undo');
    Object.assign(this.undo, { id: 'tell-undo', type: 'button', hidden: true, title: 'Take the new blocks away again' });
    this.text = el('p', 'tell-text');
    this.text.id = 'tell-text';
    this.notes = el('ul', 'tell-notes');
    this.who = el('p', 'tell-who');
    this.who.id = 'tell-who';
    const form = el('form', 'tell-form');
    form.append(this.input, this.button);
    const foot = el('div', 'tell-foot');
    foot.append(this.who, this.undo);
    const answer = el('div', 'tell-answer');
    answer.setAttribute('aria-live', 'polite');
    answer.append(this.text, this.notes, foot);
    root.replaceChildren(el('div', 'tell-title', 'Tell the car'), form, answer);
    root.classList.add('tell-box');
    root.hidden = false;
    form.addEventListener('submit', (e) => { e.preventDefault(); this.tell(this.input.value); });
    this.undo.addEventListener('click', () => this.takeBack());
  }

  /** Open or closed for this kid now, without spending a plan (GET /api/plan). */
  async refresh() {
    let status = { enabled: true };
    try {
      const resp = await this.fetchImpl('/api/plan', {
        headers: { Authorization: `Bearer ${this.token()}` }, signal: AbortSignal.timeout(STATUS_TIMEOUT_MS),
      });
      if (resp.ok) status = await resp.json();
    } catch { /* the next sentence will say what is wrong */ }
    this.setOpen(status.enabled !== false, status.kid_text);
  }

  setOpen(open, why = '') {
    this.input.disabled = this.button.disabled = !open;
    clearTimeout(this.reopen);
    if (!open) {
      this.show('closed', why);
      this.reopen = setTimeout(() => this.refresh(), CLOSED_POLL_MS);
    } else if (this.root.dataset.state === 'closed') {
      this.show('idle', '');
    }
  }

  show(state, text, notes = [], who = '') {
    this.root.dataset.state = state;
    this.text.textContent = text;
    this.notes.replaceChildren(...notes.map((n) => el('li', '', n)));
    this.who.textContent = who;
  }

  /** Ask for blocks; a plan goes into the workspace, anything else is said in the box. Resolves to the answer. */
  async tell(sentence) {
    sentence = String(sentence || '').trim();
    if (!sentence) return null;
    this.button.disabled = true;
    this.show('thinking', 'Thinking…');
    try {
      const answer = await askPlan(this.token(), sentence, this.frontEnd, { fetchImpl: this.fetchImpl });
      if (CLOSING_RULES.has(answer.rule)) {
        this.setOpen(false, answer.kid_text);
      } else if (answer.outcome !== 'planned') {
        this.show(answer.outcome === 'refused' ? 'refused' : 'explained', answer.kid_text, answer.notes || [],
          whoAnswered(answer));
      }
      if (answer.outcome !== 'planned') return answer;
      try {
        this.handle = await this.target.insert(answer);
      } catch (err) {
        this.show('refused', err.message || 'I could not put the blocks in your workspace — try again.');
        return answer;
      }
      this.undo.hidden = false;
      this.show('planned', answer.kid_text, answer.notes || [], whoAnswered(answer));
      this.onPlanned(answer);
      return answer;
    } finally {
      if (this.root.dataset.state !== 'closed') this.button.disabled = false;
    }
  }

  /** Undo: the last plan's blocks go away (with whatever the kid changed in them since). */
  async takeBack() {
    const handle = this.handle;
    this.handle = null;
    this.undo.hidden = true;
    if (handle) await this.target.remove(handle);
    this.show('idle', 'The new blocks are gone. Tell the car something else!');
  }
}
