// Draw a trick's arena, the car and paths on a canvas (arena centimetres, y up).

export function view(canvas, arena) {
  const pad = 10;
  const scale = Math.min((canvas.width - 2 * pad) / arena.width_cm, (canvas.height - 2 * pad) / arena.height_cm);
  return {
    scale,
    x: (cm) => pad + cm * scale,
    y: (cm) => canvas.height - pad - cm * scale,
  };
}

export function drawArena(ctx, arena, v) {
  ctx.clearRect(0, 0, ctx.canvas.width, ctx.canvas.height);
  ctx.strokeStyle = '#9fb3c8';
  ctx.lineWidth = 2;
  ctx.strokeRect(v.x(0), v.y(arena.height_cm), arena.width_cm * v.scale, arena.height_cm * v.scale);
  for (const z of arena.zones || []) {
    ctx.fillStyle = z.kind === 'forbidden' ? '#f9d6d0' : z.kind === 'start' ? '#e8eef5' : '#d6f0d6';
    ctx.fillRect(v.x(z.x0), v.y(z.y1), (z.x1 - z.x0) * v.scale, (z.y1 - z.y0) * v.scale);
    ctx.fillStyle = '#3b4a5a';
    ctx.font = '12px system-ui';
    ctx.fillText(z.name.replace(/_/g, ' '), v.x(z.x0) + 3, v.y(z.y1) + 14);
  }
  ctx.strokeStyle = '#1d2733';
  ctx.lineWidth = 3;
  for (const w of arena.walls || []) {
    ctx.beginPath(); ctx.moveTo(v.x(w.x0), v.y(w.y0)); ctx.lineTo(v.x(w.x1), v.y(w.y1)); ctx.stroke();
  }
  ctx.fillStyle = '#ff8c1a';
  for (const c of arena.cones || []) {
    ctx.beginPath(); ctx.arc(v.x(c.x_cm), v.y(c.y_cm), Math.max(3, c.radius_cm * v.scale), 0, 2 * Math.PI); ctx.fill();
  }
}

export function drawPath(ctx, path, v, colour = '#4c97ff', width = 2) {
  if (!path || path.length < 2) return;
  ctx.strokeStyle = colour;
  ctx.lineWidth = width;
  ctx.beginPath();
  path.forEach((p, i) => (i ? ctx.lineTo(v.x(p[1]), v.y(p[2])) : ctx.moveTo(v.x(p[1]), v.y(p[2]))));
  ctx.stroke();
}

export function drawCar(ctx, x, y, headingDeg, v) {
  const h = (headingDeg * Math.PI) / 180;
  ctx.save();
  ctx.translate(v.x(x), v.y(y));
  ctx.rotate(-h);
  ctx.fillStyle = '#4c97ff';
  ctx.fillRect(-13 * v.scale, -9 * v.scale, 26 * v.scale, 18 * v.scale);
  ctx.fillStyle = '#fff';
  ctx.fillRect(8 * v.scale, -6 * v.scale, 4 * v.scale, 12 * v.scale);
  ctx.restore();
}

/** The loss plot: training and held-out loss per check (log scale). */
export function drawLoss(canvas, losses) {
  const ctx = canvas.getContext('2d');
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const pts = losses.filter((l) => l[1] > 0);
  if (pts.length < 2) return;
  const ys = pts.flatMap((l) => [l[1], l[2]]).filter((x) => x > 0);
  const lo = Math.log10(Math.min(...ys)); const hi = Math.log10(Math.max(...ys));
  const maxStep = pts[pts.length - 1][0] || 1;
  const X = (s) => 30 + (s / maxStep) * (canvas.width - 40);
  const Y = (l) => canvas.height - 20 - ((Math.log10(l) - lo) / (hi - lo || 1)) * (canvas.height - 30);
  ctx.fillStyle = '#3b4a5a'; ctx.font = '11px system-ui';
  ctx.fillText('how wrong (loss)', 32, 12); ctx.fillText('practice steps →', canvas.width - 100, canvas.height - 5);
  for (const [i, colour] of [[1, '#4c97ff'], [2, '#e5533d']]) {
    ctx.strokeStyle = colour; ctx.lineWidth = 2; ctx.beginPath();
    let first = true;
    for (const l of pts) {
      if (!(l[i] > 0)) continue;
      if (first) ctx.moveTo(X(l[0]), Y(l[i])); else ctx.lineTo(X(l[0]), Y(l[i]));
      first = false;
    }
    ctx.stroke();
  }
}
