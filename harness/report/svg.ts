import { xmlEscape } from './junit.js';

export interface Line {
  name: string;
  color: string;
  points: Array<[number, number]>;
  /** Which y axis: the left one (default) or the right one (another unit). */
  axis?: 'left' | 'right';
}

export interface Band {
  from: number;
  to: number;
  label: string;
  color: string;
}

const W = 640;
const H = 220;
const M = { l: 64, r: 64, t: 24, b: 36 };

/** Round tick steps (1, 2, 5 x 10^n) for 0..max. */
function ticks(max: number, n = 4): number[] {
  if (!(max > 0)) return [0];
  const raw = max / n;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw)!;
  return Array.from({ length: Math.floor(max / step) + 1 }, (_, i) => i * step);
}

const fmt = (v: number) => (Math.abs(v) >= 1e9 ? `${(v / 1e9).toFixed(1)}G` : Math.abs(v) >= 1e6 ? `${(v / 1e6).toFixed(0)}M` : Math.abs(v) >= 1e3 ? `${(v / 1e3).toFixed(0)}k` : `${Math.round(v * 10) / 10}`);

/**
 * A line chart as inline SVG (no script, no fonts to fetch): time on x, one or two y axes,
 * shaded bands for states (postcopy, paused), a legend. Pure.
 */
export function lineChart(title: string, lines: Line[], opts: { xLabel: string; left: string; right?: string; bands?: Band[] }): string {
  const all = lines.flatMap((l) => l.points);
  const xMax = Math.max(1e-9, ...all.map((p) => p[0]), ...(opts.bands ?? []).map((b) => b.to));
  const yMax = (axis: 'left' | 'right') => Math.max(1e-9, ...lines.filter((l) => (l.axis ?? 'left') === axis).flatMap((l) => l.points.map((p) => p[1])));
  const [ly, ry] = [ticks(yMax('left')), ticks(yMax('right'))];
  const [lTop, rTop] = [Math.max(ly.at(-1)!, yMax('left')), Math.max(ry.at(-1)!, yMax('right'))];
  const x = (v: number) => M.l + (v / xMax) * (W - M.l - M.r);
  const y = (v: number, axis: 'left' | 'right') => H - M.b - (v / (axis === 'left' ? lTop : rTop)) * (H - M.t - M.b);
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${xmlEscape(title)}" font-family="sans-serif" font-size="11">`];
  out.push(`<text x="${M.l}" y="14" font-weight="bold">${xmlEscape(title)}</text>`);
  for (const b of opts.bands ?? [])
    out.push(`<rect x="${x(b.from).toFixed(1)}" y="${M.t}" width="${Math.max(1, x(b.to) - x(b.from)).toFixed(1)}" height="${H - M.t - M.b}" fill="${b.color}" opacity="0.18"><title>${xmlEscape(b.label)}</title></rect>`);
  for (const t of ly) out.push(`<line x1="${M.l}" x2="${W - M.r}" y1="${y(t, 'left').toFixed(1)}" y2="${y(t, 'left').toFixed(1)}" stroke="#ddd"/><text x="${M.l - 4}" y="${(y(t, 'left') + 4).toFixed(1)}" text-anchor="end">${fmt(t)}</text>`);
  if (opts.right) for (const t of ry) out.push(`<text x="${W - M.r + 4}" y="${(y(t, 'right') + 4).toFixed(1)}">${fmt(t)}</text>`);
  for (const t of ticks(xMax, 6)) out.push(`<text x="${x(t).toFixed(1)}" y="${H - M.b + 14}" text-anchor="middle">${fmt(t)}</text>`);
  out.push(`<line x1="${M.l}" x2="${W - M.r}" y1="${H - M.b}" y2="${H - M.b}" stroke="#888"/>`);
  out.push(`<text x="${(W / 2).toFixed(0)}" y="${H - 4}" text-anchor="middle">${xmlEscape(opts.xLabel)}</text>`);
  out.push(`<text transform="translate(12 ${H / 2}) rotate(-90)" text-anchor="middle">${xmlEscape(opts.left)}</text>`);
  if (opts.right) out.push(`<text transform="translate(${W - 8} ${H / 2}) rotate(90)" text-anchor="middle">${xmlEscape(opts.right)}</text>`);
  for (const l of lines) {
    if (!l.points.length) continue;
    const pts = l.points.map(([a, b]) => `${x(a).toFixed(1)},${y(b, l.axis ?? 'left').toFixed(1)}`).join(' ');
    out.push(`<polyline fill="none" stroke="${l.color}" stroke-width="1.6" points="${pts}"><title>${xmlEscape(l.name)}</title></polyline>`);
  }
  let lx = M.l + 8;
  for (const l of [...lines.map((l) => ({ name: l.name + (l.axis === 'right' ? ' (right)' : ''), color: l.color, band: false })), ...(opts.bands ?? []).filter((b, i, a) => a.findIndex((c) => c.label === b.label) === i).map((b) => ({ name: b.label, color: b.color, band: true }))]) {
    out.push(`<rect x="${lx}" y="${M.t + 2}" width="10" height="10" fill="${l.color}" opacity="${l.band ? 0.35 : 1}"/><text x="${lx + 14}" y="${M.t + 11}">${xmlEscape(l.name)}</text>`);
    lx += 24 + l.name.length * 6;
  }
  out.push('</svg>');
  return out.join('');
}

/** Horizontal grouped bars (one group per label, one bar per series). Pure. */
export function barChart(title: string, groups: Array<{ label: string; values: Array<{ name: string; value: number | undefined; color: string }> }>, unit: string): string {
  const rowH = 14;
  const per = Math.max(1, ...groups.map((g) => g.values.length));
  const h = M.t + 20 + groups.length * (per * rowH + 8);
  const left = 260;
  const max = Math.max(1e-9, ...groups.flatMap((g) => g.values.map((v) => v.value ?? 0)));
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W + 120} ${h}" width="${W + 120}" height="${h}" role="img" aria-label="${xmlEscape(title)}" font-family="sans-serif" font-size="11">`, `<text x="4" y="14" font-weight="bold">${xmlEscape(title)} (${xmlEscape(unit)})</text>`];
  let y = M.t + 8;
  for (const g of groups) {
    out.push(`<text x="${left - 6}" y="${y + rowH - 3}" text-anchor="end">${xmlEscape(g.label.length > 42 ? `${g.label.slice(0, 41)}…` : g.label)}</text>`);
    for (const v of g.values) {
      // Room left for the value's label after the longest bar.
      const w = ((v.value ?? 0) / max) * (W + 120 - left - 90);
      out.push(`<rect x="${left}" y="${y}" width="${Math.max(v.value ? 1 : 0, w).toFixed(1)}" height="${rowH - 3}" fill="${v.color}"><title>${xmlEscape(`${v.name}: ${v.value ?? '-'} ${unit}`)}</title></rect>`);
      out.push(`<text x="${left + w + 4}" y="${y + rowH - 4}">${v.value === undefined ? '-' : `${fmt(v.value)} ${xmlEscape(v.name)}`}</text>`);
      y += rowH;
    }
    y += 8;
  }
  out.push('</svg>');
  return out.join('');
}

/**
 * A small trend line (one value per run, oldest left) for a table cell: no axes, the range
 * in its tooltip, the last point marked (red when flagged) since it is the run at hand. Pure.
 */
export function sparkline(values: number[], opts: { title: string; flag?: boolean; width?: number; height?: number }): string {
  const [w, h, pad] = [opts.width ?? 160, opts.height ?? 28, 3];
  if (!values.length) return '';
  const [lo, hi] = [Math.min(...values), Math.max(...values)];
  const x = (i: number) => pad + (values.length > 1 ? (i / (values.length - 1)) * (w - 2 * pad) : (w - 2 * pad) / 2);
  const y = (v: number) => h - pad - (hi > lo ? ((v - lo) / (hi - lo)) * (h - 2 * pad) : (h - 2 * pad) / 2);
  const pts = values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  const last = values.length - 1;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" aria-label="${xmlEscape(opts.title)}">` +
    `<title>${xmlEscape(`${opts.title}: ${values.length} runs, ${fmt(lo)} to ${fmt(hi)}`)}</title>` +
    `<polyline fill="none" stroke="#64748b" stroke-width="1.3" points="${pts}"/>` +
    `<circle cx="${x(last).toFixed(1)}" cy="${y(values[last]!).toFixed(1)}" r="2.5" fill="${opts.flag ? '#dc2626' : '#0ea5e9'}"/></svg>`
  );
}
