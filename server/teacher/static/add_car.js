// "Add a car": a short pairing code (big), its QR code and the one command to type on the car; then the
// dialog watches the code until the car has paired and connected. The server side is server/cars
// (POST /api/teacher/pairing-codes, GET /api/teacher/pairing-codes/{code}); the car runs
// `dojo car pair URL CODE` (docs/real-car.md). The console mounts it on a button:
//
//   new AddCar(document.getElementById('add-car-btn'), { request, onCar: (carId) => refresh() });
import { el, openDialog } from './ui.js';

export const PAIR_POLL_MS = 1000; // a car pairs and connects within seconds of the command; 1 s feels live
const LOOPBACK = /\/\/(127\.|localhost|\[::1\])/; // an address only this computer can reach

export class AddCar {
  /** request(method, path, body): the console's api.js; onCar(carId): a paired car has connected */
  constructor(button, { request, onCar = () => {}, classCode = () => null }) {
    this.request = request;
    this.classCode = classCode; // accounts mode: the car joins the open class (null: nobody's, one classroom)
    this.onCar = onCar;
    this.timer = null;
    this.parts = {
      code: el('div', { class: 'pair-code', 'data-testid': 'pair-code' }),
      qr: el('div', { class: 'pair-qr-box', 'aria-label': 'QR code of the command' }),
      command: el('code', { class: 'pair-command', 'data-testid': 'pair-command' }),
      copy: el('button', { class: 'btn small', type: 'button', onclick: () => this.copy() }, 'Copy'),
      note: el('p', { class: 'pair-note', hidden: true }),
      expires: el('p', { class: 'pair-expires' }),
      status: el('p', { class: 'pair-status', 'data-testid': 'pair-status', role: 'status' }),
      again: el('button', { class: 'btn primary', type: 'button', hidden: true, onclick: () => this.newCode() }, 'New code'),
    };
    const p = this.parts;
    this.dialog = el('dialog', { class: 'add-car-dialog', id: 'add-car-dialog', tabindex: '-1', 'aria-label': 'Add a car' },
      el('form', { method: 'dialog', class: 'dialog-close' }, el('button', { class: 'btn ghost', 'aria-label': 'Close' }, '✕')),
      el('div', { class: 'pair-body' },
        el('h2', {}, 'Add a car'),
        el('div', { class: 'pair-main' },
          el('div', {},
            el('p', { class: 'pair-step' }, 'On the car (after ', el('code', {}, 'dojo car init'), '), type:'),
            el('div', { class: 'pair-command-row' }, p.command, p.copy),
            p.note,
            el('p', { class: 'pair-step' }, 'The pairing code:'),
            p.code, p.expires),
          p.qr),
        p.status, p.again));
    this.dialog.addEventListener('close', () => this.stop());
    document.body.append(this.dialog);
    button.addEventListener('click', () => this.newCode());
  }

  async newCode() {
    this.stop();
    const p = this.parts;
    p.status.textContent = 'Making a code…';
    p.status.className = 'pair-status';
    p.again.hidden = true;
    openDialog(this.dialog);
    let made;
    try {
      const classCode = this.classCode();
      made = await this.request('POST', '/api/teacher/pairing-codes', classCode ? { class_code: classCode } : {});
    } catch (e) {
      p.status.textContent = `Could not make a code: ${e.message}`;
      p.status.className = 'pair-status error';
      p.again.hidden = false;
      return;
    }
    this.code = made.code;
    this.expiresAt = made.expires_at * 1000;
    p.code.textContent = made.code;
    p.command.textContent = made.command;
    p.qr.innerHTML = made.qr_svg; // our own server's SVG (segno): no text from anyone else is in it
    const loopback = LOOPBACK.test(made.command);
    p.note.hidden = !loopback;
    p.note.textContent = loopback
      ? 'This address works only on this computer. For cars on the classroom network, start the server with --host 0.0.0.0 and open the console at its network address.'
      : '';
    p.status.textContent = 'Waiting for the car…';
    this.timer = setInterval(() => this.poll(), PAIR_POLL_MS);
    this.tickExpiry();
  }

  tickExpiry() {
    const left = Math.max(0, Math.round((this.expiresAt - Date.now()) / 1000));
    this.parts.expires.textContent = `Works once, for ${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')} more.`;
  }

  async poll() {
    const p = this.parts;
    this.tickExpiry();
    let st;
    try {
      st = await this.request('GET', `/api/teacher/pairing-codes/${encodeURIComponent(this.code)}`);
    } catch (e) {
      p.status.textContent = `Cannot check the code: ${e.message}`;
      return;
    }
    if (st.state === 'expired') {
      this.stop();
      p.status.textContent = 'This code has expired. Make a new one.';
      p.again.textContent = 'New code';
      p.status.className = 'pair-status error';
      p.again.hidden = false;
    } else if (st.state === 'paired' && st.connected) {
      this.stop();
      p.status.textContent = `✓ ${st.car_id} is here. Give it to a kid in the roster.`;
      p.status.className = 'pair-status ok';
      p.again.textContent = 'Add another car';
      p.again.hidden = false;
      this.onCar(st.car_id);
    } else if (st.state === 'paired') {
      p.status.textContent = `${st.car_id} is paired — waiting for it to connect (start the car program).`;
    }
  }

  async copy() {
    try {
      await navigator.clipboard.writeText(this.parts.command.textContent);
      this.parts.copy.textContent = 'Copied';
    } catch {
      getSelection().selectAllChildren(this.parts.command); // no clipboard (plain http): select it for Ctrl+C
    }
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
    this.parts.copy.textContent = 'Copy';
  }
}
