import { FIGURES, type Figure } from './figures.js';
import { iqr, mannWhitney, median, quantile } from './stats.js';
import type { StoredRow } from './store.js';

export interface ShiftOptions {
  /** Runs before the window that make the baseline, and the latest runs compared with it. */
  baseline: number;
  window: number;
  /** Two-sided p-value below which a difference counts; 0.01 keeps false alarms rare over hundreds of series. */
  alpha: number;
  /** The medians must differ by this share of the baseline's median... */
  minRelative: number;
  /** ...and the new median must lie beyond the baseline's fences: this many IQRs past its quartiles (1.5: Tukey's outlier fences). */
  fenceK: number;
  /** Fewer baseline runs than this: no verdict (too little history to know the noise). */
  minBaselineRuns: number;
}
export const DEFAULTS: ShiftOptions = { baseline: 10, window: 3, alpha: 0.01, minRelative: 0.1, fenceK: 1.5, minBaselineRuns: 5 };

export interface Side {
  median: number;
  iqr: number;
  /** Values and runs they came from. */
  n: number;
  runs: number;
}

export interface Shift {
  before: Side;
  after: Side;
  /** (after - before) / before, of the medians. */
  change: number;
  p: number;
  method: string;
  direction: 'worse' | 'better';
  /** Index into the runs given of the first run after the change point, and that split's p-value. */
  movedAt: number;
  movedP: number;
}

const side = (runs: number[][]): Side => {
  const v = runs.flat();
  return { median: median(v), iqr: iqr(v), n: v.length, runs: runs.length };
};

/**
 * The split of a series that best separates before from after: every split point scanned,
 * the one with the smallest Mann-Whitney p-value (the most significant U) whose medians
 * move the given way. Runs are lists of values (a --repeat run gives several). Pure.
 */
export function changePoint(runs: number[][], sign: number): { index: number; p: number } {
  let best = { index: runs.length - 1, p: 1 };
  for (let k = 1; k < runs.length; k++) {
    const [a, b] = [runs.slice(0, k).flat(), runs.slice(k).flat()];
    if (!a.length || !b.length || Math.sign(median(b) - median(a)) !== sign) continue;
    const { p } = mannWhitney(a, b);
    if (p < best.p) best = { index: k, p };
  }
  return best;
}

/**
 * Has a figure moved in the latest `window` runs against the `baseline` runs before them?
 * Both a significant Mann-Whitney U test and a change large enough to matter (relative to
 * the median, the new median beyond the baseline's outlier fences, above the figure's
 * floor), so noise alone rarely raises one. Pure.
 */
export function detectShift(runs: number[][], figure: Pick<Figure, 'worse' | 'minAbs'>, opts: Partial<ShiftOptions> = {}): Shift | undefined {
  const o = { ...DEFAULTS, ...opts };
  const series = runs.slice(-(o.baseline + o.window));
  const baseRuns = series.slice(0, -o.window);
  const winRuns = series.slice(-o.window);
  if (baseRuns.length < Math.min(o.minBaselineRuns, o.baseline) || winRuns.length < o.window) return undefined;
  const [before, after] = [side(baseRuns), side(winRuns)];
  const delta = after.median - before.median;
  const change = before.median === 0 ? (delta === 0 ? 0 : Infinity * Math.sign(delta)) : delta / Math.abs(before.median);
  const base = baseRuns.flat();
  const fence = delta > 0 ? quantile(base, 0.75) + o.fenceK * before.iqr : quantile(base, 0.25) - o.fenceK * before.iqr;
  const beyond = delta > 0 ? after.median > fence : after.median < fence;
  if (Math.abs(change) < o.minRelative || !beyond || Math.abs(delta) < figure.minAbs) return undefined;
  const { p, method } = mannWhitney(base, winRuns.flat());
  if (p >= o.alpha) return undefined;
  const cp = changePoint(series, Math.sign(delta));
  const up = delta > 0;
  return { before, after, change, p, method, direction: up === (figure.worse === 'up') ? 'worse' : 'better', movedAt: runs.length - series.length + cp.index, movedP: cp.p };
}

/** What identifies a trend: the scenario where it ran and which QEMU slot (a binary path, or a version), not the version in it. */
export const trendKey = (r: StoredRow) => [r.suite, r.scenario, r.arch, r.accel, r.placement, r.srcBinary || r.srcQemu, r.dstBinary || r.dstQemu].join('\u0000');

export interface RunPoint {
  runId: string;
  startedAt: string;
  commit?: string;
  qemu: string;
  values: number[];
}

/** Per trend key, a figure's values run by run (passed rows only: a failed run's figures are not comparable), oldest first. */
export function trendSeries(rows: StoredRow[], figure: Figure['name']): Map<string, { row: StoredRow; points: RunPoint[] }> {
  const out = new Map<string, { row: StoredRow; points: RunPoint[] }>();
  for (const r of rows) {
    const v = r.figures[figure];
    if (r.outcome !== 'passed' || v === undefined) continue;
    const k = trendKey(r);
    const t = out.get(k) ?? out.set(k, { row: r, points: [] }).get(k)!;
    t.row = r; // the latest row names the trend (its QEMU version, say)
    const last = t.points.at(-1);
    if (last?.runId === r.runId) last.values.push(v);
    else t.points.push({ runId: r.runId, startedAt: r.startedAt, commit: r.commit, qemu: `${r.srcQemu}->${r.dstQemu}`, values: [v] });
  }
  return out;
}

export interface Finding extends Shift {
  row: StoredRow;
  figure: Figure;
  /** The first run after the change point, and the run before it: what changed between them. */
  moved: RunPoint;
  previous?: RunPoint;
}

/** Every trend and figure tested; the ones that moved, worst p first; and how many had too little history. */
export function regressions(rows: StoredRow[], opts: Partial<ShiftOptions> = {}): { findings: Finding[]; tested: number; short: number } {
  const findings: Finding[] = [];
  let [tested, short] = [0, 0];
  for (const figure of FIGURES)
    for (const { row, points } of trendSeries(rows, figure.name).values()) {
      const o = { ...DEFAULTS, ...opts };
      if (points.length < Math.min(o.minBaselineRuns, o.baseline) + o.window) {
        short++;
        continue;
      }
      tested++;
      const s = detectShift(points.map((p) => p.values), figure, o);
      if (s) findings.push({ ...s, row, figure, moved: points[s.movedAt]!, previous: points[s.movedAt - 1] });
    }
  return { findings: findings.sort((a, b) => (a.direction === b.direction ? a.p - b.p : a.direction === 'worse' ? -1 : 1)), tested, short };
}
