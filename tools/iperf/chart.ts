/**
 * A small hand-written SVG line chart (no dependency): throughput against frame size, one series
 * per mode, a logarithmic frame-size axis, and optional reference markers.
 */

export interface ChartSeries {
  label: string;
  color: string;
  /** Line width (default 2): a wider line drawn first stays visible under one that coincides with it. */
  width?: number;
  points: Array<{ x: number; y: number }>;
}

export interface ChartMarker {
  label: string;
  color: string;
  x: number;
  y: number;
}

export interface ChartSpec {
  title: string;
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  series: ChartSeries[];
  markers?: ChartMarker[];
  /** Lines of small print under the plot. */
  notes?: string[];
}

const W = 800;
const H = 480;
const M = { left: 70, right: 190, top: 64, bottom: 80 };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A "nice" step (1, 2 or 5 × 10^n) giving about `n` ticks over [0, max]. */
function niceStep(max: number, n: number): number {
  const raw = max / n;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

function fmtBytes(n: number): string {
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n}`;
}

const num = (v: number) => (Math.round(v * 100) / 100).toString();

/** Render the chart as an SVG document. */
export function lineChartSvg(spec: ChartSpec): string {
  const all = [...spec.series.flatMap((s) => s.points), ...(spec.markers ?? [])];
  const xs = all.map((p) => p.x).filter((x) => x > 0);
  const xMin = Math.min(...xs);
  const xMax = Math.max(...xs);
  const lx0 = Math.log2(xMin);
  const lx1 = xMax > xMin ? Math.log2(xMax) : lx0 + 1;
  const yTop = Math.max(1, ...all.map((p) => p.y));
  const step = niceStep(yTop * 1.05, 6);
  const yMax = Math.ceil((yTop * 1.05) / step) * step;
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const px = (x: number) => M.left + ((Math.log2(x) - lx0) / (lx1 - lx0)) * pw;
  const py = (y: number) => M.top + ph - (y / yMax) * ph;

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">${esc(spec.title)}</text>`);
  if (spec.subtitle) out.push(`<text x="${W / 2}" y="44" text-anchor="middle" fill="#555">${esc(spec.subtitle)}</text>`);

  // grid and y axis
  for (let y = 0; y <= yMax + 1e-9; y += step) {
    const yy = num(py(y));
    out.push(`<line x1="${M.left}" y1="${yy}" x2="${M.left + pw}" y2="${yy}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${M.left - 8}" y="${yy}" text-anchor="end" dominant-baseline="middle">${num(y)}</text>`);
  }
  // x ticks: the frame sizes present
  const ticks = [...new Set(spec.series.flatMap((s) => s.points.map((p) => p.x)))].sort((a, b) => a - b);
  for (const x of ticks) {
    const xx = num(px(x));
    out.push(`<line x1="${xx}" y1="${M.top}" x2="${xx}" y2="${M.top + ph}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${xx}" y="${M.top + ph + 18}" text-anchor="middle">${esc(fmtBytes(x))}</text>`);
  }
  out.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${M.left + pw / 2}" y="${M.top + ph + 38}" text-anchor="middle">${esc(spec.xLabel)}</text>`);
  out.push(`<text transform="translate(20 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(spec.yLabel)}</text>`);

  // series
  spec.series.forEach((s) => {
    const pts = [...s.points].sort((a, b) => a.x - b.x);
    if (pts.length > 1) out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="${s.width ?? 2}" stroke-opacity="0.8" points="${pts.map((p) => `${num(px(p.x))},${num(py(p.y))}`).join(' ')}"/>`);
    for (const p of pts) out.push(`<circle cx="${num(px(p.x))}" cy="${num(py(p.y))}" r="${(s.width ?? 2) + 1.5}" fill="${s.color}"><title>${esc(`${s.label}: ${fmtBytes(p.x)} → ${num(p.y)}`)}</title></circle>`);
  });
  for (const m of spec.markers ?? []) {
    out.push(`<rect x="${num(px(m.x) - 5)}" y="${num(py(m.y) - 5)}" width="10" height="10" fill="white" stroke="${m.color}" stroke-width="2"><title>${esc(m.label)}</title></rect>`);
  }

  // legend
  let ly = M.top + 8;
  const lx = M.left + pw + 16;
  for (const s of spec.series) {
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 22}" y2="${ly}" stroke="${s.color}" stroke-width="2"/><circle cx="${lx + 11}" cy="${ly}" r="3.5" fill="${s.color}"/>`);
    out.push(`<text x="${lx + 30}" y="${ly}" dominant-baseline="middle">${esc(s.label)}</text>`);
    ly += 20;
  }
  for (const m of spec.markers ?? []) {
    out.push(`<rect x="${lx + 6}" y="${ly - 5}" width="10" height="10" fill="white" stroke="${m.color}" stroke-width="2"/>`);
    out.push(`<text x="${lx + 30}" y="${ly}" dominant-baseline="middle">${esc(m.label)}</text>`);
    ly += 20;
  }
  const notes = spec.notes ?? [];
  notes.forEach((n, i) => out.push(`<text x="12" y="${H - 8 - (notes.length - 1 - i) * 13}" font-size="10" fill="#666">${esc(n)}</text>`));
  out.push('</svg>');
  return out.join('\n') + '\n';
}
