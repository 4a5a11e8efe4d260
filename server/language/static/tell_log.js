// The teacher's "Tell the car" panel for one class: the switch (on or off for the whole class) and each
// sentence a kid typed with what it became — the blocks, or why not — and who wrote it (the language model or
// the simple reader), newest first. The teacher console mounts it:
//
//   const tell = new TellLog(document.getElementById('tell-panel'), request);   // request: the console's api.js
//   tell.show('DEMO');
export const LOG_POLL_MS = 5000; // a kid asks every ~10 s at most; the panel is never more than 5 s behind
const LOG_ROWS = 50; // the newest sentences; older ones are in GET /api/teacher/classes/{code}/plans

const OUTCOME_TEXT = { planned: 'blocks', explained: 'explained', not_understood: 'not understood', refused: 'refused' };

function el(tag, className = '', text = '') {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text) node.textContent = text; // kid sentences are text, never markup
  return node;
}

function clock(epochS) {
  const d = new Date(epochS * 1000);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

export class TellLog {
  constructor(root, request) {
    this.root = root;
    this.request = request;
    this.code = null;
    this.timer = null;
    this.toggle = el('input');
    Object.assign(this.toggle, { type: 'checkbox', id: 'tell-switch' });
    const label = el('label', 'tell-switch');
    label.append(this.toggle, ' on for this class');
    const head = el('div', 'panel-head');
    head.append(el('h2', '', 'Tell the car'), label);
    this.list = el('ol', 'tell-log');
    this.list.id = 'tell-log';
    this.empty = el('p', 'empty', 'No sentences yet. Kids type them in the Tell the car box of their editor.');
    root.replaceChildren(head, this.list, this.empty);
    this.toggle.addEventListener('change', () => this.setEnabled(this.toggle.checked));
  }

  show(code) {
    this.code = code;
    clearInterval(this.timer);
    this.timer = null;
    if (!code) return;
    this.load();
    this.timer = setInterval(() => { if (this.root.offsetParent !== null) this.load(); }, LOG_POLL_MS);
  }

  async load() {
    const code = this.code;
    try {
      const data = await this.request('GET', `/api/teacher/classes/${encodeURIComponent(code)}/plans?limit=${LOG_ROWS}`);
      if (code === this.code) this.render(data);
    } catch { /* the console shows the session and network errors of its own requests */ }
  }

  async setEnabled(enabled) {
    try {
      await this.request('POST', `/api/teacher/classes/${encodeURIComponent(this.code)}/plans/switch`, { enabled });
    } finally {
      await this.load();
    }
  }

  render(data) {
    this.toggle.checked = data.enabled;
    this.root.dataset.enabled = String(data.enabled);
    this.list.replaceChildren(...data.plans.map((p) => {
      const li = el('li', `plan ${p.outcome}`);
      li.dataset.plan = p.plan_id;
      const head = el('div', 'plan-head');
      head.append(el('span', 'plan-time', clock(p.t)), el('b', 'plan-kid', p.name), el('q', 'plan-sentence', p.sentence),
        el('span', `plan-outcome ${p.outcome}`, OUTCOME_TEXT[p.outcome] || p.outcome));
      li.append(head);
      if (p.lines.length) li.append(el('pre', 'plan-lines', p.lines.join('\n')));
      else li.append(el('p', 'plan-why', p.kid_text));
      const who = p.answered_by === 'model' ? `language model${p.model ? ` ${p.model}` : ''}`
        : p.answered_by === 'reader' ? 'simple reader' : '';
      const foot = [who && `by the ${who}`, p.front_end, p.lesson_id && `lesson ${p.lesson_id}`,
        p.runs.length ? `ran ${p.runs.length}×` : '', p.teacher_note].filter(Boolean).join(' · ');
      li.append(el('p', 'plan-foot', foot));
      return li;
    }));
    this.empty.hidden = data.plans.length > 0;
  }
}
