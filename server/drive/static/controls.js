// The stick: keyboard, Gamepad API and touch arrows -> {throttle, steering} in -1..1 (+ forward, + left).
// Pure enough for Node: `stickFrom(keys, pads)` takes the held keys and the gamepads' axes/buttons.

export const KEYS = {
  ArrowUp: 'up', KeyW: 'up', w: 'up', ArrowDown: 'down', KeyS: 'down', s: 'down',
  ArrowLeft: 'left', KeyA: 'left', a: 'left', ArrowRight: 'right', KeyD: 'right', d: 'right',
};
export const DEADZONE = 0.15; // a resting gamepad stick is never exactly 0

/** What the held directions and the gamepads ask for (the strongest wins, per axis). */
export function stickFrom(held, pads = []) {
  let throttle = (held.has('up') ? 1 : 0) - (held.has('down') ? 1 : 0);
  let steering = (held.has('left') ? 1 : 0) - (held.has('right') ? 1 : 0);
  for (const pad of pads) {
    if (!pad || !pad.axes) continue;
    const ax = (i) => { const v = pad.axes[i] ?? 0; return Math.abs(v) < DEADZONE ? 0 : v; };
    const btn = (i) => (pad.buttons?.[i]?.value ?? (pad.buttons?.[i]?.pressed ? 1 : 0)) || 0;
    const padThrottle = btn(7) - btn(6) || -ax(1); // triggers (standard mapping), else the left stick up/down
    const padSteering = -ax(0);
    if (Math.abs(padThrottle) > Math.abs(throttle)) throttle = padThrottle;
    if (Math.abs(padSteering) > Math.abs(steering)) steering = padSteering;
  }
  const clamp = (v) => Math.max(-1, Math.min(1, v));
  return { throttle: clamp(throttle), steering: clamp(steering) };
}

/** Listen to keys and touch arrows on a page; `held` is the live set of directions. */
export function listen(doc, pad) {
  const held = new Set();
  const isTyping = (e) => ['INPUT', 'TEXTAREA'].includes(e.target?.tagName);
  doc.addEventListener('keydown', (e) => {
    const dir = KEYS[e.code] || KEYS[e.key];
    if (!dir || isTyping(e)) return;
    held.add(dir);
    e.preventDefault(); // arrows never scroll the page while driving
  });
  doc.addEventListener('keyup', (e) => { const dir = KEYS[e.code] || KEYS[e.key]; if (dir) held.delete(dir); });
  doc.defaultView?.addEventListener('blur', () => held.clear()); // switching windows lets go of the car
  for (const button of pad?.querySelectorAll('[data-key]') || []) {
    const dir = KEYS[button.dataset.key];
    const down = (e) => { held.add(dir); button.classList.add('held'); e.preventDefault(); };
    const up = () => { held.delete(dir); button.classList.remove('held'); };
    button.addEventListener('pointerdown', down);
    for (const ev of ['pointerup', 'pointerleave', 'pointercancel']) button.addEventListener(ev, up);
  }
  return held;
}
