// An attempt's trajectory: the arena (walls, cones, zones) and the car's path, start and end.
// Arena units are centimetres from the lower-left corner, so y is flipped for the screen.
// (The live arena is the server's ArenaView; this draws a finished path, sharp at any size.)

const PAD = 10; // px around the arena so the fence line and labels are not clipped

/** Size the canvas to its CSS box (sharp on HiDPI projectors) and return a drawing context + mapping. */
export function prepare(canvas, arena) {
  const ratio = window.devicePixelRatio || 1;
  const cssW = canvas.clientWidth || 600;
  const cssH = canvas.clientHeight || 400;
  if (canvas.width !== Math.round(cssW * ratio)) canvas.width = Math.round(cssW * ratio);
  if (canvas.height !== Math.round(cssH * ratio)) canvas.height = Math.round(cssH * ratio);
  const ctx = canvas.getContext('2d');
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, cssW, cssH);
  const W = arena?.width_cm || 300;
  const H = arena?.height_cm || 200;
  const s = Math.min((cssW - 2 * PAD) / W, (cssH - 2 * PAD) / H);
  const ox = (cssW - W * s) / 2;
  const oy = (cssH - H * s) / 2;
  return { ctx, s, W, H, X: (x) => ox + x * s, Y: (y) => oy + (H - y) * s };
}

export function drawArena(m, arena) {
  const { ctx, s, W, H, X, Y } = m;
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(X(0), Y(H), W * s, H * s);
  ctx.strokeStyle = '#e2e8f0';
  ctx.lineWidth = 1;
  for (let x = 50; x < W; x += 50) { ctx.beginPath(); ctx.moveTo(X(x), Y(0)); ctx.lineTo(X(x), Y(H)); ctx.stroke(); }
  for (let y = 50; y < H; y += 50) { ctx.beginPath(); ctx.moveTo(X(0), Y(y)); ctx.lineTo(X(W), Y(y)); ctx.stroke(); }
  for (const z of arena?.zones || []) {
    ctx.fillStyle = z.kind === 'forbidden' ? 'rgba(220,38,38,.15)' : z.kind === 'parking' ? 'rgba(217,119,6,.18)' : 'rgba(5,150,105,.18)';
    ctx.fillRect(X(z.x0), Y(z.y1), (z.x1 - z.x0) * s, (z.y1 - z.y0) * s);
    ctx.fillStyle = '#334155';
    ctx.font = '12px sans-serif';
    ctx.fillText(z.name, X(z.x0) + 4, Y(z.y1) + 14);
  }
  ctx.strokeStyle = '#0d1424';
  ctx.lineWidth = 3;
  ctx.strokeRect(X(0), Y(H), W * s, H * s);
  for (const w of arena?.walls || []) {
    ctx.lineWidth = Math.max(2, (w.thickness_cm || 2) * s);
    ctx.beginPath(); ctx.moveTo(X(w.x0), Y(w.y0)); ctx.lineTo(X(w.x1), Y(w.y1)); ctx.stroke();
  }
  for (const c of arena?.cones || []) {
    ctx.fillStyle = '#f97316';
    ctx.beginPath(); ctx.arc(X(c.x_cm), Y(c.y_cm), Math.max(3, (c.radius_cm || 4) * s), 0, 2 * Math.PI); ctx.fill();
  }
}

/** Points may be [x, y], {x, y}, {x_cm, y_cm} or telemetry-like {pose: {...}}. */
export function toPoints(points) {
  return (points || []).map((p) => (Array.isArray(p) ? { x: p[0], y: p[1] }
    : { x: p.x_cm ?? p.x ?? p.pose?.x_cm, y: p.y_cm ?? p.y ?? p.pose?.y_cm }))
    .filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
}

export function drawPath(m, points, color = '#2563eb') {
  const { ctx, X, Y } = m;
  const pts = toPoints(points);
  if (!pts.length) return 0;
  ctx.strokeStyle = color;
  ctx.lineWidth = 3;
  ctx.lineJoin = 'round';
  ctx.beginPath();
  pts.forEach((p, i) => (i ? ctx.lineTo(X(p.x), Y(p.y)) : ctx.moveTo(X(p.x), Y(p.y))));
  ctx.stroke();
  const dot = (p, fill) => { ctx.fillStyle = fill; ctx.beginPath(); ctx.arc(X(p.x), Y(p.y), 6, 0, 2 * Math.PI); ctx.fill(); };
  dot(pts[0], '#059669');
  dot(pts[pts.length - 1], '#dc2626');
  return pts.length;
}

export function drawTrajectory(canvas, arena, points, color) {
  const m = prepare(canvas, arena);
  drawArena(m, arena);
  return drawPath(m, points, color);
}
