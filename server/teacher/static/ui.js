// Small DOM helpers shared by the console's panels. Text always goes in through textContent,
// so kid names and coach text can never inject markup.

/** el('div', {class: 'x', onclick: f}, 'text', child) -> HTMLElement */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key in node && typeof value !== 'string') node[key] = value;
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const $ = (id) => document.getElementById(id);

const TOAST_MS = 4500; // long enough to read one sentence, short enough not to hide the cars for long

export function toast(title, text = '', kind = 'warn') {
  const box = el('div', { class: `toast ${kind}`, role: 'status' }, el('b', {}, title), text);
  $('toasts').prepend(box);
  setTimeout(() => box.remove(), TOAST_MS);
  while ($('toasts').children.length > 3) $('toasts').lastElementChild.remove();
}

export function stars(count, max = 3) {
  const n = Math.max(0, Math.min(max, Math.round(Number(count) || 0)));
  return el('span', { class: 'stars', title: `${n} of ${max} stars`, 'aria-label': `${n} of ${max} stars` },
    '★'.repeat(n) + '☆'.repeat(max - n));
}

export function clock(when) {
  const d = when instanceof Date ? when : new Date(typeof when === 'number' && when < 1e12 ? when * 1000 : when);
  if (Number.isNaN(d.getTime())) return '';
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** Replace a container's children in one step (keeps scroll position of the container). */
export function fill(container, children) {
  container.replaceChildren(...children);
}

// Dialogs open *below* the top bar and never modal: STOP ALL must stay clickable whatever is open.
const openDialogs = new Set();

function syncScrim() {
  $('scrim').hidden = openDialogs.size === 0;
}

export function openDialog(dialog) {
  if (!dialog.open) dialog.show();
  openDialogs.add(dialog);
  dialog.addEventListener('close', () => { openDialogs.delete(dialog); syncScrim(); }, { once: true });
  syncScrim();
  dialog.focus();
}

export function closeDialogs() {
  for (const dialog of [...openDialogs]) dialog.close();
}

export function setupDialogs() {
  $('scrim').addEventListener('click', closeDialogs);
  document.addEventListener('keydown', (e) => { if (e.key === 'Escape' && openDialogs.size) closeDialogs(); });
  const bar = document.querySelector('.topbar');
  const measure = () => document.documentElement.style.setProperty('--topbar-h', `${bar.offsetHeight}px`);
  new ResizeObserver(measure).observe(bar);
  measure();
}

/** Ask before a change that takes a car from a kid or stops a drive: resolves true for `yes`. */
export function confirmChange(text, yes) {
  const dialog = $('confirm-dialog');
  $('confirm-text').textContent = text;
  $('confirm-yes').textContent = yes;
  return new Promise((resolve) => {
    let answer = false;
    openDialog(dialog);
    dialog.addEventListener('close', () => resolve(answer), { once: true });
    $('confirm-yes').onclick = () => { answer = true; dialog.close(); };
    $('confirm-no').onclick = () => dialog.close();
    $('confirm-yes').focus();
  });
}
