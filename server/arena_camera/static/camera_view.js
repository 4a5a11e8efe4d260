// The teacher console's camera view: a "Camera" button on the live arena panel shows the arena camera's
// picture with the tracked cars drawn on it (/api/camera/preview.jpg, the same picture the set-up wizard
// shows), four times a second, in the drawn arena's place. Self-contained: the console loads this module
// and it finds its place (#arena-title's panel head, next to #arena-box, which the console redraws at will
// and so is only hidden, never written to); nothing else in the console changes.
const PREVIEW_MS = 250;

function start() {
  const title = document.getElementById('arena-title');
  const box = document.getElementById('arena-box');
  if (!title || !box) return;
  const button = document.createElement('button');
  button.className = 'btn small';
  button.id = 'camera-toggle';
  button.type = 'button';
  button.textContent = 'Camera';
  button.setAttribute('aria-pressed', 'false');
  title.after(button);

  const layer = document.createElement('div');
  layer.id = 'camera-layer';
  layer.hidden = true;
  layer.style.cssText = 'flex:1 1 auto;min-height:9rem;background:#111;border-radius:10px;display:flex;' +
    'align-items:center;justify-content:center;overflow:hidden';
  const img = document.createElement('img');
  img.id = 'camera-picture';
  img.alt = 'the arena camera with the tracked cars';
  img.style.cssText = 'max-width:100%;max-height:100%;object-fit:contain';
  const note = document.createElement('p');
  note.id = 'camera-note';
  note.style.cssText = 'color:#e2e8f0;text-align:center;padding:1rem';
  note.innerHTML = 'No camera picture yet. Set up the camera: <a href="/setup/" style="color:#93c5fd">arena setup</a>.';
  note.hidden = true;
  layer.append(img, note);
  box.before(layer);

  let timer = null;
  let busy = false;
  async function refresh() {
    if (busy) return;
    busy = true;
    try {
      const res = await fetch('/api/camera/preview.jpg', { credentials: 'same-origin', cache: 'no-store' });
      if (!res.ok) { img.hidden = true; note.hidden = false; return; }
      const old = img.src;
      img.src = URL.createObjectURL(await res.blob());
      img.hidden = false; note.hidden = true;
      if (old.startsWith('blob:')) URL.revokeObjectURL(old);
    } catch { /* the next refresh tries again */ } finally { busy = false; }
  }
  button.addEventListener('click', () => {
    const on = layer.hidden;
    layer.hidden = !on;
    box.hidden = on;
    button.setAttribute('aria-pressed', String(on));
    clearInterval(timer);
    timer = on ? setInterval(refresh, PREVIEW_MS) : null;
    if (on) refresh();
  });
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
