// Tiny DOM helpers shared by the lesson, feedback and attempts panels of both editors (no framework:
// plain elements, text always set with textContent, so nothing from the server is ever parsed as HTML).

/** An element with a class and optional text or children. */
export function el(tag, className = '', content = null) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (Array.isArray(content)) node.append(...content.filter((c) => c !== null && c !== undefined && c !== false));
  else if (content !== null && content !== undefined) node.textContent = String(content);
  return node;
}

const STAR_PATH = 'M12 1.8l3.1 6.4 7 .9-5.1 4.9 1.3 7-6.3-3.4-6.3 3.4 1.3-7L1.9 9.1l7-.9z';

/** `count` of `max` stars as SVGs (gold filled, grey empty), with a text label for screen readers. */
export function stars(count, { max = 3, size = 'small' } = {}) {
  const n = Math.max(0, Math.min(max, Number(count) || 0));
  const box = el('span', `stars stars-${size}`);
  box.setAttribute('role', 'img');
  box.setAttribute('aria-label', `${n} of ${max} stars`);
  box.dataset.stars = String(n);
  for (let i = 0; i < max; i += 1) {
    const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('class', i < n ? 'star on' : 'star off');
    svg.style.setProperty('--i', String(i));
    const path = document.createElementNS('http://www.w3.org/2000/svg', 'path');
    path.setAttribute('d', STAR_PATH);
    svg.append(path);
    box.append(svg);
  }
  return box;
}

/** A small padlock (the DejaVu fonts on classroom computers have no emoji). */
export function lockIcon() {
  const span = el('span', 'lock-icon');
  span.setAttribute('aria-hidden', 'true');
  span.innerHTML = '<svg viewBox="0 0 20 20"><rect x="3.5" y="9" width="13" height="9" rx="2" fill="currentColor"/>'
    + '<path d="M6.5 9V6.5a3.5 3.5 0 0 1 7 0V9" fill="none" stroke="currentColor" stroke-width="2.2"/></svg>';
  return span;
}

/** Show a dialog backdrop; closes on ✕, a click outside the dialog, or Esc. Returns close(). */
export function openDialog(backdrop, onClose = () => {}) {
  backdrop.hidden = false;
  const close = () => {
    if (backdrop.hidden) return;
    backdrop.hidden = true;
    document.removeEventListener('keydown', onKey, true);
    onClose();
  };
  const onKey = (e) => { if (e.key === 'Escape') close(); }; // Esc also stops the car (app.js): both are safe
  document.addEventListener('keydown', onKey, true);
  backdrop.onclick = (e) => { if (e.target === backdrop || e.target.closest('[data-close]')) close(); };
  // Keyboard kids land on the main button (or the first one), not somewhere behind the dialog.
  (backdrop.querySelector('[data-autofocus]') || backdrop.querySelector('button:not([disabled])'))?.focus();
  return close;
}

/** "just now", "3 min ago", "at 10:42" for an epoch-seconds time. */
export function whenText(epochS, nowMs = Date.now()) {
  const ago = Math.max(0, nowMs / 1000 - Number(epochS));
  if (ago < 45) return 'just now';
  if (ago < 3600) return `${Math.round(ago / 60)} min ago`;
  const d = new Date(epochS * 1000);
  return `at ${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

/** "There is already a Mia in this class. Is that you?" -> true (yes, that is me) or false. */
export function askIsThatYou(name, doc = document) {
  const backdrop = doc.getElementById('same-name-dialog');
  doc.getElementById('same-name-title').textContent = `There is already a ${name} in this class. Is that you?`;
  return new Promise((resolve) => {
    let answer = false;
    const close = openDialog(backdrop, () => resolve(answer));
    doc.getElementById('same-name-yes').onclick = () => { answer = true; close(); };
    doc.getElementById('same-name-no').onclick = () => { answer = false; close(); };
  });
}
